"""Driving the window in tests: waiting for the index and a result, and dropping files on it."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEventLoop, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

WAIT_MS = 120_000


def wait_for_index(qtbot, window):
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)


def wait_for_result(qtbot, window):
    """Until the worklist's current row is on screen: its result, or its error."""
    classify = window.classify

    def shown():
        key = classify.worklist.current_key()
        item = classify.current_item()
        return item is not None and classify.shown_key == key and (
            bool(item.error) or (item.outcome is not None and classify.result.prediction is not None))
    qtbot.waitUntil(shown, timeout=WAIT_MS)


def current(window):
    """The worklist row shown (a dermview.clinic.worklist.WorkItem)."""
    return window.classify.current_item()


def select_row(window, row: int) -> None:
    """Select the worklist's row ``row`` in the table's order, as a click would."""
    window.classify.worklist.select_key(window.classify.worklist.key_at(row))


def wait_for_entries(window, more_than: int, timeout: float = 60.0) -> None:
    """Dropped files are gathered on the window's file worker: wait until they are in the list."""
    deadline = time.monotonic() + timeout
    while window.classify.model.rowCount() <= more_than:
        assert time.monotonic() < deadline, "the dropped files never reached the query list"
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)


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
    before = window.classify.model.rowCount()
    window.dropEvent(event)
    assert event.isAccepted()
    wait_for_entries(window, before)
