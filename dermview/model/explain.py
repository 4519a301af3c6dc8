"""What a result means, in words: the neighbours by lesion, how close they are in terms a reader can
judge, and how often the suggestion was right on lesions the model never saw. Qt-free: the window,
the command line and a report all say the same thing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..archive.codes import DX_CODES, dx_label
from .knn import LIBRARY, Neighbour, Prediction


@dataclass
class LesionTile:
    """One lesion among the nearest archive images: its closest image, and the others of it that came up."""

    nearest: Neighbour
    more: list[Neighbour] = field(default_factory=list)
    closeness: float | None = None  # share of archive images whose nearest other lesion is further away


def closeness(distance: float, calibration: np.ndarray) -> float | None:
    """How this distance ranks: the share (0-1) of archive images that are further from their own nearest
    other lesion. 0.9 reads "closer than 90% of archive images are to their nearest other lesion"."""
    if calibration is None or len(calibration) == 0 or not np.isfinite(distance):
        return None
    return float(1.0 - np.searchsorted(calibration, distance, side="left") / len(calibration))


# The caution "nothing close": the query's nearest archive lesion is further from it than all but this share of
# archive images are from their own nearest other lesion (the index's calibration). Chosen with
# benchmarks/bench_external_levers.py for the shipped network on the Derm7pt development part and HAM10000's
# held-out fold 0: the lowest threshold at which at least 80% of the melanomas it misses there carry a caution
# (docs/evaluation.md gives the rates).
NOTHING_CLOSE_BELOW = 0.05
NOTHING_CLOSE_CARE = "Nothing in the archive is close: judge with extra care"


def nothing_close(prediction: Prediction, calibration: np.ndarray | None) -> str | None:
    """A sentence when even the nearest neighbour is far from the query, measured against how near archive
    images' own nearest other lesions are; else None. The vote of far neighbours is weak evidence."""
    if not prediction.neighbours or calibration is None or len(calibration) == 0:
        return None
    nearest = min(n.distance for n in prediction.neighbours)
    share = closeness(nearest, calibration)
    if share is None or share >= NOTHING_CLOSE_BELOW:
        return None
    how_many = "any archive image is" if 1 - share > 0.995 else f"{1 - share:.0%} of archive images are"
    return (f"even the nearest lesion is further from this image than {how_many} from its own nearest other "
            "lesion: nothing in the archive looks much like it, so the vote is weak evidence; judge it with extra "
            "care")


def by_lesion(prediction: Prediction, calibration: np.ndarray | None = None) -> list[LesionTile]:
    """The neighbours grouped by lesion, nearest lesion first (each by its closest image)."""
    tiles: dict[str, LesionTile] = {}
    for n in prediction.neighbours:
        if n.lesion_id in tiles:
            tiles[n.lesion_id].more.append(n)
        else:
            tiles[n.lesion_id] = LesionTile(n, closeness=None if calibration is None
                                            else closeness(n.distance, calibration))
    return list(tiles.values())


_PLURAL = {"akiec": "actinic keratoses / Bowen's disease", "bcc": "basal cell carcinomas",
           "bkl": "benign keratoses", "df": "dermatofibromas", "mel": "melanomas", "nv": "melanocytic nevi",
           "vasc": "vascular lesions"}


def dx_name(dx: str, n: int = 1) -> str:
    """The diagnosis in running text: "melanoma", "3 melanomas" style nouns (without the count)."""
    singular = dx_label(dx).split(" (")[0]
    singular = singular if singular.isupper() else singular[0].lower() + singular[1:]
    return singular if n == 1 else _PLURAL.get(dx, singular)


def composition(tiles: list[LesionTile]) -> tuple[str, str | None]:
    """("12 of the 21 nearest lesions are melanocytic nevi, 6 melanoma, 3 ...", the most common dx)."""
    counts = Counter(t.nearest.dx for t in tiles)
    if not counts:
        return "No archive lesion is near enough to compare.", None
    ordered = counts.most_common()
    first, n_first = ordered[0]
    parts = [f"{n} {dx_name(dx, n)}" for dx, n in ordered[1:]]
    if n_first == len(tiles):
        lead = f"All {len(tiles)} nearest lesions are {dx_name(first, 2)}" if n_first > 1 else \
            f"The nearest lesion is a {dx_name(first)}"
    else:
        lead = f"{n_first} of the {len(tiles)} nearest lesions {'is a' if n_first == 1 else 'are'} " \
               f"{dx_name(first, n_first)}"
    # A tie for the most common diagnosis has no majority to speak of.
    majority = first if len(ordered) == 1 or ordered[1][1] < n_first else None
    return lead + (", " + ", ".join(parts) if parts else "") + ".", majority


def suggestion_vs_majority(prediction: Prediction, majority: str | None) -> str | None:
    """Says so when the weighted, prior-corrected vote disagrees with the plain majority of lesions."""
    if majority is None or majority == prediction.prediction:
        return None
    return (f"The suggestion is {dx_name(prediction.prediction)} although most of the nearest lesions are "
            f"{dx_name(majority, 2)}: each neighbour's vote is weighted by "
            "its closeness, and each diagnosis's votes are divided by how common it is in the archive "
            "(two in three archive images are nevi).")


