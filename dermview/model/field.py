"""What the dermatoscope did to an image: the frame around its field of view, and its colour cast.

Many dermatoscopes leave a dark round or oval frame around the field they light (a contact plate's
rim, vignetting at the lens's edge). HAM10000's devices mostly fill the frame; other clinics' often do
not, and a network that sees a black ring learns "black ring" (issue "another clinic's dermatoscope":
an external melanoma's nearest archive images shared its frame, not its lesion). crop_to_field crops an
image to the field the dermatoscope lit and paints what frame is left with the skin colour at the field's
rim; a network trained so (its sidecar says "field_of_view") sees queries and archive images alike that
way. The shipped network was not (tried, not adopted: docs/experiments.md). The frame and the colour cast
also drive the "another kind of dermatoscope" note (device_note).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

# The frame is looked for on a copy this many pixels on its long side: enough for a rim a few pixels
# wide, and a few milliseconds on a 600x450 original.
PROBE_SIDE = 128
# A pixel is dark when its luma is below this share of the bright part of the image's centre (its 75th
# percentile), or below DARK_FLOOR outright; the frame is the dark pixels connected to the border.
DARK_SHARE = 0.25
DARK_FLOOR = 20.0
# Frames covering less than this share of the image are left alone (a dark corner, a shadow); more
# than MAX_FRAME is no frame but a dark image (or a dark lesion touching the border everywhere).
MIN_FRAME = 0.02
MAX_FRAME = 0.8
RIM_PIXELS = 6  # how far inside the field the fill colour is sampled (pixels of the full image)

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def frame_mask(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) bool: the dark pixels connected to the image's border."""
    luma = pixels.astype(np.float32) @ _LUMA
    h, w = luma.shape
    centre = luma[h // 4: max(h // 4 + 1, 3 * h // 4), w // 4: max(w // 4 + 1, 3 * w // 4)]
    dark = luma < max(DARK_FLOOR, DARK_SHARE * float(np.percentile(centre, 75)))
    regions, count = ndimage.label(dark)
    if count == 0:
        return np.zeros((h, w), bool)
    touching = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    return np.isin(regions, touching[touching > 0])


def frame_share(image: Image.Image) -> float:
    """The share (0-1) of ``image`` that is a dark frame around the field of view."""
    return float(frame_mask(_probe(image)).mean())


def _probe(image: Image.Image) -> np.ndarray:
    scale = PROBE_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))


def crop_to_field(image: Image.Image) -> Image.Image:
    """``image`` cropped to the bounding box of its field of view, the frame left inside the box painted
    with the skin colour at the field's rim (the median of a ring just inside it). An image without a
    frame (or that is nearly all dark) comes back as it was, converted to RGB."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    probe = _probe(image)
    frame = frame_mask(probe)
    share = float(frame.mean())
    if not MIN_FRAME <= share <= MAX_FRAME:
        return image
    rows, cols = np.flatnonzero((~frame).any(axis=1)), np.flatnonzero((~frame).any(axis=0))
    sx, sy = image.width / probe.shape[1], image.height / probe.shape[0]
    box = (int(cols[0] * sx), int(rows[0] * sy), min(image.width, int(np.ceil((cols[-1] + 1) * sx))),
           min(image.height, int(np.ceil((rows[-1] + 1) * sy))))
    cropped = np.array(image.crop(box))
    # One probe pixel wider: the frame's soft inner edge would otherwise stay as a thin dark ring.
    painted = ndimage.binary_dilation(frame, iterations=1)
    mask = np.asarray(Image.fromarray(painted.astype(np.uint8) * 255).resize(image.size, Image.Resampling.BILINEAR)
                      .crop(box)) > 64
    if mask.any():
        field = ~mask
        rim = field & ndimage.binary_dilation(mask, iterations=RIM_PIXELS)
        source = cropped[rim] if rim.any() else cropped[field]
        if len(source):
            cropped[mask] = np.median(source, axis=0).astype(np.uint8)
    return Image.fromarray(cropped)


# -- does the device look like the archive's? ------------------------------------------------------
#
# Measured on every third archive image (3,339 of 10,015; benchmarks/bench_device.py): the illuminant's
# chromaticity (shades of grey, power 6: log(R/G), log(B/G)) has this mean and covariance, and 99% of the images lie within a Mahalanobis distance of 3.08; 99% have less than 9.6%
# of their area in a dark frame. Of the external dermoscopy (483 images of other institutions), 10.6%
# lie beyond the colour bound and 6.6% have a frame over 5%.
ARCHIVE_ILLUMINANT_MEAN = np.array([0.290, 0.052])
ARCHIVE_ILLUMINANT_COV = np.array([[0.02407, -0.00155], [-0.00155, 0.00450]])
ILLUMINANT_BOUND = 3.08
FRAME_BOUND = 0.096


# The short words the window and the command line put beside a suggestion that device_note qualifies.
DEVICE_CARE = "Another kind of dermatoscope? Judge with extra care"


def illuminant(pixels: np.ndarray, power: float) -> np.ndarray:
    """(3,) the illuminant of (H, W, 3) pixels (0-255, in the caller's float dtype) by shades of grey
    (Finlayson and Trezzi): each channel's power mean, in 0-1. learned.shades_of_grey takes it out."""
    return np.power(np.mean(np.power(pixels / 255.0, power), axis=(0, 1)), 1.0 / power)


def illuminant_chroma(image: Image.Image) -> np.ndarray:
    """(2,) log(R/G), log(B/G) of ``image``'s illuminant as shades of grey (power 6) estimates it."""
    x = np.asarray(image.convert("RGB").resize((100, 75), Image.Resampling.BILINEAR), np.float64)
    light = np.maximum(illuminant(x, 6.0), 1e-4)
    return np.array([np.log(light[0] / light[1]), np.log(light[2] / light[1])])


def device_note(image: Image.Image) -> str | None:
    """A sentence when ``image``'s frame or colour cast is unlike nearly every archive image's (another
    device: its neighbours deserve extra care), else None. Not the "unfamiliar" warning: the image is
    dermoscopy, only taken differently."""
    reasons = []
    share = frame_share(image)
    if share > FRAME_BOUND:
        reasons.append(f"a dark frame covers {share:.0%} of it, where 99% of archive images have under {FRAME_BOUND:.0%}")
    offset = illuminant_chroma(image) - ARCHIVE_ILLUMINANT_MEAN
    distance = float(np.sqrt(offset @ np.linalg.solve(ARCHIVE_ILLUMINANT_COV, offset)))
    if distance > ILLUMINANT_BOUND:
        cast = "bluer" if offset[1] > abs(offset[0]) / 2 else ("redder" if offset[0] > 0 else "greener or greyer")
        reasons.append(f"its colour cast is {cast} than nearly every archive image's")
    if not reasons:
        return None
    return ("this image looks as if it came from another kind of dermatoscope than the archive's: "
            + "; ".join(reasons) + ". dermview is less accurate on images from other devices, so judge its "
            "neighbours with extra care")
