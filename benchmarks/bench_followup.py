"""Follow-up of one lesion (issue 45): the alignment and the change measures, on real images.

- self-alignment: each 600x450 original against itself rotated (up to 30 degrees either way), scaled 0.8-1.25x
  and shifted (up to 30 pixels), the uncovered corners filled by reflection; the error is the largest distance
  between where nine points inside the image land and where they belong. Target: <= 3 px.
- unchanged pairs: two images of one HAM10000 lesion (`lesion_id`; 200x150 archive copies, published masks):
  aligned, how well the published outlines agree after alignment (target: mean Jaccard >= 0.80), and how often
  the change measures on the outline network's masks flag a change (target: <= 10%).
- changed pairs: an image and the same image with its lesion (by its published mask) enlarged by 20% or 40% in
  area and pasted over the same skin, or with a black blotch in the lesion, then the whole picture turned and
  moved as at a new visit; from the 200x150 archive copies and from the 600x450 originals. Flagged: target >= 70%
  at 20%, >= 90% at 40%.
- speed: outlining and comparing two 600x450 originals (both outlines, alignment, measures). Target: <= 1 s.

Run: python -m benchmarks.bench_followup [--pairs 120]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from PIL import Image

from benchmarks._common import require_data


def turned(pixels: np.ndarray, rng, shape) -> tuple[np.ndarray, np.ndarray]:
    """``pixels`` rotated, scaled and moved at random as at another visit; (new pixels, the transform)."""
    from dermview.model.followup import similarity, warp

    h, w = shape
    matrix = similarity(rng.uniform(-30, 30), rng.uniform(0.8, 1.25), (w / 2, h / 2), tuple(rng.uniform(-30, 30, 2)))
    return warp(pixels, matrix, shape, mode="reflect"), matrix


def grown(pixels: np.ndarray, mask: np.ndarray, area_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The lesion enlarged about its centre to ``area_factor`` times its area, pasted over the same skin."""
    from dermview.model.followup import similarity, warp

    cy, cx = np.argwhere(mask).mean(axis=0)
    matrix = similarity(0.0, float(np.sqrt(area_factor)), (float(cx), float(cy)), (0.0, 0.0))
    bigger = warp(mask.astype(np.float64), matrix, mask.shape) >= 0.5
    enlarged = warp(pixels, matrix, mask.shape, mode="nearest")
    return np.where(bigger[..., None], enlarged, pixels), bigger


