"""Colour-texture features of a dermatoscopic image, computed at a fixed working resolution.

What a dermatologist looks at, in numbers: colours after colour-constancy normalisation (Shades of
Gray) in CIELAB, the share of the classic dermoscopic colours, texture (local binary patterns,
gradients, multi-scale band energies), the lesion's shape and asymmetry, and the lesion against the
surrounding skin. Every step works on a batch of images at once (numpy, scipy.ndimage) so that
threads spend their time in C with the GIL released.

Images are first reduced to WORK_SIZE, so a 600x450 original and its 200x150 copy give nearly the
same vector. The feature vector is deterministic; FEATURE_VERSION is part of the cache key and
must change whenever anything here changes its output.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

FEATURE_VERSION = "classic-5"
WORK_SIZE = (96, 72)  # width, height; 4:3 like the archive
# JPEG draft decoding may shrink by 1/2, 1/4 or 1/8 as long as the long side keeps 96 pixels and the
# short side 72 (images are turned to landscape before resizing, so EXIF rotation cannot break it).
DRAFT_SIZE = WORK_SIZE

# Approximate CIELAB of the colours dermoscopy names (white, red, light brown, dark brown, blue-grey, black).
DERMOSCOPIC_COLOURS = np.array([
    [85.0, 0.0, 5.0],
    [50.0, 45.0, 25.0],
    [60.0, 18.0, 30.0],
    [35.0, 15.0, 20.0],
    [50.0, -2.0, -8.0],
    [15.0, 2.0, 2.0],
], dtype=np.float32)


def to_work_array(im: Image.Image) -> np.ndarray:
    """An RGB image at the working resolution, uint8 (H, W, 3). Portrait images are turned to landscape."""
    if im.height > im.width:
        im = im.transpose(Image.Transpose.ROTATE_90)
    if im.size != WORK_SIZE:
        im = im.resize(WORK_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8)


# -- colour -------------------------------------------------------------------------------------

# sRGB decoding curve for every 8-bit value: linearising by table lookup is exact and cheap.
_SRGB_TO_LINEAR = np.where(np.arange(256) / 255.0 > 0.04045,
                           ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4,
                           np.arange(256) / 255.0 / 12.92).astype(np.float32)
_RGB_TO_XYZ_D65 = (np.array([[0.4124564, 0.3575761, 0.1804375],
                             [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]])
                   / np.array([[0.95047], [1.0], [1.08883]])).astype(np.float32)


_CIE_T = np.linspace(0.0, 1.0, 16384)
_CIE_F = np.where(_CIE_T > 0.008856, np.cbrt(_CIE_T), 7.787 * _CIE_T + 16.0 / 116.0).astype(np.float32)


def shades_of_gray(linear: np.ndarray, valid: np.ndarray, p: float = 6.0) -> np.ndarray:
    """Colour constancy (Finlayson & Trezzi, Shades of Gray): scale each channel, in linear light,
    so that its Minkowski p-mean over the valid pixels is grey."""
    n = linear.shape[0]
    flat = linear.reshape(n, -1, 3)
    w = valid.reshape(n, 1, -1).astype(np.float32)
    count = np.maximum(w.sum(axis=2), 1.0)  # (n, 1)
    if p == 6.0:
        squared = flat * flat
        powered = squared * squared * squared  # much cheaper than a float power
    else:
        powered = flat ** p
    norm = (np.matmul(w, powered)[:, 0, :] / count) ** (1.0 / p)  # (n, 3)
    norm = np.maximum(norm, 1e-4)
    gain = norm.mean(axis=1, keepdims=True) / norm
    return np.minimum(linear * gain[:, None, None, :], 1.0)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear-light sRGB in [0, 1] (..., 3) to CIELAB (D65) (..., 3)."""
    r, g, b = linear[..., 0], linear[..., 1], linear[..., 2]
    m = _RGB_TO_XYZ_D65

    def f(t: np.ndarray) -> np.ndarray:
        # CIE's f(t) by table lookup: a cube root per pixel and channel costs more than the rest of
        # the conversion; 16,384 steps keep L* within 0.1 of the exact value above L* = 8.
        return _CIE_F[np.minimum((t * (_CIE_F.size - 1)).astype(np.int32), _CIE_F.size - 1)]

    fx = f(m[0, 0] * r + m[0, 1] * g + m[0, 2] * b)
    fy = f(m[1, 0] * r + m[1, 1] * g + m[1, 2] * b)
    fz = f(m[2, 0] * r + m[2, 1] * g + m[2, 2] * b)
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def rgb_to_lab(rgb8: np.ndarray) -> np.ndarray:
    """8-bit sRGB to CIELAB (D65), without colour constancy."""
    return linear_to_lab(_SRGB_TO_LINEAR[rgb8])


