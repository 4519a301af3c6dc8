"""Follow-up of one lesion: an earlier and a later image of it aligned, and what changed between them.

Alignment is a similarity transform (rotation, scale, shift) estimated from the two images themselves, with no
new dependency: rotations and scales are searched, coarse then fine, and each candidate's shift is found by
phase correlation, on high-passed grey copies with the lesion faded out, so that the skin around it carries the
alignment rather than the lighting or the lesion's own growth. (The Fourier-Mellin shortcut was tried first:
the image's edges and a dermatoscope's frame, which do not turn with the skin, pulled its estimates to no
rotation.) An alignment whose aligned images do not agree (normalised cross-correlation below ALIGNED_BELOW) is
refused with a sentence, never guessed.

Pure numpy/scipy/Pillow; ``dermview compare`` and the window's follow-up view show the result.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from . import lesion_measures
from .lesion_measures import LesionMeasures

WORK_LONG_SIDE = 256  # both images are aligned at this size, their long sides
ALIGNED_BELOW = 0.3  # normalised cross-correlation of the aligned high-passed images under which alignment fails
NOT_ALIGNED = ("The two images could not be aligned: they share too little of the skin around the lesion (another "
               "lesion, another magnification, or too blurred); compare them by eye.")


@dataclass(frozen=True)
class Alignment:
    """How the later image maps onto the earlier one: ``matrix`` (2, 3) takes a later pixel (x, y, 1) to the
    earlier image's pixel (x, y), both at their own full sizes. ``agreement``: the aligned images' normalised
    cross-correlation (0-1). ``aligned`` False means the estimate is not trusted (``sentence`` says why)."""

    matrix: np.ndarray
    rotation_degrees: float
    scale: float
    shift: tuple[float, float]
    agreement: float

    @property
    def aligned(self) -> bool:
        return self.agreement >= ALIGNED_BELOW

    @property
    def sentence(self) -> str | None:
        return None if self.aligned else NOT_ALIGNED

    def to_json(self) -> dict:
        return {"aligned": self.aligned, "rotation_degrees": round(self.rotation_degrees, 2),
                "scale": round(self.scale, 4), "shift_pixels": [round(v, 2) for v in self.shift],
                "agreement": round(self.agreement, 3), "reason": self.sentence}


def _work(image: Image.Image, size: tuple[int, int], lesion: np.ndarray | None = None) -> np.ndarray:
    """``image`` as a high-passed, unit-variance grey (h, w) float array at ``size`` (width, height). With the
    ``lesion``'s mask (at any size) the lesion and a margin around it fade to 0: the skin around it carries the
    alignment, so that the lesion's own growth is measured, not aligned away."""
    grey = np.asarray(image.convert("L").resize(size, Image.Resampling.BILINEAR), np.float64)
    high = grey - ndimage.gaussian_filter(grey, 6.0)
    high = (high - high.mean()) / max(float(high.std()), 1e-9)
    if lesion is not None and lesion.any():
        small = np.asarray(Image.fromarray(lesion.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)) > 0
        margin = max(2, round(0.04 * max(size)))
        around = ndimage.binary_dilation(small, iterations=margin).astype(np.float64)
        high = high * (1.0 - ndimage.gaussian_filter(around, margin / 2))
    return high


def phase_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """The shift (dy, dx) that moves ``b`` onto ``a`` (same shape), to a tenth of a pixel, and the peak's height."""
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    cross = fa * np.conj(fb)
    surface = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-12)).real
    peak = np.unravel_index(int(np.argmax(surface)), surface.shape)
    shift = []
    for axis, p in enumerate(peak):
        n = surface.shape[axis]
        before = surface[tuple((p - 1) % n if i == axis else q for i, q in enumerate(peak))]
        after = surface[tuple((p + 1) % n if i == axis else q for i, q in enumerate(peak))]
        centre = surface[peak]
        denominator = before - 2 * centre + after
        offset = 0.5 * (before - after) / denominator if abs(denominator) > 1e-12 else 0.0
        value = p + offset
        shift.append(value - n if value > n / 2 else value)
    return shift[0], shift[1], float(surface[peak])


def similarity(rotation_degrees: float, scale: float, centre: tuple[float, float],
               shift: tuple[float, float]) -> np.ndarray:
    """The (2, 3) matrix of a rotation by ``rotation_degrees`` (counter-clockwise on screen) and a ``scale`` about
    ``centre`` (x, y), then a ``shift`` (dx, dy): it takes a pixel (x, y, 1) to its new place."""
    t = math.radians(rotation_degrees)
    c, s = scale * math.cos(t), scale * math.sin(t)
    cx, cy = centre
    linear = np.array([[c, s], [-s, c]])  # y points down: counter-clockwise on screen
    offset = np.array([cx, cy]) - linear @ np.array([cx, cy]) + np.array(shift)
    return np.hstack([linear, offset[:, None]])


