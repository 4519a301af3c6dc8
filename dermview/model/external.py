"""Scoring dermview on dermoscopy from other clinics: a folder of images with a ``labels.csv``.

HAM10000's held-out folds come from the archive's own four sources and devices, so they cannot show how
dermview does on another clinic's dermatoscope. An external folder can. It holds ``images/`` and a
``labels.csv`` with the columns ``image`` and ``diagnosis`` and, where known, ``benign_malignant`` and
``label_source`` (the collection a label came from: the report is broken down by it). A training folder
may name the diagnosis column ``dx`` instead. Its diagnoses are
mapped onto HAM10000's seven (:data:`LABEL_MAP`); a row with only ``benign_malignant`` counts in the
melanoma-against-benign figures alone.

Every image is assigned once, by a hash of its name, to the *development* part (used while a recipe is
chosen) or the *unread* part (:data:`UNREAD_SHARE`; scored once, when the recipe is fixed).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from ..archive.codes import DX_CODES
from ..errors import DermviewError

DEVELOPMENT, UNREAD, ALL = "development", "unread", "all"
PARTS = (DEVELOPMENT, UNREAD, ALL)
UNREAD_SHARE = 0.4  # of every external folder: 2 in 5 images, by name
MEL = "mel"

# External collections name diagnoses their own way; where a class is coarser or finer than HAM10000's,
# it maps onto the HAM10000 class that contains it (a seborrhoeic keratosis is a benign keratosis).
# A name not here is left unscored, and the report counts it.
LABEL_MAP = {
    "mel": "mel", "melanoma": "mel",
    "nv": "nv", "nevus": "nv", "naevus": "nv", "common nevus": "nv", "atypical nevus": "nv",
    "seborrheic_keratosis": "bkl", "seborrhoeic_keratosis": "bkl", "seborrheic keratosis": "bkl",
    "solar lentigo": "bkl", "lichenoid keratosis": "bkl", "bkl": "bkl",
    "bcc": "bcc", "basal cell carcinoma": "bcc",
    "akiec": "akiec", "actinic keratosis": "akiec", "bowen's disease": "akiec",
    "df": "df", "dermatofibroma": "df", "vasc": "vasc", "vascular lesion": "vasc",
}


@dataclass(frozen=True)
class ExternalImage:
    name: str  # the image's name without extension, as labels.csv gives it
    path: Path
    dx: str | None  # a HAM10000 code, or None if only benign/malignant is known (or the name is unknown)
    malignant: bool | None
    source: str  # the collection the label came from


def part_of(name: str) -> str:
    """DEVELOPMENT or UNREAD for the image of this name: a fixed hash, so the split never moves."""
    draw = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % 5
    return UNREAD if draw < round(UNREAD_SHARE * 5) else DEVELOPMENT


def read_external(folder: Path, part: str = ALL) -> tuple[list[ExternalImage], list[str]]:
    """The labelled images of ``folder`` in ``part`` (labels.csv order) and what could not be used, in
    sentences. Raises DermviewError if the folder has no readable labels.csv."""
    folder = Path(folder)
    table = folder / "labels.csv"
    if part not in PARTS:
        raise DermviewError(f"The part must be one of {', '.join(PARTS)}, not {part!r}.")
    if not table.is_file():
        raise DermviewError(f"{folder} has no labels.csv (columns image, diagnosis, and optionally "
                            "benign_malignant and label_source).")
    try:
        with open(table, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DermviewError(f"{table} could not be read ({exc}).") from exc
    if "image" not in columns:
        raise DermviewError(f"{table} has no 'image' column.")
    if not rows:
        raise DermviewError(f"{table} lists no images.")
    images, problems = [], []
    for row in rows:
        name = (row.get("image") or "").strip()
        if not name or part != ALL and part_of(name) != part:
            continue
        path = next((p for p in (folder / "images" / f"{name}{s}" for s in (".jpg", ".jpeg", ".png")) if p.is_file()), None)
        if path is None:
            problems.append(f"{name}: no image file in {folder / 'images'}")
            continue
        diagnosis = (row.get("diagnosis") or row.get("dx") or "").strip().lower()
        dx = LABEL_MAP.get(diagnosis)
        if diagnosis and dx is None:
            problems.append(f"{name}: the diagnosis {diagnosis!r} has no HAM10000 counterpart; not scored")
        verdict = (row.get("benign_malignant") or "").strip().lower()
        malignant = {"malignant": True, "benign": False}.get(verdict)
        if dx is None and malignant is None:
            continue
        images.append(ExternalImage(name, path, dx, malignant if malignant is not None else (dx == MEL if dx else None),
                                    (row.get("label_source") or "").strip() or "unnamed source"))
    return images, problems


def score_group(dx: list[str | None], malignant: list[bool | None], predicted: list[str],
                mel_share: list[float], unfamiliar: list[bool], caution: list[bool] | None = None) -> dict:
    """The figures of one group of external images: how often each diagnosis was called melanoma, the
    melanoma AUC of the vote's melanoma share (melanoma against every other labelled image), balanced
    accuracy over the diagnoses present, and how many were called unfamiliar. With ``caution`` (each result
    carried one: QueryOutcome.caution), how many missed melanomas and how many correct suggestions did."""
    n = len(predicted)
    known = [i for i in range(n) if dx[i] is not None]
    truth = np.array([dx[i] for i in known])
    called = np.array([predicted[i] for i in known])
    per_class = {}
    for code in DX_CODES:
        rows = truth == code
        if rows.any():
            per_class[code] = {"n": int(rows.sum()), "recall": float((called[rows] == code).mean()),
                               "called_melanoma": float((called[rows] == MEL).mean())}
    out: dict = {"n": n, "n_diagnosed": len(known), "unfamiliar": int(np.sum(unfamiliar)),
                 "per_class": per_class,
                 "accuracy": float((truth == called).mean()) if len(known) else None,
                 "balanced_accuracy": float(np.mean([c["recall"] for c in per_class.values()])) if per_class else None}
    out["melanoma_recall"] = per_class.get(MEL, {}).get("recall")
    out["nevus_called_melanoma"] = per_class.get("nv", {}).get("called_melanoma")
    labelled = [i for i in range(n) if malignant[i] is not None]
    positive = np.array([dx[i] == MEL if dx[i] else bool(malignant[i]) for i in labelled])
    share = np.array([mel_share[i] for i in labelled])
    out["melanoma_auc"] = (float(roc_auc_score(positive, share)) if 0 < positive.sum() < len(positive) else None)
    out["n_melanoma"] = int(positive.sum())
    if caution is not None:
        flagged = np.array([caution[i] for i in known], bool)
        missed = (truth == MEL) & (called != MEL)
        right = truth == called
        out["missed_melanomas"] = int(missed.sum())
        out["missed_melanomas_with_caution"] = float(flagged[missed].mean()) if missed.any() else None
        out["correct_with_caution"] = float(flagged[right].mean()) if right.any() else None
    return out


def evaluate_external_folder(session, folder: Path, part: str = DEVELOPMENT, *,
                             progress: Callable[[int, int], None] | None = None) -> dict:
    """Every labelled image of ``folder``'s ``part`` classified by ``session`` (a ModelSession) as a user's
    query would be, scored over all of them and by source (score_group). Images that fail are listed."""
    images, problems = read_external(folder, part)
    if not images:
        raise DermviewError(f"{folder} has no labelled images in its {part} part.")
    rows: list[tuple[ExternalImage, str, float, bool, bool]] = []
    failed = {}
    kinds: dict[str, int] = {}  # why images were called unfamiliar (familiarity's kinds), over all of them
    from ..archive.imaging import load_image_file

    for n, item in enumerate(images):
        try:  # the project's one file reader: only ordinary files, within its size limits
            image = load_image_file(item.path, draft_size=session.extractor.draft_size)
            outcome = session.classify_image(image, item.path.name, stem=item.name)
        except (DermviewError, OSError) as exc:
            failed[item.name] = str(exc)
            continue
        votes = outcome.prediction.votes
        if outcome.muted:
            kinds[str(outcome.unfamiliar_kind)] = kinds.get(str(outcome.unfamiliar_kind), 0) + 1
        rows.append((item, outcome.prediction.prediction, float(votes.get(MEL, 0.0)), outcome.muted, outcome.caution))
        if progress:
            progress(n + 1, len(images))

    def group(selected) -> dict:
        return score_group([r[0].dx for r in selected], [r[0].malignant for r in selected], [r[1] for r in selected],
                           [r[2] for r in selected], [r[3] for r in selected], [r[4] for r in selected])

    sources = sorted({r[0].source for r in rows})
    return {"folder": str(folder), "part": part, "features": session.features, "model_version": session.index.version,
            "overall": group(rows), "by_source": {s: group([r for r in rows if r[0].source == s]) for s in sources},
            "unfamiliar_kinds": kinds, "problems": problems, "failed": failed,
            "label_map": "diagnoses mapped onto HAM10000's (dermview.model.external.LABEL_MAP); benign/malignant-only "
                         "labels count in the melanoma AUC alone"}
