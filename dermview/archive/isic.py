"""The ISIC 2018 Task 3 file formats: the one-hot ground truth, and the submission CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DermviewError
from ..outputs import atomic_file, spreadsheet_safe
from .codes import DX_CODES, ISIC_COLUMNS


def read_ground_truth(path: str | Path) -> dict[str, int]:
    """ISIC 2018 Task 3 one-hot CSV -> {image id: class index in DX_CODES}."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DermviewError(f"Cannot read the ground truth {path}: {exc}.") from exc
    missing = [c for c in ("image", *ISIC_COLUMNS) if c not in table.columns]
    if missing:
        raise DermviewError(f"The ground truth {path} lacks the column(s) {', '.join(missing)}.")
    onehot = table[list(ISIC_COLUMNS)].to_numpy(dtype=float)
    codes = [c.lower() for c in ISIC_COLUMNS]
    classes = np.array([DX_CODES.index(codes[j]) for j in onehot.argmax(axis=1)])
    return dict(zip(table["image"].astype(str), classes))


def write_submission(path: str | Path, rows: Sequence[tuple[str, dict[str, float]]]) -> None:
    """image,MEL,NV,BCC,AKIEC,BKL,DF,VASC with values in [0, 1], written atomically."""
    with atomic_file(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", *ISIC_COLUMNS])
        for stem, scores in rows:
            # 12 decimals: the tie-breaking offsets (1e-9) must survive the rounding.
            writer.writerow([spreadsheet_safe(stem), *(f"{scores[c.lower()]:.12f}" for c in ISIC_COLUMNS)])
