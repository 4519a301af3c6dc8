"""k-nearest-neighbour voting with an explicit answer to the class imbalance.

Each of the k nearest archive images votes for its diagnosis with weight 1 / (distance + eps), so
a near-duplicate counts more than a distant look-alike. The votes for each class are then divided
by that class's share of the archive raised to PRIOR_POWER: with 0 the archive's two in three nevi
drown every rare class; with 1 every class counts as equally likely beforehand, which trades a
lot of accuracy for recall of rare classes. The shipped value and k were chosen by lesion-grouped
cross-validation on training folds only, maximising the mean of accuracy and balanced accuracy
(`dermview evaluate` repeats that choice inside every fold; see docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..archive.codes import DX_CODES

DEFAULT_K = 21
DEFAULT_PRIOR_POWER = 0.5
K_CHOICES = (5, 9, 15, 21, 31, 45, 61)
PRIOR_POWER_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)
_EPS = 1e-3


ARCHIVE, LIBRARY = "archive", "library"  # where a neighbour comes from


@dataclass
class Neighbour:
    image_id: str  # an archive image id, or for a library case LIBRARY_IMAGE_PREFIX + its image's SHA-256
    lesion_id: str  # for a library case: "case " + its case id (each case is its own lesion)
    dx: str
    dx_type: str
    distance: float
    source: str = ARCHIVE
    case_id: str | None = None  # the practice's own case id (library neighbours only)

    def to_json(self) -> dict:
        row = {"image_id": self.image_id, "lesion_id": self.lesion_id, "dx": self.dx, "dx_type": self.dx_type,
               "distance": round(self.distance, 4), "source": self.source}
        if self.case_id is not None:
            row["case_id"] = self.case_id
        return row


@dataclass
class Prediction:
    prediction: str
    votes: dict[str, float]  # share of the corrected vote per class, sums to 1
    neighbours: list[Neighbour] = field(default_factory=list)
    scores: dict[str, float] | None = None  # vote shares made tie-free (ISIC submissions, ROC curves)

    def to_json(self) -> dict:
        return {"prediction": self.prediction,
                "votes": {k: round(v, 4) for k, v in self.votes.items()},
                "neighbours": [n.to_json() for n in self.neighbours]}


def squared_distances(points: np.ndarray, queries: np.ndarray,
                      exclude: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances (Q, N) from every query to every point.

    ``exclude``: optional boolean (Q, N) of points a query must not see (its own lesion): infinite.
    """
    if len(queries) == 1:
        # One query (the window, the command line): exact differences, so that an identical image
        # is at distance 0 rather than at the rounding error of the expanded form below.
        diff = points - queries[0]
        sq = np.einsum("ij,ij->i", diff, diff)[None, :]
    else:
        sq = (queries * queries).sum(axis=1)[:, None] - 2.0 * queries @ points.T + (points * points).sum(axis=1)[None, :]
    return sq if exclude is None else np.where(exclude, np.inf, sq)


REFINED = 512  # a one-query search's nearest candidates whose distances are recomputed exactly


def squared_norms(points: np.ndarray) -> np.ndarray:
    """Each point's squared length (N,) float64, for :func:`squared_distances_to`."""
    return np.einsum("ij,ij->i", points, points, dtype=np.float64)


def squared_distances_to(points: np.ndarray, norms: np.ndarray, query: np.ndarray,
                         exclude: np.ndarray | None = None) -> np.ndarray:
    """Squared distances (1, N) from one ``query`` (d,) to ``points`` (N, d) whose ``norms`` are precomputed.

    One matrix product ranks every point; the REFINED nearest are then recomputed from differences, exactly as
    :func:`squared_distances` does, so the neighbours a vote reads and their distances are the exact ones (an
    identical image is at 0). The others keep the product's rounding, which can only move the tie-breaking
    closeness of a class with no point among the REFINED. ``exclude``: optional boolean (1, N), as there."""
    ranked = norms - 2.0 * (points @ query.astype(points.dtype)) + float(query @ query)
    sq = ranked.astype(np.result_type(points, query), copy=False)  # the difference-based search's precision
    if exclude is not None:
        sq = np.where(exclude[0], np.inf, sq)
    near = np.argpartition(sq, REFINED - 1)[:REFINED] if len(sq) > REFINED else np.arange(len(sq))
    near = near[np.isfinite(sq[near])]
    sq[near] = squared_distances(points[near], query[None])[0]
    return sq[None, :]


