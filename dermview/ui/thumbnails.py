"""The GUI thread's thumbnail cache: QPixmaps made from QImages the loader decoded elsewhere."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from .thumbnail_loader import PLAIN, ThumbnailLoader, split_key, thumbnail_key

THUMB_SIZE = 112  # longest side in the grid and the neighbour strip
LARGE_SIZE = 800  # longest side of the detail view and the compare view


def placeholder(width: int, height: int, text: str = "") -> QPixmap:
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor("#d8d8d8"))
    if text:
        painter = QPainter(pixmap)
        painter.setPen(QColor("#555555"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        painter.end()
    return pixmap


class ThumbnailCache(QObject):
    """LRU cache of pixmaps by image id and size; asks the loader for what it lacks."""

    ready = Signal(str, int)  # image_id, size
    CAPACITY = 2500  # ~2,500 x 112x84 pixmaps is ~95 MB at most

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self._loader = loader
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: dict[str, str] = {}
        loader.loaded.connect(self._on_loaded)
        loader.failed.connect(self._on_failed)

    def get(self, image_id: str, size: int = THUMB_SIZE, outline: str = PLAIN) -> QPixmap | None:
        """The picture if it is cached; otherwise None, and it is loaded (``ready`` says when). ``outline``: what is
        drawn on it (thumbnail_loader.PLAIN, OUTLINE or BOTH_OUTLINES)."""
        key = thumbnail_key(image_id, size, outline)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if key in self._failed:
            return placeholder(size, size * 3 // 4, "cannot read")
        if key not in self._pending:
            self._pending.add(key)
            self._loader.request(image_id, size, outline)
        return None

    def error(self, image_id: str, size: int = THUMB_SIZE, outline: str = PLAIN) -> str | None:
        return self._failed.get(thumbnail_key(image_id, size, outline))

    def note(self, image_id: str, size: int, outline: str) -> str:
        """What a loaded picture with both outlines shows, in words."""
        return self._loader.note(thumbnail_key(image_id, size, outline))

    def _on_loaded(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.CAPACITY:
            self._pixmaps.popitem(last=False)
        self.ready.emit(*split_key(key))

    def _on_failed(self, key: str, message: str) -> None:
        self._pending.discard(key)
        self._failed[key] = message
        self.ready.emit(*split_key(key))

    def __len__(self) -> int:
        return len(self._pixmaps)