# -- masks --------------------------------------------------------------------------------------

def _otsu(values: np.ndarray, weights: np.ndarray, bins: int = 64, lo: float = 0.0, hi: float = 100.0) -> np.ndarray:
    """Per-image Otsu threshold of ``values`` (N, P) counting only pixels with weight."""
    n = values.shape[0]
    idx = np.clip(((values - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)
    idx += np.arange(n)[:, None] * bins
    hist = np.bincount(idx.ravel(), weights=weights.ravel(), minlength=n * bins).reshape(n, bins)
    centres = lo + (np.arange(bins) + 0.5) * (hi - lo) / bins
    w0 = np.cumsum(hist, axis=1)
    total = w0[:, -1:]
    m0 = np.cumsum(hist * centres, axis=1)
    mt = m0[:, -1:]
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 / np.maximum(total, 1) - m0) ** 2 / (w0 * w1 / np.maximum(total, 1))
    between = np.nan_to_num(between, nan=0.0, posinf=0.0)
    return lo + (np.argmax(between, axis=1) + 1) * (hi - lo) / bins


def _radial(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.sqrt(((y - (h - 1) / 2) / (h / 2)) ** 2 + ((x - (w - 1) / 2) / (w / 2)) ** 2)


def lesion_masks(lab: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A rough lesion mask per image: darker-than-skin pixels (Otsu on smoothed L), centre-weighted.

    Good enough to separate lesion from skin statistics; it is never shown as a segmentation.
    """
    n, h, w, _ = lab.shape
    smooth = ndimage.uniform_filter(lab[..., 0], size=(1, 5, 5), mode="nearest")
    radial = _radial(h, w)
    # Count the centre more when choosing the threshold: the lesion is usually framed in the middle.
    weight = valid * (1.5 - np.minimum(radial, 1.4))[None]
    thr = _otsu(smooth.reshape(n, -1), weight.reshape(n, -1))
    mask = (smooth < thr[:, None, None]) & valid
    mask = dilate(erode(mask, 3), 3)  # opening: removes hair-thin strands
    # Keep components that reach the central region; drop dark corners and hair far from the lesion.
    centre = radial < 0.6
    # One labelling for the whole batch: the structure connects pixels within an image only, so
    # every component number belongs to exactly one image.
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label(mask, structure=structure)
    keep = np.zeros(count + 1, bool)
    keep[np.unique(labels[:, centre])] = True
    keep[0] = False
    out = keep[labels]
    # An image whose components all miss the centre keeps its largest one instead.
    for i in np.flatnonzero(~out.any(axis=(1, 2)) & mask.any(axis=(1, 2))):
        sizes = np.bincount(labels[i].ravel())
        sizes[0] = 0
        out[i] = labels[i] == int(np.argmax(sizes))
    area = out.mean(axis=(1, 2))
    # Implausible masks (nothing found, or everything): fall back to a central ellipse.
    fallback = (area < 0.02) | (area > 0.9)
    if fallback.any():
        out[fallback] = (radial < 0.55)[None] & valid[fallback]
    return out


def erode(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary erosion of a batch (N, H, W) by a size x size square, as a separable box filter."""
    box = ndimage.uniform_filter(mask.astype(np.float32), size=(1, size, size), mode="nearest")
    return box > 1.0 - 1e-3


def dilate(mask: np.ndarray, size: int) -> np.ndarray:
    box = ndimage.uniform_filter(mask.astype(np.float32), size=(1, size, size), mode="nearest")
    return box > 1e-3


# -- statistics helpers -------------------------------------------------------------------------

def _masked_mean_std(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (N, H, W, C), m (N, H, W) bool -> mean, std (N, C) over the masked pixels."""
    n, c = x.shape[0], x.shape[-1]
    flat = x.reshape(n, -1, c)
    w = m.reshape(n, 1, -1).astype(np.float32)
    count = np.maximum(w.sum(axis=2), 1.0)  # (n, 1)
    mean = np.matmul(w, flat)[:, 0, :] / count
    sq = np.matmul(w, flat * flat)[:, 0, :] / count
    return mean, np.sqrt(np.maximum(sq - mean * mean, 0.0))


def _masked_percentiles(x: np.ndarray, m: np.ndarray, qs=(0.1, 0.5, 0.9)) -> np.ndarray:
    """Percentiles of x (N, H, W) over masked pixels -> (N, len(qs)), by sorting with a sentinel."""
    n = x.shape[0]
    flat = np.where(m, x, np.inf).reshape(n, -1)
    flat.sort(axis=1)
    count = np.maximum(m.reshape(n, -1).sum(axis=1), 1)
    cols = [flat[np.arange(n), np.minimum((q * (count - 1)).astype(np.int64), flat.shape[1] - 1)] for q in qs]
    out = np.stack(cols, axis=1)
    return np.where(np.isfinite(out), out, 0.0)


def _masked_hist(idx: np.ndarray, m: np.ndarray, bins: int) -> np.ndarray:
    """Normalised histogram of integer codes idx (N, H, W) over masked pixels -> (N, bins)."""
    n = idx.shape[0]
    flat = (idx + np.arange(n)[:, None, None] * bins).ravel()
    hist = np.bincount(flat, weights=m.ravel().astype(np.float64), minlength=n * bins).reshape(n, bins)
    return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)


# -- texture ------------------------------------------------------------------------------------

_UNIFORM_LBP = None


def _uniform_lbp_table() -> np.ndarray:
    """Map the 256 8-neighbour codes to 10 rotation-invariant uniform patterns (0..8 ones, 9 = other)."""
    global _UNIFORM_LBP
    if _UNIFORM_LBP is None:
        codes = np.arange(256)
        bits = (codes[:, None] >> np.arange(8)) & 1
        transitions = np.abs(bits - np.roll(bits, 1, axis=1)).sum(axis=1)
        _UNIFORM_LBP = np.where(transitions <= 2, bits.sum(axis=1), 9).astype(np.int64)
    return _UNIFORM_LBP


def lbp_codes(grey: np.ndarray, radius: int) -> np.ndarray:
    """Rotation-invariant uniform LBP(8, radius) of a batch (N, H, W), edges replicated."""
    r = radius
    padded = np.pad(grey, ((0, 0), (r, r), (r, r)), mode="edge")
    h, w = grey.shape[1:]
    offsets = [(-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r)]
    code = np.zeros(grey.shape, dtype=np.uint8)
    centre = grey + 0.5
    for bit, (dy, dx) in enumerate(offsets):  # 8 shifted comparisons, each over the whole batch
        neighbour = padded[:, r + dy:r + dy + h, r + dx:r + dx + w]
        code |= (neighbour >= centre).view(np.uint8) << np.uint8(bit)
    return _uniform_lbp_table()[code]


def _half(x: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks of a batch (N, H, W) with even H and W."""
    return 0.25 * (x[:, ::2, ::2] + x[:, 1::2, ::2] + x[:, ::2, 1::2] + x[:, 1::2, 1::2])


def _sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel derivatives of a batch along rows and columns only (ndimage.sobel would also
    smooth across the batch axis and mix neighbouring images)."""
    smooth, diff = [1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]
    gy = ndimage.correlate1d(ndimage.correlate1d(x, diff, axis=1, mode="nearest"), smooth, axis=2, mode="nearest")
    gx = ndimage.correlate1d(ndimage.correlate1d(x, diff, axis=2, mode="nearest"), smooth, axis=1, mode="nearest")
    return gy, gx


def texture_features(L: np.ndarray, lesion: np.ndarray, skin: np.ndarray) -> np.ndarray:
    n = L.shape[0]
    parts = []
    for radius in (1, 2, 4):
        codes = lbp_codes(L, radius)
        parts.append(_masked_hist(codes, lesion, 10))
    # Band energies of a Gaussian pyramid: fine dots and globules vs. coarse blotches. Each level
    # halves the resolution, so every band costs a quarter of the one before.
    level, level_lesion, level_skin = L, lesion, skin
    for _ in range(3):
        blurred = ndimage.gaussian_filter(level, sigma=(0, 1.0, 1.0), mode="nearest", truncate=3.0)
        band = np.abs(level - blurred)[..., None]
        parts.append(_masked_mean_std(band, level_lesion)[0])
        parts.append(_masked_mean_std(band, level_skin)[0])
        level = _half(blurred)
        level_lesion, level_skin = level_lesion[:, ::2, ::2], level_skin[:, ::2, ::2]
    gy, gx = _sobel(L)
    grad = np.hypot(gx, gy)
    parts.append(_masked_percentiles(grad, lesion, (0.25, 0.5, 0.75, 0.95)))
    # Co-occurrence contrast: mean absolute difference at a few offsets inside the lesion.
    for dy, dx in ((0, 1), (1, 0), (0, 3), (3, 0), (3, 3)):
        diff = np.abs(L[:, dy:, dx:] - L[:, :L.shape[1] - dy, :L.shape[2] - dx])
        m = lesion[:, dy:, dx:] & lesion[:, :L.shape[1] - dy, :L.shape[2] - dx]
        parts.append(_masked_mean_std(diff[..., None], m)[0])
    # Gradient orientation coherence (streaks/network are oriented; homogeneous areas are not).
    jxx = ndimage.uniform_filter(gx * gx, size=(1, 7, 7))
    jyy = ndimage.uniform_filter(gy * gy, size=(1, 7, 7))
    jxy = ndimage.uniform_filter(gx * gy, size=(1, 7, 7))
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / (jxx + jyy + 1e-3)
    parts.append(_masked_mean_std(coherence[..., None], lesion)[0])
    return np.concatenate([p.reshape(n, -1) for p in parts], axis=1)


# -- shape --------------------------------------------------------------------------------------

def shape_features(lesion: np.ndarray, lab: np.ndarray) -> np.ndarray:
    n, h, w = lesion.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    m = lesion.astype(np.float32)
    area = m.sum(axis=(1, 2))
    safe = np.maximum(area, 1.0)
    cy = (m * y).sum(axis=(1, 2)) / safe
    cx = (m * x).sum(axis=(1, 2)) / safe
    dy = y[None] - cy[:, None, None]
    dx = x[None] - cx[:, None, None]
    myy = (m * dy * dy).sum(axis=(1, 2)) / safe
    mxx = (m * dx * dx).sum(axis=(1, 2)) / safe
    mxy = (m * dx * dy).sum(axis=(1, 2)) / safe
    common = np.sqrt(((mxx - myy) / 2) ** 2 + mxy ** 2)
    major = (mxx + myy) / 2 + common
    minor = np.maximum((mxx + myy) / 2 - common, 1e-3)
    elongation = np.sqrt(minor / np.maximum(major, 1e-3))
    # Boundary length relative to a circle of the same area: irregular borders score high.
    eroded = erode(lesion, 3)
    perimeter = (lesion & ~eroded).sum(axis=(1, 2))
    compactness = perimeter / (2 * np.sqrt(np.pi * safe))
    # Asymmetry: mirror the mask about its principal axes through the centroid.
    theta = 0.5 * np.arctan2(2 * mxy, mxx - myy)
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u = dx * cos + dy * sin
    v = -dx * sin + dy * cos
    asym = []
    colour_asym = []
    for flip_u, flip_v in ((1, -1), (-1, 1)):
        uu, vv = u * flip_u, v * flip_v
        xs = np.clip(np.rint(cx[:, None, None] + uu * cos - vv * sin), 0, w - 1).astype(np.int64)
        ys = np.clip(np.rint(cy[:, None, None] + uu * sin + vv * cos), 0, h - 1).astype(np.int64)
        mirrored = lesion[np.arange(n)[:, None, None], ys, xs]
        asym.append((lesion ^ mirrored).sum(axis=(1, 2)) / safe)
        both = lesion & mirrored
        mirrored_lab = lab[np.arange(n)[:, None, None], ys, xs]
        d = np.abs(lab - mirrored_lab).mean(axis=3)
        colour_asym.append((d * both).sum(axis=(1, 2)) / np.maximum(both.sum(axis=(1, 2)), 1))
    # Distance of the border from the frame: a lesion filling the frame looks different.
    touches = (lesion[:, 0, :].mean(1) + lesion[:, -1, :].mean(1) + lesion[:, :, 0].mean(1) + lesion[:, :, -1].mean(1)) / 4
    return np.stack([area / (h * w), elongation, compactness, np.minimum(*asym), np.maximum(*asym),
                     np.minimum(*colour_asym), np.maximum(*colour_asym), touches,
                     np.sqrt(major) / w], axis=1)


# -- the vector ---------------------------------------------------------------------------------

def extract_batch(images: np.ndarray) -> np.ndarray:
    """Features of a batch of working-size RGB images (N, H, W, 3) uint8 -> (N, D) float32."""
    n = images.shape[0]
    # The black vignette of many dermatoscopes is not skin and not lesion.
    valid = images.sum(axis=3, dtype=np.int32) > 60
    valid[valid.reshape(n, -1).mean(axis=1) < 0.3] = True
    lab = linear_to_lab(shades_of_gray(_SRGB_TO_LINEAR[images], valid))
    lesion = lesion_masks(lab, valid)
    skin = valid & ~dilate(lesion, 5)
    skin[skin.reshape(n, -1).sum(axis=1) < 50] = valid[skin.reshape(n, -1).sum(axis=1) < 50]

    parts = []
    lesion_mean, lesion_std = _masked_mean_std(lab, lesion)
    skin_mean, skin_std = _masked_mean_std(lab, skin)
    parts += [lesion_mean, lesion_std, skin_mean, skin_std, lesion_mean - skin_mean,
              np.linalg.norm(lesion_mean - skin_mean, axis=1, keepdims=True)]
    # Colour distributions change slowly across a lesion: half resolution describes them as well.
    lab2, lesion2 = lab[:, ::2, ::2], lesion[:, ::2, ::2]
    for c in range(3):
        parts.append(_masked_percentiles(lab2[..., c], lesion2, (0.05, 0.25, 0.5, 0.75, 0.95)))
    chroma = np.hypot(lab2[..., 1], lab2[..., 2])
    hue = np.arctan2(lab2[..., 2], lab2[..., 1])
    parts.append(_masked_percentiles(chroma, lesion2, (0.1, 0.5, 0.9)))
    hue_bin = np.clip(((hue + np.pi) / (2 * np.pi) * 12).astype(np.int64), 0, 11)
    parts.append(_masked_hist(hue_bin, lesion2 & (chroma > 8), 12))
    # A coarse joint colour histogram of the lesion (4 lightness x 3 x 3 chroma bins).
    li = np.clip((lab2[..., 0] / 25).astype(np.int64), 0, 3)
    ai = (lab2[..., 1] > 8.0).view(np.int8) + (lab2[..., 1] > 20.0).view(np.int8)
    bi = (lab2[..., 2] > 8.0).view(np.int8) + (lab2[..., 2] > 20.0).view(np.int8)
    parts.append(_masked_hist(li * 9 + ai * 3 + bi.astype(np.int64), lesion2, 36))
    # Share of each dermoscopic colour (nearest reference colour) inside the lesion.
    # argmin |x - c|^2 = argmin (|c|^2 - 2 x.c), written out per channel (tiny matmuls are slow).
    ref = DERMOSCOPIC_COLOURS
    score = np.stack([(c * c).sum() - 2.0 * (lab2[..., 0] * c[0] + lab2[..., 1] * c[1] + lab2[..., 2] * c[2])
                      for c in ref], axis=-1)
    parts.append(_masked_hist(np.argmin(score, axis=-1), lesion2, len(ref)))
    # Colour of the lesion's rim vs its core (regression, blue-white veil are central; pigment network peripheral).
    core = erode(lesion, 7)
    rim = lesion & ~core
    parts.append(_masked_mean_std(lab, core)[0] - _masked_mean_std(lab, rim)[0])
    parts.append(texture_features(lab[..., 0], lesion, skin))
    parts.append(shape_features(lesion[:, ::2, ::2], lab[:, ::2, ::2]))  # shape needs no fine detail
    out = np.concatenate([p.reshape(n, -1) for p in parts], axis=1).astype(np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def feature_dim() -> int:
    return extract_batch(np.full((1, WORK_SIZE[1], WORK_SIZE[0], 3), 128, np.uint8)).shape[1]
