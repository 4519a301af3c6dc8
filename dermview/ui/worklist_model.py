"""The worklist's Qt model: every image of the session as a row (over dermview.clinic.worklist items), its
columns, sort keys and the filter of what is shown."""

from __future__ import annotations

import itertools
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QPixmap

from ..archive.codes import DX_SHORT_NAMES, dx_label
from ..clinic.worklist import DONE, FAILED, WorkItem
from ..model.familiarity import COLOUR_TEXTURE, KIND_LABELS

SORT_ROLE = Qt.ItemDataRole.UserRole + 10
KEY_ROLE = Qt.ItemDataRole.UserRole + 11


class Column(IntEnum):
    IMAGE = 0
    FILE = 1
    SUGGESTION = 2
    MELANOMA = 3
    SHARE = 4
    AGREEING = 5
    UNFAMILIAR = 6
    IN_ARCHIVE = 7
    NOTE = 8


HEADERS = {Column.IMAGE: "", Column.FILE: "File", Column.SUGGESTION: "Suggestion", Column.MELANOMA: "Melanoma vote",
           Column.SHARE: "Suggestion's vote", Column.AGREEING: "Agreeing lesions", Column.UNFAMILIAR: "Unfamiliar",
           Column.IN_ARCHIVE: "In archive", Column.NOTE: "Note"}
HEADER_TIPS = {
    Column.MELANOMA: "Melanoma's share of the neighbours' weighted, corrected vote (not a probability)",
    Column.SHARE: "The suggested diagnosis's share of the vote",
    Column.AGREEING: "How many of the nearest archive lesions have the suggested diagnosis",
    Column.UNFAMILIAR: "The image is unlike the archive's dermatoscopic images: no suggestion",
    Column.IN_ARCHIVE: "The image is (a copy of) this archive image, recognised by its content",
    Column.NOTE: "Your note: double-click or press F2 to write; it is saved with the session and exported",
}


# Row keys are never reused in a process: an answer computed for a row of a worklist that has since been replaced
# (an archive re-opened, a session reopened) names a key no current row has, and is dropped, never applied to
# whichever new row happens to sit at the same place.
_ROW_KEYS = itertools.count(1)

_COLUMNS = list(Column)
_ROLES = {KEY_ROLE, SORT_ROLE, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole,
          Qt.ItemDataRole.ToolTipRole}


