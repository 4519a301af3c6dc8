"""The lesion's outline: a segmentation network (ONNX) that finds the lesion in a dermoscopic image.

The network is trained by ``training/train_outline.py`` on HAM10000's published masks (lesion-grouped,
one fold held out) and shipped as ``dermview/resources/models/dermview-outline.onnx`` with a JSON sidecar
(its held-out Jaccard figures and the archive's lesion measures by diagnosis, lesion_measures). It reads
the image squashed to INPUT_SHAPE and answers with a probability per pixel; :func:`segment` turns that
into one lesion at the image's own size, or says why there is none. The published masks are never an
input: a new image has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from ..archive.masks import as_mask
from ..errors import DermviewError
from . import lesion_measures
from .field import frame_mask
from .lesion_measures import LesionMeasures
from .runtime import shared_session, to_network_input

MODEL_NAME = "dermview-outline"
ENV_MODEL = "DERMVIEW_OUTLINE_MODEL"  # points dermview at another .onnx (tests, retrained models)
# (width, height) the outline network reads: the archive's 4:3 frame, as a multiple of 16.
INPUT_SHAPE = (192, 144)
THRESHOLD = 0.5  # a pixel is lesion when the network gives it at least this probability
# Less than this share of the image is no lesion worth outlining (a speck, a hair's shadow). The
# smallest published mask covers 1.1% of its image; 0.3% leaves room for a small lesion on a wide field.
MIN_SHARE = 0.003
# A region lying mostly on the dark frame, or mostly in the image's outer band, is the frame or a
# corner's shadow, not a lesion.
BORDER_BAND = 0.08
MOSTLY = 0.6
# A lesion differs from the skin around it: the mean colour inside the outline and in a ring just outside it
# (RING_SHARE of the long side wide) must be at least MIN_CONTRAST apart (CIELAB delta E). On every tenth
# archive image (1,002) the least contrast was 3.1 and the 0.5th percentile 4.4; a flat picture has 0.
MIN_CONTRAST = 2.0
RING_SHARE = 0.04

NO_LESION = "no_lesion"
ONLY_BORDER = "only_border"
NO_MODEL = "no_model"
NOT_DERMOSCOPY = "not_dermoscopy"
REASONS = {
    NO_LESION: "No lesion was found in this image, so no outline is drawn.",
    ONLY_BORDER: "Only the image's border or the dermatoscope's frame was found, not a lesion, so no outline is drawn.",
    NO_MODEL: "The outline network is not installed or cannot run here, so no outline is drawn.",
    NOT_DERMOSCOPY: "The image does not look like dermoscopy, so no outline is drawn.",
}


@dataclass(frozen=True)
class Outline:
    """A lesion found in an image: ``mask`` (H, W) bool at the image's own size; or None, and ``reason``
    (a key of REASONS) saying why."""

    mask: np.ndarray | None
    reason: str | None = None

    @property
    def found(self) -> bool:
        return self.mask is not None

    @property
    def sentence(self) -> str | None:
        return REASONS.get(self.reason) if self.reason else None


def prepare(image: Image.Image) -> np.ndarray:
    """An RGB image -> (144, 192, 3) uint8, squashed to INPUT_SHAPE (a portrait image is squashed too;
    :func:`segment` turns it first)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image.resize(INPUT_SHAPE, Image.Resampling.BILINEAR), np.uint8)


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A published mask file -> (H, W) bool, resized to ``size`` (width, height) when given."""
    with Image.open(path) as mask:
        return as_mask(mask, size)


def jaccard(found: np.ndarray | None, truth: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks; no mask found counts as an empty one."""
    if found is None:
        found = np.zeros_like(truth)
    union = np.logical_or(found, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(found, truth).sum() / union)


