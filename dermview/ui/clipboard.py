"""Edit > Paste: what the clipboard holds, as queries (files named on it, or a picture copied from elsewhere)."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QGuiApplication

from ..archive.inputs import InputImage, bytes_input


def clipboard_queries(name: str) -> list[str] | InputImage | None:
    """The local files the clipboard names; else its picture as a PNG query called ``name``; else None."""
    clip = QGuiApplication.clipboard().mimeData()
    if clip is not None and clip.hasUrls():
        paths = [u.toLocalFile() for u in clip.urls() if u.isLocalFile()]
        if paths:
            return paths
    image = QGuiApplication.clipboard().image()
    if image.isNull():
        return None
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes_input(name, bytes(data))
