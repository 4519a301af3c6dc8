"""Plain measures of a lesion inside its outline, and how they compare with the archive's lesions.

Descriptions, not a diagnosis or a score: the share of the image the lesion covers, its asymmetry about
its two main axes by shape and by colour, how irregular its border is, and which of the six dermoscopic
colours it shows. Each is measured at the archive's own 200x150 scale (WORK_LONG_SIDE), so that a
600x450 original and a 200x150 copy of it measure alike, and read against the same measure of the
archive's lesions of each diagnosis (their published outlines, one image per lesion: the reference table
in the outline network's sidecar, written by training/outline_references.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..archive.codes import DX_CODES

WORK_LONG_SIDE = 200
# The six colours of dermoscopy, as anchor points in sRGB (a pixel takes the nearest anchor in CIELAB).
# A colour is present when at least PRESENT_SHARE of the lesion's pixels take it, as in the colour
# counts of the ABCD rule and its automated versions.
DERMOSCOPIC_COLOURS = {
    "white": (235, 232, 230),
    "red": (196, 62, 62),
    "light brown": (176, 118, 76),
    "dark brown": (98, 56, 36),
    "blue-grey": (104, 118, 142),
    "black": (34, 30, 30),
}
PRESENT_SHARE = 0.05
# Pale pink-beige, the skin showing through a lesion: a pixel nearest to it counts as none of the six
# (without it, pink skin inside the outline counted as "red" in 71% of the archive's nevi).
SKIN_ANCHOR = (214, 162, 146)
# The measures a table compares (a key, what it is called, and the word for "more of it").
COMPARED = {
    "area_share": ("Share of the image", "larger"),
    "shape_asymmetry": ("Asymmetry of shape", "more asymmetric"),
    "colour_asymmetry": ("Asymmetry of colour", "more asymmetric in colour"),
    "border_irregularity": ("Border irregularity", "more irregular"),
}


@dataclass(frozen=True)
class LesionMeasures:
    """What the outline measures. Asymmetries are (about the major axis, about the minor axis)."""

    area_share: float  # 0-1: the lesion's share of the image
    shape_asymmetry_axes: tuple[float, float]  # 0-1: the share of the lesion its mirror image misses
    colour_asymmetry_axes: tuple[float, float]  # CIELAB distance (delta E) between the halves' mean colours
    border_irregularity: float  # perimeter^2 / (4 pi area): 1 for a circle, more for a ragged border
    colour_shares: dict[str, float]  # each dermoscopic colour's share of the lesion's pixels

    @property
    def shape_asymmetry(self) -> float:
        return float(np.mean(self.shape_asymmetry_axes))

    @property
    def colour_asymmetry(self) -> float:
        return float(max(self.colour_asymmetry_axes))

    @property
    def colours(self) -> list[str]:
        """The dermoscopic colours present, in DERMOSCOPIC_COLOURS order."""
        return [name for name in DERMOSCOPIC_COLOURS if self.colour_shares.get(name, 0.0) >= PRESENT_SHARE]

    def value(self, key: str) -> float:
        return float(getattr(self, key))

    def to_json(self) -> dict:
        return {"area_share": round(self.area_share, 4),
                "shape_asymmetry": round(self.shape_asymmetry, 4),
                "shape_asymmetry_axes": [round(v, 4) for v in self.shape_asymmetry_axes],
                "colour_asymmetry": round(self.colour_asymmetry, 2),
                "colour_asymmetry_axes": [round(v, 2) for v in self.colour_asymmetry_axes],
                "border_irregularity": round(self.border_irregularity, 3),
                "colours": self.colours,
                "colour_shares": {k: round(v, 3) for k, v in self.colour_shares.items()}}


# -- measuring -------------------------------------------------------------------------------------

def working_copy(image: Image.Image, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image and its (H, W) bool mask at WORK_LONG_SIDE on the long side -> (h, w, 3) uint8, (h, w) bool."""
    scale = WORK_LONG_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    pixels = np.asarray((image if image.mode == "RGB" else image.convert("RGB")).resize(size, Image.Resampling.BILINEAR))
    scaled = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR))
    small = scaled >= 128
    return pixels, small if small.any() else scaled > 0  # a lesion thinner than a working pixel


def _linear_srgb(c: np.ndarray) -> np.ndarray:
    """sRGB values 0-1 -> linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR = _linear_srgb(np.arange(256) / 255.0)  # every uint8 level, looked up rather than raised to 2.4


def srgb_to_lab(pixels: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB -> (..., 3) float CIELAB (D65)."""
    pixels = np.asarray(pixels)
    linear = _LINEAR[pixels] if pixels.dtype == np.uint8 else _linear_srgb(pixels.astype(np.float64) / 255.0)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def principal_axes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool -> the centroid (y, x) and a (2, 2) array whose rows are the major and minor axes' unit
    directions (y, x), from the second moments of the lesion's pixels."""
    points = np.argwhere(mask).astype(np.float64)
    centre = points.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov((points - centre).T) if len(points) > 1 else np.eye(2))
    return centre, vectors[:, ::-1].T  # eigh sorts ascending: the major axis last


