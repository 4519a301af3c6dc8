"""Starting the window: ``dermview [--archive PATH] [IMAGE ...]`` and the scripted modes
``--query IMAGE --screenshot OUT.png`` (documentation, checks) and ``--self-test``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..errors import DermviewError
from ..model.familiarity import muted_headline
from ..model.extractors import feature_names, kinds
from ..outputs import atomic_file, check_output_path
from ..library.urls import ENV_LIBRARY, has_password, redacted
from ..paths import ensure_dir, private_file, set_cache_dir, user_dirs

log = logging.getLogger("dermview")


DEFAULT_SCRIPTED_SIZE = (1400, 900)


def window_size(text: str) -> tuple[int, int]:
    """"1366x768" -> (1366, 768); argparse reports anything else as a usage error."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1366x768") from None
    if not (320 <= width <= 10000 and 240 <= height <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size between 320x240 and 10000x10000")
    return width, height


def layout_report(window) -> dict:
    """What is on screen, in pixels: the window, the query image as displayed, the neighbour tiles' image
    size and how many tiles are fully visible without scrolling (--layout-json)."""
    return {"window": [window.width(), window.height()], **window.classify.layout_report()}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dermview",
        description="Browse HAM10000 and classify dermatoscopic images by their nearest archive images. "
                    + NOT_A_MEDICAL_DEVICE,
        epilog="Command-line tools: dermview info | index | evaluate | predict | outline | report | library "
               "(each has --help).")
    parser.add_argument("images", nargs="*", help="images to classify once the archive is open")
    parser.add_argument("--archive", metavar="PATH", help="the HAM10000 folder (default: the last one opened)")
    parser.add_argument("--query", action="append", default=[], metavar="IMAGE", help="an image to classify")
    parser.add_argument("--window-size", metavar="WxH", type=window_size, default=None,
                        help="with --screenshot or --self-test: the window's size, e.g. 1366x768 (default 1400x900)")
    parser.add_argument("--layout-json", metavar="OUT.json",
                        help="with --screenshot: also write what is on screen (window, query image and neighbour "
                             "tile sizes in pixels, neighbour tiles fully visible without scrolling)")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="run the queries, save a screenshot of the whole window when the result is shown, exit")
    parser.add_argument("--self-test", action="store_true",
                        help="offscreen: open the archive, load or build the index, classify one archive image, "
                             "render the window; exit 0, or non-zero with the reason")
    parser.add_argument("--cache-dir", metavar="DIR", help="where dermview keeps its cache, settings and logs")
    parser.add_argument("--features", choices=feature_names(),
                        help="what 'similar' means (" + "; ".join(f"{k.name}: {k.description}" for k in kinds())
                             + "); default: the first that can be used; remembered like the choice in the window")
    parser.add_argument("--library", metavar="URL",
                        help="the case library: a practice's PostgreSQL database (postgresql://user@host/db) or an "
                             "SQLite file (sqlite:///PATH); remembered. Default: DERMVIEW_LIBRARY, else the per-user file")
    parser.add_argument("--outlines", choices=("on", "off"),
                        help="draw the lesion's outline on the query, the neighbours and the archive image (View > "
                             "Lesion Outlines, key O); remembered like the choice in the window")
    parser.add_argument("--browser", choices=("on", "off"), default="off",
                        help="with --screenshot: keep the archive browser beside the result (View > Archive Browser); "
                             "by default a result takes the browser's room")
    parser.add_argument("--timeout", type=float, default=900.0, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"dermview {__version__}")
    return parser.parse_args(argv)


DISPLAY_HELP = ("run dermview from a desktop session, or set QT_QPA_PLATFORM=offscreen for scripted use; "
                "on Linux the window also needs the X11 libraries the README lists")


