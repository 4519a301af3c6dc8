"""The practice's case library in the window: the "Case library" tab (list, filter, open, confirm or
correct, delete), the "Save as case" and "Confirm case" forms, and the choice of whose images may be
neighbours. Thin: what a case is and how it is stored is dermview.library; every read and write runs on
the window's file worker, and the model worker searches the library (dermview.ui.workers)."""

from __future__ import annotations

import logging
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QHeaderView, QLineEdit, QMessageBox, QPlainTextEdit, QPushButton, QSpinBox, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from ..archive.codes import DX_CODES, dx_label, dx_type_label
from ..archive.inputs import bytes_input
from ..errors import DermviewError
from ..library.cases import add_work_item
from ..library.search import library_image_id
from ..library.store import (AWAITING, CONFIRMATIONS, CONFIRMED, OTHER, Case, CaseLibrary, check_case_id,
                             library_exists, library_url, shown_url)
from ..model.predictor import SearchIn
from .panels import notice_label
from .text import plain_label, tooltip

log = logging.getLogger(__name__)
PREVIEW_SIZE = 360  # longest side of the selected case's picture
SEXES = ("", "female", "male", "other", "unknown")


# -- the forms -------------------------------------------------------------------------------------

class CaseForm(QDialog):
    """Save the current image as a case: a pseudonymous case id and optional details. Window-modal and
    non-blocking; ``submitted`` carries what was entered once it passes the core's checks."""

    submitted = Signal(dict)

    def __init__(self, file_name: str, note: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Save as case")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.case_id = QLineEdit()
        self.case_id.setPlaceholderText("e.g. K-2026-017 (pseudonymous: no patient name)")
        self.site = QLineEdit()
        self.site.setPlaceholderText("e.g. left scapula")
        self.age = QSpinBox()
        self.age.setRange(-1, 130)
        self.age.setSpecialValueText("not given")
        self.age.setValue(-1)
        self.sex = QComboBox()
        for value in SEXES:
            self.sex.addItem(value or "not given", value)
        self.note = QPlainTextEdit(note)
        self.note.setFixedHeight(70)
        self.error = plain_label("")
        self.error.setStyleSheet("color: #a40000")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow(plain_label("Image:"), plain_label(file_name))
        for title, widget in (("Case id:", self.case_id), ("Body site:", self.site), ("Age:", self.age),
                              ("Sex:", self.sex), ("Note:", self.note)):
            form.addRow(plain_label(title), widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label("The case awaits confirmation until you record its diagnosis; until then it "
                                     "never votes among the neighbours."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _submit(self) -> None:
        try:
            case_id = check_case_id(self.case_id.text())
        except DermviewError as exc:
            self.error.setText(str(exc))
            return
        self.submitted.emit({"case_id": case_id, "body_site": self.site.text().strip() or None,
                             "age": None if self.age.value() < 0 else self.age.value(),
                             "sex": self.sex.currentData() or None, "note": self.note.toPlainText()})
        self.accept()


class ConfirmForm(QDialog):
    """Record or correct how a case turned out: a diagnosis (or "other" with its text) and how it was
    confirmed, and who records it."""

    submitted = Signal(dict)

    def __init__(self, case: Case, recorder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Confirm case {case.case_id}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.case_id = case.case_id
        self.diagnosis = QComboBox()
        for code in DX_CODES:
            self.diagnosis.addItem(dx_label(code), code)
        self.diagnosis.addItem("Other (say which)", OTHER)
        self.other = QLineEdit(case.confirmed_other or "")
        self.other.setPlaceholderText("e.g. seborrhoeic wart")
        self.how = QComboBox()
        for code in CONFIRMATIONS:
            self.how.addItem(dx_type_label(code), code)
        self.by = QLineEdit(case.confirmed_by or recorder)
        if case.confirmed_dx:
            self.diagnosis.setCurrentIndex(max(0, self.diagnosis.findData(case.confirmed_dx)))
            self.how.setCurrentIndex(max(0, self.how.findData(case.dx_type)))
        elif case.suggestion in DX_CODES:  # the form starts from what dermview said, to be changed
            self.diagnosis.setCurrentIndex(self.diagnosis.findData(case.suggestion))
        self.diagnosis.currentIndexChanged.connect(self._other_enabled)
        self._other_enabled()
        self.error = plain_label("")
        self.error.setStyleSheet("color: #a40000")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow(plain_label("Diagnosis:"), self.diagnosis)
        form.addRow(plain_label("Other:"), self.other)
        form.addRow(plain_label("Confirmed by:"), self.how)
        form.addRow(plain_label("Recorded by:"), self.by)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(f"Case {case.case_id}: {case.outcome_text}"
                                     + (f"; dermview suggested {dx_label(case.suggestion)}." if case.suggestion else ".")))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _other_enabled(self) -> None:
        self.other.setEnabled(self.diagnosis.currentData() == OTHER)

    def _submit(self) -> None:
        if self.diagnosis.currentData() == OTHER and not self.other.text().strip():
            self.error.setText("Say which diagnosis it was (e.g. seborrhoeic wart).")
            return
        self.submitted.emit({"case_id": self.case_id, "diagnosis": self.diagnosis.currentData(),
                             "dx_type": self.how.currentData(), "other": self.other.text().strip() or None,
                             "by": self.by.text().strip() or None})
        self.accept()


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


# -- the actions -------------------------------------------------------------------------------------

class LibraryActions(QObject):
    """Opens the library (on the file worker), saves, confirms and deletes cases, keeps the tab, the
    awaiting count and the model worker's search up to date."""

    cases_listed = Signal()  # the tab shows the library's current state (tests wait for it)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.library: CaseLibrary | None = None
        self.url = library_url(window.settings.library_url or None)
        self.view: LibraryView | None = None
        self.form: QDialog | None = None  # the open form, if any
        self.question: QMessageBox | None = None
        self.counts: dict[str, int] | None = None
        self.save_case_action = QAction("Save as &Case...", self, shortcut=QKeySequence("Ctrl+Shift+S"),
                                        triggered=self.save_case)
        self.save_case_action.setToolTip("Keep this image in your case library, to confirm when the diagnosis is known")
        self.search_actions: dict[SearchIn, QAction] = {}
        group = QActionGroup(self)
        for choice in SearchIn:
            action = QAction(choice.label, self, checkable=True, checked=choice is window.settings.search)
            action.triggered.connect(lambda _checked=False, c=choice: self.set_search(c))
            group.addAction(action)
            self.search_actions[choice] = action
        window.service.search = window.settings.search
        window.service.library_searched.connect(self._searched)
        window.files.done.connect(self._job_done)

    # -- opening ---------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the library if there is one (the first saved case creates the default SQLite file)."""
        if library_exists(self.url):
            self.window.files.submit("library-open", lambda: CaseLibrary(self.url))
        else:
            self._show_summary()

    def make_view(self, thumbnails) -> LibraryView:
        """A new tab for a newly opened archive (the old one went with the old pages)."""
        self.view = LibraryView(thumbnails)
        self.view.filter_changed.connect(self.list_cases)
        self.view.confirm_wanted.connect(self.confirm_case)
        self.view.show_wanted.connect(self.show_case)
        self.view.delete_wanted.connect(self.delete_case)
        self.window.loader.library = self.library
        self.list_cases()
        return self.view

    def _opened(self, library: CaseLibrary) -> None:
        if self.library is not None and self.library is not library:
            self.library.close()
        self.library = library
        if self.window.loader is not None:
            self.window.loader.library = library
        self.window.service.set_library(library)
        self.list_cases()

    # -- listing -----------------------------------------------------------------------------------
    def list_cases(self) -> None:
        library = self.library
        if library is None:
            self._show_summary()
            return
        status, diagnosis = self.view.wanted_filter() if self.view is not None else (None, None)
        self.window.files.submit("library-list", lambda: (library.cases_list(status, diagnosis), library.counts()))

    def _show_summary(self, cases: list[Case] | None = None) -> None:
        where = shown_url(self.url)
        if self.counts is None:
            text = (f"No cases yet. Save a classified image as a case (File > Save as Case, Ctrl+Shift+S) to start "
                    f"your library at {where}.")
        else:
            text = (f"{self.counts['cases']:,} cases, {self.counts['awaiting']:,} awaiting confirmation, "
                    f"{self.counts['confirmed']:,} confirmed. Library: {where}. Confirmed cases with one of the "
                    "seven diagnoses are searched beside the archive "
                    f"({self.window.service.search.label.lower()} now: Model > Neighbours From).")
        if self.view is not None:
            self.view.show_cases(cases or [], text)
        self._show_count()

    def _show_count(self) -> None:
        awaiting = self.counts["awaiting"] if self.counts else 0
        label = getattr(self.window, "library_label", None)
        if label is not None:
            label.setText(f"Own cases: {awaiting} awaiting confirmation" if self.counts else "")
        tabs = getattr(self.window, "tabs", None)
        if tabs is not None and self.view is not None and tabs.indexOf(self.view) >= 0:
            tabs.setTabText(tabs.indexOf(self.view), f"Case library ({awaiting} awaiting)" if awaiting else "Case library")

    # -- saving ------------------------------------------------------------------------------------
    def save_case(self) -> None:
        """File > Save as Case (and the buttons): the image shown in Classify, or the worklist's selected row."""
        classify = self.window.classify
        item = classify.current_item() if classify is not None else None
        if item is None:
            self.window.report_error("Nothing to save", "Classify an image first; then save it as a case.")
            return
        self.form = CaseForm(item.file_name, item.note, self.window)
        self.form.submitted.connect(lambda details: self._save(item, details))
        self.form.open()

    def _save(self, item, details: dict) -> None:
        library, url = self.library, self.url

        def work():
            target = library or CaseLibrary(url)  # the first case creates the library
            try:
                return target, add_work_item(target, item, details.pop("case_id"), **details)
            except BaseException:
                if target is not library:  # made for this case alone: nothing else will close it
                    target.close()
                raise

        self.window.files.submit("library-add", work)

    # -- confirming, showing, deleting -------------------------------------------------------------
    def confirm_case(self, case_id: str) -> None:
        case = next((c for c in (self.view.model.cases if self.view else []) if c.case_id == case_id), None)
        if case is None or self.library is None:
            return
        self.form = ConfirmForm(case, self.window.settings.recorder, self.window)
        self.form.submitted.connect(self._confirm)
        self.form.open()

    def _confirm(self, values: dict) -> None:
        library = self.library
        if values.get("by"):
            self.window.settings.recorder = values["by"]
        self.window.files.submit("library-confirm", lambda: library.confirm(
            values["case_id"], values["diagnosis"], values["dx_type"], by=values["by"], other=values["other"]))

    def show_case(self, case_id: str) -> None:
        """Classify the image of case ``case_id`` (the one asked for, not whichever row is selected)."""
        library = self.library
        case = next((c for c in (self.view.model.cases if self.view else []) if c.case_id == case_id), None)
        if library is None or case is None:
            return
        name = f"case {case.case_id}" + (f" ({case.file_name})" if case.file_name else "")
        self.window.files.submit("library-image", lambda: bytes_input(name, library.image(case.sha256)))

    def delete_case(self, case_id: str) -> None:
        """Asks first; the case (and its image, if no other case uses it) goes only on Yes."""
        self.question = QMessageBox(QMessageBox.Icon.Question, "Delete case",
                                    f"Delete case {case_id} and its image from the library? This cannot be undone "
                                    "(export the library first to keep a copy).",
                                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.window)
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.question.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.question.setWindowModality(Qt.WindowModality.WindowModal)
        library = self.library

        def answered(button) -> None:
            if self.question is not None and self.question.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.window.files.submit("library-delete", lambda: (library.delete_case(case_id), case_id)[1])

        self.question.buttonClicked.connect(answered)
        self.question.open()

    # -- whose images are neighbours -----------------------------------------------------------------
    def set_search(self, choice: SearchIn) -> None:
        if choice is self.window.service.search:
            return
        self.window.settings.search = choice
        self.window.service.search = choice
        self.search_actions[choice].setChecked(True)
        self._show_summary(self.view.model.cases if self.view else None)
        if self.window.classify is not None:
            self.window.classify.forget_results()  # answers from the other choice are not these

    def _searched(self, count: int, problem: str) -> None:
        if count < 0:
            self.window.report_error("Your own cases are not searched", problem + " The archive still works.")

    # -- answers from the file worker -------------------------------------------------------------
    def _job_done(self, key: str, generation: int, value, error: str | None) -> None:
        if not key.startswith("library-"):
            return
        if error:
            titles = {"library-open": "The case library could not be opened",
                      "library-add": "The case was not saved", "library-confirm": "The case was not confirmed",
                      "library-delete": "The case was not deleted", "library-image": "The case's image cannot be shown",
                      "library-list": "The case library could not be read"}
            self.window.report_error(titles.get(key, "Case library"), error)
            return
        if key == "library-open":
            self._opened(value)
        elif key == "library-list":
            cases, self.counts = value
            self._show_summary(cases)
            self.cases_listed.emit()
        elif key == "library-add":
            library, case = value
            if library is not self.library:
                self._opened(library)
            else:
                self.list_cases()
            self.window.statusBar().showMessage(f"Saved case {case.case_id}; it awaits confirmation.", 10000)
        elif key in ("library-confirm", "library-delete"):
            self.window.service.refresh_library()  # searchable now, before the next query asks
            self.list_cases()
            what = f"Case {value.case_id}: {value.outcome_text}" if key == "library-confirm" else f"Deleted case {value}"
            self.window.statusBar().showMessage(what, 10000)
        elif key == "library-image":
            self.window.classify.add_inputs([value], [])

    def shutdown(self) -> None:
        if self.library is not None:
            self.library.close()
