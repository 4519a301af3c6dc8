"""The main window: start screen, archive browser, image detail and classification results."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QButtonGroup, QFileDialog, QFrame, QHBoxLayout,
                               QHeaderView, QTextBrowser,
                               QLabel, QListView, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QComboBox, QSpinBox, QSplitter, QStackedWidget, QTableView,
                               QTabWidget, QToolButton, QVBoxLayout, QWidget)

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..archive import Archive, open_archive
from ..archive.browse import Browser
from ..errors import DermviewError
from ..archive.inputs import InputImage, bytes_input, gather_inputs
from ..model.extractors import get_kind, kinds
from ..model.knn import DEFAULT_K
from ..model.session import ModelSession
from ..paths import resources_dir
from .archive_model import CAPTION_COLUMN, ArchiveModel
from .compare import CompareDialog
from .facets import FacetPanel
from .panels import LARGE_SIZE, DetailPanel, ResultPanel
from .settings import Settings
from .text import plain_label, tooltip, warn
from .thumbnails import THUMB_SIZE, ThumbnailCache
from .workers import NOT_READY, ModelService, QueryResult, ThumbnailLoader

log = logging.getLogger(__name__)

START_TEXT = f"""
<h2>dermview</h2>
<p>Browse the HAM10000 archive of dermatoscopic images, and see which archive images a new image
resembles most - with the diagnoses they carry.</p>
<p><b>{NOT_A_MEDICAL_DEVICE}</b></p>
<h3>You need the HAM10000 archive</h3>
<p>HAM10000 (Tschandl, Rosendahl &amp; Kittler, <i>Sci. Data</i> 5, 180161, 2018) holds 10,015
dermatoscopic images of pigmented lesions in seven diagnoses. It is free for non-commercial use under
CC BY-NC-SA 4.0; download it from the Harvard Dataverse record (doi:10.7910/DVN/DBW86T) or the ISIC
archive. dermview reads it where it is and never changes it.</p>
<p>Choose the folder that holds it, in any of these layouts:</p>
<ul>
<li>as published: <code>HAM10000_metadata</code> (.csv or .tab) with <code>HAM10000_images_part1.zip</code>
and <code>HAM10000_images_part2.zip</code> - no need to unpack;</li>
<li>the Kaggle copy: <code>HAM10000_images_part_1/</code> and <code>HAM10000_images_part_2/</code> folders;</li>
<li>one folder of <code>ISIC_*.jpg</code> images next to the metadata file.</li>
</ul>
"""


class StartPage(QWidget):
    choose = Signal()

    def __init__(self):
        super().__init__()
        # A text browser, not a QLabel: a word-wrapped rich-text label misjudges its height and cut
        # off the list of layouts, which is the part a first-time user needs most.
        text = QTextBrowser()
        text.setObjectName("start-text")
        text.setOpenExternalLinks(True)
        text.setFrameShape(QFrame.Shape.NoFrame)
        text.setStyleSheet("background: transparent;")
        text.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        text.setHtml(START_TEXT)
        text.setFixedWidth(760)
        text.document().setTextWidth(760)
        text.setFixedHeight(int(text.document().size().height()) + 12)
        self.text = text
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #a00000;")
        self.error.setFixedWidth(760)  # a fixed width lets the wrapped message take the height it needs
        button = QPushButton("Choose archive folder...")
        button.setObjectName("choose-archive")
        button.clicked.connect(self.choose)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (text, self.error, button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        # Centred widgets get no height-for-width from the layout: give the wrapped text its height.
        self.error.setMinimumHeight(self.error.heightForWidth(self.error.width()))


class QueryList(QListWidget):
    """The images the user asked about; step through them with the arrow keys."""

    def __init__(self):
        super().__init__()
        self.setMaximumHeight(72)
        self.setAccessibleName("Query images")
        self.entries: list[dict] = []

    def add_entry(self, name: str, image: InputImage | None = None, archive_image_id: str | None = None,
                  error: str | None = None) -> int:
        entry = {"name": name, "image": image, "archive_image_id": archive_image_id, "result": None, "error": error}
        self.entries.append(entry)
        item = QListWidgetItem(self._label(entry))
        self.addItem(item)
        return len(self.entries) - 1

    def _label(self, entry: dict) -> str:
        name = Path(entry["name"]).name if entry["image"] is not None else entry["name"]
        if entry["error"]:
            return f"✗ {name} - could not be read"
        if entry["result"] is not None:
            return f"✓ {name} - {entry['result'].prediction.prediction}"
        return f"… {name}"

    def refresh(self, row: int) -> None:
        self.item(row).setText(self._label(self.entries[row]))


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
        self.browser: Browser | None = None
        self.model: ArchiveModel | None = None
        self.loader: ThumbnailLoader | None = None
        self.thumbnails: ThumbnailCache | None = None
        self.session: ModelSession | None = None  # the archive's similarity, once its index is ready
        self.service = ModelService(self)
        self.service.index_progress.connect(self._index_progress)
        self.service.index_ready.connect(self._index_ready)
        self.service.index_failed.connect(self._index_failed)
        self.service.index_cancelled.connect(self._index_cancelled)
        self.service.query_done.connect(self._query_done)
        self.service.query_failed.connect(self._query_failed)
        self._pending: dict[int, int] = {}  # generation -> query list row
        self._compare_wanted: str | None = None
        self.pending_files: list[str] = []  # opened (e.g. from Finder) before an archive was open
        self._load_pending = False  # an archive was opened and its index not yet asked for
        self.files_dropped.connect(self.add_queries)

        self.pages = QStackedWidget()
        self.start_page = StartPage()
        self.start_page.choose.connect(self.choose_archive)
        self.pages.addWidget(self.start_page)
        self.setCentralWidget(self.pages)
        self._build_menus()
        self._build_status_bar()
        geometry = self.settings.geometry("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)

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
        file_menu.addAction(quit_action)
        model_menu = self.menuBar().addMenu("&Model")
        self.rebuild_action = QAction("&Rebuild Index", self, triggered=lambda: self._load_index(rebuild=True))
        model_menu.addAction(self.rebuild_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About dermview", self, triggered=self.about))

    def _build_status_bar(self) -> None:
        self.archive_label = plain_label("No archive open")
        self.index_label = plain_label("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.service.cancel_index)
        bar = self.statusBar()
        bar.addWidget(self.archive_label, 1)
        bar.addPermanentWidget(self.index_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _build_browser(self, archive: Archive) -> None:
        if self.loader is not None:
            self.loader.shutdown()
        self.loader = ThumbnailLoader(archive, self)
        self.thumbnails = ThumbnailCache(self.loader, self)
        self.browser = Browser(archive.metadata)
        self.model = ArchiveModel(self.browser, self.thumbnails, self)

        self.facets = FacetPanel(self.browser)
        self.facets.filter_changed.connect(self.apply_filter)

        self.grid = QListView()
        self.grid.setObjectName("archive-grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setModel(self.model)
        self.grid.setModelColumn(CAPTION_COLUMN)
        self.grid.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE * 3 // 4))
        self.grid.setGridSize(QSize(THUMB_SIZE + 30, THUMB_SIZE * 3 // 4 + 34))
        self.grid.setUniformItemSizes(True)  # lets Qt lay out 10,000 items without measuring each
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(500)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table = QTableView()
        self.table.setObjectName("archive-table")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setColumnHidden(CAPTION_COLUMN, True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for view in (self.grid, self.table):
            view.selectionModel().currentChanged.connect(self._current_changed)
        self.views = QStackedWidget()
        self.views.addWidget(self.grid)
        self.views.addWidget(self.table)

        self.count_label = QLabel("")
        self.count_label.setObjectName("count-label")
        self.grid_button = QToolButton(text="Grid", checkable=True)
        self.table_button = QToolButton(text="Table", checkable=True)
        toggle = QButtonGroup(self)
        toggle.setExclusive(True)
        for i, button in enumerate((self.grid_button, self.table_button)):
            toggle.addButton(button, i)
        toggle.idClicked.connect(lambda i: self.set_view_mode("grid" if i == 0 else "table"))
        self.features_combo = QComboBox()
        self.features_combo.setObjectName("features-combo")
        for kind in kinds():
            self.features_combo.addItem(kind.label, kind.name)
        self.features_combo.setToolTip(tooltip("What 'similar' means: " + "; ".join(
            f"{kind.label}: {kind.description}" for kind in kinds())))
        self.feature_note = plain_label("")
        self.feature_note.setObjectName("feature-note")
        self.feature_note.setWordWrap(True)
        self.feature_note.setStyleSheet("color: #8a4b00;")
        self._sync_features_combo()
        self.features_combo.currentIndexChanged.connect(self._features_changed)
        self.k_spin = QSpinBox(minimum=1, maximum=100, value=self._k_for(self.features_in_use()))
        self.k_spin.setToolTip("How many nearest archive images vote (k)")
        self.k_spin.valueChanged.connect(self._k_changed)
        top = QHBoxLayout()
        top.addWidget(self.count_label, 1)
        top.addWidget(self.grid_button)
        top.addWidget(self.table_button)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addLayout(top)
        centre_layout.addWidget(self.views)

        self.detail = DetailPanel(self.thumbnails)
        self.detail.find_similar.connect(self.find_similar)
        self.detail.image_chosen.connect(self.select_image)
        self.result = ResultPanel(self.thumbnails)
        self.result.neighbour_chosen.connect(self.compare_with)
        self.queries = QueryList()
        self.queries.currentRowChanged.connect(self._query_row_changed)
        classify = QWidget()
        classify_layout = QVBoxLayout(classify)
        classify_layout.setContentsMargins(0, 0, 0, 0)
        model_row = QHBoxLayout()  # what "similar" means and how many neighbours vote
        model_row.addWidget(QLabel("Similarity:"))
        model_row.addWidget(self.features_combo)
        model_row.addSpacing(12)
        model_row.addWidget(QLabel("Neighbours (k):"))
        model_row.addWidget(self.k_spin)
        model_row.addStretch(1)
        classify_layout.addLayout(model_row)
        classify_layout.addWidget(self.feature_note)
        classify_layout.addWidget(self.queries)
        classify_layout.addWidget(self.result, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(classify, "Classify")
        self.tabs.addTab(self.detail, "Archive image")
        self.tabs.setMinimumWidth(560)
        self.thumbnails.ready.connect(self._maybe_open_compare)

        self.splitter = QSplitter()
        self.splitter.addWidget(self.facets)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 500, 580])
        state = self.settings.geometry("splitter")
        if state is not None:
            self.splitter.restoreState(state)
        if self.pages.count() > 1:
            old = self.pages.widget(1)
            self.pages.removeWidget(old)
            old.deleteLater()
        self.pages.addWidget(self.splitter)
        self.pages.setCurrentIndex(1)
        self.set_view_mode(self.settings.view_mode)
        self.apply_filter(self.facets.current())

    # -- archive ------------------------------------------------------------------------------
    def choose_archive(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the HAM10000 archive folder", self.settings.last_archive)
        if folder:
            self.open_archive(folder)

    def open_archive(self, path: str) -> bool:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            archive = open_archive(path)
        except DermviewError as exc:
            QApplication.restoreOverrideCursor()
            self.start_page.show_error(str(exc))
            if self.archive is None:
                self.pages.setCurrentIndex(0)
            self.report_error("The archive could not be opened", str(exc))
            return False
        QApplication.restoreOverrideCursor()
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
        self._build_browser(archive)
        # After the grid has painted: loading the index imports onnxruntime on the worker, which
        # holds the GIL for a few hundred milliseconds.
        # A query asked for before then sends the request at once (see _run_query), so it is never
        # answered before the index is there.
        self._load_pending = True
        QTimer.singleShot(100, self, self._deferred_load_index)  # cancelled if the window goes first
        if self.pending_files:
            pending, self.pending_files = self.pending_files, []
            self.add_queries(pending)
        return True

    # -- features -----------------------------------------------------------------------------
    def _sync_features_combo(self) -> None:
        """Show the features that will really be used; an unavailable choice is greyed out with why."""
        self._unavailable = {kind.name: kind.unavailable(False) for kind in kinds()}  # cheap checks only
        for row in range(self.features_combo.count()):
            kind = get_kind(self.features_combo.itemData(row))
            reason = self._unavailable[kind.name]
            item = self.features_combo.model().item(row)
            item.setEnabled(reason is None)
            item.setToolTip(tooltip(reason or kind.description))
        self.features_combo.blockSignals(True)
        self.features_combo.setCurrentIndex(self.features_combo.findData(self.features_in_use()))
        self.features_combo.blockSignals(False)
        wanted = self.settings.features
        reason = self._unavailable.get(wanted)
        note = (f"{get_kind(wanted).label} features are not available: {reason}; using "
                f"{get_kind(self.features_in_use()).description}." if reason else "")
        self.feature_note.setText(note)
        self.feature_note.setVisible(bool(note))

    def features_in_use(self) -> str:
        """The stored choice if it can be used, otherwise the most preferred kind that can."""
        unavailable = getattr(self, "_unavailable", {})
        if unavailable.get(self.settings.features) is None:
            return self.settings.features
        return next(kind.name for kind in kinds() if unavailable.get(kind.name) is None)

    def _k_for(self, features: str) -> int:
        try:
            default = get_kind(features).vote_defaults().k
        except (OSError, ValueError, DermviewError):
            default = DEFAULT_K
        return self.settings.k_for(features, default)

    def _features_changed(self, _row: int) -> None:
        features = self.features_combo.currentData()
        self.settings.features = features
        self.k_spin.blockSignals(True)
        self.k_spin.setValue(self._k_for(features))
        self.k_spin.blockSignals(False)
        self._sync_features_combo()
        self._load_index()  # queued before the repeated query, so the query sees the new index
        self._forget_results()

    def _deferred_load_index(self) -> None:
        if self._load_pending:
            self._load_index()

    def _load_index(self, rebuild: bool = False) -> None:
        self._load_pending = False
        if self.archive is None:
            return
        self.session = None
        self.index_label.setText("Loading the index ...")
        self.service.load_index(self.archive, rebuild, self.features_in_use())

    def _index_progress(self, done: int, total: int) -> None:
        self.index_label.setText("Building the similarity index (first use of this archive):")
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _index_finished(self, text: str) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.index_label.setText(text)

    def _index_ready(self, session: ModelSession) -> None:
        self.session = session
        failed = len(session.index.failed)
        self.result.features_text = session.extractor.description
        self.result.trained_on_archive_note = (
            f"The {session.kind.label.lower()} similarity was trained on this image, so its neighbours look more "
            "convincing than a new image's would." if session.extractor.trained_on_archive else "")
        self._index_finished(f"Index ready: {len(session.index.image_ids):,} images, {session.extractor.description}"
                             + (f" ({failed} unreadable)" if failed else ""))
        if session.note:
            self.feature_note.setText(session.note)
            self.feature_note.setVisible(True)

    def _index_failed(self, message: str) -> None:
        self._index_finished("No index")
        self.report_error("The similarity index could not be built", message)

    def _index_cancelled(self) -> None:
        self._index_finished("Index not built (cancelled) - Model > Rebuild Index to build it")

    # -- browsing -----------------------------------------------------------------------------
    def apply_filter(self, flt) -> None:
        self.model.apply(flt)
        self.facets.update_counts(self.browser.counts(flt))
        total = len(self.browser.metadata)
        shown = self.model.rowCount()
        self.count_label.setText(f"{shown:,} of {total:,} images")

    def set_view_mode(self, mode: str) -> None:
        self.views.setCurrentIndex(0 if mode == "grid" else 1)
        self.grid_button.setChecked(mode == "grid")
        self.table_button.setChecked(mode == "table")
        self.settings.view_mode = mode

    def _current_changed(self, current, previous) -> None:
        if current.isValid():
            self.show_archive_image(self.model.image_id(current.row()))

    def show_archive_image(self, image_id: str) -> None:
        meta = self.archive.metadata
        row = meta.loc[meta["image_id"] == image_id].iloc[0]
        same = meta[(meta["lesion_id"] == row["lesion_id"]) & (meta["image_id"] != image_id)]
        self.detail.show_image(row, list(zip(same["image_id"], same["dx"].astype(str))), bool(row["available"]))
        self.tabs.setCurrentWidget(self.detail)

    def select_image(self, image_id: str) -> None:
        row = self.model.row_of(image_id)
        if row is None:  # filtered out: show it anyway
            self.show_archive_image(image_id)
            return
        view = self.grid if self.views.currentIndex() == 0 else self.table
        index = self.model.index(row, CAPTION_COLUMN if view is self.grid else 0)
        view.setCurrentIndex(index)
        view.scrollTo(index)

    # -- queries ------------------------------------------------------------------------------
    def choose_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images to classify", "",
                                                "Images (*.jpg *.jpeg *.png *.tif *.tiff *.bmp *.webp);;All files (*)")
        if files:
            self.add_queries(files)

    def paste(self) -> None:
        clip = QGuiApplication.clipboard().mimeData()
        if clip is not None and clip.hasUrls():
            paths = [u.toLocalFile() for u in clip.urls() if u.isLocalFile()]
            if paths:
                self.add_queries(paths)
                return
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.statusBar().showMessage("The clipboard holds no image.", 5000)
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        self._add_inputs([bytes_input(f"pasted image {len(self.queries.entries) + 1}.png", bytes(data))], [])

    def add_queries(self, paths: list) -> None:
        images, problems = gather_inputs(paths)
        self._add_inputs(images, problems)

    def _add_inputs(self, images: list[InputImage], problems: list[tuple[str, str]]) -> None:
        if self.archive is None:
            self.report_error("No archive open", "Open the HAM10000 archive first: the suggestion comes from its images.")
            return
        first = len(self.queries.entries)
        for name, message in problems:
            self.queries.add_entry(name, error=message)
        for image in images:
            self.queries.add_entry(image.name, image=image)
        if len(self.queries.entries) > first:
            self.tabs.setCurrentIndex(0)
            # Show the first new image that can be classified; unreadable ones stay marked in the list.
            good = [i for i in range(first, len(self.queries.entries)) if not self.queries.entries[i]["error"]]
            self.queries.setCurrentRow(good[0] if good else first)

    def find_similar(self, image_id: str) -> None:
        row = self.queries.add_entry(f"Similar to {image_id}", archive_image_id=image_id)
        self.tabs.setCurrentIndex(0)
        self.queries.setCurrentRow(row)

    def _query_row_changed(self, row: int) -> None:
        if row < 0:
            return
        entry = self.queries.entries[row]
        if entry["error"]:
            self.result.show_error(entry["name"], entry["error"])
        elif entry["result"] is not None:
            self._show_result(entry)
        else:
            self._run_query(row)

    def _run_query(self, row: int) -> None:
        if self._load_pending:
            self._load_index()
        entry = self.queries.entries[row]
        k = self.k_spin.value()
        if entry["image"] is not None:
            generation = self.service.query_image(entry["image"], k)
        else:
            generation = self.service.query_archive_image(entry["archive_image_id"], k)
        self._pending = {generation: row}  # newest wins: older answers are ignored
        self.result.show_busy(entry["name"] if entry["image"] is None else Path(entry["name"]).name)
        if self.session is None:
            self.result.title.setText(self.result.title.text() + " (waiting for the index)")

    def _query_done(self, result: QueryResult) -> None:
        row = self._pending.pop(result.generation, None)
        if row is None:
            return
        entry = self.queries.entries[row]
        entry["result"] = result
        entry["pixmap"] = QPixmap.fromImage(result.image)
        self.queries.refresh(row)
        if self.queries.currentRow() == row:
            self._show_result(entry)

    def _query_failed(self, generation: int, name: str, message: str) -> None:
        row = self._pending.pop(generation, None)
        if row is None:
            return
        entry = self.queries.entries[row]
        if self.session is None and message.startswith(NOT_READY):  # not the image's fault: not kept
            self.result.show_error(name, message + " Build it with Model > Rebuild Index, then select the image again.")
            return
        entry["error"] = message
        self.queries.refresh(row)
        if self.queries.currentRow() == row:
            self.result.show_error(Path(name).name, message)

    def _show_result(self, entry: dict) -> None:
        result: QueryResult = entry["result"]
        outcome = result.outcome
        name = result.name if entry["image"] is None else Path(result.name).name
        self.result.show_result(name, entry["pixmap"], outcome.prediction, outcome.excluded_lesion)

    def _k_changed(self, k: int) -> None:
        self.settings.set_k_for(self.features_in_use(), k)
        self._forget_results()

    def _forget_results(self) -> None:
        """Answers computed with other settings are dropped; the current one is asked again."""
        for entry in self.queries.entries:
            if not entry["error"]:
                entry["result"] = None
        for i in range(self.queries.count()):
            self.queries.refresh(i)
        if self.queries.currentRow() >= 0:
            self._query_row_changed(self.queries.currentRow())

    # -- compare ------------------------------------------------------------------------------
    def compare_with(self, image_id: str) -> None:
        self._compare_wanted = image_id
        if self.thumbnails.get(image_id, LARGE_SIZE) is not None:
            self._open_compare(image_id)

    def _maybe_open_compare(self, image_id: str, size: int) -> None:
        if size == LARGE_SIZE and image_id == self._compare_wanted:
            self._open_compare(image_id)

    def _open_compare(self, image_id: str) -> None:
        self._compare_wanted = None
        pixmap = self.thumbnails.get(image_id, LARGE_SIZE)
        if pixmap is None or self.result.query_pixmap is None:
            return
        prediction = self.result.prediction
        neighbour = next((n for n in prediction.neighbours if n.image_id == image_id), None) if prediction else None
        title = image_id if neighbour is None else (
            f"{image_id} - {neighbour.dx} ({neighbour.dx_type}), lesion {neighbour.lesion_id}, distance {neighbour.distance:.2f}")
        self.compare = CompareDialog(self.result.query_pixmap, f"Query: {self.result.query_name}", pixmap, title, self)
        self.compare.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare.show()

    # -- drag and drop: thin handlers that only pass paths on ---------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

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

    def about(self) -> None:
        QMessageBox.about(self, "About dermview",
                          f"<p><b>dermview {__version__}</b></p><p>{NOT_A_MEDICAL_DEVICE}</p>"
                          "<p>Archive: HAM10000 (Tschandl, Rosendahl &amp; Kittler, Sci. Data 5, 180161, 2018), "
                          "CC BY-NC-SA 4.0.</p>")

    def closeEvent(self, event) -> None:
        self.settings.set_geometry("geometry", self.saveGeometry())
        if self.pages.count() > 1:
            self.settings.set_geometry("splitter", self.splitter.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every thread this window started (tests check that none is left running)."""
        self._load_pending = False
        self.service.shutdown()
        if self.loader is not None:
            self.loader.shutdown()
        if self.archive is not None:
            self.archive.close()