def warp(pixels: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], order: int = 1,
         mode: str = "constant") -> np.ndarray:
    """``pixels`` (h, w[, c]) moved by ``matrix`` (2, 3; source pixel (x, y, 1) -> target (x, y)) onto a
    ``shape`` (H, W) canvas; outside the source: 0."""
    full = np.vstack([matrix, [0, 0, 1]])
    inverse = np.linalg.inv(full)
    # scipy works in (row, col): target (r, c) -> source (r, c)
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    back = swap @ inverse @ swap
    if pixels.ndim == 2:
        return ndimage.affine_transform(pixels, back[:2, :2], back[:2, 2], output_shape=shape, order=order, mode=mode)
    return np.stack([ndimage.affine_transform(pixels[..., i], back[:2, :2], back[:2, 2], output_shape=shape,
                                              order=order, mode=mode) for i in range(pixels.shape[2])], axis=-1)


COARSE_SIDE = 96  # the first, coarse search's long side
COARSE_ROTATIONS = np.arange(-180.0, 180.0, 5.0)
COARSE_SCALES = (0.75, 0.82, 0.9, 1.0, 1.1, 1.2, 1.32)
FINE_ROTATIONS = np.arange(-3.0, 3.01, 0.75)  # around the coarse answer
FINE_SCALES = np.arange(-0.045, 0.046, 0.015)


def _search(a: np.ndarray, b: np.ndarray, rotations, scales) -> tuple[float, float, float, float, float]:
    """The rotation and scale (about the centre) of ``b`` whose phase correlation with ``a`` peaks highest, with
    the shift it found: (peak, rotation, scale, dx, dy)."""
    centre = (a.shape[1] / 2, a.shape[0] / 2)
    best = (-1.0, 0.0, 1.0, 0.0, 0.0)
    for scale in scales:
        for rotation in rotations:
            moved = warp(b, similarity(float(rotation), float(scale), centre, (0.0, 0.0)), a.shape)
            dy, dx, peak = phase_correlation(a, moved)
            if peak > best[0]:
                best = (peak, float(rotation), float(scale), dx, dy)
    return best


def align(earlier: Image.Image, later: Image.Image, earlier_lesion: np.ndarray | None = None,
          later_lesion: np.ndarray | None = None) -> Alignment:
    """The similarity transform that puts ``later`` onto ``earlier`` (see :class:`Alignment`): a coarse search of
    rotations and scales at COARSE_SIDE, refined at WORK_LONG_SIDE, each candidate's shift by phase correlation.
    With the lesions' masks, the skin around the lesion carries it (see :func:`_work`)."""
    rotation, scale = 0.0, 1.0
    for side, coarse in ((COARSE_SIDE, True), (WORK_LONG_SIDE, False)):
        factor = side / max(earlier.size)
        size = (max(8, round(earlier.width * factor)), max(8, round(earlier.height * factor)))
        a, b = _work(earlier, size, earlier_lesion), _work(later, size, later_lesion)  # later squashed to earlier's shape
        rotations = COARSE_ROTATIONS if coarse else rotation + FINE_ROTATIONS
        scales = np.asarray(COARSE_SCALES) if coarse else scale * (1 + FINE_SCALES)
        _, rotation, scale, dx, dy = _search(a, b, rotations, scales)
    centre = (size[0] / 2, size[1] / 2)
    matrix = similarity(rotation, scale, centre, (dx, dy))
    inside = warp(np.ones_like(b), matrix, a.shape, order=0) > 0.5
    agreement = _agreement(a, warp(b, matrix, a.shape), inside)
    # back to full size: later full -> work (squashed to the earlier's shape) -> earlier work -> earlier full
    to_work = np.diag([size[0] / later.width, size[1] / later.height, 1.0])
    to_full = np.diag([1 / factor, 1 / factor, 1.0])
    full = (to_full @ np.vstack([matrix, [0, 0, 1]]) @ to_work)[:2]
    rotation = (rotation + 180.0) % 360.0 - 180.0
    return Alignment(full, rotation, float(math.sqrt(abs(np.linalg.det(full[:, :2])))),
                     (float(full[0, 2]), float(full[1, 2])), agreement)


