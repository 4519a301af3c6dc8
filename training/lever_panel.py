"""Each lever's validation score averaged over a panel of networks: the members of seed ensembles
(train_embedding --merge-only) measured by ``inference_levers.py --each-member``, one report per split.

    .venv/bin/python training/lever_panel.py training/heldout/levers-fold{0,2}-seeds01-validation.json

One network's validation scores move with its seed by as much as most levers do (README, "Retraining"),
so a lever is judged here by its mean over every member of every report, next to the spread of that
mean's parts. Prints one line per lever (the 'floor' rule's choices).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def panel(reports: list[dict], rule: str = "floor") -> dict[str, np.ndarray]:
    """lever name -> (n_networks, 3) accuracy, balanced accuracy, melanoma recall of each member alone."""
    scores: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for report in reports:
        for row in report["results"]:
            if row["rule"] != rule or row.get("member") is None:
                continue
            scores[row["lever"]].append((row["accuracy"], row["balanced_accuracy"], row["mel_recall"]))
    return {lever: np.array(rows) for lever, rows in scores.items()}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    reports = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv]
    table = panel(reports)
    if not table:
        raise SystemExit("These reports hold no member rows: run inference_levers.py --each-member on an ensemble.")
    print(f"{'lever (mean over networks; range of balanced accuracy, melanoma recall)':<66} networks  acc    bal    mel")
    for lever, rows in table.items():
        acc, bal, mel = rows.mean(axis=0)
        spread = f"[{rows[:, 1].min():.3f}-{rows[:, 1].max():.3f}, {rows[:, 2].min():.3f}-{rows[:, 2].max():.3f}]"
        print(f"{lever[:48]:<48} {spread:<17} {len(rows):>8}  {acc:.3f}  {bal:.3f}  {mel:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
