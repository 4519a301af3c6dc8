"""A projection of the colour-texture features learned from the archive labels.

Standardise the features, map them through an approximate RBF kernel (Nystroem) and keep the six
kernel-LDA directions that separate the seven diagnoses best; then append the standardised
features themselves at a small weight, so that near-identical images (an original and its copy)
stay close together while the diagnostic directions dominate the distances.

Measured on the archive, lesion-grouped 5-fold, k=31, prior power 0.5 (accuracy / balanced
accuracy): standardised features 0.711 / 0.519, linear LDA 0.707 / 0.552, this kernel-LDA space
0.743 / 0.599 (benchmarks/bench_model_choices.py). Fitting uses scikit-learn; applying the fitted
projection is plain numpy on arrays stored in the index (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

PROJECTION_VERSION = "knlda-4"
KERNEL_COMPONENTS = 1000
RAW_WEIGHT = 0.2  # weight of the standardised features appended to the LDA directions
# RBF width: gamma = GAMMA_SCALE / number of features. Lesion-grouped CV on the archive (k=31, prior
# power 0.5): 0.25 -> 0.741 / 0.596, 0.5 -> 0.743 / 0.599, 1 -> 0.740 / 0.581, 2 -> 0.731 / 0.546
# (accuracy / balanced accuracy).
GAMMA_SCALE = 0.5


@dataclass
class Projection:
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    components: np.ndarray  # (M, D) Nystroem landmarks, standardised space
    normalization: np.ndarray  # (M, M)
    gamma: float
    scalings: np.ndarray  # (M, r) LDA directions
    raw_weight: float
    # A combined space (fit_combined): the first ``passthrough`` feature columns (an embedding already
    # made for KNN) are kept as they are, and the projection of the rest, scaled to length
    # ``tail_weight``, is appended. 0: every column is projected (mean, scale, ... describe those).
    passthrough: int = 0
    tail_weight: float = 1.0

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, np.float32) - self.mean) / self.scale

    def transform(self, features: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(features, np.float32))
        if self.passthrough:
            head, tail = x[:, :self.passthrough], self._project(x[:, self.passthrough:])
            tail *= self.tail_weight / np.maximum(np.linalg.norm(tail, axis=1, keepdims=True), 1e-12)
            return np.hstack([head, tail]).astype(np.float32)
        return self._project(x)

    def _project(self, features: np.ndarray) -> np.ndarray:
        z = self.standardise(features)
        sq = (z * z).sum(axis=1)[:, None] + (self.components * self.components).sum(axis=1)[None, :]
        kernel = np.exp(-self.gamma * np.maximum(sq - 2.0 * z @ self.components.T, 0.0))
        lda = (kernel @ self.normalization.T) @ self.scalings
        return np.hstack([lda, self.raw_weight * z]).astype(np.float32)

    @classmethod
    def identity(cls, dim: int) -> Projection:
        """No projection: for features that are already a metric space (the learned embedding).
        With no landmarks and no LDA directions, transform() returns the features unchanged."""
        return cls(mean=np.zeros(dim, np.float32), scale=np.ones(dim, np.float32),
                   components=np.zeros((0, dim), np.float32), normalization=np.zeros((0, 0), np.float32),
                   gamma=0.0, scalings=np.zeros((0, 0), np.float32), raw_weight=1.0)

    @property
    def is_identity(self) -> bool:
        return (not self.passthrough and self.components.shape[0] == 0 and self.raw_weight == 1.0
                and not self.mean.any())

    # -- storage: flat arrays, so the index loads without pickle -----------------------------
    def to_arrays(self, prefix: str = "emb_") -> dict[str, np.ndarray]:
        return {f"{prefix}mean": self.mean, f"{prefix}scale": self.scale,
                f"{prefix}components": self.components, f"{prefix}normalization": self.normalization,
                f"{prefix}gamma": np.float64(self.gamma), f"{prefix}scalings": self.scalings,
                f"{prefix}raw_weight": np.float64(self.raw_weight), f"{prefix}passthrough": np.int64(self.passthrough),
                f"{prefix}tail_weight": np.float64(self.tail_weight)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "emb_") -> Projection:
        return cls(mean=arrays[f"{prefix}mean"], scale=arrays[f"{prefix}scale"],
                   components=arrays[f"{prefix}components"],
                   normalization=arrays[f"{prefix}normalization"],
                   gamma=float(arrays[f"{prefix}gamma"]), scalings=arrays[f"{prefix}scalings"],
                   raw_weight=float(arrays[f"{prefix}raw_weight"]),
                   # (indexes written before combined spaces existed have neither: a plain projection)
                   passthrough=int(arrays[f"{prefix}passthrough"]) if f"{prefix}passthrough" in arrays else 0,
                   tail_weight=float(arrays[f"{prefix}tail_weight"]) if f"{prefix}tail_weight" in arrays else 1.0)


def _rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.exp(-gamma * np.maximum(sq, 0.0))


def ledoit_wolf(x: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance of the rows of ``x`` (as sklearn.covariance.ledoit_wolf).

    The shrinkage needs sum_i |x_i|^4, which scikit-learn computes as a d x d product of squared
    data; from the row norms it costs O(n d) instead of O(n d^2), half the fitting time here.
    """
    n, d = x.shape
    x = x - x.mean(axis=0)
    cov = (x.T @ x) / n
    mu = np.trace(cov) / d
    if n < 2:
        return mu * np.eye(d)
    row_sq = np.einsum("ij,ij->i", x, x)
    frob = float(np.sum(cov * cov))
    beta = (float(np.sum(row_sq * row_sq)) / n - frob) / (d * n)
    delta = (frob - 2.0 * mu * np.trace(cov) + d * mu * mu) / d
    shrinkage = 0.0 if delta <= 0 else min(max(beta, 0.0), delta) / delta
    out = (1.0 - shrinkage) * cov
    out.flat[:: d + 1] += shrinkage * mu
    return out


