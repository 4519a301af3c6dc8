"""The practice's case library in the window, its controller: opening the library, listing, saving,
confirming, showing and deleting cases, and the choice of whose images may be neighbours. The tab, the
table and the forms are in library_tab.py, library_table.py and library_forms.py. Thin: what a case is and how it is stored is dermview.library; every read and write runs on
the window's file worker, and the model worker searches the library (dermview.ui.workers)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDialog, QMessageBox)

from ..archive.inputs import bytes_input
from ..library.cases import add_work_item
from ..library.store import (Case, CaseLibrary, library_exists, library_url, shown_url)
from ..model.predictor import SearchIn

from .library_forms import CaseForm, ConfirmForm
from .library_tab import LibraryView

log = logging.getLogger(__name__)


# -- the actions -------------------------------------------------------------------------------------

class LibraryActions(QObject):
    # (the status bar's text, the tab's title) whenever the counts change
    counts_changed = Signal(str, str)
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
        """Say the counts to whoever shows them (the status bar, the tab's title): counts_changed."""
        awaiting = self.counts["awaiting"] if self.counts else 0
        self.counts_changed.emit(f"Own cases: {awaiting} awaiting confirmation" if self.counts else "",
                                 f"Case library ({awaiting} awaiting)" if awaiting else "Case library")

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
        if library is None:  # closed since the form opened
            return
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
            if library is None:
                return
            if self.question is not None and self.question.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.window.files.submit("library-delete", lambda: delete_then_name(library, case_id))

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
        form = self.form if isinstance(self.form, CaseForm) and self.form.isVisible() else None
        if key == "library-add" and form is not None:  # the form waits for its case: it closes, or says why not
            if error:
                form.not_stored(error)
                return
            form.stored()
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


def delete_then_name(library: CaseLibrary, case_id: str) -> str:
    """The file worker's job for Delete: the case's id once it is gone."""
    library.delete_case(case_id)
    return case_id
