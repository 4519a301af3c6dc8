"""Recognising a copy of an archive image by its content (another resolution, JPEG quality or name).

Two checks, both on a small greyscale version of the image: a 63-bit DCT perceptual hash finds the
candidates, and the correlation of 16x16 thumbnails confirms one. Measured on the shared archive (the
153 600x450 originals against their published 200x150 copies, and every archive image against the
images of all other lesions; benchmarks/bench_archive_copies.py):

- an original and its own copy: hash distance 0 (median), at most 4 bits; thumbnail correlation at
  least 0.995 (median 0.999);
- images of different lesions: 2.4% have another lesion's image within 4 bits, and those pairs
  correlate 0.90 (median) and 0.977 (99th percentile); the few above 0.99 are the same photograph
  published under two lesion ids.

So a copy is a candidate within MAX_HASH_BITS that correlates at least MIN_CORRELATION. With these:
153 of 153 originals are recognised as their archive copy under another name, and 1 of the 2,004
images of held-out fold 0 matches an image of another lesion (ISIC_0030074 ~ ISIC_0025226: one
photograph, colour-shifted, published under two lesion ids).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

MAX_HASH_BITS = 4
MIN_CORRELATION = 0.99
THUMB_SIDE = 16
_HASH_SIDE = 32


def fingerprint(image: Image.Image) -> tuple[np.uint64, np.ndarray]:
    """(63-bit perceptual hash, unit-norm zero-mean 16x16 greyscale thumbnail (256,) float32) of ``image``."""
    grey = image.convert("L")
    small = np.asarray(grey.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BILINEAR), np.float32)
    low = dctn(small, norm="ortho")[:8, :8].ravel()[1:]  # the lowest frequencies, without the mean
    bits = np.concatenate([low > np.median(low), [False]])
    phash = np.packbits(bits).view(">u8")[0].astype(np.uint64)
    thumb = np.asarray(grey.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX), np.float32).ravel()
    thumb = thumb - thumb.mean()
    return phash, thumb / max(float(np.linalg.norm(thumb)), 1e-6)


def hash_distances(phash: np.uint64, hashes: np.ndarray) -> np.ndarray:
    """Differing bits between one hash and every hash of ``hashes`` (N,) uint64."""
    xor = np.bitwise_xor(hashes.astype(np.uint64), np.uint64(phash))
    return np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def find_copy(phash: np.uint64, thumb: np.ndarray, hashes: np.ndarray, thumbs: np.ndarray) -> int | None:
    """The row of the archive image this one is a copy of, or None. ``thumbs``: (N, 256) float16/32."""
    if len(hashes) == 0:
        return None
    candidates = np.flatnonzero(hash_distances(phash, hashes) <= MAX_HASH_BITS)
    if len(candidates) == 0:
        return None
    correlation = thumbs[candidates].astype(np.float32) @ thumb
    best = int(np.argmax(correlation))
    return int(candidates[best]) if correlation[best] >= MIN_CORRELATION else None