def display_problem() -> str | None:
    """Why the window cannot be shown on this machine, found before Qt aborts over it; None if fine."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith(("xcb", "wayland")):
        return None  # offscreen, minimal, vnc, eglfs, or a fallback list: Qt's own choice
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display was found to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def setup_logging() -> tuple[Path | None, str | None]:
    """Log to a file in the per-user log folder, Qt's own messages included.

    Returns the log file, or None and the reason when the folder cannot be written (the window then
    runs and says so). A fatal Qt message (no usable display back end) ends the program with one
    line on stderr and exit status 2, instead of Qt's bare abort.
    """
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    folder = user_dirs().logs
    path: Path | None = folder / "dermview.log"
    problem = None
    try:
        handler: logging.Handler = logging.FileHandler(ensure_dir(folder) / "dermview.log", encoding="utf-8")
        private_file(folder / "dermview.log")
    except OSError as exc:
        problem = f"the log folder {folder} cannot be written ({exc.strerror or exc})"
        handler, path = logging.NullHandler(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    qt_log = logging.getLogger("qt")
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}
    platform_messages: list[str] = []  # Qt explains a failed display back end in warnings before the fatal one

    def qt_handler(mode, context, message):
        qt_log.log(levels.get(mode, logging.WARNING), message)
        if context is not None and str(context.category or "").startswith("qt.qpa"):
            platform_messages.append(message.strip().splitlines()[0] if message.strip() else "")
        if mode == QtMsgType.QtFatalMsg:
            reason = next((m for m in reversed(platform_messages) if m), message.strip().splitlines()[0])
            sys.stderr.write(f"dermview: error: the window cannot be shown: {reason}. {DISPLAY_HELP}.\n")
            sys.stderr.flush()
            logging.shutdown()
            os._exit(2)  # Qt would abort() right after this handler returns

    qInstallMessageHandler(qt_handler)
    return path, problem


class ScriptedRun:
    """Drives the window for --screenshot and --self-test, polling until the result is on screen."""

    def __init__(self, app, window, args):
        self.app, self.window, self.args = app, window, args
        self.started = time.monotonic()
        self.status = 1
        self.message = ""
        self.pending_queries = False  # images were named: no self-test query of its own

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
        if window.opening_archive:
            return
        if window.archive is None or window.classify is None:
            self.finish(2, window.start_page.error_text() or "no archive could be opened")
            return
        classify = window.classify
        if self.args.self_test and not classify.items() and not self.pending_queries:
            available = window.archive.metadata[window.archive.metadata["available"]]
            window.find_similar(str(available["image_id"].iloc[0]))  # the self-test's own query
        label = window.index_label.text()
        if label.startswith("No index") or "cancelled" in label:
            self.finish(1, f"the index could not be built ({window.statusBar().currentMessage()})")
            return
        rows = classify.rows()
        items = [item for _, item in rows]
        if not items:
            return
        # Every image is classified by the worklist's batch: a bad one after a good one is still reported.
        from ..clinic.worklist import PENDING  # here, not at the top: "no display" is said before the model loads

        if any(item.status == PENDING for item in items):
            return
        failed = [f"{item.name}: {item.error}" for item in items if item.error]
        good = next((key for key, item in rows if not item.error), None)
        if good is None:
            self.finish(1, "; ".join(failed))
            return
        if classify.selected_key() != good or not window.shows_classify():
            classify.select(good)
            window.show_classify()
            return
        if not classify.shows_result_of(good):
            return
        if self.args.browser == "on" and not window.browser_action.isChecked():
            window.browser_action.setChecked(True)  # as the user would, once the result has taken its room
            return
        self.app.processEvents()
        pixmap = window.grab()
        wanted = self.args.window_size or DEFAULT_SCRIPTED_SIZE
        if pixmap.isNull() or (pixmap.width(), pixmap.height()) != tuple(wanted):
            self.finish(1, f"the window rendered at {pixmap.width()}x{pixmap.height()}, not the {wanted[0]}x{wanted[1]} "
                           "asked for (it cannot be made that small, or it did not render)")
            return
        if self.args.layout_json:
            try:
                with atomic_file(self.args.layout_json) as handle:
                    json.dump(layout_report(window), handle)
            except (OSError, DermviewError) as exc:
                self.finish(1, f"could not write {self.args.layout_json}: {getattr(exc, 'strerror', None) or exc}")
                return
        saved = ""
        if self.args.screenshot:
            if not pixmap.save(self.args.screenshot):
                self.finish(1, f"could not save the screenshot to {self.args.screenshot}")
                return
            saved = f" saved to {self.args.screenshot}"
        shown = dict(rows)[good]
        outcome = shown.outcome
        prediction = outcome.prediction
        features = window.session.features if window.session is not None else "?"
        note = classify.shown_note()
        answer = (muted_headline(outcome.unfamiliar_kind).lower() if outcome.muted else
                  f"{prediction.prediction} ({prediction.votes[prediction.prediction]:.0%})")
        summary = (f"{shown.name} ({features} features{'; ' + note if note else ''}): {answer}, "
                   f"{len(prediction.neighbours)} neighbours; window {pixmap.width()}x{pixmap.height()}{saved}")
        if failed:
            self.finish(1, f"{len(failed)} of {len(items)} images could not be classified: "
                           + "; ".join(failed) + f" (classified: {summary})")
        else:
            self.finish(0, summary)


def install_exception_hook(window) -> None:
    """A bug in a slot must not print a traceback at the user or leave them guessing: it is logged in
    full and the window says, in one line, that something went wrong and where the details are."""
    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.error("unexpected error", exc_info=(kind, value, tb))
        with contextlib.suppress(Exception):  # the window itself may be gone: the log has it all
            window.report_error("Unexpected problem", f"{kind.__name__}: {value}. This is a bug in dermview; "
                                "the details are in its log file. Your work in the window is unaffected.")

    sys.excepthook = hook


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
    from ..model.threads import use_one_blas_thread

    use_one_blas_thread()
    if args.cache_dir:
        set_cache_dir(args.cache_dir)
    if args.self_test or (scripted and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = display_problem()
    if problem:
        print(f"dermview: error: {problem}; {DISPLAY_HELP}.", file=sys.stderr)
        return 2
    for output in (args.screenshot, args.layout_json):
        if not output:
            continue
        try:
            # never over an image it was given; a screenshot may replace an earlier one (docs/screenshots.sh)
            check_output_path(output, [*args.query, *args.images], replaces_images=output == args.screenshot)
        except DermviewError as exc:
            print(f"dermview: error: {exc}", file=sys.stderr)
            return 2
    log_path, log_problem = setup_logging()
    log.info("dermview %s starting: %s", __version__, redacted(" ".join(argv or sys.argv[1:])))

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .settings import Settings

    app = QApplication.instance() or QApplication(["dermview"])
    app.setApplicationName("dermview")
    app.setApplicationVersion(__version__)
    settings = Settings(scratch=scripted)  # a scripted run reads the user's settings and changes none of them
    if args.library:  # before the window opens it
        if has_password(args.library):  # this run's own, in memory only: the setting keeps no password
            os.environ[ENV_LIBRARY] = args.library
        settings.library_url = args.library
    window = MainWindow(settings)
    storage_problems = [p for p in (log_problem, settings.problem) if p]
    if storage_problems:
        warning = ("; ".join(storage_problems) + ". dermview runs without them: settings, logs and the "
                   "similarity index are not kept (the index is rebuilt on every start). Choose another "
                   "folder with --cache-dir or DERMVIEW_CACHE_DIR.")
        print(f"dermview: warning: {warning}", file=sys.stderr)
        window.report_error("dermview cannot use its own folders", warning)
    if args.features:
        window.settings.features = args.features
    if args.outlines:
        window.outline_action.setChecked(args.outlines == "on")
    install_file_open_handler(app, window)
    install_exception_hook(window)
    if scripted:
        window.resize(*(args.window_size or DEFAULT_SCRIPTED_SIZE))
    window.show()

    archive = args.archive or window.settings.last_archive
    if archive:
        window.open_archive(archive)
    elif scripted:
        print("dermview: error: --archive is required for --screenshot and --self-test", file=sys.stderr)
        window.shutdown()
        return 2
    queries = args.query + args.images
    if queries:  # classified once the archive is open (it opens on a worker thread)
        window.pending_files.extend(queries)

    run = None
    if scripted:
        run = ScriptedRun(app, window, args)
        run.pending_queries = bool(queries)
        window.clinic.leave_the_users_session_alone()
        run.start()
    status = app.exec()
    window.close()
    sys.excepthook = sys.__excepthook__
    if run is not None:
        stream = sys.stdout if run.status == 0 else sys.stderr
        prefix = "dermview self-test passed: " if args.self_test and run.status == 0 else (
            "" if run.status == 0 else "dermview: error: ")
        print(prefix + run.message, file=stream)
        log.info("scripted run finished with %d: %s (log: %s)", run.status, run.message, log_path)
        return run.status
    return status
