"""How good a set of suggestions is: accuracy, balanced accuracy, per-class recall and precision, the
confusion matrix and (with scores) one-vs-rest ROC AUC. Pure functions of label arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..archive.codes import DX_CODES

N_CLASSES = len(DX_CODES)


def metrics(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None) -> dict:
    """accuracy, balanced accuracy, per-class recall/precision/n, confusion (and ROC AUC with scores).

    ``y_true``, ``y_pred``: (n,) class indices into DX_CODES; ``scores``: (n, 7) tie-free vote shares.
    """
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    out = metrics_of_confusion(confusion)
    if scores is not None:
        for i, code in enumerate(DX_CODES):
            positives = y_true == i
            auc = roc_auc_score(positives, scores[:, i]) if 0 < positives.sum() < len(y_true) else None
            out["per_class"][code]["roc_auc"] = None if auc is None else float(auc)
    return out


def metrics_of_confusion(confusion: np.ndarray) -> dict[str, Any]:
    """accuracy, balanced accuracy, per-class recall/precision/n and the matrix itself, from a (7, 7)
    confusion matrix (rows: the true diagnosis, columns: the suggestion, in DX_CODES order)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    n = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    diagonal = np.diag(confusion)
    recall = np.divide(diagonal, n, out=np.zeros(N_CLASSES), where=n > 0)
    precision = np.divide(diagonal, predicted, out=np.zeros(N_CLASSES), where=predicted > 0)
    present = n > 0
    return {
        "accuracy": float(diagonal.sum() / max(int(n.sum()), 1)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {code: {"recall": float(recall[i]), "precision": float(precision[i]), "n": int(n[i])}
                      for i, code in enumerate(DX_CODES)},
        "confusion": {"labels": list(DX_CODES), "matrix": confusion.tolist()},
    }


def pooled_metrics(parts: list[dict]) -> dict[str, Any]:
    """The metrics of several disjoint test sets taken together (e.g. held-out folds, each scored by its
    own network), from their confusion matrices: every image counts once, so a fold's share of the
    pooled figures is its share of the images. No ROC AUC: the folds' vote shares are not comparable."""
    if not parts:
        raise ValueError("There are no results to pool.")
    for part in parts:
        if part["confusion"]["labels"] != list(DX_CODES):
            raise ValueError(f"A confusion matrix lists {part['confusion']['labels']}, not {list(DX_CODES)}.")
    return metrics_of_confusion(np.sum([np.asarray(p["confusion"]["matrix"], dtype=np.int64) for p in parts], axis=0))

