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
    n = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    diagonal = np.diag(confusion)
    recall = np.divide(diagonal, n, out=np.zeros(N_CLASSES), where=n > 0)
    precision = np.divide(diagonal, predicted, out=np.zeros(N_CLASSES), where=predicted > 0)
    present = n > 0
    out: dict[str, Any] = {
        "accuracy": float(diagonal.sum() / max(len(y_true), 1)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {code: {"recall": float(recall[i]), "precision": float(precision[i]), "n": int(n[i])}
                      for i, code in enumerate(DX_CODES)},
        "confusion": {"labels": list(DX_CODES), "matrix": confusion.tolist()},
    }
    if scores is not None:
        for i, code in enumerate(DX_CODES):
            positives = y_true == i
            auc = roc_auc_score(positives, scores[:, i]) if 0 < positives.sum() < len(y_true) else None
            out["per_class"][code]["roc_auc"] = None if auc is None else float(auc)
    return out