def _agreement(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> float:
    """Normalised cross-correlation of ``a`` and ``b`` where ``inside`` (at least a quarter of the image)."""
    if inside.mean() < 0.25:
        return 0.0
    x, y = a[inside], b[inside]
    x, y = x - x.mean(), y - y.mean()
    return float(max(0.0, (x @ y) / max(math.sqrt(float(x @ x) * float(y @ y)), 1e-12)))


# -- what changed ---------------------------------------------------------------------------------------

# A change beyond these is flagged for attention. Set from HAM10000's unchanged pairs (two images of one lesion,
# aligned: their area ratios' 5th-95th percentile was 0.90-1.09); benchmarks/bench_followup.py measures how often
# they flag unchanged and changed pairs (docs/evaluation.md has the figures).
AREA_GROWTH = 0.10  # the lesion's area, in the aligned frame, 10% larger or more
DIAMETER_GROWTH = 0.08  # its largest diameter 8% longer or more
# Every colour that appears is named, but only these flag: light brown and red come and go with the light and the
# pressure of the dermatoscope between two shots of one unchanged lesion; a new black, blue-grey or white area is
# what a follow-up looks for. It must cover NEW_COLOUR_SHARE of the lesion now and have been absent before.
FLAG_COLOURS = ("black", "blue-grey", "white")
NEW_COLOUR_SHARE = 0.08


@dataclass(frozen=True)
class FollowUp:
    """An earlier and a later image of one lesion, aligned, and what changed (the later relative to the earlier)."""

    alignment: Alignment
    area_ratio: float | None  # later / earlier, both in the earlier image's frame
    diameter_ratio: float | None
    overlap: float | None  # Jaccard of the two outlines in the earlier image's frame
    earlier: LesionMeasures | None
    later: LesionMeasures | None
    days: int | None = None

    @property
    def new_colours(self) -> list[str]:
        if self.earlier is None or self.later is None:
            return []
        return [c for c in self.later.colours if c not in self.earlier.colours]

    @property
    def flagged(self) -> bool:
        """A change beyond the measured thresholds (growth, or a colour that was not there); never for images
        that could not be aligned (they may not show the same lesion: the clinician compares them by eye)."""
        if not self.alignment.aligned:
            return False
        grown = (self.area_ratio is not None and self.area_ratio >= 1 + AREA_GROWTH) or \
                (self.diameter_ratio is not None and self.diameter_ratio >= 1 + DIAMETER_GROWTH)
        return bool(grown or self.worrying_colours)

    @property
    def worrying_colours(self) -> list[str]:
        """New colours that flag: FLAG_COLOURS absent before and now on NEW_COLOUR_SHARE of the lesion."""
        if self.earlier is None or self.later is None:
            return []
        return [c for c in FLAG_COLOURS
                if c in self.new_colours and self.later.colour_shares.get(c, 0.0) >= NEW_COLOUR_SHARE]

    def sentences(self) -> list[str]:
        """What changed, in plain words; never "benign"."""
        if not self.alignment.aligned:
            return [NOT_ALIGNED]
        if self.area_ratio is None or self.earlier is None or self.later is None:
            return ["The lesion could not be outlined in both images, so its size is not compared."]
        when = f" over {self.days} days" if self.days is not None else ""
        lines = [f"Area {_change(self.area_ratio)} and largest diameter {_change(self.diameter_ratio or 1.0)}"
                 f"{when}, measured with the later image aligned onto the earlier one "
                 f"(rotated {self.alignment.rotation_degrees:.0f} degrees, scaled {self.alignment.scale:.2f}x).",
                 f"Shape asymmetry {self.earlier.shape_asymmetry:.2f} then, {self.later.shape_asymmetry:.2f} now; "
                 f"border irregularity {self.earlier.border_irregularity:.2f} then, "
                 f"{self.later.border_irregularity:.2f} now.",
                 f"Colours then: {', '.join(self.earlier.colours) or 'none of the six'}; now: "
                 f"{', '.join(self.later.colours) or 'none of the six'}."]
        if self.new_colours:
            lines.append(f"New colour: {', '.join(self.new_colours)}.")
        lines.append("Changed beyond the measured thresholds: worth a closer look." if self.flagged else
                     "No measurable change (this says nothing about whether the lesion is benign).")
        return lines

    def to_json(self) -> dict:
        return {"alignment": self.alignment.to_json(), "area_ratio": _rounded(self.area_ratio),
                "diameter_ratio": _rounded(self.diameter_ratio), "overlap": _rounded(self.overlap),
                "new_colours": self.new_colours, "flagged": self.flagged, "days": self.days,
                "earlier": self.earlier.to_json() if self.earlier else None,
                "later": self.later.to_json() if self.later else None, "sentences": self.sentences()}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _change(ratio: float) -> str:
    percent = round(100 * (ratio - 1))
    return "unchanged" if percent == 0 else f"{abs(percent)}% {'larger' if percent > 0 else 'smaller'}"


def largest_diameter(mask: np.ndarray) -> float:
    """The largest distance in pixels between two points of the (H, W) bool ``mask`` (its convex hull's)."""
    points = np.argwhere(mask).astype(np.float64)
    if len(points) < 2:
        return 0.0
    if len(points) > 3:
        from scipy.spatial import ConvexHull, QhullError

        with contextlib.suppress(QhullError):  # all on one line: every point is kept
            points = points[ConvexHull(points).vertices]
    gaps = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((gaps ** 2).sum(axis=2).max()))


