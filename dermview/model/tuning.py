"""Choosing k and the vote correction, and the lesion-grouped splits they are chosen on.

One grid search serves the colour-texture cross-validation (``dermview evaluate``) and the learned
model's training run (``training/train_embedding.py``); one split function draws the held-out fold
both use, so a fold means the same images everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Mapping

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..archive.codes import DX_CODES

from .projection import Projection, fit_kernel_lda
from .knn import K_CHOICES, PRIOR_POWER_CHOICES, class_prior, decide, nearest, vote
from .metrics import metrics

K_TOLERANCE = 0.005  # objective points a smaller k may give up


@dataclass(frozen=True)
class GridPoint:
    k: int
    prior_power: float
    accuracy: float
    balanced_accuracy: float
    recall: tuple[float, ...]  # per class, in DX_CODES order

    @property
    def objective(self) -> float:
        """The mean of accuracy and balanced accuracy."""
        return 0.5 * (self.accuracy + self.balanced_accuracy)


@dataclass
class FoldChoice:
    k: int
    prior_power: float


# (labels of the indexed points (N,), neighbour indices (Q, kmax), distances (Q, kmax), class prior (C,))
NeighbourSet = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def neighbour_set(train_points: np.ndarray, train_labels: np.ndarray, query_points: np.ndarray) -> NeighbourSet:
    """The max(K_CHOICES) nearest training points of every query: enough for every k of the grid."""
    idx, dist = nearest(train_points, query_points, max(K_CHOICES))
    return train_labels, idx, dist, class_prior(train_labels)


def vote_grid(sets: list[NeighbourSet], y_true: np.ndarray) -> list[GridPoint]:
    """Every (k, prior power) of the grid scored on the queries of ``sets`` (their truths, in order)."""
    points = []
    for k in K_CHOICES:
        for power in PRIOR_POWER_CHOICES:
            pred = np.concatenate([decide(vote(lab, idx[:, :k], dist[:, :k], prior, power))
                                   for lab, idx, dist, prior in sets])
            m = metrics(y_true, pred)
            recall = tuple(m["per_class"][code]["recall"] for code in DX_CODES)
            points.append(GridPoint(k, power, m["accuracy"], m["balanced_accuracy"], recall))
    return points


def tune(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, seed: int = 0, inner_folds: int = 3,
         fit: Callable[..., Projection] = fit_kernel_lda) -> FoldChoice:
    """Choose k and the prior power by grouped cross-validation on these (training) images only."""
    splitter = StratifiedGroupKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    sets, truth = [], []
    for train, val in splitter.split(features, labels, groups):
        emb = fit(features[train], labels[train], seed=seed)
        sets.append(neighbour_set(emb.transform(features[train]), labels[train], emb.transform(features[val])))
        truth.append(labels[val])
    results = vote_grid(sets, np.concatenate(truth))
    # Prefer the smallest k that is practically as good as the best: a clinician reviews every
    # neighbour, and a few thousandths of a score are within the noise of the inner folds.
    best = max(r.objective for r in results)
    good_enough = [r for r in results if r.objective >= best - K_TOLERANCE]
    smallest_k = min(r.k for r in good_enough)
    chosen = max((r for r in good_enough if r.k == smallest_k), key=lambda r: r.objective)
    return FoldChoice(k=chosen.k, prior_power=chosen.prior_power)


def choose_on_validation(train_points: np.ndarray, train_labels: np.ndarray, val_points: np.ndarray,
                         val_labels: np.ndarray, accuracy_floor: float,
                         recall_floors: Mapping[int, float] | None = None) -> dict:
    """k and the vote correction a training run chooses on its validation lesions (``choose_from_grid``)."""
    grid = vote_grid([neighbour_set(train_points, train_labels, val_points)], val_labels)
    return choose_from_grid(grid, accuracy_floor, recall_floors)


def choose_from_grid(grid: list[GridPoint], accuracy_floor: float,
                     recall_floors: Mapping[int, float] | None = None) -> dict:
    """The validation rule over scored settings.

    ``recall_floors`` ({class index: recall}) come first: a missed melanoma costs more than any other error, so
    only settings that keep those classes' recall at their floors are considered (all of them if none does).
    Among those, the ones that also keep accuracy at ``accuracy_floor`` compete on balanced accuracy (the prior
    correction trades one for the other); if none does, the most accurate one is taken.
    {"k", "prior_power", "validation_accuracy", "validation_balanced_accuracy", "validation_recall", "rule"}."""
    floors = dict(recall_floors or {})
    recalled = [g for g in grid if all(g.recall[c] >= r for c, r in floors.items())]
    pool = recalled or grid
    named = " and ".join(f"{DX_CODES[c]} recall >= {r}" for c, r in floors.items())
    rule = "" if not floors else (f"validation {named}; then " if recalled else
                                  f"(no setting reached validation {named}) ")
    accurate = [g for g in pool if g.accuracy >= accuracy_floor]
    if accurate:
        chosen = max(accurate, key=lambda g: (g.balanced_accuracy, g.accuracy))
        rule += f"best validation balanced accuracy with validation accuracy >= {accuracy_floor}"
    else:
        chosen = max(pool, key=lambda g: (g.accuracy, g.balanced_accuracy))
        rule += f"best validation accuracy (none of them reached accuracy {accuracy_floor})"
    return {"k": chosen.k, "prior_power": chosen.prior_power, "validation_accuracy": chosen.accuracy,
            "validation_balanced_accuracy": chosen.balanced_accuracy,
            "validation_recall": {code: float(r) for code, r in zip(DX_CODES, chosen.recall)}, "rule": rule}


def held_out_split(labels: np.ndarray, groups: np.ndarray, fold: int, folds: int, seed: int):
    """(train, test) image indices of one fold of StratifiedGroupKFold(folds, shuffle, seed) over lesions."""
    splits = list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
                  .split(np.zeros(len(labels)), labels, groups))
    return splits[fold]