def nearest(points: np.ndarray, queries: np.ndarray, k: int,
            exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (Q, k) and Euclidean distances of the k nearest points, nearest first."""
    return nearest_in(squared_distances(points, queries, exclude), k)


def nearest_in(sq: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest, nearest first, from squared distances (Q, N) already computed."""
    k = min(k, sq.shape[1])
    idx = np.argpartition(sq, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(sq, idx, axis=1)
    order = np.argsort(part, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    dist = np.sqrt(np.maximum(np.take_along_axis(part, order, axis=1), 0.0))
    return idx, dist


def _tally(labels: np.ndarray, idx: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """Sum the neighbours' weights per class: (Q, C)."""
    votes = np.zeros((idx.shape[0], n_classes))
    np.add.at(votes, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), labels[idx].ravel()), weights.ravel())
    return votes


def plain_vote(labels: np.ndarray, idx: np.ndarray, n_classes: int = len(DX_CODES)) -> np.ndarray:
    """One equal vote per neighbour (the raw-pixel baseline's rule): vote counts (Q, C)."""
    return _tally(labels, idx, np.ones(idx.shape), n_classes)


def vote(labels: np.ndarray, idx: np.ndarray, dist: np.ndarray, prior: np.ndarray,
         prior_power: float, n_classes: int = len(DX_CODES)) -> np.ndarray:
    """Vote shares (Q, C) from neighbour labels, distance-weighted and prior-corrected."""
    weights = 1.0 / (dist + _EPS)
    weights = np.where(np.isfinite(dist), weights, 0.0)
    votes = _tally(labels, idx, weights, n_classes) / np.maximum(prior, 1e-6) ** prior_power
    total = votes.sum(axis=1, keepdims=True)
    return np.divide(votes, total, out=np.full_like(votes, 1.0 / n_classes), where=total > 0)


def decide(shares: np.ndarray) -> np.ndarray:
    """The predicted class per row; exact ties go to the earlier class in DX_CODES."""
    return np.argmax(shares, axis=1)


# -- scores without ties -------------------------------------------------------------------------------------

def tie_free_scores(shares: np.ndarray, class_distance: np.ndarray) -> np.ndarray:
    """Vote shares made strictly ordered within each row, for ROC curves and ISIC submissions.

    Classes with equal shares (typically several with no vote at all) are ordered by how close the
    nearest archive image of that class is; the shares themselves move by at most 0.001.
    """
    closeness = np.exp(-(class_distance - class_distance.min(axis=1, keepdims=True)))
    closeness /= closeness.sum(axis=1, keepdims=True)
    scores = 0.999 * shares + 0.001 * closeness
    # Exact ties left (identical distances) are broken by class order, far below any real difference.
    scores = scores + np.arange(len(DX_CODES))[::-1] * 1e-9
    return np.clip(scores, 0.0, 1.0)


def class_distances_in(sq: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Distance to the nearest point of each class, from squared distances (Q, N) already computed."""
    out = np.full((sq.shape[0], len(DX_CODES)), np.inf)
    for c in range(len(DX_CODES)):
        members = labels == c
        if members.any():
            out[:, c] = np.sqrt(np.maximum(sq[:, members].min(axis=1), 0.0))
    finite_max = np.nanmax(np.where(np.isfinite(out), out, np.nan)) if np.isfinite(out).any() else 1.0
    return np.where(np.isfinite(out), out, finite_max * 2)


def knn_vote(sq: np.ndarray, labels: np.ndarray, k: int, prior: np.ndarray,
             prior_power: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The whole vote from squared distances (Q, N) to labelled points (N,): the neighbours (idx, dist:
    (Q, k)), the vote shares (Q, C) and the tie-free scores (Q, C). The window, the command line and
    every evaluation go through here, so they can never count votes differently."""
    idx, dist = nearest_in(sq, k)
    shares = vote(labels, idx, dist, prior, prior_power)
    scores = tie_free_scores(shares, class_distances_in(sq, labels))
    return idx, dist, shares, scores


def class_prior(labels: np.ndarray) -> np.ndarray:
    """Each diagnosis's share of these labels (C,)."""
    return np.bincount(labels, minlength=len(DX_CODES)) / max(len(labels), 1)


def nearest_other_lesion_distances(points: np.ndarray, lesions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Sorted distances (S,) from the ``rows`` (S,) of ``points`` (N, d) to their nearest point of another
    lesion (``lesions`` (N,)): the yardstick that makes a distance readable (dermview.model.explain)."""
    out = np.empty(len(rows), np.float32)
    for start in range(0, len(rows), 256):
        chunk = rows[start:start + 256]
        sq = squared_distances(points, points[chunk], lesions[chunk][:, None] == lesions[None, :])
        out[start:start + len(chunk)] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    return np.sort(out[np.isfinite(out)])
