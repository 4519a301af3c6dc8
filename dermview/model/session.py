"""One archive opened for similarity search: the features in use, the cached index, the predictor.

The command line and the window both drive a :class:`ModelSession`, so a file gets the same answer in
either: the same features, the same k, the same decision about which archive images may vote. Opening
one is a long job (building the index takes a minute on first use); it takes a progress callback and a
cancel check like every long job in dermview, and runs on a worker thread in the window.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from ..archive import Archive
from ..errors import DermviewError
from .copies import find_copy, fingerprint
from .familiarity import Unfamiliar, judge_query
from .field import device_note
from .explain import LesionTile, as_sentence, explain, nothing_close, own_cases_sentences
from .extractors import (AUTO, ClassicExtractor, FeatureExtractor, FeatureKind, choose_features, colour_texture_part,
                         get_kind, vector_key)
from .index import ArchiveIndex, CancelCheck, ProgressCallback, load_or_build_index
from ..archive.imaging import DOWNSCALED_FROM, MAX_PIXELS
from ..archive.inputs import InputImage, sha256_of
from .knn import Prediction
from .outline import NOT_DERMOSCOPY, LesionDescription, describe, not_outlined
from .predictor import DEFAULT_SEARCH, ExtraPoints, Predictor, SearchIn


@dataclass
class QueryOutcome:
    """What a query gave, with the decisions that shaped it."""

    name: str
    prediction: Prediction
    # The query is the archive image of this id (by its content, its name, or "find similar" for it).
    archive_image_id: str | None = None
    # That image's lesion, left out of the vote: it would otherwise answer for itself.
    excluded_lesion: str | None = None
    # The archive image the query's content is a copy of (another size, JPEG quality or name), if any.
    archive_match: str | None = None
    # Why the query is unlike the archive's dermatoscopic images (the suggestion is then muted), or None;
    # and what kind of picture it seems to be instead (familiarity.CLINICAL_PHOTO, NOT_DERMOSCOPY, COLOUR_TEXTURE).
    unfamiliar: str | None = None
    unfamiliar_kind: str | None = None
    # Dermoscopy that looks taken by another kind of device than the archive's (field.device_note), or None.
    device_note: str | None = None
    # Even the nearest neighbour is far from the query (explain.nothing_close), or None.
    nothing_close: str | None = None
    # The query file's content (hex SHA-256); None for "find similar" on an archive image.
    sha256: str | None = None
    # (width, height) of the query as stored, when it was too large to decode whole and was decoded reduced.
    downscaled_from: tuple[int, int] | None = None
    # What answered: the similarity (a feature kind's name) and the exact index version it used.
    features: str = ""
    model_version: str = ""
    # Whose images could be neighbours, and how many of the practice's confirmed cases were searched.
    search: SearchIn = SearchIn.ARCHIVE
    own_cases: int = 0
    library_problem: str | None = None  # why the own cases could not be searched this time (archive only)
    # The query's own feature vector (before projection), kept so that saving it as a case needs no rerun.
    vector: np.ndarray | None = field(default=None, repr=False)
    vector_key: str = ""  # which similarity's vector it is (dermview.model.extractors.vector_key)
    # The query's lesion: its outline at the decoded image's size and its measures (dermview.model.outline).
    lesion: LesionDescription | None = field(default=None, repr=False)

    @property
    def k(self) -> int:
        """How many archive images voted."""
        return len(self.prediction.neighbours)

    @property
    def caution(self) -> bool:
        """True when the result carries a caution: no suggestion at all, another kind of dermatoscope, or nothing
        in the archive close to it."""
        return self.muted or bool(self.device_note) or bool(self.nothing_close)

    @property
    def muted(self) -> bool:
        """True when the query gets no suggestion anywhere (an unfamiliar image, a clinical photograph): its
        vote and its neighbours' diagnoses are no evidence, so no output shows them as if they were."""
        return self.unfamiliar is not None

    @property
    def suggestion(self) -> str | None:
        """The suggested diagnosis code, or None for a muted result."""
        return None if self.muted else self.prediction.prediction

    def to_json(self) -> dict:
        prediction = self.prediction.to_json()
        if self.muted:  # no suggestion, no vote, and neighbours without their diagnoses (shown for reference only)
            prediction = {"prediction": None, "votes": None, "muted_reason": self.unfamiliar,
                          "neighbours": [{key: value for key, value in row.items() if key not in ("dx", "dx_type")}
                                         for row in prediction["neighbours"]]}
        return {**prediction, "unfamiliar": self.muted,
                "unfamiliar_reason": self.unfamiliar, "unfamiliar_kind": self.unfamiliar_kind,
                "device_note": self.device_note, "nothing_close": self.nothing_close,
                "archive_match": self.archive_match,
                "archive_image": self.archive_image_id, "excluded_lesion": self.excluded_lesion,
                "sha256": self.sha256, "downscaled_from": list(self.downscaled_from) if self.downscaled_from else None,
                "k": self.k, "features": self.features, "model_version": self.model_version,
                "search": self.search.value, "own_cases_searched": self.own_cases,
                "library_problem": self.library_problem,
                "lesion": self.lesion.to_json() if self.lesion else None,
                "lesion_reason": self.lesion.outline.sentence if self.lesion else None}


