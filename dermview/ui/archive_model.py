"""A thin Qt view over the filtered archive: an array of row numbers into the metadata table."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ..archive.browse import Browser, Filter
from ..archive.codes import dx_label, dx_type_label
from .thumbnails import THUMB_SIZE, ThumbnailCache, placeholder
from .text import tooltip

COLUMNS = [("image_id", "Image"), ("lesion_id", "Lesion"), ("dx", "Diagnosis"), ("dx_type", "Confirmed by"),
           ("age", "Age"), ("sex", "Sex"), ("localization", "Body site"), ("dataset", "Source")]
CAPTION_COLUMN = len(COLUMNS)  # hidden in the table; the grid shows it under each thumbnail
IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ArchiveModel(QAbstractTableModel):
    def __init__(self, browser: Browser, thumbnails: ThumbnailCache, parent=None):
        super().__init__(parent)
        self.browser = browser
        self.thumbnails = thumbnails
        meta = browser.metadata
        self._columns = {name: meta[name].astype(str).to_numpy() for name, _ in COLUMNS if name != "age"}
        self._age = meta["age"].to_numpy()
        self._available = meta["available"].to_numpy()
        self._dx_labels = {code: dx_label(code) for code in set(self._columns["dx"])}
        self.rows = np.arange(len(meta))
        self._row_of: dict[str, int] | None = None
        self._sort: tuple[str, bool] | None = None
        self._placeholder = placeholder(THUMB_SIZE, THUMB_SIZE * 3 // 4)
        self._missing = placeholder(THUMB_SIZE, THUMB_SIZE * 3 // 4, "image missing")
        thumbnails.ready.connect(self._thumbnail_ready)

    # -- filtering and sorting happen in numpy; the model only swaps its row array -----------
    def apply(self, flt: Filter) -> None:
        rows = self.browser.rows(flt)
        if self._sort:
            rows = self.browser.sort(rows, *self._sort)
        self.beginResetModel()
        self.rows = rows
        self._row_of = None
        self.endResetModel()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        if column >= len(COLUMNS):
            return
        self._sort = (COLUMNS[column][0], order == Qt.SortOrder.DescendingOrder)
        self.layoutAboutToBeChanged.emit()
        self.rows = self.browser.sort(self.rows, *self._sort)
        self._row_of = None
        self.layoutChanged.emit()

    def widest_text(self, column: int) -> str:
        """The longest text column ``column`` can show (its header included), to size it without
        measuring 10,000 rows."""
        name, header = COLUMNS[column]
        if name == "age":
            values = ["100"]
        elif name == "dx":
            values = list(self._dx_labels.values())
        elif name == "dx_type":
            values = [dx_type_label(v) for v in set(self._columns["dx_type"])]
        else:
            values = list(set(self._columns[name][:2000]))  # ids have one length; categories are few
        return max([header, *values], key=len)

    def image_id(self, row: int) -> str:
        return self._columns["image_id"][self.rows[row]]

    def row_of(self, image_id: str) -> int | None:
        if self._row_of is None:
            ids = self._columns["image_id"][self.rows]
            self._row_of = {image_id: i for i, image_id in enumerate(ids)}
        return self._row_of.get(image_id)

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        if size != THUMB_SIZE:
            return
        row = self.row_of(image_id)
        if row is not None:
            index = self.index(row, CAPTION_COLUMN)
            self.dataChanged.emit(self.index(row, 0), index, [Qt.ItemDataRole.DecorationRole])

    # -- Qt model interface ------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS) + 1

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1] if section < len(COLUMNS) else "Caption"
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == CAPTION_COLUMN:
                return f"{self._columns['dx'][r]} · {self._columns['image_id'][r]}"
            name = COLUMNS[column][0]
            if name == "age":
                age = self._age[r]
                return "unknown" if np.isnan(age) else f"{age:.0f}"
            value = self._columns[name][r]
            if name == "dx":
                return self._dx_labels[value]
            if name == "dx_type":
                return dx_type_label(value)
            return value
        if role == Qt.ItemDataRole.DecorationRole and column == CAPTION_COLUMN:
            if not self._available[r]:
                return self._missing
            return self.thumbnails.get(self._columns["image_id"][r]) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            age = self._age[r]
            return tooltip(f"{self._columns['image_id'][r]} - lesion {self._columns['lesion_id'][r]}\n"
                    f"{self._dx_labels[self._columns['dx'][r]]}, {dx_type_label(self._columns['dx_type'][r])}\n"
                    f"{'age unknown' if np.isnan(age) else f'age {age:.0f}'}, {self._columns['sex'][r]}, "
                    f"{self._columns['localization'][r]}"
                    + ("" if self._available[r] else "\nImage file missing from the archive"))
        if role == IMAGE_ID_ROLE:
            return self._columns["image_id"][r]
        return None
