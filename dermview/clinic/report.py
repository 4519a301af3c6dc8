"""What goes on a case report's page, decided once and Qt-free: the window's File > Export Report and
Print, and ``dermview report``, all lay out the same :class:`ReportPage` with one renderer
(dermview.render). Everything on it is plain text the renderer draws as such."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from .. import NOT_A_MEDICAL_DEVICE
from ..archive.codes import DX_CODES, DX_SHORT_NAMES, dx_label, dx_type_label
from ..archive.inputs import sha256_of
from ..errors import DermviewError
from ..model.explain import archive_image_sentence
from ..model.familiarity import muted_headline, muted_text
from ..model.knn import LIBRARY
from ..model.outline import OUTLINE_COLOUR_NAME, draw_outline, lesion_lines
from ..model.session import ModelSession
from .worklist import WorkItem

REPORT_NEIGHBOURS = 12  # lesion tiles on a page: 4 x 3, each large enough to see structures on paper
QUERY_PRINT_SIDE = 2400  # the query's longest side in the PDF: full resolution up to this (8 in at 300 dpi)


@dataclass
class ReportNeighbour:
    image_id: str
    lesion_id: str
    diagnosis: str  # short name; the code follows in brackets on the page
    dx: str
    confirmed: str
    closeness: str  # "closer than 93% of archive look-alike pairs" or a distance
    more: int  # other images of this lesion among the neighbours
    ids: str  # what to call it: "ISIC_0024306 · HAM_0000118", or "OWN CASE · K-2026-017" (the practice's own)


@dataclass
class ReportPage:
    file_name: str
    source: str  # where the image was: the path or zip member the clinician chose
    sha256: str | None
    classified_at: str | None
    headline: str  # the suggestion, or why there is none
    muted: bool  # an unfamiliar image: no vote chart, the headline is a warning
    sentences: list[str]  # what the neighbours are, in lesions; how the vote differs; held-out figures
    votes: list[tuple[str, float, bool]]  # (diagnosis label, share, is the suggestion), in DX_CODES order
    where: str | None  # "this is archive image ..." when the query is (a copy of) one
    neighbours: list[ReportNeighbour]
    caption_showing: Callable[[int], str]  # the neighbours' caption when the page has room for that many
    method: str  # similarity, k, exact index version
    note: str
    notice: str
    lesion: list[str]  # the outlined lesion's measures in words (lesion_measures.measure_lines), or why none
    load_query: Callable[[], Image.Image]  # the query at full resolution (up to QUERY_PRINT_SIDE)
    load_neighbour: Callable[[str], Image.Image]  # an archive image by id

    @property
    def neighbour_caption(self) -> str:
        """The caption when every neighbour listed is shown."""
        return self.caption_showing(len(self.neighbours))


@dataclass
class FollowUpPage:
    """A report's follow-up page: one lesion at two visits, the later image aligned onto the earlier one."""

    earlier_name: str
    later_name: str
    earlier: Image.Image  # with its outline
    later: Image.Image  # moved into the earlier's frame, with both outlines
    sentences: list[str]  # what changed (dermview.model.followup.FollowUp.sentences)
    notice: str = (f"{NOT_A_MEDICAL_DEVICE} The change is measured on dermview's outlines of the two images, with the "
                   "later one aligned onto the earlier; judge it on the images.")

    @property
    def titles(self) -> tuple[str, str]:
        """What each side shows, on the page and in the window's follow-up view."""
        return (f"Earlier: {self.earlier_name} (outline in cyan)",
                f"Later: {self.later_name}, aligned onto the earlier one (its outline in magenta, the earlier one "
                "in cyan)")


