"""Renders docs/worklist-1366x768.png: a clinic's folder (a temporary copy of 24 archive originals
under clinic names) in the worklist, most melanoma-like first, with a note. Run from the project
root with the learned index built: .venv/bin/python docs/worklist_screenshot.py"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from _window import ARCHIVE, ROOT, scripted_window, wait

from PySide6.QtCore import Qt

from dermview.ui.worklist import Column


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="clinic-"))
    for number, path in enumerate(sorted((ARCHIVE / "originals").glob("*.jpg"))[::6][:24]):
        shutil.copy(path, folder / f"2026-12-01_patient-{number:02d}.jpg")
    (folder / "2026-12-01_patient-24.jpg").write_bytes(b"not a picture")
    app, window = scripted_window()

    window.open_archive(str(ARCHIVE))
    wait(app, lambda: window.session is not None)
    window.add_queries([str(folder)])
    model = window.classify.model
    wait(app, lambda: model.rowCount() == 25 and all(item.status != "waiting" for item in model.items))
    view = window.classify.worklist
    view.table.sortByColumn(Column.MELANOMA, Qt.SortOrder.DescendingOrder)
    model.setData(model.index(model.row_of(view.key_at(0)), Column.NOTE), "Excise? Compare with photo of 12 Mar")
    view.table.setCurrentIndex(view.proxy.index(0, Column.FILE))
    window.tabs.setCurrentWidget(view)
    wait(app, lambda: False, timeout=1.0)
    window.grab().save(str(ROOT / "docs" / "worklist-1366x768.png"))
    window.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
