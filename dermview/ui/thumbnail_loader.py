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
from ..archive.masks import PublishedMasks
from ..model.outline import outlined_picture, with_both_outlines
from ..render.qimage import fit_within, to_qimage

log = logging.getLogger(__name__)


# What is drawn on a picture: nothing, dermview's outline of the lesion, or (an archive image's detail) that
# and the published outline, where the archive folder holds the segmentation release.
PLAIN, OUTLINE, BOTH_OUTLINES = "", "outline", "outlines"


def thumbnail_key(image_id: str, size: int, outline: str = PLAIN) -> str:
    """The cache's key of one picture: ``ISIC_0024306@112``, ``ISIC_0024306@112+outline`` with the outline drawn."""
    return f"{image_id}@{size}+{outline}" if outline else f"{image_id}@{size}"


def split_key(key: str) -> tuple[str, int]:
    """(image_id, size) of a thumbnail_key."""
    image_id, size = key.split("+", 1)[0].rsplit("@", 1)
    return image_id, int(size)


class _ThumbnailJob(QRunnable):
    def __init__(self, loader: ThumbnailLoader):
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        while True:
            job = self._loader.next_job()
            if job is None:
                return
            key, image_id, size, outline = job
            try:
                if outline:  # found on at least the archive's 200x150, drawn at the size asked for
                    image = load_neighbour_image(self._loader.archive, self._loader.library, image_id, max(size, 200))
                    if outline == BOTH_OUTLINES:
                        published = self._loader.published_masks()
                        mask = published.read(image_id, image.size) if published is not None else None
                        image, note = with_both_outlines(image, mask, size)
                        self._loader.set_note(key, note)
                    else:
                        image = outlined_picture(image, size)
                    image = fit_within(image, size)
                else:
                    image = fit_within(load_neighbour_image(self._loader.archive, self._loader.library, image_id, size),
                                       size)
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
        self._queue: deque[tuple[str, str, int, str]] = deque()
        self._notes: dict[str, str] = {}  # key -> what a picture with both outlines shows, in words
        self._published: PublishedMasks | None | bool = False  # False: not looked for yet
        self._queued: set[str] = set()
        self._running = 0
        self._closed = False
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(max(1, min(4, QThread.idealThreadCount())))

    def request(self, image_id: str, size: int, outline: str = PLAIN) -> str:
        """Load ``image_id`` at ``size`` px, with ``outline`` drawn (the outline network runs here, on the pool,
        never on the GUI thread); its key is thumbnail_key's."""
        key = thumbnail_key(image_id, size, outline)
        with self._lock:
            if self._closed or key in self._queued:
                return key
            self._queue.append((key, image_id, size, outline))
            self._queued.add(key)
            while len(self._queue) > self.MAX_QUEUE:
                old_key = self._queue.popleft()[0]
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

    def published_masks(self) -> PublishedMasks | None:
        """The archive folder's published masks (looked for once, on the pool: it lists folders), or None."""
        with self._lock:
            found = self._published
        if found is False:
            found = PublishedMasks.find(self.archive.root)
            with self._lock:
                self._published = found
        return found  # type: ignore[return-value]

    def set_note(self, key: str, note: str) -> None:
        with self._lock:
            self._notes[key] = note

    def note(self, key: str) -> str:
        """What a picture with both outlines shows, in words ("" until it is loaded)."""
        with self._lock:
            return self._notes.get(key, "")

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
