"""The training images: augmentation (including imitations of other dermatoscopes), the cached frozen-block
activations, and the lesion-grouped splits."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from dermview.archive import Archive
from dermview.model import learned
from .embedding_network import OUTER_FOLDS, OUTER_SEED, RECIPE, VAL_FOLDS, VAL_SEED, Architecture, build_modules, export_onnx

log = logging.getLogger("train_embedding")

# -- data ----------------------------------------------------------------------------------------

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


def cache_early_activations(archive: Archive, ids: np.ndarray, copies: int, seed: int, work: Path,
                            threads: int, arch: Architecture = RECIPE) -> np.ndarray:
    """(copies, N, C, h, w) float16 memmap of the frozen blocks' output; copy 0 is unaugmented."""
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
    images = [archive.load_image(i, draft_size=learned.draft_size(image_size)) for i in ids]
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


def splits(labels: np.ndarray, groups: np.ndarray, holdout_fold: int | None):
    """(train, validation, test) image indices; validation and test are empty without a held-out fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    from dermview.model.tuning import held_out_split

    everything = np.arange(len(labels))
    if holdout_fold is None:
        return everything, everything[:0], everything[:0]
    rest, test = held_out_split(labels, groups, holdout_fold, OUTER_FOLDS, OUTER_SEED)  # as `evaluate --model`
    inner = StratifiedGroupKFold(VAL_FOLDS, shuffle=True, random_state=VAL_SEED)
    fit, val = next(inner.split(rest, labels[rest], groups[rest]))
    return rest[fit], rest[val], test


