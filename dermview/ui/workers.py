"""Threads of the window: one serial model worker, and a pool for thumbnails.

The model worker owns everything slow about the model (opening the index, building it, queries).
Requests reach it as queued signals and are handled one at a time; each query carries a
generation number and the worker skips any query that a newer one has superseded, so 20 rapid
drops cost one prediction, not twenty. Results come back as signals; the GUI thread ignores any
result whose generation is not the newest. Thumbnails are decoded on a separate QThreadPool,
newest request first, and delivered as QImages; QPixmaps are made on the GUI thread only.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from ..archive import Archive
from ..errors import CancelledError, DermviewError
from ..model.extractors import choose_features
from ..model.index import load_cached_index, load_or_build_index
from ..model.inputs import InputImage
from ..model.knn import Prediction
from ..model.predictor import Predictor
from .qimage import fit_within, to_qimage

log = logging.getLogger(__name__)

QUERY_DISPLAY_SIZE = 1600  # longest side of the query image kept for display and compare


@dataclass
class QueryRequest:
    generation: int
    k: int
    image: InputImage | None = None  # a new image ...
    archive_image_id: str | None = None  # ... or "find similar" for an archive image


@dataclass
class QueryResult:
    generation: int
    name: str
    image: QImage
    prediction: Prediction
    archive_image_id: str | None = None
    excluded_lesion: str | None = None


class _ModelWorker(QObject):
    index_progress = Signal(int, int)
    index_ready = Signal(object)  # Predictor
    index_failed = Signal(str)
    index_cancelled = Signal()
    query_done = Signal(object)  # QueryResult
    query_failed = Signal(int, str, str)  # generation, name, message

    def __init__(self, service: "ModelService"):
        super().__init__()
        self._service = service
        self._predictor: Predictor | None = None

    @Slot(object)
    def load_index(self, request: tuple[Archive, bool, str]) -> None:
        archive, rebuild, features = request
        self._predictor = None
        cancel = self._service.cancel_event
        cancel.clear()
        try:
            # "learned" falls back to the colour-texture features, with a note the window shows.
            choice = choose_features("auto" if features == "learned" else features)
            index = None if rebuild else load_cached_index(archive, choice.name)
            if index is None:
                index = load_or_build_index(archive, extractor_name=choice.name, progress=self.index_progress.emit,
                                            cancel=cancel.is_set, rebuild=True)
            self._predictor = Predictor(archive, index)
            self._predictor.feature_note = choice.note
        except CancelledError:
            self.index_cancelled.emit()
            return
        except DermviewError as exc:
            self.index_failed.emit(str(exc))
            return
        except Exception as exc:  # never let the worker die silently; the window must say something
            log.exception("index failed")
            self.index_failed.emit(f"The index could not be built: {exc}")
            return
        self.index_ready.emit(self._predictor)

    @Slot(object)
    def query(self, request: QueryRequest) -> None:
        if request.generation != self._service.latest_generation:
            return  # superseded while it waited
        name = request.image.name if request.image else request.archive_image_id
        predictor = self._predictor
        if predictor is None:
            self.query_failed.emit(request.generation, name, "The archive index is not ready.")
            return
        predictor.settings.k = request.k
        try:
            if request.image is not None:
                image = request.image.load(QUERY_DISPLAY_SIZE)
                # A file named like an archive image (e.g. an original of the archive itself) must not
                # be voted on by its own lesion: that would look like a confident, correct answer.
                own = predictor.lesion_of(request.image.stem)
                prediction = predictor.predict_features(predictor.features_of(image), exclude_lesion=own)
            else:
                image = predictor.archive.load_image(request.archive_image_id)
                own = predictor.lesion_of(request.archive_image_id)
                prediction = predictor.predict_archive_image(request.archive_image_id)
            result = QueryResult(request.generation, name, to_qimage(fit_within(image, QUERY_DISPLAY_SIZE)),
                                 prediction, request.archive_image_id, excluded_lesion=own)
        except DermviewError as exc:
            self.query_failed.emit(request.generation, name, str(exc))
            return
        except Exception as exc:
            log.exception("query failed")
            self.query_failed.emit(request.generation, name, f"Unexpected problem: {exc}")
            return
        self.query_done.emit(result)


class ModelService(QObject):
    """The GUI thread's handle on the model worker."""

    index_progress = Signal(int, int)
    index_ready = Signal(object)
    index_failed = Signal(str)
    index_cancelled = Signal()
    query_done = Signal(object)
    query_failed = Signal(int, str, str)
    _load = Signal(object)  # (archive, rebuild, features)
    _query = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.latest_generation = 0
        self._thread = QThread()
        self._thread.setObjectName("dermview-model")
        self._worker = _ModelWorker(self)
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load_index)
        self._query.connect(self._worker.query)
        for name in ("index_progress", "index_ready", "index_failed", "index_cancelled", "query_done", "query_failed"):
            getattr(self._worker, name).connect(getattr(self, name))
        self._thread.start()

    def load_index(self, archive: Archive, rebuild: bool = False, features: str = "learned") -> None:
        self.cancel_event.set()  # a build for a previous archive stops at its next batch
        self._load.emit((archive, rebuild, features))

    def cancel_index(self) -> None:
        self.cancel_event.set()

    def query_image(self, image: InputImage, k: int) -> int:
        self.latest_generation += 1
        self._query.emit(QueryRequest(self.latest_generation, k, image=image))
        return self.latest_generation

    def query_archive_image(self, image_id: str, k: int) -> int:
        self.latest_generation += 1
        self._query.emit(QueryRequest(self.latest_generation, k, archive_image_id=image_id))
        return self.latest_generation

    def shutdown(self) -> None:
        self.cancel_event.set()
        self.latest_generation += 1  # queued queries become stale and are skipped
        self._thread.quit()
        self._thread.wait()


class _ThumbnailJob(QRunnable):
    def __init__(self, loader: "ThumbnailLoader"):
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        while True:
            job = self._loader.next_job()
            if job is None:
                return
            key, image_id, size = job
            try:
                image = self._loader.archive.load_image(image_id, draft_size=size)
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
