"""Helpers shared by the benchmark scripts (they print numbers; they are not tests)."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT.parent / "shared" / "data" / "ham10000"


def require_data() -> Path:
    if not (DATA / "HAM10000_metadata.csv").is_file():
        sys.exit(f"The shared HAM10000 copy is not at {DATA}.")
    return DATA


def timed(func, repeat: int = 5) -> tuple[float, list[float]]:
    """Median wall time of ``repeat`` calls, and all of them."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times
