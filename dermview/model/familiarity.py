"""Is a query a dermatoscopic image like the archive's? The "unfamiliar image" warning.

The colour-texture description of an image (dermview.model.features: colour statistics in CIELAB,
dermoscopic colours, texture, shape) is modelled as one Gaussian over a seeded sample of archive
images (standardised, Ledoit-Wolf covariance). A query whose Mahalanobis distance lies beyond what
nearly every archive image reaches (the 99.5th percentile of the sample) is unfamiliar: a photo, a
document, a mask, a screenshot. Its neighbours are then not evidence of anything, and the
suggestion is muted.

Calibrated and measured with benchmarks/bench_unfamiliar.py: fitted on 2,000 images of folds 1-4,
it fires on 1.15% of the 2,004 images of held-out fold 0 (lesions it never saw) and on 91 of 92
non-dermoscopy images (60 made: flat colours, noise, gradients, patterns, documents, diagrams,
lesion masks; 32 photos, screenshots and figures found on the machine). Each similarity fits it on
the colour-texture features from its own decode (the learned one's description ends with them):
fitted that way, the learned similarity's fires on 1.10% of fold 0 and on the same 91 of 92. This
looks at the image, not at its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .projection import ledoit_wolf

CALIBRATION_SAMPLE = 2000  # archive images the model is fitted on (seeded sample)
QUANTILE = 0.995  # of the sample's own distances: the warning fires beyond it


@dataclass(frozen=True)
class Familiarity:
    mean: np.ndarray  # (D,) of the colour-texture features
    scale: np.ndarray  # (D,)
    precision: np.ndarray  # (D, D) inverse covariance of the standardised features
    threshold: float  # distances beyond it are unfamiliar
    typical: float  # the sample's median distance, for the message

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distances (Q,) of colour-texture features (Q, D) from the archive's images."""
        z = (np.atleast_2d(features).astype(np.float64) - self.mean) / self.scale
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.precision, z), 0.0))

    def unfamiliar(self, features: np.ndarray) -> str | None:
        """Why one image (its colour-texture features (D,)) is unlike the archive, or None if it is not."""
        distance = float(self.distance(features)[0])
        if not np.isfinite(distance) or distance > self.threshold:
            return (f"its colours and texture are unlike the archive's dermatoscopic images (distance "
                    f"{distance:.0f}; {QUANTILE:.1%} of archive images lie within {self.threshold:.0f}, half within "
                    f"{self.typical:.0f}); it may not be dermoscopy of a skin lesion")
        return None

    def to_arrays(self, prefix: str = "fam_") -> dict[str, np.ndarray]:
        return {f"{prefix}mean": self.mean, f"{prefix}scale": self.scale, f"{prefix}precision": self.precision,
                f"{prefix}threshold": np.array(self.threshold), f"{prefix}typical": np.array(self.typical)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "fam_") -> Familiarity:
        return cls(mean=arrays[f"{prefix}mean"], scale=arrays[f"{prefix}scale"],
                   precision=arrays[f"{prefix}precision"], threshold=float(arrays[f"{prefix}threshold"]),
                   typical=float(arrays[f"{prefix}typical"]))


def sample_rows(n: int, *, sample: int = CALIBRATION_SAMPLE, seed: int = 0) -> np.ndarray:
    """The rows (sorted) of a seeded sample of ``n`` archive images to fit on."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))


def fit_familiarity(features: np.ndarray) -> Familiarity:
    """Fit on colour-texture features (S, D) of archive images (finite rows only)."""
    features = features[np.isfinite(features).all(axis=1)].astype(np.float64)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    z = (features - mean) / scale
    precision = np.linalg.pinv(ledoit_wolf(z), hermitian=True)
    model = Familiarity(mean, scale, precision, threshold=0.0, typical=0.0)
    own = model.distance(features)
    return Familiarity(mean, scale, precision, threshold=float(np.quantile(own, QUANTILE)),
                       typical=float(np.median(own)))
