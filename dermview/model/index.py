"""The archive index: features of every archive image, the fitted projection, and the cache.

Building reads and describes all images on a thread pool (decoding in Pillow and the batched
numpy/scipy work release the GIL, so every core is used without re-launching the program) and
reports progress through a callback; a cancel check stops it between batches. The result is
cached in the per-user cache folder as an .npz written atomically (temporary file + rename) and
read back with ``allow_pickle=False``. The cache is keyed to the archive's content and the
feature and projection versions, and rebuilt automatically when any of them changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from ..archive import Archive
from ..archive.codes import dx_indices
from ..errors import CancelledError, DermviewError
from ..outputs import atomic_file
from ..paths import ensure_dir, user_dirs
from .projection import PROJECTION_VERSION, Projection
from .copies import THUMB_SIDE, fingerprint
from .extractors import ClassicExtractor, colour_texture_part, get_extractor, space_fitter
from .familiarity import Familiarity, fit_familiarity, sample_rows
from .knn import nearest_other_lesion_distances

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (done, total)
CancelCheck = Callable[[], bool]  # True means stop
# 2: content fingerprints of every image (dermview.model.copies); 3: the familiarity model;
# 4: the nearest-other-lesion distances that make a distance readable
INDEX_FORMAT = 4


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def compute_features(load: Callable[[str], Image.Image], keys: Sequence[str] | np.ndarray, extractor, *,
                     progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
                     workers: int | None = None) -> tuple[np.ndarray, dict[str, str]]:
    """Features of every key (rows in order; NaN rows where an image failed) and the errors by key."""
    keys = list(keys)
    batch = extractor.batch_size
    chunks = [range(i, min(i + batch, len(keys))) for i in range(0, len(keys), batch)]
    result: np.ndarray | None = None
    errors: dict[str, str] = {}

    def work(chunk: range) -> tuple[range, np.ndarray, list[int], dict[str, str]]:
        arrays, ok, failed = [], [], {}
        for i in chunk:
            if cancel is not None and cancel():
                return chunk, np.empty((0, 0), np.float32), [], {}
            try:
                arrays.append(extractor.prepare(load(keys[i])))
                ok.append(i)
            except DermviewError as exc:
                failed[keys[i]] = str(exc)
        vectors = extractor.extract(np.stack(arrays)) if arrays else np.empty((0, 0), np.float32)
        return chunk, vectors, ok, failed

    done = 0
    if progress:
        progress(0, len(keys))
    n_workers = workers or default_workers()
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="dermview-features") as pool:
        pending: set = set()
        chunk_iter = iter(chunks)

        def top_up() -> None:
            # Only a few batches in flight: cancelling is prompt and memory stays flat.
            for chunk in chunk_iter:
                pending.add(pool.submit(work, chunk))
                if len(pending) >= 2 * n_workers:
                    break

        top_up()
        while pending:
            finished, still = wait(pending, return_when=FIRST_COMPLETED)
            pending.clear()
            pending.update(still)
            for future in finished:
                chunk, vectors, ok, failed = future.result()
                if vectors.size:
                    if result is None:
                        result = np.full((len(keys), vectors.shape[1]), np.nan, np.float32)
                    result[ok] = vectors
                errors.update(failed)
                done += len(chunk)
            if cancel is not None and cancel():
                for future in pending:
                    future.cancel()
                raise CancelledError("Building the index was cancelled.")
            if progress:
                progress(done, len(keys))
            top_up()
    if result is None:
        result = np.full((len(keys), 0), np.nan, np.float32)
    return result, errors


@dataclass
class ArchiveIndex:
    """Everything a query needs, as plain arrays."""

    image_ids: np.ndarray  # (N,) str, archive images that could be described
    features: np.ndarray  # (N, D) float32
    projection: Projection
    embedded: np.ndarray  # (N, d) float32, the features projected
    content_key: str
    extractor: str
    version: str
    failed: dict[str, str] = field(default_factory=dict)
    # Content fingerprints (dermview.model.copies): (N,) uint64 hashes, (N, 256) float16 thumbnails.
    copy_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    copy_thumbs: np.ndarray = field(default_factory=lambda: np.zeros((0, THUMB_SIDE * THUMB_SIDE), np.float16))
    # What the archive's images look like (dermview.model.familiarity): the "unfamiliar image" warning.
    familiarity: Familiarity | None = None
    # Sorted distances of a sample of indexed images to their nearest other lesion (dermview.model.explain).
    neighbour_distances: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def nbytes(self) -> int:
        arrays = [self.image_ids, self.features, self.copy_hashes, self.copy_thumbs, self.neighbour_distances,
                  *self.projection.to_arrays().values(),
                  *(self.familiarity.to_arrays().values() if self.familiarity else ())]
        if self.embedded is not self.features:
            arrays.append(self.embedded)
        return int(sum(np.asarray(a).nbytes for a in arrays))


_UNIFORM_ARCHIVE = ("The archive's images are too alike (or too few per diagnosis) to learn a colour-texture "
                    "similarity from; check that the images are real, distinct dermatoscopic images, or use "
                    "the learned similarity")


def fit_projection(features: np.ndarray, labels: np.ndarray, fit: Callable[..., Projection]) -> Projection:
    """The projection ``fit`` makes (an extractor's space_fitter), with every
    numerical dead end (identical images, a single diagnosis, constant features) turned into a sentence
    instead of a LinAlgError."""
    present = np.unique(labels)
    if len(present) < 2:
        raise DermviewError("The archive holds images of only one diagnosis; a suggestion needs at least two "
                            "to choose from.")
    if not np.isfinite(features).all() or np.ptp(features, axis=0).max(initial=0.0) == 0.0:
        raise DermviewError(_UNIFORM_ARCHIVE + ".")
    try:
        with np.errstate(all="ignore"):
            projection = fit(features, labels)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
        raise DermviewError(f"{_UNIFORM_ARCHIVE} ({exc}).") from exc
    if not all(np.isfinite(a).all() for a in projection.to_arrays().values() if a.dtype.kind == "f"):
        raise DermviewError(_UNIFORM_ARCHIVE + " (the projection came out undefined).")
    return projection


def fit_archive_familiarity(archive: Archive, ids: np.ndarray, rows: np.ndarray, features: np.ndarray, extractor,
                            *, cancel: CancelCheck | None = None, workers: int | None = None) -> Familiarity:
    """The familiarity model, from the colour-texture features of the sampled ``rows`` of the indexed images:
    the index's own columns when its description includes them (the colour-texture and the learned
    similarity: the same decode a query of that similarity is checked with), otherwise computed for the sample."""
    colour = colour_texture_part(extractor, features[rows])
    if colour is None:
        classic = ClassicExtractor()
        colour, _ = compute_features(lambda i: archive.load_image(i, draft_size=classic.draft_size), ids[rows],
                                     classic, cancel=cancel, workers=workers)
    return fit_familiarity(colour)


def index_version(extractor) -> str:
    return f"{extractor.name}:{extractor.version}+{PROJECTION_VERSION}+f{INDEX_FORMAT}"


def cache_file(archive: Archive, extractor) -> Path:
    """One file per archive folder and extractor version (for a network, its file's hash is in the version):
    a new build of the same replaces the old one, and scoring another network (evaluate --model) never
    replaces the shipped network's index."""
    where = hashlib.sha256(str(archive.root).encode()).hexdigest()[:16]
    which = hashlib.sha256(index_version(extractor).encode()).hexdigest()[:12]
    return user_dirs().cache / "index" / f"{extractor.name}-{where}-{which}.npz"


def build_index(archive: Archive, *, extractor_name: str = "classic", progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None, workers: int | None = None) -> ArchiveIndex:
    extractor = get_extractor(extractor_name)
    meta = archive.metadata[archive.metadata["available"]]
    ids = meta["image_id"].to_numpy()
    start = time.perf_counter()
    prints: dict[str, tuple[np.uint64, np.ndarray]] = {}

    def load(image_id: str) -> Image.Image:
        image = archive.load_image(image_id, draft_size=extractor.draft_size)
        prints[image_id] = fingerprint(image)  # from the same decode: no second pass over the archive
        return image

    feats, errors = compute_features(load, ids, extractor, progress=progress, cancel=cancel, workers=workers)
    good = ~np.isnan(feats).any(axis=1) if feats.size else np.zeros(len(ids), bool)
    if good.sum() < 50:
        raise DermviewError(f"Only {int(good.sum())} archive images could be read; cannot build an index.")
    labels = dx_indices(meta["dx"].astype(str).to_numpy()[good])
    features = feats[good]
    projection = fit_projection(features, labels, space_fitter(extractor))
    log.info("index of %d images built in %.1f s (%d failed)", good.sum(), time.perf_counter() - start, len(errors))
    # Without a projection the searched points are the features themselves: one array, not two.
    embedded = features if projection.is_identity else projection.transform(features)
    if not np.isfinite(embedded).all():
        raise DermviewError(_UNIFORM_ARCHIVE + " (the similarity space came out undefined).")
    kept = ids[good].astype(str)
    sample = sample_rows(len(kept))  # one seeded sample for the familiarity model and the distance yardstick
    familiarity = fit_archive_familiarity(archive, kept, sample, features, extractor, cancel=cancel, workers=workers)
    return ArchiveIndex(image_ids=kept, features=features, projection=projection,
                        embedded=embedded, content_key=archive.content_key(),
                        extractor=extractor.name, version=index_version(extractor), failed=errors,
                        copy_hashes=np.array([prints[i][0] for i in kept], np.uint64),
                        copy_thumbs=np.stack([prints[i][1] for i in kept]).astype(np.float16),
                        familiarity=familiarity,
                        neighbour_distances=nearest_other_lesion_distances(
                            embedded, meta["lesion_id"].astype(str).to_numpy()[good], sample))


def save_index(index: ArchiveIndex, path: Path) -> None:
    """Atomic: written to a temporary file in the same folder, flushed, then renamed over the target."""
    ensure_dir(path.parent)
    failed_ids = np.array(list(index.failed.keys()), dtype=str)
    failed_msgs = np.array(list(index.failed.values()), dtype=str)
    arrays: dict[str, np.ndarray] = {
        "image_ids": index.image_ids, "features": index.features, "content_key": np.array(index.content_key),
        "extractor": np.array(index.extractor), "version": np.array(index.version), "failed_ids": failed_ids,
        "failed_messages": failed_msgs, "copy_hashes": index.copy_hashes, "copy_thumbs": index.copy_thumbs,
        "neighbour_distances": index.neighbour_distances,
        **index.projection.to_arrays(), **(index.familiarity.to_arrays() if index.familiarity else {})}
    if not index.projection.is_identity:
        arrays["embedded"] = index.embedded
    with atomic_file(path, "wb", private=True) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub mistakes **kwds for allow_pickle


def load_index(path: Path) -> ArchiveIndex:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return ArchiveIndex(image_ids=arrays["image_ids"], features=arrays["features"],
                        projection=Projection.from_arrays(arrays), embedded=arrays.get("embedded", arrays["features"]),
                        content_key=str(arrays["content_key"]), extractor=str(arrays["extractor"]),
                        version=str(arrays["version"]),
                        failed=dict(zip(arrays["failed_ids"].tolist(), arrays["failed_messages"].tolist())),
                        copy_hashes=arrays["copy_hashes"], copy_thumbs=arrays["copy_thumbs"],
                        familiarity=Familiarity.from_arrays(arrays),
                        neighbour_distances=arrays["neighbour_distances"])


def index_problem(index: ArchiveIndex, archive: Archive) -> str | None:
    """Why a loaded index cannot be trusted for this archive (its keys may match and its arrays still be
    wrong: a damaged disk, an edited file, a bug); None if it is consistent."""
    ids, features, embedded = index.image_ids, index.features, index.embedded
    if ids.ndim != 1 or ids.dtype.kind != "U" or len(ids) == 0:
        return "its image ids are not a list of names"
    if features.ndim != 2 or features.dtype.kind != "f" or features.shape[0] != len(ids) or features.shape[1] == 0:
        return f"its features have shape {features.shape} for {len(ids)} images"
    if embedded.ndim != 2 or embedded.dtype.kind != "f" or embedded.shape[0] != len(ids) or embedded.shape[1] == 0:
        return f"its projected points have shape {embedded.shape} for {len(ids)} images"
    if len(np.unique(ids)) != len(ids):
        return "it lists an image more than once"
    if index.copy_hashes.shape != (len(ids),) or index.copy_thumbs.shape != (len(ids), THUMB_SIDE * THUMB_SIDE):
        return "its content fingerprints do not match its images"
    fam = index.familiarity
    if fam is None or fam.precision.shape != (len(fam.mean), len(fam.mean)) or not (
            np.isfinite(fam.precision).all() and np.isfinite(fam.mean).all() and np.isfinite(fam.threshold)):
        return "its familiarity model is missing or undefined"
    near = index.neighbour_distances
    if near.ndim != 1 or len(near) == 0 or not np.isfinite(near).all() or np.any(np.diff(near) < 0):
        return "its neighbour-distance yardstick is missing or unsorted"
    meta = archive.metadata
    known = set(meta.loc[meta["available"], "image_id"])
    unknown = [i for i in ids.tolist() if i not in known]
    if unknown:
        return f"it holds {len(unknown)} image(s) this archive does not have (e.g. {unknown[0]})"
    if not (np.isfinite(features).all() and np.isfinite(embedded).all() and np.isfinite(index.copy_thumbs).all()):
        return "it holds undefined (NaN or infinite) values"
    try:
        with np.errstate(all="ignore"):
            again = index.projection.transform(features[:8])
    except (ValueError, IndexError) as exc:
        return f"its projection does not fit its features ({exc})"
    if again.shape != (min(8, len(ids)), embedded.shape[1]):
        return "its projection does not fit its points"
    # Loose on purpose: the float32 kernel differs by batch size (up to 7% of a row's norm measured on
    # a 232-image archive); a damaged or foreign array is off by far more (30-80% for shuffled rows).
    error = np.linalg.norm(again - embedded[:8], axis=1) / np.maximum(np.linalg.norm(embedded[:8], axis=1), 1e-6)
    if error.max() > 0.2:
        return "its projection does not reproduce its own points"
    return None


# A save writes its temporary file in well under a minute; one older than this was left by a killed process.
STALE_TEMP_SECONDS = 15 * 60


def remove_stale_temp_files(folder: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete ``*.tmp`` files a killed save left behind; returns how many. Never fails."""
    removed = 0
    now = time.time()
    try:
        candidates = list(folder.glob("*.tmp"))
    except OSError:
        return 0
    for tmp in candidates:
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("removed %d leftover temporary file(s) from %s", removed, folder)
    return removed


def load_cached_index(archive: Archive, extractor_name: str = "classic") -> ArchiveIndex | None:
    """The cached index if it is current for this archive's content and the code's versions, and its
    arrays are consistent; otherwise None (the caller rebuilds it)."""
    extractor = get_extractor(extractor_name)
    path = cache_file(archive, extractor)
    remove_stale_temp_files(path.parent)
    if not path.is_file():
        return None
    try:
        index = load_index(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged or unknown format
        log.warning("ignoring unreadable index cache %s: %s", path, exc)
        return None
    if index.version != index_version(extractor) or index.content_key != archive.content_key():
        log.info("index cache %s is stale; rebuilding", path)
        return None
    problem = index_problem(index, archive)
    if problem:
        log.warning("ignoring index cache %s: %s", path, problem)
        return None
    return index


def load_or_build_index(archive: Archive, *, extractor_name: str = "classic",
                        progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
                        workers: int | None = None, rebuild: bool = False) -> ArchiveIndex:
    if not rebuild:
        cached = load_cached_index(archive, extractor_name)
        if cached is not None:
            return cached
    index = build_index(archive, extractor_name=extractor_name, progress=progress, cancel=cancel, workers=workers)
    try:
        save_index(index, cache_file(archive, get_extractor(extractor_name)))
    except (OSError, DermviewError) as exc:  # a read-only or full disk must not stop the user from working
        log.warning("could not write the index cache: %s", exc)
    return index
