"""Side-by-side compare of the query and one neighbour, with zoom and pan kept in step."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QWheelEvent
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView,
                               QGridLayout, QLabel, QPushButton, QHBoxLayout, QVBoxLayout)


class SyncedView(QGraphicsView):
    def __init__(self, pixmap: QPixmap, logical_width: float):
        super().__init__()
        self.item = QGraphicsPixmapItem(pixmap)
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # Show both images at the same logical size, so that one zoom and one scroll fit both.
        self.item.setScale(logical_width / max(1, pixmap.width()))
        scene = QGraphicsScene(self)
        scene.addItem(self.item)
        self.setScene(scene)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.partner: SyncedView | None = None
        self.zoom_changed = None

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        if self.zoom_changed:
            self.zoom_changed(factor)


class CompareDialog(QDialog):
    def __init__(self, query: QPixmap, query_title: str, neighbour: QPixmap, neighbour_title: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare query and neighbour")
        self.resize(1100, 620)
        width = float(max(query.width(), neighbour.width()))
        self.left = SyncedView(query, width)
        self.right = SyncedView(neighbour, width)
        for view in (self.left, self.right):
            view.zoom_changed = self.zoom
        # Pan in step: each scroll bar drives its twin.
        for a, b in ((self.left, self.right), (self.right, self.left)):
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)

        grid = QGridLayout()
        for column, (title, view) in enumerate(((query_title, self.left), (neighbour_title, self.right))):
            label = QLabel(title)
            label.setTextFormat(Qt.TextFormat.PlainText)  # file names
            label.setWordWrap(True)
            grid.addWidget(label, 0, column)
            grid.addWidget(view, 1, column)
        buttons = QHBoxLayout()
        for text, action in (("Zoom in", lambda: self.zoom(1.25)), ("Zoom out", lambda: self.zoom(0.8)),
                             ("Fit", self.fit)):
            button = QPushButton(text)
            button.clicked.connect(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(buttons)

    def zoom(self, factor: float) -> None:
        for view in (self.left, self.right):
            view.scale(factor, factor)

    def zoom_level(self) -> tuple[float, float]:
        return self.left.transform().m11(), self.right.transform().m11()

    def fit(self) -> None:
        for view in (self.left, self.right):
            view.fitInView(view.item, Qt.AspectRatioMode.KeepAspectRatio)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit()
