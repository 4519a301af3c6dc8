"""The Classify tab: what "similar" means, k, the list of query images, and the result of the current one.

It runs queries through the window's ModelService and shows what comes back; the suggestion, the
exclusion of a query's own lesion and every default come from the core (dermview.model.session).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QListWidget, QListWidgetItem, QSpinBox, QVBoxLayout, QWidget

from ..archive.codes import dx_label, dx_type_label
from ..archive.inputs import InputImage
from ..model.extractors import choose_features, get_kind, kinds
from ..model.session import ModelSession
from .compare import CompareDialog
from .panels import ResultPanel
from .settings import Settings
from .text import plain_label, tooltip
from .thumbnails import ThumbnailCache
from .workers import NOT_READY, ModelService, QueryResult


class QueryList(QListWidget):
    """The images the user asked about; step through them with the arrow keys."""

    def __init__(self):
        super().__init__()
        self.setMaximumHeight(4 * self.fontMetrics().lineSpacing() + 12)  # four readable rows, then scrolling
        self.setAccessibleName("Query images")
        self.entries: list[dict] = []

    def add_entry(self, name: str, image: InputImage | None = None, archive_image_id: str | None = None,
                  error: str | None = None) -> int:
        entry = {"name": name, "image": image, "archive_image_id": archive_image_id, "result": None, "error": error}
        self.entries.append(entry)
        self.addItem(QListWidgetItem(self._label(entry)))
        return len(self.entries) - 1

    def _label(self, entry: dict) -> str:
        name = Path(entry["name"]).name if entry["image"] is not None else entry["name"]
        # Words, not ticks: a finished query is not a verified one.
        if entry["error"]:
            return f"{name} - could not be classified"
        if entry["result"] is not None:
            outcome = entry["result"].outcome
            if outcome.unfamiliar:
                return f"{name} - unfamiliar image, no suggestion"
            return f"{name} - suggestion: {dx_label(outcome.prediction.prediction)}"
        return f"{name} - waiting"

    def refresh(self, row: int) -> None:
        self.item(row).setText(self._label(self.entries[row]))


class ClassifyPanel(QWidget):
    features_changed = Signal(str)  # the user chose another similarity: the window reloads the index
    index_wanted = Signal()  # a query is about to run: load the index now if that was deferred
    result_shown = Signal()  # the window gives the result the room the archive browser had

    def __init__(self, service: ModelService, settings: Settings, thumbnails: ThumbnailCache):
        super().__init__()
        self.service, self.settings, self.thumbnails = service, settings, thumbnails
        self.session: ModelSession | None = None
        self._pending: dict[int, int] = {}  # query generation -> list row; newest wins

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
        self.queries = QueryList()
        self.queries.currentRowChanged.connect(self._row_changed)
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
        self.result.add_above(self.queries)
        layout.addWidget(self.result, 1)

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

    # -- queries -------------------------------------------------------------------------------
    def add_inputs(self, images: list[InputImage], problems: list[tuple[str, str]]) -> None:
        first = len(self.queries.entries)
        for name, message in problems:
            self.queries.add_entry(name, error=message)
        for image in images:
            self.queries.add_entry(image.name, image=image)
        if len(self.queries.entries) > first:
            # Show the first new image that can be classified; unreadable ones stay marked in the list.
            good = [i for i in range(first, len(self.queries.entries)) if not self.queries.entries[i]["error"]]
            self.queries.setCurrentRow(good[0] if good else first)

    def find_similar(self, image_id: str) -> None:
        self.queries.setCurrentRow(self.queries.add_entry(f"Similar to {image_id}", archive_image_id=image_id))

    def _row_changed(self, row: int) -> None:
        if row < 0:
            return
        entry = self.queries.entries[row]
        if entry["error"]:
            self.result.show_error(entry["name"], entry["error"])
        elif entry["result"] is not None:
            self._show(entry)
        else:
            self._run(row)

    def _run(self, row: int) -> None:
        self.index_wanted.emit()
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

    def query_done(self, result: QueryResult) -> None:
        row = self._pending.pop(result.generation, None)
        if row is None:
            return
        entry = self.queries.entries[row]
        entry["result"] = result
        entry["pixmap"] = QPixmap.fromImage(result.image)
        self.queries.refresh(row)
        if self.queries.currentRow() == row:
            self._show(entry)

    def query_failed(self, generation: int, name: str, message: str) -> None:
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

    def _show(self, entry: dict) -> None:
        outcome = entry["result"].outcome
        name = entry["result"].name if entry["image"] is None else Path(entry["result"].name).name
        tiles, sentences = self.session.explain(outcome) if self.session is not None else ([], [])
        self.result.show_result(name, entry["pixmap"], outcome, tiles, sentences)
        self.result_shown.emit()

    def forget_results(self) -> None:
        """Answers computed with other settings are dropped; the current one is asked again."""
        for entry in self.queries.entries:
            if not entry["error"]:
                entry["result"] = None
        for i in range(self.queries.count()):
            self.queries.refresh(i)
        if self.queries.currentRow() >= 0:
            self._row_changed(self.queries.currentRow())

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
                                     images, self)
        self.compare.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.compare.show()
