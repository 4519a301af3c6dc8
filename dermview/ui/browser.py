"""The archive browser: facets on the left, the archive as a thumbnail grid or a sortable table."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QHBoxLayout, QHeaderView, QListView, QSplitter,
                               QStackedWidget, QTableView, QToolButton, QVBoxLayout, QWidget)

from ..archive import Archive
from ..archive.browse import Browser, Filter
from .archive_model import CAPTION_COLUMN, ArchiveModel
from .facets import FacetPanel
from .thumbnails import THUMB_SIZE, ThumbnailCache
from .text import plain_label


class ArchiveBrowser(QSplitter):
    """Filters and views over one archive; says which image the user selected, nothing more."""

    image_selected = Signal(str)  # image_id
    view_mode_changed = Signal(str)  # "grid" or "table"

    def __init__(self, archive: Archive, thumbnails: ThumbnailCache, view_mode: str = "grid"):
        super().__init__()
        self.setObjectName("archive-browser")
        self.filtering = Browser(archive.metadata)
        self.model = ArchiveModel(self.filtering, thumbnails, self)
        self.facets = FacetPanel(self.filtering)
        self.facets.filter_changed.connect(self.apply_filter)
        self.grid = self._make_grid()
        self.table = self._make_table()
        for view in (self.grid, self.table):
            view.selectionModel().currentChanged.connect(self._current_changed)
        self.views = QStackedWidget()
        self.views.addWidget(self.grid)
        self.views.addWidget(self.table)

        self.count_label = plain_label("")
        self.count_label.setObjectName("count-label")
        self.grid_button = QToolButton(text="Grid", checkable=True)
        self.table_button = QToolButton(text="Table", checkable=True)
        toggle = QButtonGroup(self)
        toggle.setExclusive(True)
        for i, button in enumerate((self.grid_button, self.table_button)):
            toggle.addButton(button, i)
        toggle.idClicked.connect(lambda i: self.set_view_mode("grid" if i == 0 else "table"))
        top = QHBoxLayout()
        top.addWidget(self.count_label, 1)
        top.addWidget(self.grid_button)
        top.addWidget(self.table_button)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addLayout(top)
        centre_layout.addWidget(self.views)

        self.addWidget(self.facets)
        self.addWidget(centre)
        self.setStretchFactor(1, 1)
        self.setSizes([340, 500])
        self.set_view_mode(view_mode)
        self.apply_filter(self.facets.current())

    def _make_grid(self) -> QListView:
        grid = QListView()
        grid.setObjectName("archive-grid")
        grid.setViewMode(QListView.ViewMode.IconMode)
        grid.setModel(self.model)
        grid.setModelColumn(CAPTION_COLUMN)
        grid.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE * 3 // 4))
        grid.setGridSize(QSize(THUMB_SIZE + 30, THUMB_SIZE * 3 // 4 + 34))
        grid.setUniformItemSizes(True)  # lets Qt lay out 10,000 items without measuring each
        grid.setResizeMode(QListView.ResizeMode.Adjust)
        grid.setMovement(QListView.Movement.Static)
        grid.setLayoutMode(QListView.LayoutMode.Batched)
        grid.setBatchSize(500)
        grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        return grid

    def _make_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("archive-table")
        table.setModel(self.model)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        table.setColumnHidden(CAPTION_COLUMN, True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setDefaultSectionSize(22)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.horizontalHeader().setStretchLastSection(True)
        # Nothing clipped: each column as wide as the longest text it can hold (a scroll bar if need be).
        metrics = table.fontMetrics()
        for column in range(CAPTION_COLUMN):
            table.setColumnWidth(column, metrics.horizontalAdvance(self.model.widest_text(column)) + 24)
        return table

    def apply_filter(self, flt: Filter) -> None:
        self.model.apply(flt)
        self.facets.update_counts(self.filtering.counts(flt))
        self.count_label.setText(f"{self.model.rowCount():,} of {len(self.filtering.metadata):,} images")

    def set_view_mode(self, mode: str) -> None:
        self.views.setCurrentIndex(0 if mode == "grid" else 1)
        self.grid_button.setChecked(mode == "grid")
        self.table_button.setChecked(mode == "table")
        self.view_mode_changed.emit(mode)

    def _current_changed(self, current, previous) -> None:
        if current.isValid():
            self.image_selected.emit(self.model.image_id(current.row()))

    def select_image(self, image_id: str) -> bool:
        """Select and show ``image_id``; False if the filter hides it."""
        row = self.model.row_of(image_id)
        if row is None:
            return False
        view = self.grid if self.views.currentIndex() == 0 else self.table
        index = self.model.index(row, CAPTION_COLUMN if view is self.grid else 0)
        view.setCurrentIndex(index)
        view.scrollTo(index)
        return True
