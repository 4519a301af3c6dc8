"""The training images: augmentation (including imitations of other dermatoscopes), the cached frozen-block
activations, and the lesion-grouped splits."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from dermview.archive import Archive
from dermview.archive.codes import dx_indices
from dermview.archive.imaging import load_image_file
from dermview.model import learned
from .embedding_network import OUTER_FOLDS, OUTER_SEED, RECIPE, VAL_FOLDS, VAL_SEED, Architecture, build_modules, export_onnx

log = logging.getLogger("train_embedding")

# -- data ----------------------------------------------------------------------------------------

ARCHIVE_SOURCE = "ham10000"


@dataclasses.dataclass(frozen=True)
class TrainingImages:
    """Every image a run may train on: the archive's (first, in ``meta`` order) then each extra labelled folder's.

    Only the archive's images have lesions, folds and neighbours; an extra folder's are training images
    and nothing else (never held out, never searched). ``keys`` (N,) name each image (an archive image id,
    or ``<folder>/<image>``); ``labels`` (N,) are DX_CODES indices; ``groups`` (N,) lesion ids (an extra
    image is its own group); ``sources`` (N,) ``ham10000`` or the extra folder's name."""

    archive: Archive
    keys: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    sources: np.ndarray
    n_archive: int
    paths: dict[str, Path]  # an extra image's key -> its file

    @classmethod
    def gather(cls, archive: Archive, meta, extra_folders: Sequence[Path] = ()) -> TrainingImages:
        """The archive rows of ``meta`` and every image of ``extra_folders`` that has a HAM10000 diagnosis
        (rows with only benign/malignant, or no label, are left out). Raises DermviewError for a folder
        without a readable labels.csv."""
        from dermview.model.external import read_external

        keys = list(meta["image_id"].astype(str))
        dx = list(meta["dx"].astype(str))
        groups = list(meta["lesion_id"].astype(str))
        sources = [ARCHIVE_SOURCE] * len(keys)
        paths: dict[str, Path] = {}
        for folder in extra_folders:
            folder = Path(folder)
            labelled, _ = read_external(folder)
            for image in labelled:
                if image.dx is None:
                    continue
                key = f"{folder.name}/{image.name}"
                paths[key] = image.path
                keys.append(key)
                dx.append(image.dx)
                groups.append(key)
                sources.append(folder.name)
        return cls(archive, np.array(keys), dx_indices(np.array(dx)), np.array(groups), np.array(sources),
                   len(meta), paths)

    def loader(self, draft_size) -> Callable[[str], Image.Image]:
        """``key`` -> the image, upright 8-bit RGB, decoded near ``draft_size``."""
        def load(key: str) -> Image.Image:
            path = self.paths.get(key)
            if path is None:
                return self.archive.load_image(key, draft_size=draft_size)
            return load_image_file(path, draft_size=draft_size)
        return load

    def counts(self) -> dict[str, dict[str, int]]:
        """{source: {diagnosis: images}}, for the log and the model card."""
        from dermview.archive.codes import DX_CODES

        out: dict[str, dict[str, int]] = {}
        for source in dict.fromkeys(self.sources):
            rows = self.labels[self.sources == source]
            out[str(source)] = {DX_CODES[c]: int(n) for c, n in enumerate(np.bincount(rows, minlength=len(DX_CODES))) if n}
        return out

# The 8 flips and turns an augmented copy may take (this order: the shipped copies' draws). A rectangular
# input keeps to the four that leave a landscape image landscape (a quarter turn would be squashed from
# 3:4 to 4:3).
TURNS = (None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_90,
         Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE)
SHAPE_KEEPING_TURNS = (0, 1, 2, 4)


def other_device(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """``image`` as another dermatoscope might have taken it: a colour cast (each channel's gain 0.8-1.2,
    a gamma of 0.8-1.25); with some chance a dark round or oval frame (0.35), vignetting (0.3) and blur
    (0.3); and a magnification from 0.75 to 1.4 times (below 1: the field padded with mirrored skin)."""
    from PIL import ImageFilter

    w, h = image.size
    zoom = rng.uniform(0.75, 1.4)
    if zoom < 1:  # a smaller lesion in a wider field: mirror the skin outward
        pad_x, pad_y = int(w * (1 / zoom - 1) / 2), int(h * (1 / zoom - 1) / 2)
        padded = np.pad(np.asarray(image), ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect")
        image = Image.fromarray(padded).resize((w, h), Image.Resampling.BILINEAR)
    else:
        cw, ch = int(w / zoom), int(h / zoom)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    x = np.asarray(image, np.float32) / 255.0
    x = np.power(np.clip(x * rng.uniform(0.8, 1.2, 3), 0, 1), rng.uniform(0.8, 1.25))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))  # 1 at the middle of each edge
    if rng.random() < 0.3:
        x *= (1 - rng.uniform(0.2, 0.5) * np.clip(r / 1.414, 0, 1) ** 2)[..., None]
    if rng.random() < 0.35:
        ax, ay = rng.uniform(0.85, 1.2), rng.uniform(0.85, 1.35)  # semi-axes, in half-sides
        ring = np.hypot((xx - w / 2) / (ax * w / 2), (yy - h / 2) / (ay * h / 2))
        x *= np.clip((1.0 - ring) / 0.04 + 1.0, 0, 1)[..., None] * (1 - rng.uniform(0, 0.1)) + 0.0
    return Image.fromarray(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8))