def keep_lesion(probability: np.ndarray, pixels: np.ndarray) -> Outline:
    """(H, W) float probability and the (H, W, 3) uint8 image it belongs to -> the lesion: the largest
    connected region above THRESHOLD with its holes filled, unless it is too small or lies on the border.
    The finder runs it at the network's resolution (:func:`scaled_region` then draws the edge at the image's)."""
    regions, count = ndimage.label(probability >= THRESHOLD)
    if count == 0:
        return Outline(None, NO_LESION)
    sizes = np.bincount(regions.ravel())[1:]
    largest = regions == (int(np.argmax(sizes)) + 1)
    area = int(largest.sum())
    if area < MIN_SHARE * largest.size:
        return Outline(None, NO_LESION)
    h, w = largest.shape
    band_y, band_x = max(1, round(h * BORDER_BAND)), max(1, round(w * BORDER_BAND))
    inner = np.zeros_like(largest)
    inner[band_y:h - band_y, band_x:w - band_x] = True
    on_frame = (largest & frame_mask(pixels)).sum()
    if on_frame >= MOSTLY * area or (largest & ~inner).sum() >= MOSTLY * area:
        return Outline(None, ONLY_BORDER)
    filled = ndimage.binary_fill_holes(largest)
    if contrast(pixels, filled) < MIN_CONTRAST:
        return Outline(None, NO_LESION)
    return Outline(filled)


def contrast(pixels: np.ndarray, mask: np.ndarray) -> float:
    """CIELAB distance between the mean colour inside ``mask`` and in a ring just outside it, on a copy of at
    most 200 pixels on the long side; infinite when the mask leaves no ring (it fills the image)."""
    scale = min(1.0, 200 / max(mask.shape))
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    small = as_mask(mask, size)
    if not small.any():
        return float("inf")
    ring = ndimage.binary_dilation(small, iterations=max(1, round(RING_SHARE * max(size)))) & ~small
    if not ring.any():
        return float("inf")
    lab = lesion_measures.srgb_to_lab(np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)))
    return float(np.linalg.norm(lab[small].mean(axis=0) - lab[ring].mean(axis=0)))


def default_model_path() -> Path | None:
    from ..paths import shipped_model

    return shipped_model(MODEL_NAME, ENV_MODEL)


@lru_cache(maxsize=4)
def _read_card(path: Path, mtime_ns: int) -> dict:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def model_card(path: Path | None = None) -> dict:
    """The outline network's sidecar (held-out Jaccard figures, the archive's measures by diagnosis); {} without."""
    path = path or default_model_path()
    sidecar = path.with_suffix(".json") if path else None
    if sidecar is None or not sidecar.is_file():
        return {}
    return _read_card(sidecar.resolve(), sidecar.stat().st_mtime_ns)


class OutlineFinder:
    """Finds the lesion in images with the outline network. Thread-compatible: one onnxruntime session per
    file for the process, runs are thread-safe. Raises DermviewError when the file cannot be run."""

    def __init__(self, path: Path | None = None, threads: int = 1):
        path = path or default_model_path()
        if path is None or not path.is_file():
            raise DermviewError(REASONS[NO_MODEL])
        try:
            import onnxruntime  # noqa: F401
        except Exception as exc:  # ImportError, or a broken native library: the rest of dermview still works
            raise DermviewError(REASONS[NO_MODEL]) from exc

        self.path = path
        self._session = shared_session(path.resolve(), f"outline-{path.stat().st_mtime_ns}", threads,
                                        what="outline network")
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(N, 144, 192, 3) uint8 from :func:`prepare` -> (N, 144, 192) float32 lesion probabilities."""
        return self._session.run(None, {self._input: to_network_input(batch)})[0][:, 0]

    def segment(self, image: Image.Image) -> Outline:
        """The lesion in ``image``, its mask at the image's own size (width x height). The region is chosen and
        checked at the network's resolution; only the chosen region's edge is drawn at the image's."""
        image = image.convert("RGB") if image.mode != "RGB" else image
        portrait = image.height > image.width
        upright = image.transpose(Image.Transpose.ROTATE_90) if portrait else image
        small = prepare(upright)
        probability = self.probabilities(small[None])[0]
        kept = keep_lesion(probability, small)
        if kept.mask is None:
            return kept
        mask = scaled_region(probability, kept.mask, upright.size)
        return Outline(np.rot90(mask, k=-1) if portrait else mask)


