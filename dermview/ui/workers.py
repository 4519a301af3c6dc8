"""The window's model worker: one serial thread that owns everything slow about the model (opening the
index, building it, queries).

Requests reach it as queued signals and are handled one at a time; each query carries a generation
number and the worker skips any query that a newer one has superseded, so 20 rapid drops cost one
prediction, not twenty. Results come back as signals; the GUI thread ignores any result whose generation
is not the newest. Thumbnails (ui/thumbnail_loader.py) and file-system work (ui/file_jobs.py) have
threads of their own.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from ..archive import Archive
from ..archive.inputs import InputImage
from ..errors import CancelledError, DermviewError
from ..model.extractors import AUTO
from ..library.search import search_library
from ..model.knn import Prediction
from ..model.predictor import DEFAULT_SEARCH, SearchIn
from ..model.session import ModelSession, QueryOutcome
from ..model.outline import draw_outline
from ..render.qimage import fit_within, to_qimage

log = logging.getLogger(__name__)

QUERY_DISPLAY_SIZE = 1600  # longest side of the query image kept for display and compare
ROW_THUMBNAIL = 64  # longest side of a worklist row's picture


@dataclass
class LoadRequest:
    generation: int
    archive: Archive
    rebuild: bool
    features: str


@dataclass
class QueryRequest:
    generation: int
    k: int
    image: InputImage | None = None  # a new image ...
    archive_image_id: str | None = None  # ... or "find similar" for an archive image
    known: QueryOutcome | None = None  # already classified (by the worklist's batch): only decode it to show


@dataclass
class BatchJob:
    key: int  # the worklist row's id
    k: int
    image: InputImage | None = None
    archive_image_id: str | None = None


@dataclass
class BatchResult:
    key: int
    outcome: QueryOutcome
    thumbnail: QImage  # ROW_THUMBNAIL px, for the worklist row


@dataclass
class QueryResult:
    generation: int
    name: str
    image: QImage
    outcome: QueryOutcome
    outlined: QImage | None = None  # the image with its lesion's outline drawn, when one was found

    @property
    def prediction(self) -> Prediction:
        return self.outcome.prediction


NOT_READY = "The archive index is not ready."


def _answer(session: ModelSession, image: InputImage | None, archive_image_id: str | None, k: int, size: int, *,
            draft: int | None = None, known: QueryOutcome | None = None) -> tuple[QueryOutcome, Image.Image]:
    """Classify a new image (read once: exactly what `dermview predict` does) or an archive image, unless
    ``known`` already answers it, and decode it for the window at ``size`` px at most (from a JPEG draft
    of at least ``draft`` px). Worker thread."""
    if image is not None:
        data = image.read()
        outcome = known or session.classify(image, k=k, data=data)
        picture = image.decode(data, draft or size)
    else:
        outcome = known or session.classify_archive_image(str(archive_image_id), k=k)
        picture = session.archive.load_image(str(archive_image_id), draft_size=draft)
    return outcome, fit_within(picture, size)


class _ModelWorker(QObject):
    index_progress = Signal(int, int)
    index_ready = Signal(int, object)  # load generation, ModelSession
    index_failed = Signal(int, str)
    index_cancelled = Signal(int)
    query_done = Signal(object)  # QueryResult
    query_failed = Signal(int, str, str)  # generation, name, message
    batch_done = Signal(int, object)  # batch generation, BatchResult
    batch_failed = Signal(int, int, str)  # batch generation, row key, message
    library_searched = Signal(int, str)  # own cases searchable, or -1 and why the library cannot be searched
    _step = Signal()  # the next batch image, queued behind whatever else the window asked for meanwhile

    def __init__(self, service: ModelService):
        super().__init__()
        self._service = service
        self._session: ModelSession | None = None
        self._waiting: QueryRequest | None = None  # asked for while the index was loading
        self._step.connect(self.batch_step, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def load_index(self, request: LoadRequest) -> None:
        service = self._service
        if request.generation != service.latest_load:
            return  # superseded while it waited: only the newest load runs
        self._session = None
        cancel = service.cancel_event
        cancel.clear()

        def cancelled() -> bool:
            return cancel.is_set() or request.generation != service.latest_load

        try:
            # A stored choice that cannot be used falls back, with a note the window shows.
            session = ModelSession.open(request.archive, request.features, strict=False, rebuild=request.rebuild,
                                        progress=self.index_progress.emit, cancel=cancelled)
        except CancelledError:
            self._answer_waiting_query(NOT_READY + " Building it was cancelled.")
            self.index_cancelled.emit(request.generation)
            return
        except DermviewError as exc:
            self._answer_waiting_query(NOT_READY)
            self.index_failed.emit(request.generation, str(exc))
            return
        except Exception as exc:  # never let the worker die silently; the window must say something
            log.exception("index failed")
            self._answer_waiting_query(NOT_READY)
            self.index_failed.emit(request.generation, f"The index could not be built: {exc}")
            return
        if request.generation != service.latest_load:
            return  # a newer load was asked for while this one finished: it will answer
        self._session = session
        self.index_ready.emit(request.generation, session)
        self.attach_library(service.library)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.query(waiting)
        if service.claim_batch():  # images listed while the index was loading
            self.batch_step()

    @Slot(object)
    def attach_library(self, library) -> None:
        """Search ``library``'s confirmed cases from now on (describing, once, any without a stored vector)."""
        session = self._session
        if session is None or library is not self._service.library:
            return  # no index yet (the load attaches it), or a newer library was opened meanwhile
        if library is None:
            session.own = None
            return
        try:
            own = session.own
            if own is not None and getattr(own, "library", None) is library:
                own.refresh()  # the same library: only what changed
            else:
                own = search_library(session, library)
        except DermviewError as exc:
            session.own = None
            self.library_searched.emit(-1, str(exc))
            return
        self.library_searched.emit(len(own), "")

    def _answer_waiting_query(self, message: str) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.generation == self._service.latest_generation:
            self.query_failed.emit(waiting.generation, self._name(waiting), message)

    @staticmethod
    def _name(request: QueryRequest) -> str:
        return request.image.name if request.image else str(request.archive_image_id)

    @Slot(object)
    def query(self, request: QueryRequest) -> None:
        if request.generation != self._service.latest_generation:
            return  # superseded while it waited
        name = self._name(request)
        session = self._session
        if session is None:
            if self._service.latest_load > 0:
                self._waiting = request  # answered as soon as the index is there
            else:
                self.query_failed.emit(request.generation, name, NOT_READY)
            return
        session.search = self._service.search
        try:
            outcome, picture = _answer(session, request.image, request.archive_image_id, request.k,
                                       QUERY_DISPLAY_SIZE, known=request.known)
            mask = outcome.lesion.mask if outcome.lesion is not None else None
            result = QueryResult(request.generation, name, to_qimage(picture), outcome,
                                 None if mask is None else to_qimage(draw_outline(picture, mask)))
        except DermviewError as exc:
            self.query_failed.emit(request.generation, name, str(exc))
            return
        except Exception as exc:
            log.exception("query failed")
            self.query_failed.emit(request.generation, name, f"Unexpected problem: {exc}")
            return
        self.query_done.emit(result)

    @Slot()
    def batch_step(self) -> None:
        """Classify one image of the worklist's batch, then queue the next step behind other requests."""
        service = self._service
        session = self._session
        if session is None:  # the index is loading: the batch goes on when it is there
            service.batch_paused()
            return
        taken = service.next_batch_job()
        if taken is None:
            return
        generation, job = taken
        session.search = service.search
        try:
            outcome, picture = _answer(session, job.image, job.archive_image_id, job.k, ROW_THUMBNAIL,
                                       draft=ROW_THUMBNAIL * 2)
            self.batch_done.emit(generation, BatchResult(job.key, outcome, to_qimage(picture)))
        except DermviewError as exc:
            self.batch_failed.emit(generation, job.key, str(exc))
        except MemoryError:
            self.batch_failed.emit(generation, job.key, "not enough memory to classify this image.")
        except Exception as exc:
            log.exception("batch query failed")
            self.batch_failed.emit(generation, job.key, f"Unexpected problem: {exc}")
        if service.batch_left():
            self._step.emit()


