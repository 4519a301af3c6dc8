"""Driving the window in tests: waiting for the index and a result, and dropping files on it."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

WAIT_MS = 120_000


def wait_for_index(qtbot, window):
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)


def wait_for_result(qtbot, window):
    def shown():
        entry = window.queries.entries[window.queries.currentRow()]
        return bool(entry["error"]) or (entry["result"] is not None and window.result.prediction is not None)
    qtbot.waitUntil(shown, timeout=WAIT_MS)


def drop(window, paths):
    """What the window sees when files are dragged in and released. (Qt delivers drop events only
    during a real drag, so the test hands the events to the window's handlers directly.)"""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
