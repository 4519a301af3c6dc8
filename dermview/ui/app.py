"""Starting the window: ``dermview [--archive PATH] [IMAGE ...]`` and the scripted modes
``--query IMAGE --screenshot OUT.png`` (documentation, checks) and ``--self-test``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..paths import ensure_dir, set_cache_dir, user_dirs

log = logging.getLogger("dermview")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dermview",
        description="Browse HAM10000 and classify dermatoscopic images by their nearest archive images. "
                    + NOT_A_MEDICAL_DEVICE,
        epilog="Command-line tools: dermview info | index | evaluate | predict (each has --help).")
    parser.add_argument("images", nargs="*", help="images to classify once the archive is open")
    parser.add_argument("--archive", metavar="PATH", help="the HAM10000 folder (default: the last one opened)")
    parser.add_argument("--query", action="append", default=[], metavar="IMAGE", help="an image to classify")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="run the queries, save a screenshot of the whole window when the result is shown, exit")
    parser.add_argument("--self-test", action="store_true",
                        help="offscreen: open the archive, load or build the index, classify one archive image, "
                             "render the window; exit 0, or non-zero with the reason")
    parser.add_argument("--cache-dir", metavar="DIR", help="where dermview keeps its cache, settings and logs")
    parser.add_argument("--features", choices=("learned", "classic"),
                        help="what 'similar' means: the learned embedding (default when installed) or "
                             "colour-texture features; remembered like the choice in the window")
    parser.add_argument("--timeout", type=float, default=900.0, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"dermview {__version__}")
    return parser.parse_args(argv)


def setup_logging() -> Path:
    """Log to a file in the per-user log folder, Qt's own messages included."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    path = ensure_dir(user_dirs().logs) / "dermview.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    qt_log = logging.getLogger("qt")
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}

    def qt_handler(mode, context, message):
        qt_log.log(levels.get(mode, logging.WARNING), message)

    qInstallMessageHandler(qt_handler)
    return path


class ScriptedRun:
    """Drives the window for --screenshot and --self-test, polling until the result is on screen."""

    def __init__(self, app, window, args):
        self.app, self.window, self.args = app, window, args
        self.started = time.monotonic()
        self.status = 1
        self.message = ""

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def finish(self, status: int, message: str) -> None:
        self.status, self.message = status, message
        self.timer.stop()
        self.app.exit(status)

    def poll(self) -> None:
        window = self.window
        if time.monotonic() - self.started > self.args.timeout:
            self.finish(1, f"timed out after {self.args.timeout:.0f} s")
            return
        if window.archive is None:
            self.finish(2, "no archive could be opened")
            return
        label = window.index_label.text()
        if label.startswith("No index") or "cancelled" in label:
            self.finish(1, f"the index could not be built ({window.statusBar().currentMessage()})")
            return
        if not window.queries.entries:
            return
        entry = window.queries.entries[window.queries.currentRow()]
        if entry["error"]:
            self.finish(1, f"{entry['name']}: {entry['error']}")
            return
        if entry["result"] is None or window.result.prediction is None or not window.result.neighbours.all_loaded():
            return
        self.app.processEvents()
        pixmap = window.grab()
        target = self.args.screenshot or os.path.join(tempfile.mkdtemp(prefix="dermview-self-test-"), "window.png")
        if pixmap.isNull() or pixmap.width() < 1200 or pixmap.height() < 800:
            self.finish(1, f"the window rendered at {pixmap.width()}x{pixmap.height()}, expected at least 1200x800")
            return
        if not pixmap.save(target):
            self.finish(1, f"could not save the screenshot to {target}")
            return
        prediction = window.result.prediction
        features = window.predictor.index.extractor if window.predictor is not None else "?"
        note = window.feature_note.text() if window.feature_note.isVisibleTo(window) else ""
        self.finish(0, f"{entry['name']} ({features} features{'; ' + note if note else ''}): {prediction.prediction} "
                       f"({prediction.votes[prediction.prediction]:.0%}), {len(prediction.neighbours)} neighbours; "
                       f"window {pixmap.width()}x{pixmap.height()} saved to {target}")


def install_file_open_handler(app, window):
    """macOS hands files opened from Finder to a running app as QFileOpenEvents, not arguments."""
    from PySide6.QtCore import QEvent, QObject

    class FileOpenFilter(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.FileOpen and event.file():
                if window.archive is not None:
                    window.files_dropped.emit([event.file()])
                else:
                    window.pending_files.append(event.file())
                return True
            return False

    handler = FileOpenFilter(app)
    app.installEventFilter(handler)
    return handler


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    scripted = bool(args.screenshot or args.self_test)
    if args.cache_dir:
        set_cache_dir(args.cache_dir)
    if args.self_test or (scripted and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    log_path = setup_logging()
    log.info("dermview %s starting: %s", __version__, " ".join(argv or sys.argv[1:]))

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(["dermview"])
    app.setApplicationName("dermview")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    if args.features:
        window.settings.features = args.features
    install_file_open_handler(app, window)
    if scripted:
        window.resize(1400, 900)
    window.show()

    archive = args.archive or window.settings.last_archive
    if archive:
        window.open_archive(archive)
    elif scripted:
        print("dermview: error: --archive is required for --screenshot and --self-test", file=sys.stderr)
        window.shutdown()
        return 2
    queries = args.query + args.images
    if queries and window.archive is not None:
        window.add_queries(queries)
    elif queries:  # an image opened from the file manager before any archive was chosen
        window.pending_files.extend(queries)

    run = None
    if scripted:
        if window.archive is None:
            print(f"dermview: error: {window.start_page.error.text()}", file=sys.stderr)
            window.shutdown()
            return 2
        if args.self_test and not queries:
            available = window.archive.metadata[window.archive.metadata["available"]]
            window.find_similar(str(available["image_id"].iloc[0]))
        run = ScriptedRun(app, window, args)
        run.start()
    status = app.exec()
    window.close()
    if run is not None:
        stream = sys.stdout if run.status == 0 else sys.stderr
        prefix = "dermview self-test passed: " if args.self_test and run.status == 0 else (
            "" if run.status == 0 else "dermview: error: ")
        print(prefix + run.message, file=stream)
        log.info("scripted run finished with %d: %s (log: %s)", run.status, run.message, log_path)
        return run.status
    return status