def report_page(item: WorkItem, session: ModelSession, *, full_path: bool = False) -> ReportPage:
    """The page for one classified worklist row. Raises DermviewError for a row without a result. The page names
    the image by its file name; ``full_path`` adds where it was (a folder's name can hold a patient's)."""
    outcome = item.outcome
    if outcome is None:
        raise DermviewError(f"{item.file_name}: there is no result to report ({item.error or 'not classified yet'}).")
    prediction = outcome.prediction
    tiles, sentences = session.explain(outcome)
    if outcome.muted:
        headline = muted_headline(outcome.unfamiliar_kind)
        sentences = [muted_text(outcome.unfamiliar or "")]
    else:
        headline = f"Nearest-neighbour suggestion: {dx_label(prediction.prediction)}"
        sentences = [*sentences, "Vote shares are each diagnosis's share of the weighted, corrected vote of the "
                     "neighbours: not probabilities."]
    where = archive_image_sentence(outcome)
    muted = outcome.muted  # a muted result's neighbours are shown for reference, without their diagnoses
    neighbours = [ReportNeighbour(
        t.nearest.image_id, t.nearest.lesion_id, "" if muted else DX_SHORT_NAMES[t.nearest.dx], "" if muted else t.nearest.dx,
        "" if muted else dx_type_label(t.nearest.dx_type), f"closer than {t.closeness:.0%}" if t.closeness is not None
        else f"distance {t.nearest.distance:.2f}", len(t.more),
        f"OWN CASE · {t.nearest.case_id}" if t.nearest.source == LIBRARY else f"{t.nearest.image_id} · {t.nearest.lesion_id}")
        for t in tiles[:REPORT_NEIGHBOURS]]
    def caption(count: int) -> str:
        """The neighbours' caption when the page shows ``count`` of them: it says what the page shows."""
        shown = f"the {count} nearest of {len(tiles)}" if len(tiles) > count else f"the {len(tiles)} nearest"
        if muted:
            return (f"Nearest {outcome.search.whose} ({shown} lesions), for reference only: their diagnoses are not "
                    "shown, because this image is unlike the archive's dermoscopy and their vote is no evidence. Each: "
                    "its closest image, image and lesion id, and how alike it is.")
        return (f"Nearest {outcome.search.whose} ({shown} lesions; {outcome.k} images voted). Each: its closest "
                "image, diagnosis, how it was confirmed, image and lesion id, and how alike it is: closer than that "
                "share of archive images are to their own nearest other lesion.")
    method = (f"Similarity: {session.kind.label.lower()} ({session.kind.description}); k = {outcome.k}; "
              f"index {outcome.model_version}.")
    return ReportPage(
        file_name=item.file_name, source=item.name if full_path else item.file_name, sha256=item.sha256, classified_at=item.classified_at,
        headline=headline, muted=outcome.muted, sentences=sentences,
        votes=[] if outcome.muted else [(f"{DX_SHORT_NAMES[dx]} ({dx})", prediction.votes.get(dx, 0.0),
                                              dx == prediction.prediction) for dx in DX_CODES],
        where=where, neighbours=neighbours, caption_showing=caption, method=method, note=item.note,
        notice=f"{NOT_A_MEDICAL_DEVICE} The suggestion is the vote of the most similar archive images (HAM10000); "
               "judge it by looking at them.",
        lesion=lesion_lines(outcome, f"drawn on the image in {OUTLINE_COLOUR_NAME}"),
        load_query=_outlined(_query_loader(item, session), outcome), load_neighbour=session.neighbour_image)


def _outlined(load: Callable[[], Image.Image], outcome) -> Callable[[], Image.Image]:
    """The query's loader, drawing its lesion's outline at the size it is printed (not on a 24-megapixel photo)."""
    mask = outcome.lesion.mask if outcome.lesion is not None else None
    if mask is None:
        return load

    def outlined() -> Image.Image:
        image = load()
        if max(image.size) > QUERY_PRINT_SIDE:
            image = image.copy()
            image.thumbnail((QUERY_PRINT_SIDE, QUERY_PRINT_SIDE), Image.Resampling.BILINEAR)
        return draw_outline(image, mask)
    return outlined


class QueryChanged(DermviewError):
    """The query file no longer holds what was classified: its page must not be printed."""


def _query_loader(item: WorkItem, session: ModelSession) -> Callable[[], Image.Image]:
    if item.input is not None:
        source, expected, name = item.input, item.sha256, item.file_name

        def load() -> Image.Image:
            data = source.read()
            if expected and sha256_of(data) != expected:  # replaced after it was classified
                raise QueryChanged(f"{name} has changed since it was classified (its SHA-256 is another); classify it "
                                   "again to report it. No report was written.")
            return source.decode(data, None)
        return load
    image_id = item.archive_image_id or (item.outcome.archive_image_id if item.outcome else None)
    if image_id:
        return lambda: session.archive.load_image(image_id)
    raise DermviewError(f"{item.file_name}: the image is no longer available for the report.")
