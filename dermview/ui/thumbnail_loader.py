"""Archive (and case-library) images decoded at reduced size on a thread pool, newest request first, and
delivered as QImages; QPixmaps are made on the GUI thread only (ui/thumbnails.py)."""

from __future__ import annotations

import logging
import threading
from collections import deque

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage

from ..archive import Archive
from ..errors import DermviewError
from ..library.search import load_neighbour_image
from ..render.qimage import fit_within, to_qimage

log = logging.getLogger(__name__)


class _ThumbnailJob(QRunnable):
    def __init__(self, loader: ThumbnailLoader):
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        while True:
            job = self._loader.next_job()
            if job is None:
                return
            key, image_id, size = job
            try:
                image = load_neighbour_image(self._loader.archive, self._loader.library, image_id, size)
                image = fit_within(image, size)
                self._loader.loaded.emit(key, to_qimage(image))
            except DermviewError as exc:
                self._loader.failed.emit(key, str(exc))
            except Exception as exc:  # keep the pool alive whatever one file does
                log.exception("thumbnail %s", image_id)
                self._loader.failed.emit(key, str(exc))


class ThumbnailLoader(QObject):
    """Decodes archive images at reduced size off the GUI thread, newest request first."""

    loaded = Signal(str, QImage)
    failed = Signal(str, str)
    MAX_QUEUE = 600  # requests for rows long scrolled past are dropped

    def __init__(self, archive: Archive, parent: QObject | None = None):
        super().__init__(parent)
        self.archive = archive
        self.library = None  # the case library, whose images can be neighbours too
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, str, int]] = deque()
        self._queued: set[str] = set()
        self._running = 0
        self._closed = False
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(max(1, min(4, QThread.idealThreadCount())))

    def request(self, image_id: str, size: int) -> str:
        key = f"{image_id}@{size}"
        with self._lock:
            if self._closed or key in self._queued:
                return key
            self._queue.append((key, image_id, size))
            self._queued.add(key)
            while len(self._queue) > self.MAX_QUEUE:
                old_key, _, _ = self._queue.popleft()
                self._queued.discard(old_key)
            start = self._running < self._pool.maxThreadCount()
            if start:
                self._running += 1
        if start:
            self._pool.start(_ThumbnailJob(self))
        return key

    def next_job(self):
        with self._lock:
            if self._closed or not self._queue:
                self._running -= 1
                return None
            job = self._queue.pop()  # newest first: what is on screen now
            self._queued.discard(job[0])
            return job

    def forget(self, key: str) -> None:
        """A failed or evicted key may be requested again."""
        with self._lock:
            self._queued.discard(key)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._queued.clear()
        self._pool.waitForDone()