def compare_lesion(earlier: Image.Image, later: Image.Image, earlier_mask: np.ndarray | None,
                   later_mask: np.ndarray | None, days: int | None = None,
                   alignment: Alignment | None = None) -> FollowUp:
    """The later image aligned onto the earlier, and the lesion's change between them; masks are (H, W) bool at
    each image's own size (None: no lesion outlined there)."""
    return _compare(earlier, later, earlier_mask, later_mask, days, alignment)[0]


def _compare(earlier: Image.Image, later: Image.Image, earlier_mask: np.ndarray | None,
             later_mask: np.ndarray | None, days: int | None,
             alignment: Alignment | None) -> tuple[FollowUp, np.ndarray | None]:
    """:func:`compare_lesion`, and the later mask moved into the earlier image's frame (None when the images
    could not be aligned or a lesion was not outlined)."""
    alignment = alignment or align(earlier, later, earlier_mask, later_mask)
    earlier_measures = lesion_measures.measure(earlier, earlier_mask) if earlier_mask is not None else None
    later_measures = lesion_measures.measure(later, later_mask) if later_mask is not None else None
    if not alignment.aligned or earlier_mask is None or later_mask is None or not earlier_mask.any():
        return FollowUp(alignment, None, None, None, earlier_measures, later_measures, days), None
    moved = warp(later_mask.astype(np.float64), alignment.matrix, earlier_mask.shape) >= 0.5
    area_ratio = float(moved.sum() / earlier_mask.sum())
    before = largest_diameter(earlier_mask)
    diameter_ratio = largest_diameter(moved) / before if before > 0 else None
    union = np.logical_or(moved, earlier_mask).sum()
    overlap = float(np.logical_and(moved, earlier_mask).sum() / union) if union else None
    return FollowUp(alignment, area_ratio, diameter_ratio, overlap, earlier_measures, later_measures, days), moved


LATER_COLOUR = (255, 80, 200)  # the later visit's outline: magenta beside the earlier's cyan


def follow_up(earlier: Image.Image, later: Image.Image, days: int | None = None,
              finder=None) -> tuple[FollowUp, Image.Image, Image.Image]:
    """Outline both images (the shared outline network unless ``finder``), compare them, and draw them for a
    clinician: the earlier image with its outline, and the later one moved into the earlier's frame with its own
    outline and the earlier one over it (as it is, with its own outline only, when it could not be aligned).
    Raises DermviewError without the outline network."""
    from ..errors import DermviewError
    from .outline import NO_MODEL, REASONS, draw_outline, shared_finder

    finder = finder or shared_finder()
    if finder is None:
        raise DermviewError(REASONS[NO_MODEL])
    earlier, later = earlier.convert("RGB"), later.convert("RGB")
    earlier_mask, later_mask = finder.segment(earlier).mask, finder.segment(later).mask
    change, moved_mask = _compare(earlier, later, earlier_mask, later_mask, days, None)
    before = draw_outline(earlier, earlier_mask) if earlier_mask is not None else earlier
    if change.alignment.aligned:
        shape = (earlier.height, earlier.width)
        moved = Image.fromarray(np.clip(warp(np.asarray(later, np.float64), change.alignment.matrix, shape), 0, 255)
                                .astype(np.uint8))
    else:
        moved, moved_mask = later, later_mask
    after = draw_outline(moved, moved_mask, LATER_COLOUR) if moved_mask is not None and moved_mask.any() else moved
    if change.alignment.aligned and earlier_mask is not None:  # the earlier outline on the later image: the change
        after = draw_outline(after, earlier_mask)
    return change, before, after