def _shrunk_covariance(x: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf covariance of standardised columns, scaled back (scikit-learn's LDA 'auto')."""
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return scale[:, None] * ledoit_wolf((x - x.mean(axis=0)) / scale) * scale[None, :]


def _lda_directions(x: np.ndarray, labels: np.ndarray, rank: int) -> np.ndarray:
    """The shrinkage-LDA eigen solution (as scikit-learn's solver='eigen', shrinkage='auto').

    Solved with numpy's LAPACK, which releases the GIL: scipy.linalg.eigh holds it for a quarter of
    a second on 1,000 dimensions, long enough to freeze the window while an index builds.
    """
    classes, counts = np.unique(labels, return_counts=True)
    priors = counts / counts.sum()
    within = sum(p * _shrunk_covariance(x[labels == c]) for c, p in zip(classes, priors))
    between = _shrunk_covariance(x) - within
    # Generalised symmetric problem between v = w within v via Cholesky: within = L L^T.
    lower_inv = np.linalg.inv(np.linalg.cholesky(within))
    values, vectors = np.linalg.eigh(lower_inv @ between @ lower_inv.T)
    order = np.argsort(values)[::-1][:rank]
    return lower_inv.T @ vectors[:, order]


def fit_kernel_lda(features: np.ndarray, labels: np.ndarray, *, components: int = KERNEL_COMPONENTS,
                  raw_weight: float = RAW_WEIGHT, seed: int = 0) -> Projection:
    """Fit on training features (N, D) and integer labels (N,). Deterministic for a given seed.

    Equivalent to scikit-learn's Nystroem(rbf) followed by LinearDiscriminantAnalysis(solver='eigen',
    shrinkage='auto'), written with numpy so that the heavy linear algebra runs without the GIL.

    The decompositions run on one BLAS thread. OpenBLAS's threads wait for each other by spinning, and
    when anything else wants a core they crawl: fitting 1,520 archive images took 17 s with two threads
    while one other process was busy, 1.6 s with one (on an idle machine 1.0 s against 1.4 s, and a
    quarter less CPU). A workstation is rarely idle, and the window has its own threads.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_kernel_lda(features, labels, components=components, raw_weight=raw_weight, seed=seed)


def identity_fit(features: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> Projection:
    """No fitting: for features that are already a metric space."""
    return Projection.identity(np.asarray(features).shape[1])


def fit_combined(features: np.ndarray, labels: np.ndarray, *, passthrough: int, tail_weight: float,
                 seed: int = 0) -> Projection:
    """A space of two descriptions side by side: the first ``passthrough`` columns of ``features`` (N, D)
    as they are, then the kernel-LDA projection of the other columns (fitted on these images), scaled to
    length ``tail_weight``. With unit-length leading columns, ``tail_weight`` is how much the second
    description counts against the first in every distance."""
    tail = fit_kernel_lda(np.asarray(features)[:, passthrough:], labels, seed=seed)
    return replace(tail, passthrough=passthrough, tail_weight=tail_weight)


def _fit_kernel_lda(features: np.ndarray, labels: np.ndarray, *, components: int, raw_weight: float,
                    seed: int) -> Projection:
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (features - mean) / scale
    gamma = GAMMA_SCALE / z.shape[1]
    m = min(components, len(z))
    landmarks = z[np.random.RandomState(seed).permutation(len(z))[:m]]  # as sklearn's Nystroem picks them
    u, singular, vt = np.linalg.svd(_rbf_kernel(landmarks, landmarks, gamma))
    normalization = (u / np.sqrt(np.maximum(singular, 1e-12))) @ vt
    mapped = _rbf_kernel(z, landmarks, gamma) @ normalization.T
    rank = min(len(np.unique(labels)) - 1, m)
    scalings = _lda_directions(mapped, labels, rank)
    return Projection(mean=mean.astype(np.float32), scale=scale.astype(np.float32),
                     components=landmarks.astype(np.float32), normalization=normalization.astype(np.float32),
                     gamma=gamma, scalings=scalings.astype(np.float32), raw_weight=raw_weight)
