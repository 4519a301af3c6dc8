"""Why the shipped projection: lesion-grouped 5-fold CV of KNN in a few feature spaces.

Uses the cached index (run `dermview index --archive ...` first, or this builds it). Every space is
fitted on the training folds only; k=31 and prior power 0.5 are fixed so that only the space varies.
Run: python -m benchmarks.bench_model_choices
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import require_data

from dermview.archive import open_archive
from dermview.model import evaluate, projection
from dermview.model.evaluate import FoldChoice, archive_labels, cross_validate
from dermview.model.index import load_or_build_index


class Standardised:
    """Plain standardised features (no learned projection)."""

    def __init__(self, features, labels, seed=0):
        self.mean, self.scale = features.mean(0), features.std(0) + 1e-6

    def transform(self, features):
        return (np.atleast_2d(features) - self.mean) / self.scale


class LinearLda(Standardised):
    def __init__(self, features, labels, seed=0):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        super().__init__(features, labels)
        self.lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(super().transform(features), labels)

    def transform(self, features):
        return self.lda.transform(super().transform(features))


def kernel(scale):
    def fit(features, labels, seed=0):
        saved = projection.GAMMA_SCALE
        projection.GAMMA_SCALE = scale
        try:
            return projection.fit_kernel_lda(features, labels, seed=seed)
        finally:
            projection.GAMMA_SCALE = saved
    return fit


def main() -> None:
    archive = open_archive(require_data())
    index = load_or_build_index(archive)
    labels, groups = archive_labels(archive, index.image_ids)
    spaces = [("standardised features", Standardised), ("linear LDA (6 dims)", LinearLda)]
    spaces += [(f"kernel LDA, gamma {s}/D (+ features x{projection.RAW_WEIGHT})", kernel(s)) for s in (0.25, 0.5, 1.0, 2.0)]
    original = evaluate.fit_kernel_lda
    print(f"{'space':<48} accuracy  balanced  mel recall")
    for name, fit in spaces:
        evaluate.fit_kernel_lda = fit
        try:
            report = cross_validate(index.features, labels, groups, fixed=FoldChoice(31, 0.5))
        finally:
            evaluate.fit_kernel_lda = original
        print(f"{name:<48} {report['accuracy']:8.3f}  {report['balanced_accuracy']:8.3f}  "
              f"{report['per_class']['mel']['recall']:10.3f}")


if __name__ == "__main__":
    main()
