"""Slow file-system work off the GUI thread, one job at a time (ui.main_window's ``files``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..errors import DermviewError

log = logging.getLogger(__name__)


# Jobs that store what the user made (a case saved, a diagnosis confirmed, a case deleted, a report or a print):
# closing the window waits for them. The others only read, and are dropped when the window closes.
WRITES = frozenset({"report", "print", "library-add", "library-confirm", "library-delete"})


class _FileCall(QRunnable):
    def __init__(self, jobs: FileJobs, key: str, generation: int, func: Callable[[], object]):
        super().__init__()
        self._jobs, self._key, self._generation, self._func = jobs, key, generation, func

    def run(self) -> None:
        if self._jobs.closing and self._key not in WRITES:  # the window is gone: nobody wants this read
            return
        try:
            value, error = self._func(), None
        except DermviewError as exc:
            value, error = None, str(exc)
        except Exception as exc:  # keep the window informed whatever the file system does
            log.exception("file job %s", self._key)
            value, error = None, f"Unexpected problem: {exc}"
        if error and self._jobs.closing:  # the window that would have said so is closing: the log says it
            log.error("while the window closed, %s failed: %s", self._key, error)
        self._jobs.done.emit(self._key, self._generation, value, error)


class FileJobs(QObject):
    """Slow file-system work (opening an archive, walking a dropped folder, which on a network share takes
    seconds) off the GUI thread: one at a time, answered in the order asked, each tagged with a number
    so that the window can drop answers a newer request has superseded."""

    done = Signal(str, int, object, object)  # key, generation, value, error message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(1)
        self._generation = 0
        self.closing = False

    def submit(self, key: str, func: Callable[[], object]) -> int:
        self._generation += 1
        self._pool.start(_FileCall(self, key, self._generation, func))
        return self._generation

    def shutdown(self) -> None:
        """Finish every queued write (WRITES) before returning; queued reads are skipped."""
        self.closing = True
        self._pool.waitForDone()