def downscaled_sentences(outcome: QueryOutcome) -> list[str]:
    """Say so when the query was too large to decode whole (a 108-megapixel phone photograph)."""
    if not outcome.downscaled_from:
        return []
    width, height = outcome.downscaled_from
    return [f"The photograph is {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels), more than dermview "
            f"decodes whole ({MAX_PIXELS // 1_000_000} megapixels): it was read at a reduced size for the query."]


class OwnCasesSource(ExtraPoints, Protocol):
    """What the session needs of the practice's cases: points to search, kept current before each query."""

    def refresh(self) -> bool: ...

    def picture(self, image_id: str, draft_size: int | tuple[int, int] | None = None) -> Image.Image | None: ...

    def __len__(self) -> int: ...


class ModelSession:
    """Thread-compatible after it is opened: queries only read its arrays."""

    def __init__(self, archive: Archive, index: ArchiveIndex, *, note: str | None = None):
        self.archive = archive
        self.index = index
        self.kind: FeatureKind = get_kind(index.extractor)
        self.predictor = Predictor(archive, index)
        self.note = note  # why these features and not the ones asked for, for the user to see
        self._colour_texture = ClassicExtractor()
        # The practice's confirmed cases (dermview.library.search.OwnCases), searched per ``search``.
        self.own: OwnCasesSource | None = None
        self.search: SearchIn = DEFAULT_SEARCH

    @classmethod
    def open(cls, archive: Archive, features: str = AUTO, *, strict: bool | None = None, rebuild: bool = False,
             progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> ModelSession:
        """Choose the features (see :func:`choose_features` for ``strict``), then load or build the index."""
        choice = choose_features(features, strict=strict)
        index = load_or_build_index(archive, extractor_name=choice.name, progress=progress, cancel=cancel,
                                    rebuild=rebuild)
        return cls(archive, index, note=choice.note)

    # -- facts a caller shows ---------------------------------------------------------------------
    @property
    def features(self) -> str:
        return self.index.extractor

    @property
    def extractor(self) -> FeatureExtractor:
        return self.predictor.extractor

    # -- queries ------------------------------------------------------------------------------------
    def archive_image_named(self, stem: str | None) -> str | None:
        """The archive image a file's name says it is (``ISIC_0024306.jpg``), if the archive has it."""
        return stem if stem and self.predictor.lesion_of(stem) is not None else None

    def classify(self, item: InputImage, k: int | None = None, *, data: bytes | None = None) -> QueryOutcome:
        """Read ``item`` once (or take its ``data``, already read): its SHA-256, then its image at the size the
        features need. Raises DermviewError."""
        data = item.read() if data is None else data
        outcome = self.classify_image(item.decode(data, self.extractor.draft_size), item.name, stem=item.stem, k=k)
        outcome.sha256 = sha256_of(data)
        return outcome

    def neighbour_image(self, image_id: str, draft_size: int | tuple[int, int] | None = None) -> Image.Image:
        """A neighbour's picture: an archive image, or one of the practice's own cases. Raises DermviewError."""
        if self.own is not None:
            picture = self.own.picture(image_id, draft_size)
            if picture is not None:
                return picture
        return self.archive.load_image(image_id, draft_size=draft_size)

    def archive_copy_of(self, image: Image.Image) -> str | None:
        """The archive image ``image`` is a copy of, judged by content alone (dermview.model.copies)."""
        phash, thumb = fingerprint(image)
        row = find_copy(phash, thumb, self.index.copy_hashes, self.index.copy_thumbs)
        return None if row is None else str(self.index.image_ids[row])

    def _searched(self) -> tuple[ExtraPoints | None, bool, dict]:
        """(the own cases to search or None, whether the archive is searched, the outcome's fields saying so).
        Brings the own cases up to date first: one cheap read when nothing changed."""
        if not self.search.own or self.own is None:
            return None, True, {"search": SearchIn.ARCHIVE}
        try:
            self.own.refresh()
        except DermviewError as exc:  # the server went away: the archive still answers, and says so
            if not self.search.archive:
                raise
            return None, True, {"search": SearchIn.ARCHIVE, "library_problem": str(exc)}
        return self.own, self.search.archive, {"search": self.search, "own_cases": len(self.own)}

    def classify_image(self, image: Image.Image, name: str, *, stem: str | None = None,
                       k: int | None = None) -> QueryOutcome:
        # The lesion's outline and measures run on another core meanwhile (both networks' onnxruntime sessions
        # use one thread and release the GIL); a muted image's outline is computed and then not used.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dermview-outline") as beside:
            lesion = beside.submit(describe, image)
            match = self.archive_copy_of(image)
            archive_id = match or self.archive_image_named(stem)
            own = self.predictor.lesion_of(archive_id) if archive_id else None
            features = self.predictor.features_of(image)
            if not np.isfinite(features).all():
                raise DermviewError(f"{name}: the image could not be described (its features are undefined).")
            extra, archive, searched = self._searched()
            prediction = self.predictor.predict_features(features, k=k, exclude_lesion=own, extra=extra,
                                                         archive=archive)
            verdict = None if match else self.unfamiliar(image, features)
            note = None if match or verdict else device_note(image)  # while the outline is still being found
            described = not_outlined(NOT_DERMOSCOPY) if verdict else lesion.result()
        return QueryOutcome(name, prediction, archive_image_id=archive_id, excluded_lesion=own, archive_match=match,
                            unfamiliar=verdict.reason if verdict else None,
                            unfamiliar_kind=verdict.kind if verdict else None,
                            device_note=note,
                            nothing_close=None if match or verdict else nothing_close(
                                prediction, self.index.neighbour_distances),
                            features=self.features, model_version=self.index.version, vector=features,
                            vector_key=vector_key(self.extractor), lesion=described,
                            downscaled_from=image.info.get(DOWNSCALED_FROM), **searched)

    def explain(self, outcome: QueryOutcome) -> tuple[list[LesionTile], list[str]]:
        """The neighbours by lesion and what the result means in words (dermview.model.explain)."""
        tiles, sentences = explain(outcome.prediction, held_out=self.held_out if outcome.search.archive else None,
                                   calibration=self.index.neighbour_distances)
        device = [as_sentence(note) for note in (outcome.device_note, outcome.nothing_close) if note]
        return tiles, device + downscaled_sentences(outcome) + sentences + own_cases_sentences(outcome)

    @property
    def held_out(self) -> dict | None:
        """How this similarity did on lesions it never saw (its kind's published evaluation)."""
        if not hasattr(self, "_held_out"):
            self._held_out = self.kind.held_out()
        return self._held_out

    def unfamiliar(self, image: Image.Image, features: np.ndarray) -> Unfamiliar | None:
        """Why ``image`` is unlike the archive's images (dermview.model.familiarity), or None: first what kind of
        picture its embedding says it is (when the model ships a classifier), then its colours and texture."""
        kinds = getattr(self.extractor, "kinds", None)
        colour = colour_texture_part(self.extractor, features)  # from this very image's description
        if colour is None and self.index.familiarity is not None:
            colour = self._colour_texture.extract(self._colour_texture.prepare(image)[None])[0]
        return judge_query(features[: self.extractor.passthrough] if kinds is not None else None, colour, kinds,
                           self.index.familiarity)

    def classify_archive_image(self, image_id: str, k: int | None = None) -> QueryOutcome:
        """"Find similar" for an archive image: its own lesion's images cannot vote."""
        extra, archive, searched = self._searched()
        prediction = self.predictor.predict_archive_image(image_id, k=k, extra=extra, archive=archive)
        return QueryOutcome(image_id, prediction, archive_image_id=image_id,
                            excluded_lesion=self.predictor.lesion_of(image_id), features=self.features,
                            model_version=self.index.version, lesion=describe(self.archive.load_image(image_id)),
                            **searched)
