"""Renders docs/worklist-1366x768.png: a clinic's folder (a temporary copy of 24 archive originals
under clinic names) in the worklist, most melanoma-like first, with a note. Run from the project
root with the learned index built: .venv/bin/python docs/worklist_screenshot.py"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARCHIVE = ROOT.parent / "shared" / "data" / "ham10000"

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dermview.ui.main_window import MainWindow  # noqa: E402
from dermview.ui.settings import Settings  # noqa: E402
from dermview.ui.worklist import Column  # noqa: E402


def main() -> None:
    app = QApplication(["dermview"])
    folder = Path(tempfile.mkdtemp(prefix="clinic-"))
    for number, path in enumerate(sorted((ARCHIVE / "originals").glob("*.jpg"))[::6][:24]):
        shutil.copy(path, folder / f"2026-12-01_patient-{number:02d}.jpg")
    (folder / "2026-12-01_patient-24.jpg").write_bytes(b"not a picture")
    settings = Settings()
    settings.features = "learned"
    window = MainWindow(settings)
    window.clinic.persist = False
    window.resize(1366, 768)
    window.show()

    def wait(condition, timeout=600.0):
        start = time.monotonic()
        while not condition() and time.monotonic() - start < timeout:
            app.processEvents()
            time.sleep(0.005)

    window.open_archive(str(ARCHIVE))
    wait(lambda: window.session is not None)
    window.add_queries([str(folder)])
    model = window.classify.model
    wait(lambda: model.rowCount() == 25 and all(item.status != "waiting" for item in model.items))
    view = window.classify.worklist
    view.table.sortByColumn(Column.MELANOMA, Qt.SortOrder.DescendingOrder)
    model.setData(model.index(model.row_of(view.key_at(0)), Column.NOTE), "Excise? Compare with photo of 12 Mar")
    view.table.setCurrentIndex(view.proxy.index(0, Column.FILE))
    window.tabs.setCurrentWidget(view)
    wait(lambda: False, timeout=1.0)
    window.grab().save(str(ROOT / "docs" / "worklist-1366x768.png"))
    window.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
