"""The Classify tab: what "similar" means, k, and the result of the worklist's current image; and the
worklist itself (its own tab), which this panel fills and keeps classified.

Every image added becomes a worklist row and is classified by the model worker's batch, in order,
while the window stays usable; the row the clinician selects is shown in the result view, asked for
ahead of the batch. The suggestion, the exclusion of a query's own lesion and every default come
from the core (dermview.model.session); this panel only routes requests and answers.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QBoxLayout, QComboBox, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..archive.codes import dx_label, dx_type_label
from ..archive.inputs import InputImage
from ..clinic.worklist import PENDING, WorkItem
from ..model.extractors import choose_features, get_kind, kinds
from ..model.session import ModelSession
from .compare import CompareDialog
from .panels import ResultPanel
from .settings import Settings
from .text import plain_label, tooltip
from .thumbnails import ThumbnailCache
from .workers import NOT_READY, BatchJob, BatchResult, ModelService, PreviewLoader, QueryResult
from .worklist import WorklistView
from .worklist_model import WorklistModel

DISPLAY_CACHE = 4  # large query pixmaps kept for stepping back and forth (each up to 1600 px: ~8 MB)


class ClassifyPanel(QWidget):
    features_changed = Signal(str)  # the user chose another similarity: the window reloads the index
    index_wanted = Signal()  # a query is about to run: load the index now if that was deferred
    result_shown = Signal()  # the window gives the result the room the archive browser had
    result_wanted = Signal()  # show the Classify tab (one image added, or Enter on a worklist row)
    worklist_wanted = Signal()  # show the Worklist tab (many images added, or the Worklist button)
    worklist_changed = Signal()  # rows or notes changed: the session is saved
    save_case_wanted = Signal()  # save the current image (shown here, or selected in the worklist) as a case

    def __init__(self, service: ModelService, settings: Settings, thumbnails: ThumbnailCache):
        super().__init__()
        self.service, self.settings, self.thumbnails = service, settings, thumbnails
        self.session: ModelSession | None = None
        self._pending: dict[int, int] = {}  # query generation -> row key; newest wins
        self.shown_key: int | None = None  # the row whose result is on screen
        # row key -> the large query pixmap, and the same with its lesion's outline (None: no lesion found)
        self._display: OrderedDict[int, tuple[QPixmap, QPixmap | None]] = OrderedDict()
        self.compare: CompareDialog | None = None  # the open comparison, if any

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
        self.sync_features_combo()
        self.features_combo.currentIndexChanged.connect(self._features_changed)
        self.k_spin = QSpinBox(minimum=1, maximum=100, value=self._k_for(self.features_in_use()))
        self.k_spin.setToolTip("How many nearest archive images vote (k)")
        self.k_spin.valueChanged.connect(self._k_changed)
        self.model = WorklistModel()
        self.worklist = WorklistView(self.model)
        self.worklist.current_changed.connect(self._current_changed)
        self.worklist.open_result.connect(lambda _key: self.result_wanted.emit())
        self.worklist.cancel_batch.connect(self.cancel_batch)
        self.worklist.resume_batch.connect(self.classify_waiting)
        self.worklist.save_case.connect(self.save_case_wanted)
        self.model.note_changed.connect(lambda _key: self.worklist_changed.emit())
        self.service.batch_done.connect(self._batch_done)
        # The batch waits while the index loads (it never answers "not ready"): a failure is the image's.
        self.service.batch_failed.connect(self._fail)
        self._previews = PreviewLoader(self)
        self._previews.ready.connect(self._preview_ready)
        self.result = ResultPanel(thumbnails)
        self.result.neighbour_chosen.connect(self.compare_with)

        model_row = QHBoxLayout()  # what "similar" means and how many neighbours vote
        model_row.addWidget(plain_label("Similarity:"))
        model_row.addWidget(self.features_combo)
        model_row.addSpacing(12)
        model_row.addWidget(plain_label("Neighbours (k):"))
        model_row.addWidget(self.k_spin)
        model_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(model_row)
        layout.addWidget(self.feature_note)
        self.result.add_above(*self._navigation())
        layout.addWidget(self.result, 1)

    def retire(self) -> None:
        """This panel's worklist is being replaced (another archive opened): its images still queued are not
        classified (they stay "waiting", never "done"), and no answer still on its way reaches it."""
        self.service.cancel_batch()
        self._pending.clear()
        self._previews.shutdown()
        for signal, slot in ((self.service.batch_done, self._batch_done), (self.service.batch_failed, self._fail),
                             (self.service.query_done, self.query_done),
                             (self.service.query_failed, self.query_failed)):
            with contextlib.suppress(RuntimeError, TypeError):  # never connected (the window connects the queries)
                signal.disconnect(slot)

    # -- similarity and k ----------------------------------------------------------------------
    def sync_features_combo(self) -> None:
        """Show the features that will really be used; an unavailable choice is greyed out with why."""
        for row in range(self.features_combo.count()):
            kind = get_kind(self.features_combo.itemData(row))
            reason = kind.unavailable(False)  # the cheap check: this runs on the GUI thread
            item = self.features_combo.model().item(row)  # type: ignore[attr-defined]
            item.setEnabled(reason is None)
            item.setToolTip(tooltip(reason or kind.description))
        choice = choose_features(self.settings.features, strict=False, load_runtime=False)
        self.features_combo.blockSignals(True)
        self.features_combo.setCurrentIndex(self.features_combo.findData(choice.name))
        self.features_combo.blockSignals(False)
        self.show_note(choice.note)

    def show_note(self, note: str | None) -> None:
        self.feature_note.setText(note or "")
        self.feature_note.setVisible(bool(note))

    def features_in_use(self) -> str:
        """What the core makes of the stored choice here (it falls back from one that cannot be used)."""
        return choose_features(self.settings.features, strict=False, load_runtime=False).name

    def _k_for(self, features: str) -> int:
        return self.settings.k_for(features, get_kind(features).default_k())

    def _features_changed(self, _row: int) -> None:
        features = self.features_combo.currentData()
        self.settings.features = features
        self.k_spin.blockSignals(True)
        self.k_spin.setValue(self._k_for(features))
        self.k_spin.blockSignals(False)
        self.sync_features_combo()
        self.features_changed.emit(self.features_in_use())  # queued before the repeated query below
        self.forget_results()

    def _k_changed(self, k: int) -> None:
        self.settings.set_k_for(self.features_in_use(), k)
        self.forget_results()

    def set_session(self, session: ModelSession | None) -> None:
        self.session = session
        if session is None:
            return
        self.result.trained_on_archive_note = (
            f"The {session.kind.label.lower()} similarity was trained on this image, so its neighbours look more "
            "convincing than a new image's would." if session.extractor.trained_on_archive else "")
        if session.note:
            self.show_note(session.note)

    # -- stepping through the worklist from the result view ------------------------------------
    def _navigation(self) -> tuple[QWidget, QBoxLayout]:
        """The row above the query: the worklist's arrows and place, and the buttons (one under the other when
        the column is narrow)."""
        bar = QWidget()
        rows = QBoxLayout(QBoxLayout.Direction.LeftToRight, bar)
        rows.setContentsMargins(0, 0, 0, 0)
        steps, actions = QHBoxLayout(), QHBoxLayout()
        rows.addLayout(steps, 1)
        rows.addLayout(actions)
        # Compact enough for the query's column beside the archive browser at 1366x768: the arrows say the rest
        # in their tool tips, and the position wraps rather than widening the column.
        self.previous_button = QPushButton("<")
        self.previous_button.setAccessibleName("Previous image")
        self.previous_button.setToolTip("The previous image of the worklist, in its sorted order (Page Up)")
        self.previous_button.clicked.connect(lambda: self.worklist.step(-1))
        self.next_button = QPushButton(">")
        self.next_button.setAccessibleName("Next image")
        self.next_button.setToolTip("The next image of the worklist, in its sorted order (Page Down)")
        self.next_button.clicked.connect(lambda: self.worklist.step(1))
        self.position_label = plain_label("")
        self.position_label.setObjectName("worklist-position")
        self.position_label.setWordWrap(True)
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.position_label.setMinimumWidth(0)
        back = QPushButton("Worklist")
        back.setToolTip("All images of this session, sortable, with your notes")
        back.clicked.connect(self.worklist_wanted)
        self.save_case_button = QPushButton("Save as case...")
        self.save_case_button.setToolTip("Keep this image in your case library, to confirm when the diagnosis "
                                         "is known (Ctrl+Shift+S)")
        self.save_case_button.clicked.connect(self.save_case_wanted)
        for key, offset in ((Qt.Key.Key_PageUp, -1), (Qt.Key.Key_PageDown, 1)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda o=offset: self.worklist.step(o))
        for button in (self.previous_button, self.next_button):
            button.setMaximumWidth(button.fontMetrics().horizontalAdvance("<") + 28)
        steps.addWidget(self.previous_button)
        steps.addWidget(self.position_label, 1)
        steps.addWidget(self.next_button)
        actions.addStretch(1)
        actions.addWidget(back)
        actions.addWidget(self.save_case_button)
        return bar, rows

    def _update_position(self) -> None:
        place, shown = self.worklist.position(self.worklist.current_key())
        self.position_label.setText(f"Image {place} of {shown}" if place else f"{shown} images in the worklist")
        self.position_label.setToolTip(f"Image {place} of the {shown} in the worklist, in its sorted order" if place
                                       else "")
        self.previous_button.setEnabled(place > 1)
        self.next_button.setEnabled(0 < place < shown)

    # -- adding images ----------------------------------------------------------------------------
    def add_inputs(self, images: list[InputImage], problems: list[tuple[str, str]]) -> None:
        """New worklist rows (unreadable inputs too, with why); all are classified in order. One image is
        shown at once; several fill the worklist, which the window then shows."""
        failed = [WorkItem(name) for name, _message in problems]
        for item, (_name, message) in zip(failed, problems):
            item.fail(message)
        good = [WorkItem(image.name, input=image) for image in images]
        # Show the first new image that can be classified; unreadable ones stay listed with why.
        self._add(failed + good, select=len(failed) if good else 0, show_result=len(failed) + len(good) == 1)

    def add_items(self, items: list[WorkItem]) -> None:
        """Rows made elsewhere (a reopened session), notes and all; those that can be are classified."""
        self._add(items, select=0, show_result=False)

    def find_similar(self, image_id: str) -> None:
        self._add([WorkItem(f"Similar to {image_id}", archive_image_id=image_id)], select=0, show_result=True)

    def _add(self, items: list[WorkItem], *, select: int, show_result: bool) -> None:
        """Append ``items``, classify those without an error, select ``items[select]`` and show the result
        view (or the worklist)."""
        keys = self.model.add(items)
        self._queue([key for key, item in zip(keys, items) if not item.error])
        if not keys:
            return
        self.worklist.select_key(keys[select])
        (self.result_wanted if show_result else self.worklist_wanted).emit()
        self.worklist_changed.emit()

    # -- what other parts of the window may ask and ask for (never this panel's child widgets) ----------
    def current_item(self) -> WorkItem | None:
        key = self.worklist.current_key()
        return None if key is None else self.model.item(key)

    def rows(self) -> list[tuple[int, WorkItem]]:
        """The session's images, in the order they were added, with their row keys (never reused)."""
        return list(zip(self.model.keys, self.model.items))

    def items(self) -> list[WorkItem]:
        return list(self.model.items)

    def chosen_items(self) -> list[WorkItem]:
        """The worklist's selected rows, or the current one."""
        current = self.worklist.current_key()
        keys = self.worklist.selected_keys() or ([] if current is None else [current])
        return [item for item in map(self.model.item, keys) if item is not None]

    def select(self, key: int) -> None:
        self.worklist.select_key(key)

    def selected_key(self) -> int | None:
        return self.worklist.current_key()

    def shows_result_of(self, key: int) -> bool:
        """Whether ``key``'s result is on screen, its neighbours' pictures loaded."""
        return self.shown_key == key and self.result.prediction is not None and self.result.neighbours.all_loaded()

    def shown_note(self) -> str:
        """The similarity note above the result, if it is visible."""
        return self.feature_note.text() if self.feature_note.isVisibleTo(self.window()) else ""

    def offer(self, text: str | None) -> None:
        """Offer something above the worklist (the last session), or withdraw the offer (None)."""
        self.worklist.show_offer(text)

    def layout_report(self) -> dict:
        """What the result shows, in pixels: the query image as displayed, the neighbour tiles' image size and how
        many tiles are fully visible without scrolling."""
        shown = self.result.query.pixmap()
        view = self.result.neighbours
        view.doItemsLayout()  # a resize lays the tiles out later; count them where they will be
        port = view.viewport().rect()
        visible = sum(1 for i in range(view.count()) if port.contains(view.visualItemRect(view.item(i))))
        tile = view.iconSize()
        return {"query_image": [shown.width(), shown.height()] if shown is not None and not shown.isNull() else [0, 0],
                "neighbours_visible": visible, "neighbour_tile": [tile.width(), tile.height()]}

    # -- the batch ------------------------------------------------------------------------------
    def _queue(self, keys: list[int]) -> None:
        if not keys:
            return
        self.index_wanted.emit()
        k = self.k_spin.value()
        jobs = []
        for key in keys:
            item = self.model.item(key)
            if item is not None:
                jobs.append(BatchJob(key, k, image=item.input, archive_image_id=item.archive_image_id))
        self.service.classify_batch(jobs)
        self._batch_progress()

    def classify_waiting(self) -> None:
        self._queue([key for key, item in zip(self.model.keys, self.model.items) if item.status == PENDING])

    def cancel_batch(self) -> None:
        self.service.cancel_batch()
        self._batch_progress()

    def _batch_progress(self) -> None:
        waiting = sum(item.status == PENDING for item in self.model.items)
        self.worklist.show_progress(waiting, running=self.service.batch_pending() > 0)

    def _batch_done(self, result: BatchResult) -> None:
        item = self.model.item(result.key)
        if item is None:
            return
        item.record(result.outcome)
        self.model.set_thumbnail(result.key, QPixmap.fromImage(result.thumbnail))
        self.model.changed(result.key)
        self._batch_progress()
        if result.key == self.worklist.current_key() and self.shown_key != result.key:
            self._current_changed(result.key)

    def _fail(self, key: int, message: str) -> None:
        """The row could not be classified: it says why, and shows it if it is the current one."""
        item = self.model.item(key)
        if item is None:
            return
        item.fail(message)
        self.model.changed(key)
        self._batch_progress()
        if key == self.worklist.current_key():
            self.result.show_error(item.file_name, message)
            self.shown_key = key

    # -- showing the current row ----------------------------------------------------------------
    def _current_changed(self, key: int) -> None:
        self._update_position()
        item = self.model.item(key)
        if item is None:
            return
        if item.error:
            self.result.show_error(item.file_name, item.error)
            self.shown_key = key
        elif item.outcome is not None and key in self._display:
            self._display.move_to_end(key)
            self._show(key)
        else:
            self._run(key)

    def _run(self, key: int) -> None:
        """Ask for the row's large image (and its answer, if the batch has not got to it): newest wins."""
        self.index_wanted.emit()
        item = self.model.item(key)
        if item is None:
            return
        k = self.k_spin.value()
        if item.input is not None:
            generation = self.service.query_image(item.input, k, known=item.outcome)
        else:
            generation = self.service.query_archive_image(str(item.archive_image_id), k, known=item.outcome)
        self._pending = {generation: key}  # newest wins: older answers are ignored
        self.shown_key = None
        waiting = sum(other.status == PENDING for other in self.model.items) - (item.status == PENDING)
        self.result.show_busy(item.file_name, "" if self.session is not None else
                              "Waiting for the similarity index, which is being built: this image is classified "
                              f"first when it is ready{f', then the {waiting} others waiting' if waiting else ''}.")
        if item.input is not None:  # shown at once, decoded off the GUI thread, until its result replaces it
            self._previews.start(item.input, key)

    def _preview_ready(self, key: int, image: QImage) -> None:
        if key == self.worklist.current_key() and self.shown_key != key:  # still waiting for its result
            self.result.show_preview(QPixmap.fromImage(image))

    def query_done(self, result: QueryResult) -> None:
        key = self._pending.pop(result.generation, None)
        item = self.model.item(key) if key is not None else None
        if key is None or item is None:
            return
        if item.outcome is None:
            item.record(result.outcome)
            self.model.changed(key)
            self._batch_progress()
        self._display[key] = (QPixmap.fromImage(result.image),
                              None if result.outlined is None else QPixmap.fromImage(result.outlined))
        while len(self._display) > DISPLAY_CACHE:
            self._display.popitem(last=False)
        if self.worklist.current_key() == key:
            self._show(key)

    def query_failed(self, generation: int, name: str, message: str) -> None:
        key = self._pending.pop(generation, None)
        item = self.model.item(key) if key is not None else None
        if key is None or item is None:
            return
        if self.session is None and message.startswith(NOT_READY):  # not the image's fault: not kept
            self.result.show_error(name, message + " Build it with Model > Rebuild Index, then select the image again.")
            return
        self._fail(key, message)

    def _show(self, key: int) -> None:
        item = self.model.item(key)
        if item is None or item.outcome is None:
            return
        tiles, sentences = self.session.explain(item.outcome) if self.session is not None else ([], [])
        plain, outlined = self._display[key]
        self.result.show_result(item.file_name, plain, item.outcome, tiles, sentences, outlined)
        self.shown_key = key
        self._update_position()
        self.result_shown.emit()

    def forget_results(self) -> None:
        """Answers computed with other settings are dropped; every row is asked again, the current first."""
        self.service.cancel_batch()
        self._display.clear()
        self.shown_key = None
        for key, item in zip(self.model.keys, self.model.items):
            if item.outcome is not None:
                item.outcome = None
                self.model.changed(key)
        current = self.worklist.current_key()
        if current is not None:
            self._current_changed(current)
        self.classify_waiting()

    def set_outlines(self, on: bool) -> None:
        """The lesion's outline on the query, every neighbour tile and both sides of an open comparison."""
        self.result.set_outlines(on)
        compare = self.compare
        if compare is not None and self.result.query_pixmap is not None:
            try:
                compare.set_outlines(on, self.result.query_pixmap)
            except RuntimeError:  # closed: Qt deleted it (WA_DeleteOnClose)
                self.compare = None

    # -- compare -------------------------------------------------------------------------------
    def compare_with(self, image_id: str) -> None:
        """Open the query beside the lesion that ``image_id`` belongs to; its other images among the
        neighbours (the tile's "+N more") can be switched to in the dialog."""
        if self.result.query_pixmap is None:
            return
        tile = next((t for t in self.result.tiles
                     if image_id in {t.nearest.image_id, *(m.image_id for m in t.more)}), None)
        members = [tile.nearest, *tile.more] if tile is not None else []
        images = [(n.image_id, f"{n.image_id}: {dx_label(n.dx)}, confirmed by {dx_type_label(n.dx_type).lower()}; "
                   f"lesion {n.lesion_id}, distance {n.distance:.2f}") for n in members] or [(image_id, image_id)]
        self.compare = CompareDialog(self.thumbnails, self.result.query_pixmap, f"Query: {self.result.query_name}",
                                     images, self, outlined=self.result.outlines)
        self.compare.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare.show()