def scaled_region(probability: np.ndarray, region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The (h, w) ``region`` kept from the network's (h, w) ``probability``, at ``size`` (width, height) -> (H, W)
    bool. The probabilities, not the 0/1 region, are scaled up, so the edge falls between the network's pixels;
    first every other region is set to 0 and the region's filled holes to 1, so nothing else comes back."""
    above = probability >= THRESHOLD
    only = np.where(region, np.where(above, probability, 1.0), np.where(above, 0.0, probability))
    scaled = np.asarray(Image.fromarray(only.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
    return scaled >= THRESHOLD


@lru_cache(maxsize=1)
def _finder(path: Path | None) -> OutlineFinder:
    return OutlineFinder(path)


def find_lesion(image: Image.Image) -> Outline:
    """The lesion in ``image`` by the process's shared finder; no outline, and why, when it cannot run."""
    finder = shared_finder()
    return finder.segment(image) if finder is not None else Outline(None, NO_MODEL)


def shared_finder() -> OutlineFinder | None:
    """The process's outline finder for the installed network, or None when it is not installed or cannot run."""
    try:
        return _finder(default_model_path())
    except DermviewError:
        return None


# The lesion-centred view (a preparation a similarity network may be trained with): the outline's box
# widened by a quarter of its size on each side, then to the image's own 4:3 or 3:4, never smaller than
# MIN_VIEW of the image's sides (a tiny lesion blown up to a network's input would be a blur).
VIEW_MARGIN = 0.25
MIN_VIEW = 0.4


def lesion_view(image: Image.Image, outline: Outline | None = None) -> Image.Image:
    """``image`` cropped to a box centred on its lesion (VIEW_MARGIN, MIN_VIEW), keeping its aspect; the
    whole image when no lesion is found (or the network cannot run)."""
    found = outline if outline is not None else find_lesion(image)
    if found.mask is None:
        return image
    ys, xs = np.nonzero(found.mask)
    width, height = image.size
    box_w = (xs.max() - xs.min() + 1) * (1 + 2 * VIEW_MARGIN)
    box_h = (ys.max() - ys.min() + 1) * (1 + 2 * VIEW_MARGIN)
    aspect = width / height
    box_w, box_h = max(box_w, box_h * aspect, MIN_VIEW * width), max(box_h, box_w / aspect, MIN_VIEW * height)
    box_w, box_h = min(box_w, width), min(box_h, height)
    cx, cy = (xs.max() + xs.min() + 1) / 2, (ys.max() + ys.min() + 1) / 2
    x0 = int(round(min(max(cx - box_w / 2, 0), width - box_w)))
    y0 = int(round(min(max(cy - box_h / 2, 0), height - box_h)))
    return image.crop((x0, y0, x0 + int(round(box_w)), y0 + int(round(box_h))))


@dataclass(frozen=True)
class LesionDescription:
    """A query's lesion: its outline, and (when one was found) its measures read against the archive."""

    outline: Outline
    measures: LesionMeasures | None = None
    comparison: dict | None = None  # lesion_measures.compare: {measure: {dx: share of the archive's lesions below}}
    reference: str = ""  # what the comparison is against, in words

    @property
    def mask(self) -> np.ndarray | None:
        return self.outline.mask

    def to_json(self) -> dict | None:
        """The ``"lesion"`` object of ``predict --json``, or None when no lesion was outlined."""
        if self.measures is None:
            return None
        return {**self.measures.to_json(), "compared_with_archive": self.comparison or {},
                "compared_with": self.reference}


def not_outlined(reason: str) -> LesionDescription:
    """A query left without an outline, for ``reason`` (a key of REASONS)."""
    return LesionDescription(Outline(None, reason))


def describe(image: Image.Image, finder: OutlineFinder | None = None) -> LesionDescription:
    """Outline the lesion in ``image`` and measure it (the process's shared finder unless one is given)."""
    finder = finder or shared_finder()
    if finder is None:
        return not_outlined(NO_MODEL)
    found = finder.segment(image)
    if found.mask is None:
        return LesionDescription(found)
    measures = lesion_measures.measure(image, found.mask)
    reference = model_card(finder.path).get("reference") or {}
    return LesionDescription(found, measures, lesion_measures.compare(measures, reference) if reference else None,
                             str(reference.get("source", "")))


OUTLINE_COLOUR = (0, 220, 255)  # cyan: stands out on skin, on brown and on red alike
OUTLINE_COLOUR_NAME = "cyan"


def draw_outline(image: Image.Image, mask: np.ndarray, colour: tuple[int, int, int] = OUTLINE_COLOUR) -> Image.Image:
    """A copy of ``image`` (RGB) with the border of ``mask`` ((H, W) bool at any size, scaled to the image) drawn
    on it, about 1/150 of the image's long side wide (at least 2 pixels)."""
    image = image.convert("RGB")
    if mask.shape != (image.height, image.width):
        scaled = Image.fromarray(mask.astype(np.uint8) * 255).resize(image.size, Image.Resampling.BILINEAR)
        factor = image.width / mask.shape[1]
        if factor > 1.5:  # a small mask drawn large: smooth its pixel steps away before the edge is taken
            scaled = scaled.filter(ImageFilter.GaussianBlur(factor / 2))
        mask = np.asarray(scaled) >= 128
    width = max(2, round(max(image.size) / 150))
    edge = mask & ~ndimage.binary_erosion(mask, iterations=width, border_value=0)
    pixels = np.array(image)
    pixels[edge] = colour
    return Image.fromarray(pixels)


def enlarged(image: Image.Image, display: int | None) -> Image.Image:
    """``image`` scaled up to ``display`` pixels on its long side when it is smaller (an outline drawn after
    that is a smooth line at the size it is seen, not a 200x150 image's steps magnified)."""
    if display is None or max(image.size) >= display:
        return image
    scale = display / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)


def outlined_picture(image: Image.Image, display: int | None = None) -> Image.Image:
    """``image`` with its lesion's outline drawn (the process's shared finder), or as it is when no lesion is
    found or the network is not installed; first scaled up to ``display`` pixels (enlarged) when smaller."""
    found = find_lesion(image)
    picture = enlarged(image.convert("RGB"), display)
    return draw_outline(picture, found.mask) if found.mask is not None else picture


def held_out_sentence(card: dict) -> str:
    """How well the outline network matched the published outlines of lesions it never saw, from its sidecar's
    held-out figures (benchmarks/bench_outline.py); "" without them."""
    folds = [entry for entry in card.get("held_out", []) if isinstance(entry, dict) and "network" in entry]
    if not folds:
        return ""
    n = sum(entry["network"]["n"] for entry in folds)
    mean = sum(entry["network"]["mean_jaccard"] * entry["network"]["n"] for entry in folds) / n
    which = ", ".join(str(entry["fold"]) for entry in folds)
    return (f"On {n:,} archive images of lesions it was never trained on (held-out fold{'s' if len(folds) > 1 else ''} "
            f"{which}), dermview's outline agreed with the published outlines with a mean Jaccard index of {mean:.2f} "
            "(1 is the same area); it was not checked on other clinics' dermatoscopes.")


def lesion_lines(outcome, where_drawn: str, *, compact: bool = False) -> list[str]:
    """What the window and the report say of a query's lesion (``outcome``: a session.QueryOutcome): its measures
    in words under a heading that says ``where_drawn`` the outline is, or why it has no outline; nothing for an
    unfamiliar image (its warning says enough). ``compact``: a few short lines (the window) instead of sentences."""
    lesion = outcome.lesion
    if lesion is None or outcome.muted:
        return []
    if lesion.measures is None:
        return [lesion.outline.sentence or ""]
    checked = held_out_sentence(model_card())
    words = lesion_measures.compact_lines if compact else lesion_measures.measure_lines
    return [f"The lesion, inside dermview's outline ({where_drawn}):", *words(lesion.measures, lesion.comparison),
            *([checked] if checked and not compact else [])]


PUBLISHED_COLOUR = (255, 214, 0)  # yellow: the published outline beside dermview's cyan one
PUBLISHED_COLOUR_NAME = "yellow"


def with_both_outlines(image: Image.Image, published: np.ndarray | None,
                       display: int | None = None) -> tuple[Image.Image, str]:
    """An archive image (scaled up to ``display`` pixels when smaller) with dermview's outline and, when given,
    the published one ((H, W) bool at any size) drawn on it, and a sentence saying how far the two agree
    (their Jaccard index)."""
    found = find_lesion(image)
    picture = enlarged(image.convert("RGB"), display)
    if published is not None and published.any():
        picture = draw_outline(picture, published, PUBLISHED_COLOUR)
    if found.mask is not None:
        picture = draw_outline(picture, found.mask)
    if published is None:
        words = (f"dermview's outline is drawn in {OUTLINE_COLOUR_NAME}; the archive folder holds no published outline "
                 "of this image." if found.mask is not None else found.sentence or "")
        return picture, words
    if published.shape != (image.height, image.width):
        published = as_mask(published, image.size)
    if found.mask is None:
        return picture, f"{found.sentence} The published outline is drawn in {PUBLISHED_COLOUR_NAME}."
    return picture, (f"dermview's outline ({OUTLINE_COLOUR_NAME}) and the published one ({PUBLISHED_COLOUR_NAME}) "
                     f"agree with a Jaccard index of {jaccard(found.mask, published):.2f} (1 is the same area).")
