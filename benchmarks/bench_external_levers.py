"""Two inference levers for other clinics' dermatoscopes, measured on an external folder's development part
(never its unread part): the "nothing close" caution, and other devices' images as a second reference set.

1. **The caution.** Each development image is queried as the window queries it (ModelSession.classify_image);
   for a grid of NOTHING_CLOSE_BELOW values it prints how many missed melanomas and how many correct
   suggestions would carry a caution (the result muted, another kind of dermatoscope, or nothing close), and
   the same rate on HAM10000's held-out fold-0 images queried without their own lesion: the figures the
   threshold is chosen on (docs/evaluation.md).
2. **A second reference set.** The images of a labelled training folder (``--reference``, e.g.
   ../shared/data/other-sources) are searched beside the archive as extra labelled points (the mechanism the
   case library uses), and the development part is scored with and without them.

Run: python -m benchmarks.bench_external_levers --model NETWORK.onnx [--external ../shared/data/derm7pt]
     [--reference ../shared/data/other-sources]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchmarks._common import require_data

from dermview.archive import Archive
from dermview.archive.codes import DX_CODES, dx_indices
from dermview.archive.imaging import load_image_file
from dermview.model.explain import closeness
from dermview.model.external import DEVELOPMENT, MEL, read_external, score_group
from dermview.model.knn import Neighbour
from dermview.model.learned import ENV_MODEL
from dermview.model.session import ModelSession
from dermview.model.tuning import held_out_split

THRESHOLDS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


@dataclass
class Reference:
    """A labelled folder's images as the predictor's extra points (dermview.model.predictor.ExtraPoints)."""

    embedded: np.ndarray
    labels: np.ndarray
    names: list[str]
    source: str

    def neighbour(self, row: int, distance: float) -> Neighbour:
        return Neighbour(image_id=self.names[row], lesion_id=f"{self.source}/{self.names[row]}",
                         dx=DX_CODES[self.labels[row]], dx_type="reference", distance=distance, source=self.source)


def caution_rates(rows: list[dict], threshold: float) -> tuple[float, float, int]:
    """(share of missed melanomas with a caution, share of correct suggestions with one, missed melanomas)."""
    def cautioned(r):
        return r["muted"] or r["device"] or (r["nearest"] is not None and r["nearest"] < threshold)
    missed = [r for r in rows if r["dx"] == MEL and r["called"] != MEL]
    right = [r for r in rows if r["dx"] is not None and r["dx"] == r["called"]]
    return (float(np.mean([cautioned(r) for r in missed])) if missed else float("nan"),
            float(np.mean([cautioned(r) for r in right])) if right else float("nan"), len(missed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a held-out network (its fold is scored)")
    parser.add_argument("--external", type=Path, default=None, help="default: ../shared/data/derm7pt")
    parser.add_argument("--reference", type=Path, default=None, help="a labelled training folder to search too")
    parser.add_argument("--fold-sample", type=int, default=600, help="held-out fold-0 images for the caution rate")
    args = parser.parse_args()
    data = require_data()
    os.environ[ENV_MODEL] = str(args.model.resolve())
    external = args.external or data.parent / "derm7pt"
    archive = Archive.open(data)
    session = ModelSession.open(archive, "learned")
    calibration = session.index.neighbour_distances
    images, _ = read_external(external, DEVELOPMENT)
    print(f"{len(images)} development-part images of {external}; network {session.index.version}")

    rows, features = [], []
    for item in images:
        image = load_image_file(item.path, draft_size=session.extractor.draft_size)
        outcome = session.classify_image(image, item.path.name, stem=item.name)
        nearest = min(n.distance for n in outcome.prediction.neighbours)
        rows.append({"dx": item.dx, "malignant": item.malignant, "called": outcome.prediction.prediction,
                     "mel": float(outcome.prediction.votes.get(MEL, 0.0)), "muted": outcome.muted,
                     "device": bool(outcome.device_note), "nearest": closeness(nearest, calibration)})
        features.append(outcome.vector)
    print("caution on the external part (missed melanomas / correct suggestions with one):")
    for threshold in THRESHOLDS:
        missed, right, n = caution_rates(rows, threshold)
        print(f"  nothing close below {threshold:>4.0%}: {missed:.0%} of {n} missed melanomas, {right:.0%} of correct")

    # HAM10000's held-out fold 0, queried without its own lesion: how often the archive's own kind of image is
    # told that nothing is close.
    meta = archive.metadata[archive.metadata["available"]]
    ids = meta["image_id"].astype(str).to_numpy()
    _, test = held_out_split(dx_indices(meta["dx"].astype(str).to_numpy()), meta["lesion_id"].astype(str).to_numpy(),
                             0, 5, 0)
    sample = np.random.default_rng(0).choice(test, size=min(args.fold_sample, len(test)), replace=False)
    archive_rows = []
    for i in sample:
        outcome = session.classify_image(archive.load_image(ids[i], draft_size=session.extractor.draft_size), ids[i],
                                         stem=ids[i])
        nearest = min(n.distance for n in outcome.prediction.neighbours)
        archive_rows.append({"dx": str(meta["dx"].iloc[i]), "called": outcome.prediction.prediction,
                             "muted": outcome.muted, "device": bool(outcome.device_note),
                             "nearest": closeness(nearest, calibration)})
    print(f"caution on {len(sample)} held-out fold-0 archive images (own lesion left out):")
    for threshold in THRESHOLDS:
        missed, right, n = caution_rates(archive_rows, threshold)
        print(f"  nothing close below {threshold:>4.0%}: {missed:.0%} of {n} missed melanomas, {right:.0%} of correct")

    def scored(predicted, shares) -> dict:
        return score_group([r["dx"] for r in rows], [r["malignant"] for r in rows], predicted, shares,
                           [r["muted"] for r in rows])

    def line(label: str, group: dict) -> str:
        return (f"{label:>34}: melanoma AUC {group['melanoma_auc']:.3f}, melanomas found {group['melanoma_recall']:.0%}, "
                f"naevi called melanoma {group['nevus_called_melanoma']:.0%}, accuracy {group['accuracy']:.3f}, "
                f"balanced accuracy {group['balanced_accuracy']:.3f}")

    print(line("the archive alone", scored([r["called"] for r in rows], [r["mel"] for r in rows])))
    if args.reference:
        labelled = [i for i in read_external(args.reference)[0] if i.dx is not None]
        vectors = np.stack([session.predictor.features_of(load_image_file(i.path, draft_size=session.extractor.draft_size))
                            for i in labelled])
        reference = Reference(session.index.projection.transform(vectors), dx_indices(np.array([i.dx for i in labelled])),
                              [i.name for i in labelled], args.reference.name)
        predicted, shares = [], []
        for vector in features:
            prediction = session.predictor.predict_features(vector, extra=reference)
            predicted.append(prediction.prediction)
            shares.append(float(prediction.votes.get(MEL, 0.0)))
        print(line(f"archive + {args.reference.name} ({len(labelled)})", scored(predicted, shares)))


if __name__ == "__main__":
    main()