def blotched(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A black blotch (about a tenth of the lesion) at the lesion's centre."""
    cy, cx = np.argwhere(mask).mean(axis=0)
    radius = np.sqrt(mask.sum() * 0.1 / np.pi)
    yy, xx = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    spot = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2) & mask
    out = pixels.copy()
    out[spot] = (34, 30, 30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=120)
    args = parser.parse_args()
    data = require_data()
    from dermview.archive import open_archive
    from dermview.model import outline
    from dermview.model.followup import align, compare_lesion
    from dermview.model.outline import jaccard, read_mask

    rng = np.random.default_rng(0)
    originals = sorted((data / "originals").glob("*.jpg"))
    errors, seconds = [], []
    points = np.array([[x, y] for x in (200, 300, 400) for y in (150, 225, 300)], np.float64)
    for path in originals[:40]:
        image = Image.open(path).convert("RGB")
        pixels, matrix = turned(np.asarray(image, np.float64), rng, (image.height, image.width))
        later = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        start = time.perf_counter()
        found = align(image, later)  # no lesion masks: the whole picture (here it moved as a whole)
        seconds.append(time.perf_counter() - start)
        moved = points @ matrix[:, :2].T + matrix[:, 2]
        back = moved @ found.matrix[:, :2].T + found.matrix[:, 2]
        errors.append(float(np.linalg.norm(back - points, axis=1).max()))
    errors_array = np.array(errors)
    print(f"self-alignment, {len(errors)} originals at 600x450: error median {np.median(errors_array):.2f} px, "
          f"max {errors_array.max():.2f} px, {(errors_array <= 3).mean():.0%} within 3 px (target <= 3 px); "
          f"alignment median {statistics.median(seconds) * 1000:.0f} ms")

    finder = outline.shared_finder()
    archive = open_archive(data)
    meta = archive.metadata[archive.metadata["available"]]
    lesions = [group["image_id"].tolist()[:2] for _, group in meta.groupby("lesion_id") if len(group) >= 2]
    picked = [lesions[i] for i in rng.choice(len(lesions), size=min(args.pairs, len(lesions)), replace=False)]
    jaccards, flagged, aligned, area_ratios = [], 0, 0, []
    for first, second in picked:
        a, b = archive.load_image(first), archive.load_image(second)
        mask_a, mask_b = finder.segment(a).mask, finder.segment(b).mask
        found = align(a, b, mask_a, mask_b)
        if not found.aligned:
            continue
        aligned += 1
        truth_a = read_mask(data / "segmentations" / f"{first}_segmentation.png", a.size)
        truth_b = read_mask(data / "segmentations" / f"{second}_segmentation.png", b.size)
        from dermview.model.followup import warp

        jaccards.append(jaccard(warp(truth_b.astype(np.float64), found.matrix, truth_a.shape) >= 0.5, truth_a))
        change = compare_lesion(a, b, mask_a, mask_b, alignment=found)
        flagged += change.flagged
        if change.area_ratio is not None:
            area_ratios.append(change.area_ratio)
    print(f"unchanged pairs (two images of one lesion, {len(picked)} lesions): aligned {aligned} "
          f"({aligned / len(picked):.0%}); published outlines after alignment: mean Jaccard "
          f"{np.mean(jaccards):.3f} (target >= 0.80); flagged as changed {flagged} of {aligned} "
          f"({flagged / max(aligned, 1):.0%}, target <= 10%); area ratio 5th-95th percentile "
          f"{np.percentile(area_ratios, 5):.2f}-{np.percentile(area_ratios, 95):.2f}")

    sources = {"200x150 archive copies": [(archive.load_image(first), first) for first, _ in picked[:60]],
               "600x450 originals": [(Image.open(path).convert("RGB"), path.stem) for path in originals[:60]]}
    for where, images in sources.items():
        for kind in ("grown 1.2", "grown 1.4", "black blotch"):
            hits = tried = refused = 0
            for image, image_id in images:
                truth = read_mask(data / "segmentations" / f"{image_id}_segmentation.png", image.size)
                if not truth.any():
                    continue
                pixels = np.asarray(image, np.float64)
                if kind.startswith("grown"):
                    pixels, _ = grown(pixels, truth, float(kind.split()[1]))
                else:
                    pixels = blotched(pixels, truth).astype(np.float64)
                moved, _ = turned(pixels, rng, truth.shape)
                later = Image.fromarray(np.clip(moved, 0, 255).astype(np.uint8))
                change = compare_lesion(image, later, finder.segment(image).mask, finder.segment(later).mask)
                tried += 1
                hits += change.flagged
                refused += not change.alignment.aligned
            print(f"changed pairs, {where}, {kind}: flagged {hits} of {tried} ({hits / max(tried, 1):.0%}); "
                  f"{refused} could not be aligned (never flagged: they say so), so {hits} of {tried - refused} "
                  f"aligned ({hits / max(tried - refused, 1):.0%})")

    times = []
    for first, second in zip(originals[:10], originals[10:20]):
        a, b = Image.open(first).convert("RGB"), Image.open(second).convert("RGB")
        start = time.perf_counter()
        compare_lesion(a, b, finder.segment(a).mask, finder.segment(b).mask)
        times.append(time.perf_counter() - start)
    print(f"compare two 600x450 originals (both outlines, alignment, measures): median "
          f"{statistics.median(times) * 1000:.0f} ms (target <= 1 s)")


if __name__ == "__main__":
    sys.exit(main())
