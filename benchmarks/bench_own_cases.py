"""How much a clinic's own confirmed cases help dermview on that clinic's device.

The external folder's *development* part (never its unread part) stands in for one clinic's images. It is
split in two halves by image name; each half is queried as the window queries an image, with some of the
other half's diagnosed images as confirmed cases in the case library, searched beside the archive
(dermview.model.predictor's ``extra`` points, as dermview.library.search.OwnCases gives them). Scored by
dermview.model.external.score_group, both halves pooled, against the archive alone on the same images.
The external images carry no lesion ids: two images of one lesion in different halves would flatter the
figure (the ISIC archive's early collections hold few such pairs).

Run: python -m benchmarks.bench_own_cases [--cases 25 50 100 0] [--draws 5]   (0: all of the other half)
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass

import numpy as np
from benchmarks._common import require_data

from dermview.archive import Archive
from dermview.archive.codes import DX_CODES, dx_indices
from dermview.archive.imaging import load_image_file
from dermview.model.external import DEVELOPMENT, MEL, read_external, score_group
from dermview.model.knn import LIBRARY, Neighbour
from dermview.model.session import ModelSession


@dataclass
class Cases:
    """Confirmed cases as the predictor's extra points (dermview.model.predictor.ExtraPoints)."""

    embedded: np.ndarray
    labels: np.ndarray
    names: list[str]

    def neighbour(self, row: int, distance: float) -> Neighbour:
        return Neighbour(image_id=self.names[row], lesion_id=f"case {self.names[row]}", dx=DX_CODES[self.labels[row]],
                         dx_type="histo", distance=distance, source=LIBRARY, case_id=self.names[row])


def half_of(name: str) -> int:
    """0 or 1, fixed by the name (independent of external.part_of's split)."""
    return hashlib.sha256(f"own-cases|{name}".encode()).digest()[0] & 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[25, 50, 100, 0])
    parser.add_argument("--draws", type=int, default=5, help="random draws of the cases for each number")
    parser.add_argument("--features", default="learned")
    args = parser.parse_args()
    data = require_data()
    folder = data.parent / "external" / "dermoscopy"
    session = ModelSession.open(Archive.open(data), args.features)
    images, _ = read_external(folder, DEVELOPMENT)
    features = np.stack([session.predictor.features_of(load_image_file(i.path, draft_size=session.extractor.draft_size))
                         for i in images])
    embedded = session.index.projection.transform(features)
    halves = np.array([half_of(i.name) for i in images])
    dx = [i.dx for i in images]
    print(f"{len(images)} development-part images ({sum(d == MEL for d in dx)} melanomas), halves of "
          f"{np.bincount(halves).tolist()}; {session.features} similarity, k={session.predictor.vote.k}")

    def scored(chosen_cases) -> dict:
        """Every image queried with its other half's ``chosen_cases(candidates)`` as confirmed cases."""
        predicted, mel_share = [""] * len(images), [0.0] * len(images)
        for half in (0, 1):
            candidates = [r for r in np.flatnonzero(halves != half) if dx[r] is not None]
            rows = chosen_cases(candidates)
            extra = Cases(embedded[rows], dx_indices(np.array([dx[r] for r in rows])),
                          [images[r].name for r in rows]) if len(rows) else None
            for q in np.flatnonzero(halves == half):
                prediction = session.predictor.predict_features(features[q], extra=extra)
                predicted[q], mel_share[q] = prediction.prediction, float(prediction.votes.get(MEL, 0.0))
        return score_group(dx, [i.malignant for i in images], predicted, mel_share, [False] * len(images))

    def line(label: str, groups: list[dict]) -> str:
        def mean(key):
            return float(np.mean([g[key] for g in groups]))
        spread = np.ptp([g["melanoma_auc"] for g in groups]) if len(groups) > 1 else 0.0
        return (f"{label:>36}: melanoma AUC {mean('melanoma_auc'):.3f} (range {spread:.3f}), melanomas found "
                f"{mean('melanoma_recall'):.0%}, naevi called melanoma {mean('nevus_called_melanoma'):.0%}, "
                f"balanced accuracy (mel, nv) {mean('balanced_accuracy'):.3f}")

    print(line("the archive alone", [scored(lambda candidates: [])]))
    rng = np.random.default_rng(0)
    for n in args.cases:
        if n == 0:
            print(line("all of the other half's diagnosed", [scored(lambda candidates: candidates)]))
            continue
        groups = [scored(lambda candidates, n=n: rng.choice(candidates, size=min(n, len(candidates)), replace=False))
                  for _ in range(args.draws)]
        print(line(f"{n} of the clinic's cases ({args.draws} draws)", groups))


if __name__ == "__main__":
    main()