class ModelService(QObject):
    """The GUI thread's handle on the model worker. Newest request wins, for loads and for queries."""

    index_progress = Signal(int, int)
    index_ready = Signal(object)  # ModelSession of the newest load
    index_failed = Signal(str)
    index_cancelled = Signal()
    query_done = Signal(object)
    query_failed = Signal(int, str, str)
    batch_done = Signal(object)  # BatchResult of the current batch
    batch_failed = Signal(int, str)  # row key, message
    library_searched = Signal(int, str)  # own cases searchable (-1: the library cannot be searched), why not
    _load = Signal(object)  # LoadRequest
    _attach = Signal(object)  # CaseLibrary
    _query = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.latest_generation = 0  # of queries
        self.latest_load = 0
        # The worklist's batch: jobs taken one at a time by the worker, in order; a new batch generation
        # (cancel, or new settings) drops what is left.
        self._batch_lock = threading.Lock()
        self._batch: deque[BatchJob] = deque()
        self._batch_generation = 0
        self._stepping = False  # a step is queued or running on the worker
        # The practice's case library (opened by the window) and whose images may be neighbours; read by
        # the worker before each answer.
        self.library = None
        self.search: SearchIn = DEFAULT_SEARCH
        self._thread = QThread()
        self._thread.setObjectName("dermview-model")
        self._worker = _ModelWorker(self)
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load_index)
        self._query.connect(self._worker.query)
        self._attach.connect(self._worker.attach_library)
        self._worker.library_searched.connect(self.library_searched)
        self._worker.index_progress.connect(self.index_progress)
        self._worker.index_ready.connect(self._ready)
        self._worker.index_failed.connect(self._failed)
        self._worker.index_cancelled.connect(self._cancelled)
        self._worker.query_done.connect(self.query_done)
        self._worker.query_failed.connect(self.query_failed)
        self._worker.batch_done.connect(self._batch_done)
        self._worker.batch_failed.connect(self._batch_failed)
        self._thread.start()

    # Answers to a load that a newer one superseded are dropped here, on the GUI thread.
    def _ready(self, generation: int, session) -> None:
        if generation == self.latest_load:
            self.index_ready.emit(session)

    def _failed(self, generation: int, message: str) -> None:
        if generation == self.latest_load:
            self.index_failed.emit(message)

    def _cancelled(self, generation: int) -> None:
        if generation == self.latest_load:
            self.index_cancelled.emit()

    def load_index(self, archive: Archive, rebuild: bool = False, features: str = AUTO) -> int:
        self.latest_load += 1
        self.cancel_event.set()  # a build for a previous request stops at its next batch
        self._load.emit(LoadRequest(self.latest_load, archive, rebuild, features))
        return self.latest_load

    def cancel_index(self) -> None:
        self.cancel_event.set()

    def set_library(self, library) -> None:
        """Search ``library`` (a CaseLibrary, or None) beside the archive from the next query on."""
        self.library = library
        self._attach.emit(library)

    def refresh_library(self) -> None:
        """Look at the library again now (e.g. after a case was confirmed), not only before the next query."""
        self._attach.emit(self.library)

    def query_image(self, image: InputImage, k: int, known: QueryOutcome | None = None) -> int:
        self.latest_generation += 1
        self._query.emit(QueryRequest(self.latest_generation, k, image=image, known=known))
        return self.latest_generation

    def query_archive_image(self, image_id: str, k: int, known: QueryOutcome | None = None) -> int:
        self.latest_generation += 1
        self._query.emit(QueryRequest(self.latest_generation, k, archive_image_id=image_id, known=known))
        return self.latest_generation

    # -- the worklist's batch ----------------------------------------------------------------------
    def classify_batch(self, jobs: list[BatchJob]) -> None:
        """Add ``jobs`` to the batch; the worker classifies them in order, one per step, so that the
        window's own queries and index loads are never stuck behind a 300-image folder."""
        with self._batch_lock:
            self._batch.extend(jobs)
        if self.claim_batch():
            self._worker._step.emit()

    def claim_batch(self) -> bool:
        """True (once) when there are jobs and no step chain runs: the caller starts one. Any thread."""
        with self._batch_lock:
            if self._batch and not self._stepping:
                self._stepping = True
                return True
            return False

    def cancel_batch(self) -> int:
        """Drop the images not yet classified; returns how many. Answers already on their way are ignored."""
        with self._batch_lock:
            dropped = len(self._batch)
            self._batch.clear()
            self._batch_generation += 1
        return dropped

    def batch_pending(self) -> int:
        with self._batch_lock:
            return len(self._batch)

    def next_batch_job(self) -> tuple[int, BatchJob] | None:  # worker thread
        with self._batch_lock:
            if not self._batch:
                self._stepping = False
                return None
            return self._batch_generation, self._batch.popleft()

    def batch_left(self) -> bool:  # worker thread
        with self._batch_lock:
            self._stepping = bool(self._batch)
            return self._stepping

    def batch_paused(self) -> None:  # worker thread, while the index is not there
        with self._batch_lock:
            self._stepping = False

    def _batch_done(self, generation: int, result: BatchResult) -> None:
        if generation == self._batch_generation:
            self.batch_done.emit(result)

    def _batch_failed(self, generation: int, key: int, message: str) -> None:
        if generation == self._batch_generation:
            self.batch_failed.emit(key, message)

    def shutdown(self) -> None:
        self.cancel_batch()
        self.cancel_event.set()
        self.latest_generation += 1  # queued queries become stale and are skipped
        self.latest_load += 1
        self._thread.quit()
        self._thread.wait()


class _Preview(QRunnable):
    def __init__(self, loader: PreviewLoader, image: InputImage, key: int):
        super().__init__()
        self._loader, self._image, self._key = loader, image, key

    def run(self) -> None:
        try:
            picture = self._image.load(PREVIEW_SIDE)
        except (DermviewError, OSError, MemoryError):
            return  # the query itself will say what is wrong with the file
        self._loader.ready.emit(self._key, to_qimage(fit_within(picture, PREVIEW_SIDE)))


PREVIEW_SIDE = 800  # pixels on the long side: enough for the result view until the real one arrives


class PreviewLoader(QObject):
    """A query's picture decoded on a pool thread, so that it is on screen at once while the model worker is
    busy (building the index): ``ready`` (row key, QImage)."""

    ready = Signal(int, QImage)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def start(self, image: InputImage, key: int) -> None:
        self._pool.clear()  # only the newest preview matters
        self._pool.start(_Preview(self, image, key))

    def shutdown(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()
