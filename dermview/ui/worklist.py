"""The worklist tab: the table of the session's images (ui/worklist_model.py), sortable, filterable, with
the clinician's note editable in place, and the batch's progress."""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFrame, QHBoxLayout, QHeaderView, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget)

from .panels import notice_label
from .status import CancellableProgress
from .text import plain_label
from .workers import ROW_THUMBNAIL

from ..model.familiarity import CLINICAL_PHOTO, KIND_LABELS
from .worklist_model import HEADERS, KEY_ROLE, SHOW_FILTERS, Column, WorklistFilter, WorklistModel  # noqa: F401  (Column re-exported)


class WorklistView(QWidget):
    """The table with its filter, and the batch's progress with Cancel."""

    current_changed = Signal(int)  # key of the row now selected
    open_result = Signal(int)  # Enter or double-click: show this row's result
    cancel_batch = Signal()
    resume_batch = Signal()
    reopen_session = Signal()
    discard_session = Signal()
    save_case = Signal()  # the selected row, into the case library

    def __init__(self, model: WorklistModel):
        super().__init__()
        self.model = model
        self.proxy = WorklistFilter(model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by file name, suggestion or note")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.show_combo = QComboBox()
        for name, (label, _test) in SHOW_FILTERS.items():
            self.show_combo.addItem(label, name)
        self.show_combo.currentIndexChanged.connect(lambda _i: self.proxy.set_show(self.show_combo.currentData()))
        self.table = QTableView()
        self.table.setObjectName("worklist-table")
        self.table.setModel(self.proxy)
        # Unsorted (the order images were added) until a header is clicked: sorting 300 new rows would
        # ask the model for thousands of values on the GUI thread (33 ms measured).
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setIconSize(QPixmap(ROW_THUMBNAIL, ROW_THUMBNAIL * 3 // 4).size())
        self.table.verticalHeader().setDefaultSectionSize(ROW_THUMBNAIL * 3 // 4 + 6)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(Column.FILE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.NOTE, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(Column.IMAGE, ROW_THUMBNAIL + 12)
        # Fixed widths from the widest text a column can hold: resizing to contents would measure every
        # row on every answer (300 rows x 300 answers), which stalled the window for seconds.
        metrics = self.table.fontMetrics()
        widest = {Column.SUGGESTION: "could not be classified", Column.MELANOMA: HEADERS[Column.MELANOMA],
                  Column.SHARE: HEADERS[Column.SHARE], Column.AGREEING: HEADERS[Column.AGREEING],
                  Column.UNFAMILIAR: KIND_LABELS[CLINICAL_PHOTO], Column.IN_ARCHIVE: "ISIC_0000000"}
        for column, text in widest.items():
            self.table.setColumnWidth(column, metrics.horizontalAdvance(text) + 24)
        self.table.selectionModel().currentRowChanged.connect(self._current_row_changed)
        # Enter or a double-click (not on the note, which that opens for writing): the row's result.
        self.table.activated.connect(lambda index: self.open_result.emit(index.data(KEY_ROLE)))
        self.status = plain_label("No images yet: drop images, a folder or a zip file anywhere on the window.")
        self.progress = CancellableProgress(self.cancel_batch.emit, 280)
        self.cancel_button = self.progress.cancel_button
        self.resume_button = QPushButton("Classify the waiting images")
        self.resume_button.setVisible(False)
        self.resume_button.clicked.connect(self.resume_batch)

        # The offer to reopen the last session, until the clinician answers it.
        self.offer = QFrame()
        self.offer.setObjectName("session-offer")
        self.offer.setStyleSheet("#session-offer { background: #e8f0fb; border: 1px solid #9db7e0; }")
        self.offer_label = plain_label("")
        self.offer_label.setWordWrap(True)
        reopen = QPushButton("Reopen it")
        reopen.setObjectName("reopen-session")
        reopen.clicked.connect(self.reopen_session)
        discard = QPushButton("Start a new session")
        discard.setToolTip("The last session is kept in the data folder under another name")
        discard.clicked.connect(self.discard_session)
        offer_row = QHBoxLayout(self.offer)
        offer_row.addWidget(self.offer_label, 1)
        offer_row.addWidget(reopen)
        offer_row.addWidget(discard)
        self.offer.setVisible(False)

        self.save_case_button = QPushButton("Save as case...")
        self.save_case_button.setToolTip("Keep the selected image in your case library, to confirm when the "
                                         "diagnosis is known (Ctrl+Shift+S)")
        self.save_case_button.clicked.connect(self.save_case)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 2)
        top.addWidget(plain_label("Show:"))
        top.addWidget(self.show_combo)
        top.addWidget(self.save_case_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.offer)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        layout.addWidget(notice_label())  # the suggestions in this table are no diagnosis either

    # -- selection ----------------------------------------------------------------------------
    def key_at(self, proxy_row: int) -> int | None:
        if not 0 <= proxy_row < self.proxy.rowCount():
            return None
        return self.proxy.index(proxy_row, 0).data(KEY_ROLE)

    def current_key(self) -> int | None:
        index = self.table.currentIndex()
        return index.data(KEY_ROLE) if index.isValid() else None

    def select_key(self, key: int) -> bool:
        row = self.model.row_of(key)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, Column.FILE))
        if not index.isValid():  # filtered out: show everything again rather than hide the choice
            self.filter_edit.clear()
            self.show_combo.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.model.index(row, Column.FILE))
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def step(self, offset: int) -> int | None:
        """Move the selection ``offset`` rows in the table's order (sorted and filtered); the new key."""
        current = self.table.currentIndex()
        row = (current.row() if current.isValid() else -1) + offset
        key = self.key_at(max(0, min(self.proxy.rowCount() - 1, row)))
        if key is not None:
            self.select_key(key)
        return key

    def position(self, key: int | None) -> tuple[int, int]:
        """(1-based place of ``key`` in the table's order, rows shown); (0, n) when it is not shown."""
        for row in range(self.proxy.rowCount()):
            if self.key_at(row) == key:
                return row + 1, self.proxy.rowCount()
        return 0, self.proxy.rowCount()

    def selected_keys(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [k for k in (self.key_at(r) for r in rows) if k is not None]

    def _current_row_changed(self, current, _previous) -> None:
        if current.isValid():
            self.current_changed.emit(current.data(KEY_ROLE))

    def show_offer(self, text: str | None) -> None:
        self.offer_label.setText(text or "")
        self.offer.setVisible(bool(text))

    # -- progress -----------------------------------------------------------------------------
    def show_progress(self, waiting: int, running: bool) -> None:
        done, failed, total = self.model.counts()
        if total == 0:
            return
        self.progress.show_progress(total - waiting, total)
        self.progress.setVisible(running and waiting > 0)
        self.resume_button.setVisible(not running and waiting > 0)
        parts = [f"{total} image{'s' if total != 1 else ''}", f"{done} classified"]
        if failed:
            parts.append(f"{failed} could not be classified (listed, with why)")
        if waiting:
            parts.append(f"{waiting} waiting" + ("" if running else " (cancelled)"))
        self.status.setText("; ".join(parts) + ".")
