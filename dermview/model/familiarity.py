"""Is a query a dermatoscopic image like the archive's? The "unfamiliar image" warning.

The colour-texture description of an image (dermview.model.features: colour statistics in CIELAB,
dermoscopic colours, texture, shape) is modelled as one Gaussian over a seeded sample of archive
images (standardised, Ledoit-Wolf covariance). A query whose Mahalanobis distance lies beyond what
nearly every archive image reaches (the 99.5th percentile of the sample) is unfamiliar: a photo, a
document, a mask, a screenshot. Its neighbours are then not evidence of anything, and the
suggestion is muted.

Calibrated and measured with benchmarks/bench_unfamiliar.py on held-out archive lesions and on made and
found non-dermoscopy pictures; the rates it reaches are in docs/evaluation.md ("The unfamiliar-image
warning"), where they are re-measured. Each similarity fits it on the colour-texture features from its own decode
(the learned one's description ends with them). This looks at the image, not at its neighbours.
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


# -- what kind of picture: dermoscopy, a clinical photograph, or something else ---------------------
#
# The Gaussian above knows only colour statistics: photos whose colours happen to resemble skin pass
# it, and so do phone photographs of skin lesions. The network's embedding
# knows what dermoscopy looks like; a three-way logistic regression on it (fitted by
# training/fit_familiarity.py on corpora that training/corpora.py assembles, and shipped beside the model
# it was fitted for) tells dermoscopy from clinical photographs and from every other kind of picture.

DERMOSCOPY, CLINICAL_PHOTO, NOT_DERMOSCOPY = "dermoscopy", "clinical_photograph", "not_dermoscopy"
IMAGE_KINDS = (DERMOSCOPY, CLINICAL_PHOTO, NOT_DERMOSCOPY)
COLOUR_TEXTURE = "colour_texture"  # the Gaussian's reason: colours and texture unlike the archive's

KIND_SENTENCES = {
    CLINICAL_PHOTO: ("this looks like a clinical photograph, not a dermoscopic image: dermview's archive holds "
                     "only dermoscopy; its neighbours are not evidence"),
    NOT_DERMOSCOPY: ("this does not look like dermoscopy of a skin lesion (more like an ordinary photo, a document, "
                     "a chart, a screenshot or another kind of medical image): its neighbours are not evidence"),
}
KIND_LABELS = {CLINICAL_PHOTO: "clinical photograph", NOT_DERMOSCOPY: "not dermoscopy",
               COLOUR_TEXTURE: "unlike the archive"}


@dataclass(frozen=True)
class Unfamiliar:
    """Why a query is not to be judged by its neighbours: ``kind`` (CLINICAL_PHOTO, NOT_DERMOSCOPY or
    COLOUR_TEXTURE) and a sentence for the user."""

    kind: str
    reason: str


@dataclass(frozen=True, eq=False)
class KindClassifier:
    """Multinomial logistic regression over a network's embedding: P(kind) for IMAGE_KINDS.

    A query is flagged when P(dermoscopy) falls below ``threshold``; the flag names whichever of the two
    other kinds is likelier."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (3, D), rows in IMAGE_KINDS order
    intercept: np.ndarray  # (3,)
    threshold: float
    model_version: str  # the embedding it was fitted on (learned.ModelInfo.version): it fits no other

    def probabilities(self, embedding: np.ndarray) -> np.ndarray:
        """(Q, 3) probabilities of IMAGE_KINDS for embeddings (Q, D) (or one (D,) -> (1, 3))."""
        z = (np.atleast_2d(embedding).astype(np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def judge(self, embedding: np.ndarray) -> Unfamiliar | None:
        """Unfamiliar(kind, sentence) for one embedding (D,) that does not look like dermoscopy, else None."""
        p = self.probabilities(embedding)[0]
        if not np.isfinite(p).all():
            return Unfamiliar(NOT_DERMOSCOPY, KIND_SENTENCES[NOT_DERMOSCOPY])
        if p[0] >= self.threshold:
            return None
        kind = CLINICAL_PHOTO if p[1] >= p[2] else NOT_DERMOSCOPY
        return Unfamiliar(kind, KIND_SENTENCES[kind])

    def to_json(self) -> dict:
        return {"kinds": list(IMAGE_KINDS), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist(), "threshold": self.threshold,
                "model_version": self.model_version}

    @classmethod
    def from_json(cls, data: dict) -> KindClassifier:
        """Raises ValueError (or KeyError, TypeError) for anything that is not a classifier of IMAGE_KINDS."""
        if list(data["kinds"]) != list(IMAGE_KINDS):
            raise ValueError(f"the classifier's kinds are {data['kinds']}, not {list(IMAGE_KINDS)}")
        model = cls(np.asarray(data["mean"], np.float64), np.asarray(data["scale"], np.float64),
                    np.asarray(data["coef"], np.float64), np.asarray(data["intercept"], np.float64),
                    float(data["threshold"]), str(data["model_version"]))
        d = model.mean.shape[0]
        if model.mean.ndim != 1 or model.scale.shape != (d,) or model.coef.shape != (3, d) or model.intercept.shape != (3,):
            raise ValueError("the classifier's arrays do not fit together")
        if not all(np.isfinite(a).all() for a in (model.mean, model.scale, model.coef, model.intercept)):
            raise ValueError("the classifier holds undefined numbers")
        return model


def muted_text(reason: str) -> str:
    """What a muted result says under its headline (the window and the report alike): the reason, and why the
    neighbours are still shown."""
    return f"{reason[:1].upper()}{reason[1:]}. The nearest archive images are shown for reference only."


def muted_headline(kind: str | None) -> str:
    """The headline of a muted result: what the query looks like, and that there is no suggestion."""
    if kind == CLINICAL_PHOTO:
        return "Clinical photograph, not dermoscopy: no suggestion"
    if kind == NOT_DERMOSCOPY:
        return "Not a dermoscopic image: no suggestion"
    return "Unfamiliar image: no suggestion"


# With the image-kind classifier this sure that a query is dermoscopy, the colour-texture Gaussian is not asked:
# it knows only the archive's two sites' colours, and called ordinary dermoscopy from other devices unfamiliar
# (docs/evaluation.md, "The unfamiliar-image warning", has the rates with and without this).
CONFIDENT_DERMOSCOPY = 0.9


def judge_query(embedding: np.ndarray | None, colour: np.ndarray | None, kinds: KindClassifier | None,
                familiarity: Familiarity | None, *, confident: float | None = CONFIDENT_DERMOSCOPY) -> Unfamiliar | None:
    """Why a query is not to be judged by its neighbours, or None: first what kind of picture its
    embedding (D,) says it is (when there is a classifier for it), then, unless the classifier is at least
    ``confident`` that it is dermoscopy (None: always), whether its colour-texture features (F,) lie beyond
    the archive's. The session's queries and the benchmark both ask this."""
    if kinds is not None and embedding is not None:
        verdict = kinds.judge(embedding)
        if verdict is not None:
            return verdict
        if confident is not None and kinds.probabilities(embedding)[0, 0] >= confident:
            return None
    if familiarity is None or colour is None:
        return None
    reason = familiarity.unfamiliar(colour)
    return None if reason is None else Unfamiliar(COLOUR_TEXTURE, reason)
