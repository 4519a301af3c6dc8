"""The main window: wiring only. Its pages and tabs are widgets of their own; the core (dermview.model.session)
decides everything about similarity, and worker threads do all slow work."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (QApplication, QFileDialog, QFrame, QMainWindow, QScrollArea, QSplitter,
                               QStackedWidget, QTabWidget)

from ..archive import Archive, open_archive
from ..archive.browse import lesion_mates
from ..archive.inputs import InputImage, gather_inputs, skipped_sentence
from ..model.session import ModelSession
from ..paths import resources_dir
from .about import show_about
from .browser import ArchiveBrowser
from .classify import ClassifyPanel
from .clipboard import clipboard_queries
from .clinic import ClinicActions
from .library import LibraryActions
from .detail import DetailPanel
from .performance import PerformanceDialog
from .settings import Settings
from .start_page import StartPage
from .status import IndexStatus
from .text import warn
from .thumbnails import ThumbnailCache
from .file_jobs import FileJobs
from .screen import first_size, fitted
from .thumbnail_loader import ThumbnailLoader
from .workers import ModelService

log = logging.getLogger(__name__)


IMAGE_FILES = "Images (*.jpg *.jpeg *.png *.tif *.tiff *.bmp *.webp);;All files (*)"

class MainWindow(QMainWindow):
    files_dropped = Signal(list)

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("dermview")
        icon = resources_dir() / "dermview.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)
        self.archive: Archive | None = None
        self.opening_archive = False  # an archive is being opened on the file worker
        self._archive_request = 0
        self.loader: ThumbnailLoader | None = None
        self.thumbnails: ThumbnailCache | None = None
        self.browser: ArchiveBrowser | None = None
        self.classify: ClassifyPanel | None = None
        self.session: ModelSession | None = None  # the archive's similarity, once its index is ready
        self.pending_files: list[str] = []  # opened (e.g. from Finder) before an archive was open
        self._load_pending = False  # an archive was opened and its index not yet asked for
        self.service = ModelService(self)
        self.service.index_progress.connect(lambda done, total: self.status.building(done, total))
        self.service.index_ready.connect(self._index_ready)
        self.service.index_failed.connect(self._index_failed)
        self.service.index_cancelled.connect(self._index_cancelled)
        self.files = FileJobs(self)
        self.files.done.connect(self._file_job_done)
        self.files_dropped.connect(self.add_queries)
        self.clinic = ClinicActions(self)
        self.library = LibraryActions(self)
        self.library.counts_changed.connect(self._show_library_counts)

        self.pages = QStackedWidget()
        self.start_page = StartPage()
        self.start_page.choose.connect(self.choose_archive)
        self.pages.addWidget(self.start_page)
        self.setCentralWidget(self.pages)
        self._build_menus()
        self._build_status_bar()
        self.library.open()
        geometry = self.settings.geometry("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            available = self.screen().availableGeometry()
            size = fitted(self.size(), available.size())
            if size != self.size():  # remembered on a larger screen: fitted to this one, and put on it
                self.resize(size)
                self.move(available.topLeft())
        else:
            self.resize(first_size(self.screen().availableGeometry().size()))

    # -- construction -------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_archive_action = QAction("Open &Archive...", self, shortcut=QKeySequence("Ctrl+Shift+O"),
                                           triggered=self.choose_archive)
        self.open_image_action = QAction("Open &Image...", self, shortcut=QKeySequence.StandardKey.Open,
                                         triggered=self.choose_images)
        self.paste_action = QAction("&Paste Image", self, shortcut=QKeySequence.StandardKey.Paste,
                                    triggered=self.paste)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        for action in (self.open_archive_action, self.open_image_action, self.paste_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        for action in self.clinic.actions():
            file_menu.addAction(action)
        file_menu.addAction(self.library.save_case_action)
        self.followup_action = QAction("Compare with an &Earlier Visit...", self, triggered=self.compare_with_earlier)
        self.followup_action.setToolTip("The image shown is the later visit: choose the earlier image of the same "
                                        "lesion to see the two aligned and what changed")
        file_menu.addAction(self.followup_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        self.browser_action = QAction("Archive &Browser", self, checkable=True, checked=True,
                                      shortcut=QKeySequence("Ctrl+B"), toggled=self.show_browser)
        view_menu.addAction(self.browser_action)
        self.outline_action = QAction("Lesion &Outlines", self, checkable=True, checked=self.settings.outlines,
                                      shortcut=QKeySequence("O"), toggled=self.show_outlines)
        view_menu.addAction(self.outline_action)
        model_menu = self.menuBar().addMenu("&Model")
        self.rebuild_action = QAction("&Rebuild Index", self, triggered=lambda: self._load_index(rebuild=True))
        model_menu.addAction(self.rebuild_action)
        self.performance_action = QAction("&Performance...", self, triggered=self.show_performance)
        model_menu.addAction(self.performance_action)
        neighbours_menu = model_menu.addMenu("&Neighbours From")
        for action in self.library.search_actions.values():
            neighbours_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About dermview", self, triggered=lambda: show_about(self)))

    def _build_status_bar(self) -> None:
        self.status = IndexStatus(self.statusBar(), self.service.cancel_index)
        self.archive_label, self.index_label = self.status.archive_label, self.status.index_label
        self.library_label = self.status.library_label
        self.library.counts_changed.connect(lambda status, _title: self.library_label.setText(status))

    def _build_pages(self, archive: Archive) -> None:
        """The browser and the tabs for a newly opened archive (its thumbnails belong to it)."""
        if self.loader is not None:
            self.loader.shutdown()
        if self.classify is not None:
            self.classify.retire()
        self.loader = ThumbnailLoader(archive, self)
        self.thumbnails = ThumbnailCache(self.loader, self)
        self.browser = ArchiveBrowser(archive, self.thumbnails, self.settings.view_mode)
        self.browser.image_selected.connect(self.show_archive_image)
        self.browser.view_mode_changed.connect(lambda mode: setattr(self.settings, "view_mode", mode))
        self.detail = DetailPanel(self.thumbnails)
        self.detail.find_similar.connect(self.find_similar)
        self.detail.image_chosen.connect(self.select_image)
        self.classify = ClassifyPanel(self.service, self.settings, self.thumbnails)
        self.classify.features_changed.connect(lambda _features: self._load_index())
        self.classify.index_wanted.connect(self._deferred_load_index)
        self.classify.result_shown.connect(lambda: self.browser_action.setChecked(False))
        self.classify.result_wanted.connect(lambda: self.tabs.setCurrentWidget(self.classify))
        self.classify.worklist_wanted.connect(self._show_worklist)
        self.classify.worklist_changed.connect(self.clinic.schedule_save)
        self.classify.worklist.reopen_session.connect(self.clinic.reopen)
        self.classify.worklist.discard_session.connect(self.clinic.discard)
        self.classify.save_case_wanted.connect(self.library.save_case)
        self.service.query_done.connect(self.classify.query_done)
        self.service.query_failed.connect(self.classify.query_failed)
        self.classify.set_outlines(self.settings.outlines)
        self.detail.set_outlines(self.settings.outlines)
        self.tabs: QTabWidget = QTabWidget()
        self.tabs.addTab(self.classify, "Classify")
        self.tabs.addTab(self.classify.worklist, "Worklist")
        self.detail_page = QScrollArea()  # scrolls on a small screen rather than forcing the window's height
        self.detail_page.setWidget(self.detail)
        self.detail_page.setWidgetResizable(True)
        self.detail_page.setFrameShape(QFrame.Shape.NoFrame)
        self.tabs.addTab(self.detail_page, "Archive image")
        self.tabs.addTab(self.library.make_view(self.thumbnails), "Case library")
        self.tabs.setMinimumWidth(560)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.splitter = QSplitter()
        self.splitter.addWidget(self.browser)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setCollapsible(0, True)  # the browser gives way while a result is judged
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([840, 580])
        state = self.settings.geometry("splitter-main")
        if state is not None:
            self.splitter.restoreState(state)
        old = self.pages.widget(1) if self.pages.count() > 1 else None
        if old is not None:
            self.pages.removeWidget(old)
            old.deleteLater()
        self.pages.addWidget(self.splitter)
        self.pages.setCurrentIndex(1)

    # -- archive ------------------------------------------------------------------------------
    def choose_archive(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the HAM10000 archive folder", self.settings.last_archive)
        if folder:
            self.open_archive(folder)

    def open_archive(self, path: str) -> int:
        """Open ``path`` on the file worker (a network share can take seconds); the newest request wins."""
        self.opening_archive = True
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.archive_label.setText(f"Opening {path} ...")
        self._archive_request = self.files.submit("archive", lambda: open_archive(path))
        return self._archive_request

    def _file_job_done(self, key: str, generation: int, value, error: str | None) -> None:
        if key == "inputs":
            if error:
                self.report_error("Could not read the dropped files", error)
            elif self.classify is not None:
                images, problems, skipped = value
                self.classify.add_inputs(images, problems)
                if skipped:  # passed over without a word before: a clinic folder's notes and exports
                    self.statusBar().showMessage(skipped_sentence(skipped), 15_000)
            return
        if key == "followup":
            if error:
                self.report_error("The two visits could not be compared", error)
            else:
                from .followup_view import FollowUpDialog

                before, after, page, inputs = value
                self.followup = FollowUpDialog(before, after, page.titles, page.sentences, self)
                self.followup.pdf_wanted.connect(lambda: self.save_followup_pdf(page, inputs))
                self.followup.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                self.followup.show()
                self.statusBar().clearMessage()
            return
        if key == "followup-pdf":
            if error:
                self.report_error("The follow-up page could not be written", error)
            else:
                self.statusBar().showMessage(f"Wrote the follow-up page to {value}", 10_000)
            return
        if key != "archive":
            return  # the clinic actions' jobs (reports, sessions) are theirs to answer
        if generation != self._archive_request:  # a newer request was made meanwhile
            if value is not None:
                value.close()
            return
        self.opening_archive = False
        QApplication.restoreOverrideCursor()
        if error:
            self.start_page.show_error(error)
            if self.archive is None:
                self.pages.setCurrentIndex(0)
                self.archive_label.setText("No archive open")
            self.report_error("The archive could not be opened", error)
            return
        self._archive_opened(value)

    def _archive_opened(self, archive: Archive) -> None:
        self.clinic.save_now()  # the worklist about to be replaced, notes typed a moment ago included
        if self.archive is not None:
            self.archive.close()
        self.archive = archive
        self.session = None
        self.settings.last_archive = str(archive.root)
        self.setWindowTitle(f"dermview - {archive.root}")
        summary = archive.summary()
        notes = f"; {summary['missing_images']:,} images missing" if summary["missing_images"] else ""
        self.archive_label.setText(f"{archive.root}: {summary['images']:,} images of {summary['lesions']:,} "
                                   f"lesions{notes}")
        self._build_pages(archive)
        # After the grid has painted: loading the index imports onnxruntime on the worker, which holds
        # the GIL for a few hundred milliseconds. A query asked for before then loads it at once.
        self._load_pending = True
        QTimer.singleShot(100, self, self._deferred_load_index)  # cancelled if the window goes first
        if self.pending_files:
            pending, self.pending_files = self.pending_files, []
            self.add_queries(pending)
        else:
            self.clinic.offer_last_session()

    # -- the index ----------------------------------------------------------------------------
    def _deferred_load_index(self) -> None:
        if self._load_pending:
            self._load_index()

    def _load_index(self, rebuild: bool = False) -> None:
        self._load_pending = False
        if self.archive is None or self.classify is None:
            return
        self.session = None
        self.classify.set_session(None)
        self.index_label.setText("Loading the index ...")
        self.service.load_index(self.archive, rebuild, self.classify.features_in_use())

    def _index_ready(self, session: ModelSession) -> None:
        self.session = session
        if self.classify is not None:
            self.classify.set_session(session)
        failed = len(session.index.failed)
        self.status.finished(f"Index ready: {len(session.index.image_ids):,} images, {session.extractor.description}"
                             + (f" ({failed} unreadable)" if failed else ""))

    def _index_failed(self, message: str) -> None:
        self.status.finished("No index")
        self.report_error("The similarity index could not be built", message)

    def _index_cancelled(self) -> None:
        self.status.finished("Index not built (cancelled) - Model > Rebuild Index to build it")

    # -- layout -------------------------------------------------------------------------------
    def show_browser(self, visible: bool) -> None:
        """The archive browser beside the tabs, or the whole width for the result (View > Archive Browser)."""
        if self.browser is None:
            return
        self.browser.setVisible(visible)
        if visible and self.splitter.sizes()[0] == 0:
            self.splitter.setSizes([self.width() * 3 // 5, self.width() * 2 // 5])

    def show_outlines(self, on: bool) -> None:
        self.settings.outlines = on
        if self.classify is not None:
            self.classify.set_outlines(on)
            self.detail.set_outlines(on)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.detail_page:  # an archive image is looked at: bring its browser back
            self.browser_action.setChecked(True)

    def show_performance(self) -> None:
        """Model > Performance: the held-out confusion matrix and recall/precision of the similarity in use."""
        if self.session is None:
            self.report_error("No similarity index yet", "Open the archive and wait for its index first.")
            return
        self.performance = PerformanceDialog(self.session.kind.label, self.session.held_out, self)
        self.performance.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.performance.show()

    # -- browsing -----------------------------------------------------------------------------
    def show_archive_image(self, image_id: str) -> None:
        if self.archive is None:
            return
        row, others = lesion_mates(self.archive.metadata, image_id)
        self.detail.show_image(row, others, bool(row["available"]))
        self.tabs.setCurrentWidget(self.detail_page)

    def select_image(self, image_id: str) -> None:
        if self.browser is None or not self.browser.select_image(image_id):  # filtered out: show it anyway
            self.show_archive_image(image_id)

    # -- queries ------------------------------------------------------------------------------
    def choose_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images to classify", self.settings.folder("images"),
                                                IMAGE_FILES)
        if files:
            self.settings.remember_folder("images", files[0])
            self.add_queries(files)

    def compare_with_earlier(self) -> None:
        """File > Compare with an Earlier Visit: the image shown (the later visit) and an earlier one the user
        chooses, aligned, with what changed; computed on the file worker, shown in a FollowUpDialog."""
        item = self.classify.current_item() if self.classify is not None else None
        if item is None or item.input is None:
            self.report_error("Nothing to compare", "Open today's image of the lesion first (the later visit); then "
                                                    "choose its earlier image.")
            return
        path, _ = QFileDialog.getOpenFileName(self, "The earlier image of this lesion", self.settings.folder("images"),
                                              IMAGE_FILES)
        if not path:
            return
        self.settings.remember_folder("images", path)
        later = item.input
        inputs = [path, *([later.path] if later.path is not None else [])]  # what its PDF must never replace

        def job():
            from ..archive import load_image_file
            from ..clinic.report import FollowUpPage
            from ..model.followup import follow_up
            from ..render.qimage import to_qimage

            change, before, after = follow_up(load_image_file(Path(path)), later.decode(later.read()))
            page = FollowUpPage(Path(path).name, item.file_name, before, after, change.sentences())
            return to_qimage(before), to_qimage(after), page, inputs

        self.statusBar().showMessage("Aligning the two visits ...", 10_000)
        self.files.submit("followup", job)

    def save_followup_pdf(self, page, inputs: list) -> None:
        """The follow-up dialog's Save as PDF: where, then written on the file worker, never over one of the two
        ``inputs``."""
        path, _ = QFileDialog.getSaveFileName(self, "Save the follow-up page",
                                              self.settings.in_folder("exports", "follow-up.pdf"), "PDF (*.pdf)")
        if not path:
            return
        self.settings.remember_folder("exports", path)

        def job():
            from ..outputs import check_output_path
            from ..render.report_pdf import write_followup_pdf

            check_output_path(path, inputs)
            return write_followup_pdf(page, path)

        self.files.submit("followup-pdf", job)

    def paste(self) -> None:
        count = self.classify.model.rowCount() + 1 if self.classify is not None else 1
        found = clipboard_queries(f"pasted image {count}.png")
        if found is None:
            self.statusBar().showMessage("The clipboard holds no image.", 5000)
        elif isinstance(found, list):
            self.add_queries(found)
        else:
            self._add_inputs([found], [])

    def _show_library_counts(self, _status: str, title: str) -> None:
        index = self.tabs.indexOf(self.library.view) if self.library.view is not None else -1  # no archive: no tab
        if index >= 0:
            self.tabs.setTabText(index, title)

    def add_queries(self, paths: list) -> None:
        """Files, folders or zips to classify: walked on the file worker, then listed in order."""
        if self.archive is None:
            self._add_inputs([], [])  # says that an archive is needed
            return
        def gathered():
            skipped: list[str] = []
            images, problems = gather_inputs(paths, skipped)
            return images, problems, skipped
        self.files.submit("inputs", gathered)

    def _add_inputs(self, images: list[InputImage], problems: list[tuple[str, str]]) -> None:
        if self.archive is None or self.classify is None:
            self.report_error("No archive open", "Open the HAM10000 archive first: the suggestion comes from its images.")
            return
        self.classify.add_inputs(images, problems)

    def find_similar(self, image_id: str) -> None:
        if self.classify is not None:
            self.classify.find_similar(image_id)

    def _show_worklist(self) -> None:
        self.show_worklist()
        self.browser_action.setChecked(False)  # the table wants the width

    def show_worklist(self) -> None:
        if self.classify is not None:
            self.tabs.setCurrentWidget(self.classify.worklist)

    def show_classify(self) -> None:
        if self.classify is not None:
            self.tabs.setCurrentWidget(self.classify)

    def shows_classify(self) -> bool:
        return self.classify is not None and self.tabs.currentWidget() is self.classify

    # -- drag and drop: thin handlers that only pass paths on ---------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    dragMoveEvent = dragEnterEvent  # the same answer while the drag moves

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    # -- misc ---------------------------------------------------------------------------------
    def report_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        if QApplication.platformName() not in ("offscreen", "minimal"):
            warn(self, title, message)

    def closeEvent(self, event) -> None:
        self.clinic.save_now()
        self.settings.set_geometry("geometry", self.saveGeometry())
        if self.pages.count() > 1:
            self.settings.set_geometry("splitter-main", self.splitter.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every thread this window started (tests check that none is left running)."""
        self._load_pending = False
        if self.classify is not None:
            self.classify.retire()
        self.files.shutdown()
        self.service.shutdown()
        self.library.shutdown()
        self.clinic.release_session()
        if self.loader is not None:
            self.loader.shutdown()
        if self.archive is not None:
            self.archive.close()
        if self.opening_archive:
            self.opening_archive = False
            QApplication.restoreOverrideCursor()