def as_sentence(clause: str) -> str:
    """A reason as the core words it ("this image looks ...") made a sentence to show: capitalised, with a stop."""
    return clause[:1].upper() + clause[1:].rstrip(".") + "."


def held_out_sentence(dx: str, held_out: dict | None) -> str | None:
    """How often this suggestion was right on lesions the model never saw, per 100, with where from."""
    if not held_out or dx not in held_out.get("per_class", {}):
        return None
    row = held_out["per_class"][dx]
    return (f"On lesions it never saw, when dermview suggested {dx_name(dx)} it was {dx_name(dx)} in "
            f"{round(100 * row['precision'])} of 100 cases, and it found {round(100 * row['recall'])} of 100 "
            f"{dx_name(dx, 2)} ({held_out.get('source', 'held-out evaluation')}).")


def external_sentence(dx: str, external: dict | None) -> str:
    """What the external check (another clinic's dermoscopy; held_out["external"]) says about suggesting ``dx``,
    with where its images came from; or that there is no such figure for ``dx``."""
    if not external:
        return ("dermview has no figures on dermoscopy from other clinics' devices for this similarity; the "
                "figures above come from the archive's own sources.")
    row = external.get("per_class", {}).get(dx)
    where = external.get("source", "dermoscopy from other clinics")
    if dx == "mel" and row:
        naevi = external.get("per_class", {}).get("nv", {}).get("called_melanoma")
        also = f" and called {round(100 * naevi)} of 100 naevi melanoma" if naevi is not None else ""
        return (f"On dermoscopy from other clinics' devices it found {round(100 * row['recall'])} of 100 melanomas"
                f"{also} ({where}).")
    if row:
        return (f"On dermoscopy from other clinics' devices it recognised {round(100 * row['recall'])} of 100 "
                f"{dx_name(dx, 2)}, and called {round(100 * row['called_melanoma'])} of 100 of them melanoma ({where}).")
    known = " and ".join(dx_name(code, 2) for code in external.get("per_class", {}))
    return (f"dermview has no figure from other clinics' devices for {dx_name(dx, 2)}: the external images it was "
            f"checked on were {known or 'of other diagnoses'} only.")


def external_summary(external: dict | None) -> str:
    """The external check in one paragraph (the Performance view, the model card): where its images came
    from, the melanoma AUC, recall and false alarms, and the diagnoses it has no figure for."""
    if not external:
        return ("Dermoscopy from other clinics' devices: no figures for this similarity. The figures above come "
                "from the archive's own four sources, whose devices a clinic's own dermatoscope may not match.")
    per_class = external.get("per_class", {})
    parts = []
    if external.get("melanoma_auc") is not None:
        parts.append(f"melanoma AUC {external['melanoma_auc']:.2f}")
    if "mel" in per_class:
        parts.append(f"found {round(100 * per_class['mel']['recall'])} of 100 melanomas")
    if "nv" in per_class:
        parts.append(f"called {round(100 * per_class['nv']['called_melanoma'])} of 100 naevi melanoma")
    missing = [code for code in DX_CODES if code not in per_class]
    none = f" No external figure for {', '.join(missing)}." if missing else ""
    return (f"Dermoscopy from other clinics' devices ({external.get('source', 'external check')}): "
            + ", ".join(parts) + "." + none)


def explain(prediction: Prediction, *, held_out: dict | None = None,
            calibration: np.ndarray | None = None) -> tuple[list[LesionTile], list[str]]:
    """(lesion tiles, sentences to show): what the neighbours are, whether the suggestion follows their
    majority, and the held-out figures for the suggested diagnosis."""
    tiles = by_lesion(prediction, calibration)
    lead, majority = composition(tiles)
    sentences = [lead]
    differs = suggestion_vs_majority(prediction, majority)
    if differs:
        sentences.append(differs)
    figures = held_out_sentence(prediction.prediction, held_out)
    if figures:
        sentences.append(figures)
        sentences.append(external_sentence(prediction.prediction, held_out.get("external") if held_out else None))
    return tiles, sentences


def own_cases_sentences(outcome) -> list[str]:
    """What the practice's own cases (dermview.library) had to do with a result (a QueryOutcome)."""
    if outcome.library_problem:
        return [f"Your own cases were not searched this time: {outcome.library_problem}"]
    if not outcome.search.own:
        return []
    own = sum(1 for n in outcome.prediction.neighbours if n.source == LIBRARY)
    searched = outcome.own_cases
    if not outcome.search.archive:
        return [f"Only your own confirmed cases ({searched}) were searched, not the archive; dermview has no "
                "held-out figures for them."]
    if own:
        return [f"{own} of the {len(outcome.prediction.neighbours)} neighbours are your own confirmed cases (marked "
                f"\"own case\"; {searched} searched)."]
    return [f"None of your {searched} own confirmed cases is among the nearest." if searched else
            "Your case library has no confirmed case to search yet."]


def archive_image_sentence(outcome) -> str | None:
    """Says so when the query (a QueryOutcome) is an archive image, and that its own lesion did not vote."""
    if outcome.archive_match:
        return (f"This is archive image {outcome.archive_match} (lesion {outcome.excluded_lesion}), recognised by "
                "its content: the images of its lesion are left out of the vote.")
    if outcome.excluded_lesion:
        return (f"This is archive image {outcome.archive_image_id}: the images of its lesion "
                f"{outcome.excluded_lesion} are left out of the vote.")
    return None
