"""The lesion outline against HAM10000's published masks, on lesions the network never saw, and its speed.

Run: python -m benchmarks.bench_outline [--model FILE.onnx] [--fold N] [--write-card SIDECAR.json]

Scores dermview.model.outline exactly as the window runs it (the network, then keep_lesion) on the held-out
fold its sidecar names (lesion-grouped: learned.HELD_OUT_FOLDS, learned.HELD_OUT_SEED), at the archive's
200x150, beside the classical baseline (Otsu's threshold on grey levels, largest region, holes filled).
Jaccard: per image, intersection over union, a missing outline counting 0; "ISIC 2018" is the Task 1 score
(a Jaccard below 0.65 counts 0). Speed: the median over the 600x450 originals of finding the outline, and
of the measures inside it. With --write-card the figures go into the sidecar's "held_out" entry.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from benchmarks._common import require_data
from PIL import Image
from scipy import ndimage

from dermview.archive import Archive
from dermview.model import learned, lesion_measures, outline
from dermview.model.tuning import held_out_split
from dermview.outputs import atomic_file

ISIC_FLOOR = 0.65


def otsu(image: Image.Image) -> np.ndarray:
    """The classical baseline: the darker side of Otsu's threshold on grey levels, largest region, holes filled."""
    grey = np.asarray(image.convert("L"), np.float64)
    counts = np.bincount(grey.astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight = np.cumsum(counts)
    mean = np.cumsum(counts * levels)
    total, total_mean = weight[-1], mean[-1]
    between = (total_mean * weight - mean * total) ** 2 / np.maximum(weight * (total - weight), 1e-9)
    dark = grey <= int(np.argmax(between))
    regions, count = ndimage.label(dark)
    if count == 0:
        return dark
    largest = regions == (int(np.argmax(np.bincount(regions.ravel())[1:])) + 1)
    return ndimage.binary_fill_holes(largest)


def scores(values: list[float]) -> dict:
    jaccards = np.array(values)
    return {"mean_jaccard": round(float(jaccards.mean()), 4),
            "isic2018_score": round(float(np.where(jaccards < ISIC_FLOOR, 0.0, jaccards).mean()), 4),
            "median_jaccard": round(float(np.median(jaccards)), 4), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped outline network")
    parser.add_argument("--fold", type=int, default=None, help="default: the fold the sidecar says was held out")
    parser.add_argument("--write-card", type=Path, default=None)
    args = parser.parse_args()
    data = require_data()
    finder = outline.OutlineFinder(args.model)
    card = outline.model_card(finder.path)
    fold = args.fold if args.fold is not None else card.get("held_out_fold", 0)
    archive = Archive.open(data)
    meta = archive.metadata[archive.metadata["available"]].reset_index(drop=True)
    _, test = held_out_split(meta["dx"].to_numpy(), meta["lesion_id"].to_numpy(), fold, learned.HELD_OUT_FOLDS,
                             learned.HELD_OUT_SEED)
    network, baseline, none_found, by_dx = [], [], 0, {}
    for image_id, dx in zip(meta["image_id"].to_numpy()[test], meta["dx"].to_numpy()[test]):
        image = archive.load_image(image_id)
        truth = outline.read_mask(data / "segmentations" / f"{image_id}_segmentation.png", image.size)
        found = finder.segment(image)
        none_found += found.mask is None
        network.append(outline.jaccard(found.mask, truth))
        by_dx.setdefault(dx, []).append(network[-1])
        baseline.append(outline.jaccard(otsu(image), truth))
    figures = {"fold": fold, "network": scores(network), "otsu": scores(baseline), "no_outline": none_found,
               "by_diagnosis": {dx: scores(v)["mean_jaccard"] for dx, v in sorted(by_dx.items())}}
    print(f"held-out fold {fold} ({len(network):,} images of lesions the network never saw, 200x150):")
    for name in ("network", "otsu"):
        s = figures[name]
        print(f"  {name:8s} mean Jaccard {s['mean_jaccard']:.3f}  ISIC 2018 score {s['isic2018_score']:.3f}  "
              f"median {s['median_jaccard']:.3f}")
    print(f"  no outline drawn for {none_found} images; mean Jaccard by diagnosis: {figures['by_diagnosis']}")

    originals = sorted((data / "originals").glob("*.jpg"))
    seconds, measuring = [], []
    for path in originals:
        image = Image.open(path).convert("RGB")
        start = time.perf_counter()
        found = finder.segment(image)
        seconds.append(time.perf_counter() - start)
        if found.mask is not None:
            start = time.perf_counter()
            lesion_measures.measure(image, found.mask)
            measuring.append(time.perf_counter() - start)
    size_mb = finder.path.stat().st_size / 1e6
    figures["speed"] = {"segment_ms_median": round(statistics.median(seconds) * 1000, 1),
                        "measure_ms_median": round(statistics.median(measuring) * 1000, 1) if measuring else None,
                        "images": len(originals), "size": "600x450"}
    figures["model_mb"] = round(size_mb, 2)
    print(f"600x450 originals ({len(originals)}): outline median {figures['speed']['segment_ms_median']} ms, "
          f"measures median {figures['speed']['measure_ms_median']} ms (one thread); model file {size_mb:.1f} MB")
    if args.write_card:
        sidecar = json.loads(args.write_card.read_text(encoding="utf-8")) if args.write_card.is_file() else {}
        held = [entry for entry in sidecar.get("held_out", []) if entry.get("fold") != fold]
        sidecar["held_out"] = sorted([*held, figures], key=lambda entry: entry["fold"])
        with atomic_file(args.write_card) as handle:
            handle.write(json.dumps(sidecar, indent=1) + "\n")
        print(f"wrote {args.write_card}")


if __name__ == "__main__":
    main()
