"""A clinic's folder of 300 images dropped on the window (issue 13): how long until every row of the
worklist is classified, how soon the first is, and the GUI thread's longest stall meanwhile
(target < 50 ms), measured by a 5 ms timer on the GUI thread. Learned similarity, warm index.

The folder is a temporary copy outside the project: the 153 originals (600x450) and 147 archive
images (200x150), so both sizes are decoded. Run: python -m benchmarks.bench_worklist [runs]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import DATA, PROJECT_ROOT, require_data

CHILD = r"""
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from dermview.ui.main_window import MainWindow
from dermview.ui.settings import Settings

app = QApplication(["dermview"])
settings = Settings()
settings.features = "learned"
window = MainWindow(settings)
window.resize(1366, 768)
window.show()
def wait(cond, timeout=900):
    t = time.perf_counter()
    while not cond() and time.perf_counter() - t < timeout:
        app.processEvents()
        time.sleep(0.002)
window.open_archive(DATA)
wait(lambda: window.session is not None)
gaps, last = [], [time.perf_counter()]
def tick():
    now = time.perf_counter()
    gaps.append(now - last[0])
    last[0] = now
timer = QTimer()
timer.setInterval(5)
timer.timeout.connect(tick)
timer.start()
start = time.perf_counter()
window.add_queries([FOLDER])
model = window.classify.model
wait(lambda: model.rowCount() == 300)
listed = time.perf_counter() - start
wait(lambda: any(item.outcome is not None for item in model.items))
first = time.perf_counter() - start
# Meanwhile the clinician looks at rows: select a few as the batch runs.
for row in (0, 50, 120):
    window.classify.worklist.select_key(model.keys[row])
    t = time.perf_counter()
    wait(lambda: time.perf_counter() - t > 0.3)
wait(lambda: all(item.status != "waiting" for item in model.items))
done = time.perf_counter() - start
timer.stop()
gaps.sort()
out = {"listed_s": listed, "first_s": first, "all_s": done, "classified": sum(i.outcome is not None for i in model.items),
       "failed": sum(bool(i.error) for i in model.items), "stall_max_ms": gaps[-1] * 1000,
       "stall_p99_ms": gaps[int(0.99 * len(gaps))] * 1000, "ticks": len(gaps)}
window.clinic.persist = False
window.close()
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    require_data()
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    folder = Path(tempfile.mkdtemp(prefix="dermview-clinic-"))
    cache = os.environ.get("DERMVIEW_CACHE_DIR") or tempfile.mkdtemp(prefix="dermview-worklist-bench-")
    try:
        originals = sorted((DATA / "originals").glob("*.jpg"))
        small = sorted((DATA / "images").rglob("*.jpg"))[:300 - len(originals)]
        for number, path in enumerate(originals + small):
            shutil.copy(path, folder / f"clinic-{number:03d}.jpg")
        code = (f"PROJECT_ROOT = {str(PROJECT_ROOT)!r}\nDATA = {str(DATA)!r}\nFOLDER = {str(folder)!r}\n" + CHILD)
        env = dict(os.environ, DERMVIEW_CACHE_DIR=cache, QT_QPA_PLATFORM="offscreen")
        results = []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"run failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
            results.append(json.loads(line[7:]))
            r = results[-1]
            print(f"run: 300 rows listed after {r['listed_s']:.2f} s, first classified after {r['first_s']:.2f} s, "
                  f"all after {r['all_s']:.1f} s ({r['classified']} classified, {r['failed']} failed); longest "
                  f"GUI stall {r['stall_max_ms']:.1f} ms, 99th percentile {r['stall_p99_ms']:.1f} ms")
        median = {key: statistics.median(r[key] for r in results) for key in ("all_s", "first_s", "stall_max_ms")}
        print(f"median of {runs}: 300-image worklist filled in {median['all_s']:.1f} s (first row after "
              f"{median['first_s']:.2f} s); longest GUI-thread stall {median['stall_max_ms']:.1f} ms   (target < 50 ms)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
