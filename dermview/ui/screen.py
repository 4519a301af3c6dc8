"""How large the window opens on a given screen."""

from __future__ import annotations

from PySide6.QtCore import QSize

FIRST_SIZE = QSize(1400, 900)  # on a large screen; a smaller one gets what fits (first_size)


def first_size(available: QSize) -> QSize:
    """The window's size on its first start: FIRST_SIZE, or what the screen's available area (less the
    frame a window manager adds, about 30 pixels) holds, whichever is smaller. After that the last size
    is restored."""
    return fitted(FIRST_SIZE, available)


def fitted(size: QSize, available: QSize) -> QSize:
    """A remembered window size that fits the screen it opens on: a size saved on a larger monitor (or a
    docking station since unplugged) is shrunk to the available area, less the window manager's frame."""
    return QSize(min(size.width(), available.width() - 16), min(size.height(), available.height() - 40))