class WorklistModel(QAbstractTableModel):
    """Rows are WorkItems in the order they were added; each has a key, unique in the process, for answers
    from threads."""

    note_changed = Signal(int)  # key

    def __init__(self):
        super().__init__()
        self.items: list[WorkItem] = []
        self.keys: list[int] = []
        self._row_of: dict[int, int] = {}
        self._thumbs: dict[int, QPixmap] = {}

    # -- rows -----------------------------------------------------------------------------------
    def add(self, items: list[WorkItem]) -> list[int]:
        first = len(self.items)
        keys = [next(_ROW_KEYS) for _ in items]
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        for key, item in zip(keys, items):
            self._row_of[key] = len(self.items)
            self.items.append(item)
            self.keys.append(key)
        self.endInsertRows()
        return keys

    def clear(self) -> None:
        self.beginResetModel()
        self.items, self.keys, self._row_of, self._thumbs = [], [], {}, {}
        self.endResetModel()

    def item(self, key: int) -> WorkItem | None:
        row = self._row_of.get(key)
        return None if row is None else self.items[row]

    def row_of(self, key: int) -> int | None:
        return self._row_of.get(key)

    def set_thumbnail(self, key: int, pixmap: QPixmap) -> None:
        self._thumbs[key] = pixmap

    def changed(self, key: int) -> None:
        row = self._row_of.get(key)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def counts(self) -> tuple[int, int, int]:
        """(done, failed, all)."""
        done = sum(item.status == DONE for item in self.items)
        failed = sum(item.status == FAILED for item in self.items)
        return done, failed, len(self.items)

    # -- the table ------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section))
        return None

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == Column.NOTE else base

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != Column.NOTE:
            return False
        self.items[index.row()].note = str(value)
        self.dataChanged.emit(index, index)
        self.note_changed.emit(self.keys[index.row()])
        return True

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in _ROLES:
            return None
        item, column = self.items[index.row()], _COLUMNS[index.column()]
        if role == KEY_ROLE:
            return self.keys[index.row()]
        if role == Qt.ItemDataRole.DecorationRole and column == Column.IMAGE:
            return self._thumbs.get(self.keys[index.row()])
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(item, column)
        if role == SORT_ROLE:
            return self._sort_key(index.row(), item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        return None

    @staticmethod
    def _text(item: WorkItem, column: Column) -> str:
        outcome = item.outcome
        if column == Column.FILE:
            return item.file_name
        if column == Column.NOTE:
            return item.note
        if column == Column.SUGGESTION:
            if item.error:
                return "could not be classified"
            if outcome is None:
                return "waiting ..."
            return "none (unfamiliar)" if outcome.muted else DX_SHORT_NAMES[outcome.prediction.prediction]
        if outcome is None:
            return ""
        if column == Column.MELANOMA:  # muted like the suggestion: an unfamiliar image's vote is no evidence
            return "" if outcome.muted else f"{item.share('mel'):.0%}"
        if column == Column.SHARE:
            return "" if outcome.muted else f"{item.share(outcome.prediction.prediction):.0%}"
        if column == Column.AGREEING:
            agree, lesions = item.agreeing_lesions() or (0, 0)
            return "" if outcome.muted else f"{agree} of {lesions}"
        if column == Column.UNFAMILIAR:
            return KIND_LABELS.get(outcome.unfamiliar_kind or COLOUR_TEXTURE, "unfamiliar") if outcome.muted else ""
        if column == Column.IN_ARCHIVE:
            return outcome.archive_match or ""
        return ""

    def _sort_key(self, row: int, item: WorkItem, column: Column):
        """Numbers sort as numbers; rows without a value sort after those with one (ascending)."""
        outcome = item.outcome
        if column == Column.IMAGE:
            return row
        if column in (Column.FILE, Column.NOTE, Column.SUGGESTION, Column.IN_ARCHIVE):
            return self._text(item, column).lower()
        if outcome is None:
            return -1.0
        if column == Column.MELANOMA:
            return -1.0 if outcome.muted else float(item.share("mel") or 0.0)
        if column == Column.SHARE:
            return -1.0 if outcome.muted else float(item.share(outcome.prediction.prediction) or 0.0)
        if column == Column.AGREEING:
            agree, lesions = item.agreeing_lesions() or (0, 1)
            return -1.0 if outcome.muted else agree / max(1, lesions)
        if column == Column.UNFAMILIAR:
            return 1.0 if outcome.muted else 0.0
        return 0.0

    @staticmethod
    def _tooltip(item: WorkItem, column: Column) -> str | None:
        if item.error and column in (Column.FILE, Column.SUGGESTION):
            return f"{item.name}\n{item.error}"
        if column == Column.FILE:
            return item.name
        if column == Column.SUGGESTION and item.outcome is not None and not item.outcome.unfamiliar:
            return dx_label(item.outcome.prediction.prediction)
        if column == Column.UNFAMILIAR and item.outcome is not None and item.outcome.unfamiliar:
            return item.outcome.unfamiliar
        if column == Column.NOTE:
            return item.note or HEADER_TIPS[Column.NOTE]
        return None


# What the "Show" box keeps, by name: (label, test of a row).
SHOW_FILTERS = {
    "all": ("All images", lambda item: True),
    "mel": ("Melanoma suggested", lambda item: item.suggestion == "mel"),
    "unfamiliar": ("Unfamiliar", lambda item: item.outcome is not None and bool(item.outcome.unfamiliar)),
    "archive": ("In the archive", lambda item: item.outcome is not None and bool(item.outcome.archive_match)),
    "errors": ("Could not be classified", lambda item: bool(item.error)),
    "waiting": ("Waiting", lambda item: item.outcome is None and not item.error),
}


class WorklistFilter(QSortFilterProxyModel):
    """Sorts by SORT_ROLE; keeps rows whose file name, suggestion or note hold the text, and that the
    chosen "Show" filter keeps."""

    def __init__(self, model: WorklistModel):
        super().__init__()
        self.worklist = model
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.show_filter = "all"
        self.text = ""

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_show(self, name: str) -> None:
        self.beginFilterChange()
        self.show_filter = name
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent) -> bool:
        item = self.worklist.items[row]
        if not SHOW_FILTERS[self.show_filter][1](item):
            return False
        if not self.text:
            return True
        words = " ".join((item.file_name, WorklistModel._text(item, Column.SUGGESTION), item.note)).lower()
        return self.text in words
