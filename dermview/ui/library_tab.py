"""The "Case library" tab: the filtered table, the selected case's picture and details, and its buttons."""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout,
                               QHeaderView, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from ..archive.codes import DX_CODES, dx_label
from ..library.search import library_image_id
from ..library.store import (AWAITING, CONFIRMED, OTHER, Case)
from .panels import notice_label
from .text import plain_label

from .library_table import CaseColumn, CaseTableModel, case_cells

PREVIEW_SIZE = 360  # longest side of the selected case's picture


class LibraryView(QWidget):
    """The "Case library" tab. Emits what the clinician asks for; LibraryActions does it."""

    filter_changed = Signal()
    confirm_wanted = Signal(str)  # case id
    show_wanted = Signal(str)
    delete_wanted = Signal(str)

    def __init__(self, thumbnails, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.summary = plain_label("The case library is not open.")
        self.summary.setObjectName("library-summary")
        self.summary.setWordWrap(True)
        self.status_filter = QComboBox()
        for title, value in (("All cases", None), ("Awaiting confirmation", AWAITING), ("Confirmed", CONFIRMED)):
            self.status_filter.addItem(title, value)
        self.dx_filter = QComboBox()
        self.dx_filter.addItem("Any diagnosis", None)
        for code in DX_CODES:
            self.dx_filter.addItem(dx_label(code), code)
        self.dx_filter.addItem("Other", OTHER)
        for combo in (self.status_filter, self.dx_filter):
            combo.currentIndexChanged.connect(self.filter_changed)
        self.model = CaseTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in ((CaseColumn.CASE_ID, 120), (CaseColumn.STATUS, 170), (CaseColumn.CONFIRMED, 110),
                              (CaseColumn.DATE, 115), (CaseColumn.SUGGESTED, 150), (CaseColumn.SITE, 100),
                              (CaseColumn.AGE, 40), (CaseColumn.SEX, 60)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(lambda current, _previous: self._show_case())
        self.table.activated.connect(lambda _index: self._emit(self.confirm_wanted))
        self.preview = plain_label("Select a case to see its image.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIZE, PREVIEW_SIZE * 3 // 4)
        self.details = plain_label("")
        self.details.setWordWrap(True)
        self.confirm_button = QPushButton("Confirm or correct...")
        self.confirm_button.setToolTip("Record the diagnosis and how it was confirmed (Enter)")
        self.show_button = QPushButton("Show in Classify")
        self.show_button.setToolTip("Classify this case's image again and see its neighbours")
        self.delete_button = QPushButton("Delete...")
        self.confirm_button.clicked.connect(lambda: self._emit(self.confirm_wanted))
        self.show_button.clicked.connect(lambda: self._emit(self.show_wanted))
        self.delete_button.clicked.connect(lambda: self._emit(self.delete_wanted))

        filters = QHBoxLayout()
        filters.addWidget(plain_label("Show:"))
        filters.addWidget(self.status_filter)
        filters.addWidget(self.dx_filter)
        filters.addStretch(1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.preview)
        side_layout.addWidget(self.details)
        buttons = QHBoxLayout()
        for button in (self.confirm_button, self.show_button, self.delete_button):
            buttons.addWidget(button)
        side_layout.addLayout(buttons)
        side_layout.addStretch(1)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addWidget(notice_label())  # a confirmed case is a record, dermview's suggestion no diagnosis
        thumbnails.ready.connect(self._thumbnail_ready)
        self._show_case()

    # -- what the actions ask it to show --------------------------------------------------------
    def wanted_filter(self) -> tuple[str | None, str | None]:
        """(status, diagnosis) to list."""
        return self.status_filter.currentData(), self.dx_filter.currentData()

    def show_cases(self, cases: list[Case], summary: str) -> None:
        keep = self.current_case()
        self.model.set_cases(cases)
        self.summary.setText(summary)
        rows = [i for i, c in enumerate(cases) if keep is not None and c.case_id == keep.case_id]
        if rows or cases:
            self.table.selectRow(rows[0] if rows else 0)
        self._show_case()

    def select_case(self, case_id: str) -> bool:
        for row, case in enumerate(self.model.cases):
            if case.case_id == case_id:
                self.table.selectRow(row)
                return True
        return False

    def current_case(self) -> Case | None:
        row = self.table.currentIndex().row()
        return self.model.cases[row] if 0 <= row < len(self.model.cases) else None

    # -- inside ---------------------------------------------------------------------------------
    def _emit(self, signal) -> None:
        case = self.current_case()
        if case is not None:
            signal.emit(case.case_id)

    def _show_case(self) -> None:
        case = self.current_case()
        for button in (self.confirm_button, self.show_button, self.delete_button):
            button.setEnabled(case is not None)
        if case is None:
            self.preview.setText("Select a case to see its image.")
            self.details.setText("")
            return
        cells = case_cells(case)
        confirmed = f", confirmed by {cells[CaseColumn.CONFIRMED].lower()}" if case.dx_type else ""
        lines = [f"Case {case.case_id}: {cells[CaseColumn.STATUS]}{confirmed}"]
        if case.confirmed_by or case.confirmed_at:
            lines.append(f"Recorded by {case.confirmed_by or 'not given'} on {(case.confirmed_at or '')[:10]}")
        if case.suggestion:
            lines.append(f"dermview suggested {dx_label(case.suggestion)} ({case.features} similarity)")
        lines.append(f"Image {case.file_name or ''} (SHA-256 {case.sha256[:16]}...)")
        if case.note:
            lines.append(f"Note: {case.note}")
        if case.confirmed_dx == OTHER:
            lines.append("A diagnosis outside the seven never votes among the neighbours.")
        elif case.status == AWAITING:
            lines.append("Awaiting confirmation: it does not vote among the neighbours until confirmed.")
        self.details.setText("\n".join(lines))
        self._set_preview(case)

    def _set_preview(self, case: Case) -> None:
        pixmap = self.thumbnails.get(library_image_id(case.sha256), PREVIEW_SIZE)
        if pixmap is None:
            self.preview.setText("Loading ...")
        else:
            self.preview.setPixmap(pixmap)

    def _thumbnail_ready(self, image_id: str, size: int) -> None:
        case = self.current_case()
        if case is not None and size == PREVIEW_SIZE and image_id == library_image_id(case.sha256):
            self._set_preview(case)


