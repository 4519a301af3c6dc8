"""The File menu's clinic actions - export the worklist, export or print case reports - and the
session that survives a restart. Thin: what is written comes from dermview.clinic, how a page looks
from dermview.render; slow work (drawing pages, finding a session's files again) runs on the
window's file worker."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from ..clinic.report import ReportPage, report_page
from ..clinic.sessions import (SavedSession, SessionSlot, claim_slot, keep_earlier_session, load_session,
                               restore_items, save_session, set_aside)
from ..clinic.worklist import write_csv, write_json
from ..errors import DermviewError
from ..outputs import check_output_path
from ..render.report_pdf import draw_pages, write_pdf

log = logging.getLogger(__name__)
SAVE_DELAY_MS = 1000  # a burst of notes or rows is saved once


class ClinicActions(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.export_worklist_action = QAction("Export &Worklist (CSV or JSON)...", self,
                                              shortcut=QKeySequence("Ctrl+E"), triggered=self.choose_worklist_file)
        self.export_report_action = QAction("Export &Report (PDF)...", self, shortcut=QKeySequence("Ctrl+R"),
                                            triggered=self.choose_report_file)
        self.print_action = QAction("&Print Report...", self, shortcut=QKeySequence.StandardKey.Print,
                                    triggered=self.print_report)
        self.offered: SavedSession | None = None  # the last session, offered and not yet answered
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_now)
        self._printer = None
        self.persist = True  # False for scripted runs (screenshots, self-test): the user's session is theirs
        self._slot: SessionSlot | None = None
        window.files.done.connect(self._job_done)

    def leave_the_users_session_alone(self) -> None:
        """Scripted runs (screenshots, the self-test) neither offer nor overwrite the user's last session."""
        self.persist = False
        self.release_session()

    @property
    def slot(self) -> SessionSlot:
        """This window's own session file, claimed when first needed: another window open at the same time has
        another one, so neither overwrites the other's session."""
        if self._slot is None:
            self._slot = claim_slot()
        return self._slot

    def release_session(self) -> None:
        """The window closes: its session file is free for the next window."""
        if self._slot is not None:
            self._slot.release()
            self._slot = None

    def actions(self) -> list[QAction]:
        return [self.export_worklist_action, self.export_report_action, self.print_action]

    @property
    def classify(self):
        return self.window.classify

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 15000)

    # -- worklist export ------------------------------------------------------------------------
    def choose_worklist_file(self) -> None:
        if not self._has_rows():
            return
        settings = self.window.settings
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the worklist", settings.in_folder("exports", "worklist.csv"),
                                              "CSV for spreadsheets (*.csv);;JSON (*.json)")
        if path:
            settings.remember_folder("exports", path)
            self.export_worklist(path)

    def export_worklist(self, path: str) -> bool:
        """Every row, in the order they were added, as CSV (or JSON for a .json name)."""
        try:
            target = check_output_path(path)
            items = self.classify.items()
            (write_json if target.suffix.lower() == ".json" else write_csv)(items, target)
        except (DermviewError, OSError) as exc:
            self.window.report_error("The worklist could not be exported", str(exc))
            return False
        self._say(f"Exported {len(items)} rows to {target}")
        return True

    def _has_rows(self) -> bool:
        if self.classify is None or not self.classify.items():
            self.window.report_error("Nothing to export", "The worklist is empty: add images first.")
            return False
        return True

    # -- case reports ---------------------------------------------------------------------------
    def report_pages(self, keys: list[int] | None = None) -> list[ReportPage]:
        """Pages for the selected rows (or ``keys``) that have a result; DermviewError when none has."""
        classify = self.classify
        if classify is None or self.window.session is None:
            raise DermviewError("There is nothing to report yet: open the archive and classify an image.")
        rows = dict(classify.rows())
        items = [rows.get(k) for k in keys] if keys else classify.chosen_items()
        pages = [report_page(item, self.window.session) for item in items if item is not None and item.outcome]
        if not pages:
            raise DermviewError("None of the selected images has a result yet: wait for it, or select others.")
        return pages

    def _pages_or_say(self, title: str) -> list[ReportPage]:
        """The selected rows' pages, or none after telling the user why (under ``title``)."""
        try:
            return self.report_pages()
        except DermviewError as exc:
            self.window.report_error(title, str(exc))
            return []

    def choose_report_file(self) -> None:
        pages = self._pages_or_say("No report")
        if not pages:
            return
        settings = self.window.settings
        path, _ = QFileDialog.getSaveFileName(self.window, "Export a case report",
                                              settings.in_folder("exports", "case-report.pdf"), "PDF (*.pdf)")
        if path:
            settings.remember_folder("exports", path)
            self.export_report(path, pages)

    def export_report(self, path: str, pages: list[ReportPage]) -> None:
        """Draw ``pages`` into ``path`` on the file worker; the status bar says when it is written."""
        try:
            target = check_output_path(path)
        except DermviewError as exc:
            self.window.report_error("The report could not be written", str(exc))
            return
        self._say(f"Writing {len(pages)} report page{'s' if len(pages) != 1 else ''} to {target} ...")
        self.window.files.submit("report", lambda: (write_pdf(pages, target), len(pages))[1])

    def print_report(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        pages = self._pages_or_say("Nothing to print")
        if not pages:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self.window)
        if dialog.exec() == QPrintDialog.DialogCode.Accepted:
            self.print_pages(printer, pages)

    def print_pages(self, printer, pages: list[ReportPage]) -> None:
        """Draw ``pages`` on the printer the dialog set up, on the file worker."""
        self._printer = printer  # alive until the file worker has drawn on it
        self._say(f"Printing {len(pages)} page{'s' if len(pages) != 1 else ''} ...")

        def job() -> int:
            draw_pages(pages, printer, printer.newPage)
            return len(pages)

        self.window.files.submit("print", job)

    # -- the session that survives a restart ------------------------------------------------------
    def offer_last_session(self) -> None:
        """After an archive opens with an empty worklist: offer the last session, if there is one."""
        if not self.persist or self.classify is None or self.classify.items():
            return
        try:
            saved = load_session(self.slot.path)
        except DermviewError as exc:
            self._say(str(exc))
            return
        if saved is None:
            return
        self.offered = saved
        self.classify.offer(f"Your last session ({saved.describe()}) can be reopened: its images are "
                            "found again by path and checked against their SHA-256.")
        self.window.show_worklist()

    # Whether the session file is this window's to overwrite: once it has saved, or reopened or set aside what
    # was there. A window started with images ("Open with") never offered the saved session; it keeps it aside.
    _session_is_ours = False

    def _keep_earlier_session(self) -> None:
        message = keep_earlier_session(self.slot.path)
        if message:
            self._say(message)

    def reopen(self) -> None:
        self._session_is_ours = True
        saved, self.offered = self.offered, None
        self.classify.offer(None)
        if saved is not None:
            self._say(f"Reopening the last session ({saved.describe()}) ...")
            self.window.files.submit("session", lambda: restore_items(saved))

    def discard(self) -> None:
        self._session_is_ours = True
        saved, self.offered = self.offered, None
        self.classify.offer(None)
        if saved is not None:
            try:
                kept = set_aside(saved)
                self._say(f"The last session was kept as {kept}.")
            except OSError as exc:
                self._say(f"The last session could not be set aside: {exc}")

    def schedule_save(self) -> None:
        self._save_timer.start()

    def save_now(self) -> None:
        self._save_timer.stop()
        classify = self.classify
        items = classify.items() if classify is not None else []
        if not self.persist or classify is None or (not items and self.offered is None):
            return
        if self.offered is not None:
            if not items:
                return  # nothing new: the offered session stays as it is
            self.discard()  # new work began without answering: the old session is kept aside, not lost
        elif not self._session_is_ours:
            self._keep_earlier_session()
        self._session_is_ours = True
        try:
            save_session(items, str(self.window.archive.root) if self.window.archive else "", self.slot.path)
        except (OSError, DermviewError) as exc:
            log.warning("session not saved: %s", exc)
            self._say(f"The session could not be saved: {exc}")

    # -- answers from the file worker -------------------------------------------------------------
    def _job_done(self, key: str, _generation: int, value, error: str | None) -> None:
        if key == "session":
            if error:
                self.window.report_error("The last session could not be reopened", error)
            elif value:
                self.classify.add_items(value)
                missing = sum(1 for item in value if item.error)
                self._say(f"Reopened {len(value)} images" + (f"; {missing} could not be found as they were "
                                                             "(see the worklist)" if missing else "") + ".")
        elif key in ("report", "print"):
            self._printer = None
            if error:
                self.window.report_error("The report could not be " + ("printed" if key == "print" else "written"),
                                         error)
            else:
                self._say(f"{'Printed' if key == 'print' else 'Wrote'} {value} report page{'s' if value != 1 else ''}.")