def mirror_overlap(mask: np.ndarray, centre: np.ndarray, axis: np.ndarray) -> float:
    """The share of the lesion's pixels whose mirror image about the line through ``centre`` along ``axis``
    falls inside the lesion too."""
    points = np.argwhere(mask).astype(np.float64)
    offset = points - centre
    mirrored = centre + 2 * (offset @ axis)[:, None] * axis - offset
    y, x = np.rint(mirrored).astype(int).T
    h, w = mask.shape
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    hits = np.zeros(len(points), bool)
    hits[inside] = mask[y[inside], x[inside]]
    return float(hits.mean())


def perimeter(mask: np.ndarray) -> float:
    """The length of the mask's border in pixels: its exposed pixel edges times pi/4 (a digital disc of radius r
    has 8r of them against a perimeter of 2 pi r)."""
    padded = np.pad(mask, 1).astype(np.int8)
    edges = np.abs(np.diff(padded, axis=0)).sum() + np.abs(np.diff(padded, axis=1)).sum()
    return float(edges) * math.pi / 4


def colour_shares(lab: np.ndarray) -> dict[str, float]:
    """(N, 3) CIELAB lesion pixels -> each dermoscopic colour's share of them (nearest anchor; skin-nearest pixels count for none)."""
    anchors = srgb_to_lab(np.array([*DERMOSCOPIC_COLOURS.values(), SKIN_ANCHOR], np.uint8))
    nearest = np.argmin(((lab[:, None, :] - anchors[None]) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(nearest, minlength=len(anchors)) / max(1, len(lab))  # the last: skin
    return {name: float(share) for name, share in zip(DERMOSCOPIC_COLOURS, counts)}


def measure(image: Image.Image, mask: np.ndarray) -> LesionMeasures:
    """The lesion inside ``mask`` ((H, W) bool at the image's size, not empty), measured at WORK_LONG_SIDE."""
    pixels, small = working_copy(image, mask)
    centre, axes = principal_axes(small)
    lab = srgb_to_lab(pixels)
    points = np.argwhere(small).astype(np.float64)
    inside = lab[small]
    colour_axes = []
    for axis in axes:
        normal = np.array([-axis[1], axis[0]])
        side = (points - centre) @ normal >= 0
        halves = [inside[side], inside[~side]]
        colour_axes.append(float(np.linalg.norm(halves[0].mean(0) - halves[1].mean(0)))
                           if all(len(h) for h in halves) else 0.0)
    area = float(small.sum())
    major, minor = (1.0 - mirror_overlap(small, centre, axis) for axis in axes)
    return LesionMeasures(area_share=float(mask.mean()), shape_asymmetry_axes=(major, minor),
                          colour_asymmetry_axes=(colour_axes[0], colour_axes[1]),
                          border_irregularity=perimeter(small) ** 2 / (4 * math.pi * area),
                          colour_shares=colour_shares(inside))


# -- reading against the archive ----------------------------------------------------------------------

def reference_table(measured: list[tuple[str, LesionMeasures]]) -> dict:
    """(diagnosis, measures) of the archive's lesions -> the reference a sidecar carries: for each compared
    measure and diagnosis, its 101 percentiles; for each colour and diagnosis, the share of lesions showing it;
    and how many lesions each diagnosis had."""
    table: dict = {"lesions": {}, "percentiles": {key: {} for key in COMPARED}, "colours": {}}
    for dx in DX_CODES:
        rows = [m for d, m in measured if d == dx]
        if not rows:
            continue
        table["lesions"][dx] = len(rows)
        for key in COMPARED:
            values = np.array([m.value(key) for m in rows])
            table["percentiles"][key][dx] = [round(float(v), 5) for v in np.percentile(values, np.arange(101))]
        table["colours"][dx] = {name: round(float(np.mean([name in m.colours for m in rows])), 4)
                                for name in DERMOSCOPIC_COLOURS}
    return table


def share_below(value: float, percentiles: list[float]) -> float:
    """The share (0-1) of a diagnosis's archive lesions whose measure is below ``value``, from their 101
    percentiles; where many lesions share ``value`` exactly (no lesion has a second colour...), half of them count."""
    xp = np.asarray(percentiles, np.float64)
    if value < xp[0]:
        return 0.0
    if value > xp[-1]:
        return 1.0
    low, high = np.searchsorted(xp, value, side="left"), np.searchsorted(xp, value, side="right")
    if high - low > 1:
        return float(min(1.0, (low + high - 1) / 2 / (len(xp) - 1)))
    return float(np.interp(value, xp, np.linspace(0, 1, len(xp))))


def compare(measures: LesionMeasures, reference: dict) -> dict:
    """How ``measures`` read against the archive: {measure: {dx: share of that diagnosis's lesions below}}
    and {"colours": {colour: {dx: share of that diagnosis's lesions showing it}}} for the colours present."""
    out: dict = {}
    for key in COMPARED:
        table = reference.get("percentiles", {}).get(key, {})
        out[key] = {dx: round(share_below(measures.value(key), table[dx]), 3) for dx in DX_CODES if dx in table}
    colours = reference.get("colours", {})
    out["colours"] = {name: {dx: colours[dx][name] for dx in DX_CODES if name in colours.get(dx, {})}
                      for name in measures.colours}
    return out


# -- in words ------------------------------------------------------------------------------------------

# The diagnoses a measure is read against in a sentence (every diagnosis is in the JSON): the three the
# archive has most lesions of, and the question a pigmented lesion raises.
READ_AGAINST = {"nv": "nevi", "mel": "melanomas", "bkl": "benign keratoses"}
NOTICE = ("These are descriptions of the outlined area, not a diagnosis or a score; the outline is dermview's own "
          "and can miss the edge: check it on the picture.")


def _against(shares: dict[str, float]) -> str:
    """{dx: share} -> "59% of the archive's nevi, 38% of its melanomas, and 41% of its benign keratoses"."""
    present = [(dx, plural) for dx, plural in READ_AGAINST.items() if dx in shares]
    parts = [f"{shares[dx]:.0%} of " + ("the archive's " if i == 0 else "its ") + plural
             for i, (dx, plural) in enumerate(present)]
    if len(parts) > 1:
        parts[-1] = "and " + parts[-1]
    return ", ".join(parts)


SHORT_NAMES = {"area_share": "Covers", "shape_asymmetry": "Shape asymmetry", "colour_asymmetry": "Colour asymmetry",
               "border_irregularity": "Border irregularity"}
SHORT_NOTICE = "Descriptions, not a diagnosis or a score; the outline can miss the edge."


def _value(measures: LesionMeasures, key: str) -> str:
    if key == "area_share":
        return f"{measures.area_share:.0%} of the image"
    if key == "colour_asymmetry":
        return f"{measures.colour_asymmetry:.1f}"
    return f"{measures.value(key):.2f}"


def compact_lines(measures: LesionMeasures, comparison: dict | None) -> list[str]:
    """The measures in a few short lines for the window, each read against the archive's lesions of the
    READ_AGAINST diagnoses ("Shape asymmetry 0.10: more than 80% / 45% / 50%"); measure_lines says the same
    in full sentences (the window's tool tip, the report)."""
    comparison = comparison or {}
    against = " / ".join(READ_AGAINST.values())
    lines = [f"Against the archive's {against}:"]
    for key in COMPARED:
        shares = comparison.get(key, {})
        read = " / ".join(f"{shares[dx]:.0%}" for dx in READ_AGAINST if dx in shares)
        word = "larger" if key == "area_share" else "more"
        lines.append(f"{SHORT_NAMES[key]} {_value(measures, key)}" + (f": {word} than {read}" if read else ""))
    colours = measures.colours
    if colours:
        seen = comparison.get("colours", {})
        rarest = min(colours, key=lambda c: seen.get(c, {}).get("nv", 1.0))  # the one nevi show least often
        shares = seen.get(rarest, {})
        read = " / ".join(f"{shares[dx]:.0%}" for dx in READ_AGAINST if dx in shares)
        lines.append(f"Colours: {', '.join(colours)}" + (f" ({rarest} shows in {read})" if read else ""))
    else:
        lines.append("Colours: none of the six covers 5% of the lesion")
    return [*lines, SHORT_NOTICE]


def measure_lines(measures: LesionMeasures, comparison: dict | None) -> list[str]:
    """The measures as plain sentences, each read against the archive's lesions when ``comparison`` is given
    (lesion_measures.compare), ending with NOTICE."""
    comparison = comparison or {}
    values = {
        "area_share": f"Covers {measures.area_share:.0%} of the image",
        "shape_asymmetry": (f"Asymmetry of shape {measures.shape_asymmetry:.2f} (the share of the lesion its mirror "
                            "image misses, about its two main axes)"),
        "colour_asymmetry": (f"Asymmetry of colour {measures.colour_asymmetry:.1f} (colour difference, CIELAB ΔE, "
                             "between its halves)"),
        "border_irregularity": f"Border irregularity {measures.border_irregularity:.2f} (1 for a circle)",
    }
    lines = []
    for key, text in values.items():
        against = _against(comparison.get(key, {}))
        lines.append(f"{text}: {COMPARED[key][1]} than {against}." if against else f"{text}.")
    colours = measures.colours
    if colours:
        line = f"Colours present: {', '.join(colours)}."
        shown = comparison.get("colours", {})
        for colour in colours:
            against = _against(shown.get(colour, {}))
            if against:
                line += f" {colour[0].upper()}{colour[1:]} shows in {against}."
        lines.append(line)
    else:
        lines.append("None of the six dermoscopic colours covers 5% of the lesion.")
    return [*lines, NOTICE]