def augment(image: Image.Image, rng: np.random.Generator, *, quarter_turns: bool = True,
            devices: bool = False) -> Image.Image:
    """Random crop (70-100% of the area, aspect 1 to 1.45), one of 8 flips/rotations (4 without
    ``quarter_turns``), mild colour jitter; with ``devices``, then as another dermatoscope might take it
    (other_device)."""
    if devices:
        image = other_device(image, rng)
    w, h = image.size
    for _ in range(10):
        area = w * h * rng.uniform(0.70, 1.0)
        aspect = rng.uniform(1.0, 1.45)
        cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if cw <= w and ch <= h:
            break
    else:
        cw, ch = w, h
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    image = image.crop((x0, y0, x0 + cw, y0 + ch))
    if quarter_turns:
        turn = TURNS[int(rng.integers(0, len(TURNS)))]
    else:
        turn = TURNS[SHAPE_KEEPING_TURNS[int(rng.integers(0, len(SHAPE_KEEPING_TURNS)))]]
    if turn is not None:
        image = image.transpose(turn)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.85, 1.15))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.85, 1.15))
    return image


def cache_early_activations(load: Callable[[str], Image.Image], ids: np.ndarray, copies: int, seed: int, work: Path,
                            threads: int, arch: Architecture = RECIPE) -> np.ndarray:
    """(copies, N, C, h, w) float16 memmap of the frozen blocks' output for the images ``load(id)`` gives
    (TrainingImages.loader); copy 0 is unaugmented."""
    import onnxruntime as ort

    image_size = arch.shape
    key = hashlib.sha256(("|".join(ids) + f"{copies}{seed}{arch.input_size}{arch.cut}{arch.version}").encode()).hexdigest()[:16]
    path = work / f"early-{key}.npy"
    if path.is_file():
        log.info("reusing cached frozen-block activations %s", path)
        return np.load(path, mmap_mode="r")
    early, _, _, _ = build_modules(arch)
    onnx_path = work / f"early-{key}.onnx"
    export_onnx(early, onnx_path, image_size)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    log.info("decoding %d images", len(ids))
    images = [load(i) for i in ids]
    if arch.lesion_centred:  # cropped once, before the augmentation: a random crop must not cut the lesion away
        from dermview.model.outline import lesion_view

        log.info("cropping %d images around their lesions", len(ids))
        images = [lesion_view(image) for image in images]
        arch = dataclasses.replace(arch, lesion_centred=False)
    probe = session.run(None, {"image": learned.to_network_input(arch.prepare(images[0])[None])})[0]
    tmp = work / f"early-{key}.tmp.npy"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(copies, len(ids), *probe.shape[1:]))
    rng = np.random.default_rng(seed)
    start, batch = time.perf_counter(), 64
    for c in range(copies):
        for s in range(0, len(ids), batch):
            chunk = [arch.prepare(im if c == 0 else augment(im, rng, quarter_turns=arch.square,
                                                             devices=arch.device_augment))
                     for im in images[s:s + batch]]
            out[c, s:s + len(chunk)] = session.run(None, {"image": learned.to_network_input(np.stack(chunk))})[0]
        done = (c + 1) / copies
        elapsed = time.perf_counter() - start
        log.info("cached copy %d/%d  %.0f s elapsed, about %.0f s to go", c + 1, copies, elapsed,
                 elapsed / done - elapsed)
    out.flush()
    del out
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


def splits(labels: np.ndarray, groups: np.ndarray, holdout_fold: int | None, n_extra: int = 0):
    """(train, validation, test) image indices into the archive's ``labels`` (N,) followed by ``n_extra`` images
    of other folders, which are always training images: the folds are the archive's lesions alone, exactly as
    `dermview evaluate --model` draws them. Validation and test are empty without a held-out fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    from dermview.model.tuning import held_out_split

    extra = np.arange(len(labels), len(labels) + n_extra)
    everything = np.arange(len(labels) + n_extra)
    if holdout_fold is None:
        return everything, everything[:0], everything[:0]
    rest, test = held_out_split(labels, groups, holdout_fold, OUTER_FOLDS, OUTER_SEED)  # as `evaluate --model`
    inner = StratifiedGroupKFold(VAL_FOLDS, shuffle=True, random_state=VAL_SEED)
    fit, val = next(inner.split(rest, labels[rest], groups[rest]))
    return np.concatenate([rest[fit], extra]), rest[val], test


