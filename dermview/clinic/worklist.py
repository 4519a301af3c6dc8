"""One row per image of a clinic's session, and the rows as CSV or JSON.

An export holds what the clinician put in the worklist and nothing else about a patient: the file
name they chose, the file's SHA-256, what dermview answered (suggestion, the seven vote shares, the
flags, k, the similarity and the exact index version), the neighbours' image ids, their note and
the time. The CSV from the window and from ``dermview predict --csv`` is the same format.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..archive.codes import DX_CODES
from ..archive.inputs import InputImage, base_name
from ..model.explain import by_lesion
from ..model.session import QueryOutcome
from ..outputs import atomic_file, from_spreadsheet_safe, now, spreadsheet_safe

# The export's columns, in order. One place: the CSV writer, its reader and the JSON keys follow it.
VOTE_COLUMNS = tuple(f"vote_{dx}" for dx in DX_CODES)
# The lesion's measures inside dermview's outline (dermview.model.lesion_measures), numbers but the colours.
LESION_MEASURES = ("area_share", "shape_asymmetry", "colour_asymmetry", "border_irregularity")
LESION_COLUMNS = (*(f"lesion_{key}" for key in LESION_MEASURES), "lesion_colours")
EXPORT_COLUMNS = ("file_name", "source", "sha256", "status", "suggestion", *VOTE_COLUMNS, "agreeing_lesions",
                  "nearest_lesions", "unfamiliar", "unfamiliar_kind", "unfamiliar_reason", "device_note", "nothing_close",
                  *LESION_COLUMNS, "lesion_reason", "archive_match", "k", "similarity",
                  "model_version", "neighbours", "note", "classified_at", "error")

PENDING, DONE, FAILED = "waiting", "done", "error"


@dataclass
class WorkItem:
    """One image of the session: where it came from, what dermview answered, and the clinician's note."""

    name: str  # as the user sees it: a path, "visit.zip:a.jpg", "pasted image 1.png", "Similar to ISIC_..."
    input: InputImage | None = None  # a file, zip member or pasted image ...
    archive_image_id: str | None = None  # ... or "find similar" for an archive image
    outcome: QueryOutcome | None = None
    error: str | None = None
    note: str = ""
    classified_at: str | None = None
    # Where the sha256 comes from before the image is classified (a reopened session knows it already).
    known_sha256: str | None = None
    _agreeing: tuple[QueryOutcome, tuple[int, int]] | None = field(default=None, repr=False, compare=False)

    @property
    def file_name(self) -> str:
        if self.input is not None:
            return self.input.file_name
        return self.name if self.archive_image_id else base_name(self.name)

    @property
    def status(self) -> str:
        return FAILED if self.error else DONE if self.outcome is not None else PENDING

    @property
    def sha256(self) -> str | None:
        return self.outcome.sha256 if self.outcome is not None and self.outcome.sha256 else self.known_sha256

    def record(self, outcome: QueryOutcome) -> None:
        if self.known_sha256 and outcome.sha256 and outcome.sha256 != self.known_sha256:
            # A reopened session's file was replaced: its answer would be about other pixels.
            self.fail(f"{self.file_name}: its content has changed since the session was saved (another SHA-256); "
                      "it was not re-used")
            return
        self.outcome, self.error, self.classified_at = outcome, None, now()

    def fail(self, message: str) -> None:
        self.outcome, self.error, self.classified_at = None, message, now()

    # -- what the worklist's columns show ---------------------------------------------------------
    @property
    def suggestion(self) -> str | None:
        """The suggested diagnosis code; None when there is none to show (not done, or unfamiliar: muted)."""
        return None if self.outcome is None else self.outcome.suggestion

    def share(self, dx: str) -> float | None:
        """``dx``'s share of the vote; None when there is no vote to show (not done, or muted)."""
        return None if self.outcome is None or self.outcome.muted else self.outcome.prediction.votes.get(dx, 0.0)

    def agreeing_lesions(self) -> tuple[int, int] | None:
        """(nearest lesions whose diagnosis is the suggestion, nearest lesions): counted in lesions."""
        if self.outcome is None or self.outcome.muted:
            return None
        if self._agreeing is None or self._agreeing[0] is not self.outcome:  # asked for at every repaint
            tiles = by_lesion(self.outcome.prediction)
            self._agreeing = (self.outcome, (sum(t.nearest.dx == self.outcome.prediction.prediction for t in tiles),
                                             len(tiles)))
        return self._agreeing[1]


