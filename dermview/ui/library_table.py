"""The case library's table: its columns and the Qt model over a list of cases."""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

from ..archive.codes import dx_label, dx_type_label
from ..library.store import (OTHER, Case)
from .text import tooltip

PREVIEW_SIZE = 360  # longest side of the selected case's picture
SEXES = ("", "female", "male", "other", "unknown")


# -- the tab ---------------------------------------------------------------------------------------

class CaseColumn(IntEnum):
    CASE_ID = 0
    STATUS = 1
    CONFIRMED = 2
    DATE = 3
    SUGGESTED = 4
    SITE = 5
    AGE = 6
    SEX = 7
    NOTE = 8


CASE_HEADERS = {CaseColumn.CASE_ID: "Case id", CaseColumn.STATUS: "Diagnosis", CaseColumn.CONFIRMED: "Confirmed by",
                CaseColumn.DATE: "Saved", CaseColumn.SUGGESTED: "dermview suggested", CaseColumn.SITE: "Body site",
                CaseColumn.AGE: "Age", CaseColumn.SEX: "Sex", CaseColumn.NOTE: "Note"}


def case_cells(case: Case) -> tuple[str, ...]:
    """One table row of a case, as text, in CaseColumn order."""
    if case.confirmed_dx == OTHER:
        diagnosis = f"other: {case.confirmed_other}"
    elif case.confirmed_dx:
        diagnosis = dx_label(case.confirmed_dx)
    else:
        diagnosis = "awaiting confirmation"
    return (case.case_id, diagnosis, dx_type_label(case.dx_type) if case.dx_type else "",
            case.created_at[:16].replace("T", " "), dx_label(case.suggestion) if case.suggestion else "",
            case.body_site or "", "" if case.age is None else str(case.age), case.sex or "",
            " ".join(case.note.split()))


class CaseTableModel(QAbstractTableModel):
    """The listed cases (already filtered by the core), as plain text."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cases: list[Case] = []
        self._cells: list[tuple[str, ...]] = []

    def set_cases(self, cases: list[Case]) -> None:
        self.beginResetModel()
        self.cases = cases
        self._cells = [case_cells(c) for c in cases]
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.cases)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(CaseColumn)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = self._cells[index.row()][index.column()]
            return text if role == Qt.ItemDataRole.DisplayRole else (tooltip(text) if text else None)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return CASE_HEADERS[CaseColumn(section)]
        return None


