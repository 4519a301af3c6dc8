"""What the case library hands out: a case as stored, and a confirmed case with its vector for a search."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .rules import OTHER

AWAITING, CONFIRMED = "awaiting", "confirmed"


@dataclass
class Case:
    case_id: str
    sha256: str
    file_name: str | None
    created_at: str
    body_site: str | None
    age: int | None
    sex: str | None
    note: str
    features: str | None
    model_version: str | None
    suggestion: str | None
    votes: dict | None
    confirmed_dx: str | None
    confirmed_other: str | None
    dx_type: str | None
    confirmed_by: str | None
    confirmed_at: str | None

    @property
    def status(self) -> str:
        """A case without a confirmed diagnosis awaits confirmation, and never votes."""
        return CONFIRMED if self.confirmed_dx else AWAITING

    def to_json(self) -> dict:
        return {**asdict(self), "status": self.status}

    @property
    def outcome_text(self) -> str:
        """"mel (histo)", "other: seborrhoeic wart (histo)" or "awaiting confirmation"."""
        if not self.confirmed_dx:
            return "awaiting confirmation"
        what = f"other: {self.confirmed_other}" if self.confirmed_dx == OTHER else self.confirmed_dx
        return f"{what} ({self.dx_type})"


@dataclass(frozen=True)
class SearchableCase:
    """A confirmed case with one of the seven diagnoses, and its stored vector for one similarity (or None)."""

    case_id: str
    sha256: str
    dx: str
    dx_type: str
    vector: np.ndarray | None