def export_row(item: WorkItem) -> dict[str, object]:
    """One row of the export, keyed by EXPORT_COLUMNS; numbers stay numbers (JSON keeps them so)."""
    outcome = item.outcome
    row: dict[str, object] = {column: None for column in EXPORT_COLUMNS}
    row.update(file_name=item.file_name, source=item.name, sha256=item.sha256, status=item.status,
               note=item.note, classified_at=item.classified_at, error=item.error)
    if outcome is not None:
        prediction = outcome.prediction
        agree, lesions = item.agreeing_lesions() or (None, None)
        if not outcome.muted:  # a muted result has no vote to export
            row.update({f"vote_{dx}": round(prediction.votes.get(dx, 0.0), 4) for dx in DX_CODES})
        row.update(suggestion=item.suggestion, agreeing_lesions=agree, nearest_lesions=lesions,
                   unfamiliar=outcome.muted, unfamiliar_kind=outcome.unfamiliar_kind,
                   unfamiliar_reason=outcome.unfamiliar, device_note=outcome.device_note,
                   nothing_close=outcome.nothing_close,
                   archive_match=outcome.archive_match, k=outcome.k, similarity=outcome.features,
                   model_version=outcome.model_version,
                   neighbours=" ".join(n.image_id for n in prediction.neighbours))
        lesion = outcome.lesion.to_json() if outcome.lesion else None
        if lesion is not None:
            row.update({f"lesion_{key}": lesion[key] for key in LESION_MEASURES},
                       lesion_colours="; ".join(lesion["colours"]))
        elif outcome.lesion is not None:
            row.update(lesion_reason=outcome.lesion.outline.sentence)
    return row


def write_csv(items: list[WorkItem], path: str | os.PathLike) -> Path:
    """The rows as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read names right), atomically."""
    with atomic_file(path, "w", newline="") as handle:
        handle.write("\ufeff")
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for item in items:
            writer.writerow({k: _csv_value(v) for k, v in export_row(item).items()})
    return Path(path)


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    # A spreadsheet would run a cell starting with = + - @ as a formula: a file name must stay a name.
    return spreadsheet_safe(value) if isinstance(value, str) else value


def read_csv(path: str | os.PathLike) -> list[dict[str, object]]:
    """An export read back, with numbers and flags as numbers and booleans (the round trip's other half)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    numeric = set(VOTE_COLUMNS) | {f"lesion_{key}" for key in LESION_MEASURES}
    integers = {"agreeing_lesions", "nearest_lesions", "k"}
    parsed = []
    for raw in rows:
        row: dict[str, object] = {}
        for key, text in raw.items():
            text = text or ""
            text = from_spreadsheet_safe(text)
            if text == "":
                row[key] = "" if key == "note" else None
            elif key in numeric:
                row[key] = float(text)
            elif key in integers:
                row[key] = int(text)
            elif key == "unfamiliar":
                row[key] = text == "yes"
            else:
                row[key] = text
        parsed.append(row)
    return parsed


def write_json(items: list[WorkItem], path: str | os.PathLike) -> Path:
    """The rows as one JSON document (the same keys as the CSV's columns), atomically."""
    document = {"format": "dermview-worklist", "version": 1, "exported_at": now(),
                "images": [export_row(item) for item in items]}
    with atomic_file(path, "w") as handle:
        json.dump(document, handle, indent=1, ensure_ascii=False)
    return Path(path)
