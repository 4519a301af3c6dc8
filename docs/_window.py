"""The docs screenshot scripts' shared start: an offscreen window at a laptop's size on the learned
similarity that never touches the user's session, and a wait that keeps it painting."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT.parent / "shared" / "data" / "ham10000"


def scripted_window(width: int = 1366, height: int = 768):
    """(app, window): the window shown offscreen, learned similarity, session saving off."""
    from PySide6.QtWidgets import QApplication

    from dermview.ui.main_window import MainWindow
    from dermview.ui.settings import Settings

    app = QApplication.instance() or QApplication(["dermview"])
    settings = Settings()
    settings.features = "learned"
    window = MainWindow(settings)
    window.clinic.persist = False
    window.resize(width, height)
    window.show()
    return app, window


def wait(app, condition, timeout: float = 600.0) -> None:
    """Process events until ``condition()`` or ``timeout`` seconds."""
    start = time.monotonic()
    while not condition() and time.monotonic() - start < timeout:
        app.processEvents()
        time.sleep(0.005)


def save_comparison(app, window, query: Path, out: Path) -> None:
    """Classify ``query``, open the compare view on its nearest lesion at 1366x768, and save it to ``out``."""
    window.add_queries([str(query)])
    wait(app, lambda: window.classify is not None and window.classify.result.prediction is not None
         and window.classify.result.neighbours.all_loaded())
    window.classify.compare_with(window.classify.result.tiles[0].nearest.image_id)
    dialog = window.classify.compare
    dialog.resize(1366, 768)
    wait(app, lambda: dialog.shown is not None)
    wait(app, lambda: False, timeout=1.0)
    dialog.grab().save(str(out))
    dialog.close()
