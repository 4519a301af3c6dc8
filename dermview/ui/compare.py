"""Side-by-side compare of the query and one neighbour lesion, with zoom and pan kept in step. When
several images of that lesion are among the neighbours, buttons switch between them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QGraphicsPixmapItem, QGraphicsScene,
                               QGraphicsView, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout)

from .thumbnail_loader import OUTLINE, PLAIN
from .thumbnails import LARGE_SIZE, ThumbnailCache


class SyncedView(QGraphicsView):
    def __init__(self, pixmap: QPixmap | None = None):
        super().__init__()
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        scene = QGraphicsScene(self)
        scene.addItem(self.item)
        self.setScene(scene)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.zoom_changed: Callable[[float], None] | None = None  # the dialog's one zoom for both sides
        if pixmap is not None:
            self.set_pixmap(pixmap)

    def set_pixmap(self, pixmap: QPixmap, logical_width: float = 0.0) -> None:
        """Show ``pixmap`` scaled to ``logical_width`` scene units (its own width when 0): both sides of a
        comparison use one logical width, so one zoom and one scroll fit both."""
        self.item.setPixmap(pixmap)
        self.item.setScale((logical_width or pixmap.width()) / max(1, pixmap.width()))
        self.scene().setSceneRect(self.item.sceneBoundingRect())

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        if self.zoom_changed:
            self.zoom_changed(factor)


def link_views(left: SyncedView, right: SyncedView, zoom: Callable[[float], None]) -> None:
    """Two views of one comparison: a wheel over either zooms both (``zoom``), and each scroll bar drives its twin."""
    for view in (left, right):
        view.zoom_changed = zoom
    for a, b in ((left, right), (right, left)):
        a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
        a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)


def view_buttons(dialog, zoom: Callable[[float], None], fit: Callable[[], None]) -> QHBoxLayout:
    """Zoom in, Zoom out and Fit on the left, Close on the right."""
    buttons = QHBoxLayout()
    for text, action in (("Zoom in", lambda: zoom(1.25)), ("Zoom out", lambda: zoom(0.8)), ("Fit", fit)):
        button = QPushButton(text)
        button.clicked.connect(action)
        buttons.addWidget(button)
    buttons.addStretch(1)
    close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    close.rejected.connect(dialog.reject)
    buttons.addWidget(close)
    return buttons


class CompareDialog(QDialog):
    """The query on the left; on the right one image of a neighbour lesion, chosen among ``images``
    ((image_id, title) pairs, the lesion's closest image first)."""

    def __init__(self, thumbnails: ThumbnailCache, query: QPixmap, query_title: str,
                 images: list[tuple[str, str]], parent=None, *, outlined: bool = False):
        super().__init__(parent)
        self.outlined = outlined  # the neighbour with its lesion's outline (the query comes drawn or not)
        self.setWindowTitle("Compare query and neighbour")
        self.resize(1100, 640)
        self.thumbnails = thumbnails
        self.images = images
        self.shown: str | None = None  # the image id on the right, once its pixmap is there
        self._wanted = images[0][0]
        self.logical_width = float(max(query.width(), LARGE_SIZE))
        self.left = SyncedView()
        self.left.set_pixmap(query, self.logical_width)
        self.right = SyncedView()
        link_views(self.left, self.right, self.zoom)

        self.query_title = QLabel(query_title)
        self.neighbour_title = QLabel("Loading ...")
        grid = QGridLayout()
        for column, (label, view) in enumerate(((self.query_title, self.left), (self.neighbour_title, self.right))):
            label.setTextFormat(Qt.TextFormat.PlainText)  # file names
            label.setWordWrap(True)
            # Two equal halves whatever the titles say: equal views are what equal magnification needs.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            grid.addWidget(label, 0, column)
            grid.addWidget(view, 1, column)
            grid.setColumnStretch(column, 1)
        # One button per image of the lesion among the neighbours: the "+N more" of its tile.
        self.choices = QButtonGroup(self)
        choice_row = QHBoxLayout()
        if len(images) > 1:
            choice_row.addWidget(QLabel(f"{len(images)} images of this lesion are among the neighbours:"))
            for number, (image_id, _title) in enumerate(images):
                button = QPushButton(image_id + (" (closest)" if number == 0 else ""))
                button.setCheckable(True)
                button.setChecked(number == 0)
                button.setObjectName(f"lesion-image-{image_id}")
                self.choices.addButton(button, number)
                choice_row.addWidget(button)
            choice_row.addStretch(1)
            self.choices.idClicked.connect(lambda number: self.show_neighbour(self.images[number][0]))
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addLayout(choice_row)
        layout.addLayout(view_buttons(self, self.zoom, self.fit))
        thumbnails.ready.connect(self._ready)
        self.show_neighbour(self._wanted)

    def show_neighbour(self, image_id: str) -> None:
        """Put ``image_id`` on the right as soon as its large image is loaded (now, if it is cached)."""
        self._wanted = image_id
        pixmap = self.thumbnails.get(image_id, LARGE_SIZE, OUTLINE if self.outlined else PLAIN)
        if pixmap is None:
            self.neighbour_title.setText(f"Loading {image_id} ...")
            return
        transform = self.right.transform()  # keep the zoom the clinician chose when switching images
        self.right.set_pixmap(pixmap, self.logical_width)
        self.right.setTransform(transform)
        self.neighbour_title.setText(dict(self.images)[image_id])
        self.shown = image_id

    def _ready(self, image_id: str, size: int) -> None:
        if size == LARGE_SIZE and image_id == self._wanted and self.shown != image_id:
            self.show_neighbour(image_id)
            if self.isVisible() and not self._zoomed:
                self.fit()

    def set_outlines(self, on: bool, query: QPixmap) -> None:
        """Both sides with the lesion's outline, or without (``query``: the query as it is now to be shown)."""
        self.outlined = on
        transform = self.left.transform()
        self.left.set_pixmap(query, self.logical_width)
        self.left.setTransform(transform)
        self.shown = None
        self.show_neighbour(self._wanted)

    _zoomed = False  # the clinician zoomed: a neighbour arriving later keeps that zoom

    def zoom(self, factor: float) -> None:
        self._zoomed = True
        for view in (self.left, self.right):
            view.scale(factor, factor)

    def zoom_level(self) -> tuple[float, float]:
        return self.left.transform().m11(), self.right.transform().m11()

    def fit(self) -> None:
        """Both images whole and at one magnification: the scale at which the query fits the smaller view."""
        self._zoomed = False
        rect = self.left.item.sceneBoundingRect()
        if rect.isEmpty():
            return
        scale = min(min(view.viewport().width() / rect.width(), view.viewport().height() / rect.height())
                    for view in (self.left, self.right))
        for view in (self.left, self.right):
            view.setTransform(QTransform.fromScale(scale, scale))
            view.centerOn(rect.center())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._zoomed:  # still fitted: keep fitting as the dialog takes its size
            self.fit()
