"""How large the window opens on a given screen."""

from __future__ import annotations

from PySide6.QtCore import QSize

FIRST_SIZE = QSize(1400, 900)  # on a large screen; a smaller one gets what fits (first_size)


def first_size(available: QSize) -> QSize:
    """The window's size on its first start: FIRST_SIZE, or what the screen's available area (less the
    frame a window manager adds, about 30 pixels) holds, whichever is smaller. After that the last size
    is restored."""
    return QSize(min(FIRST_SIZE.width(), available.width() - 16), min(FIRST_SIZE.height(), available.height() - 40))
