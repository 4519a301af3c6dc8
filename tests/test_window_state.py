"""One owner for what the window shows (issue 43): a result only ever lands on the image it was computed for."""

from __future__ import annotations

import hashlib
import shutil

from dermview.clinic.worklist import PENDING
from gui_helpers import WAIT_MS, drop, wait_for_entries, wait_for_index


def image_folder(data_dir, folder, names):
    folder.mkdir()
    for name in names:
        shutil.copy(data_dir / "images" / f"{name}.jpg", folder / f"clinic-{name}.jpg")
    return folder


def test_a_worklist_queued_when_the_archive_is_reopened_never_lands_on_new_images(make_window, small_archive, data_dir,
                                                                                   qtbot, tmp_path):
    """Images queued, the archive re-opened while they run, new images dropped: every row's result and SHA-256
    are its own image's (on the old main, 27 of 30 rows showed another image's suggestion). A note typed just before the re-opening is saved with the session (it went with the old
    worklist: the session is saved on a timer)."""
    from dermview.clinic.sessions import load_session
    from dermview.ui.worklist_model import Column

    names = sorted(p.stem for p in (data_dir / "images").glob("*.jpg"))[2000:2090]
    first = image_folder(data_dir, tmp_path / "monday", names[:60])
    second = image_folder(data_dir, tmp_path / "tuesday", names[60:])
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [first])
    wait_for_entries(window, 59)
    old = window.classify
    old.model.setData(old.model.index(1, Column.NOTE), "recheck in March: border")
    window.open_archive(str(small_archive))  # the batch is still running
    qtbot.waitUntil(lambda: window.classify is not old and window.classify is not None, timeout=WAIT_MS)
    saved = load_session()
    assert saved is not None and saved.archive == str(window.archive.root)
    assert [image.get("note") for image in saved.images][:2] == ["", "recheck in March: border"]
    drop(window, [second])
    wait_for_entries(window, 29)
    model = window.classify.model
    qtbot.waitUntil(lambda: all(item.status != PENDING for item in model.items), timeout=WAIT_MS)
    qtbot.wait(500)  # answers for the old rows still on their way must not land either
    assert len(model.items) == 30
    for item in model.items:
        assert item.outcome is not None and not item.error, item.file_name
        expected = hashlib.sha256(item.input.read()).hexdigest()
        assert item.outcome.sha256 == expected == item.sha256, item.file_name


def test_closing_finishes_queued_saves_and_drops_only_reads(qapp, tmp_path):
    """FileJobs.shutdown() cleared its queue: a case save, a confirmation or a PDF export queued behind a slow
    job was lost when the window closed. Writes now finish first; reads nobody will see are skipped."""
    import threading
    import time

    from dermview.ui.file_jobs import FileJobs

    jobs = FileJobs()
    done: list[str] = []
    started = threading.Event()

    def slow_read():
        started.set()
        time.sleep(0.3)
        done.append("first read")

    jobs.submit("inputs", slow_read)  # running when the window closes
    jobs.submit("library-add", lambda: done.append("case saved"))
    jobs.submit("library-list", lambda: done.append("list read"))
    jobs.submit("report", lambda: (tmp_path / "report.pdf").write_bytes(b"%PDF") and done.append("report"))
    assert started.wait(10)
    jobs.shutdown()
    assert done == ["first read", "case saved", "report"]
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF"


def test_a_remembered_size_larger_than_the_screen_is_fitted_to_it(qtbot, gui_cache):
    """A window size saved on a large monitor opened off the edges of a laptop's screen."""
    from dermview.ui.main_window import MainWindow
    from dermview.ui.settings import Settings

    big = MainWindow(Settings())
    qtbot.addWidget(big)
    available = big.screen().availableGeometry()
    big.resize(available.width() + 1500, available.height() + 900)
    big.settings.set_geometry("geometry", big.saveGeometry())
    big.settings.sync()
    big.shutdown()
    window = MainWindow(Settings())
    qtbot.addWidget(window)
    assert window.width() <= available.width() and window.height() <= available.height()
    assert available.contains(window.geometry().topLeft())
    window.shutdown()


def test_dialogs_start_in_the_documents_or_the_last_used_folder(qapp, gui_cache, tmp_path, monkeypatch):
    """Open and save dialogs started in the program's own folder (a relative file name)."""
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths

    from dermview.ui.settings import Settings

    monkeypatch.chdir(tmp_path)  # the program's folder: never where a dialog starts
    settings = Settings()
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    assert settings.folder("exports") == documents and Path(settings.in_folder("exports", "w.csv")).is_absolute()
    clinic = tmp_path / "clinic 2026-12"
    clinic.mkdir()
    settings.remember_folder("exports", str(clinic / "worklist.csv"))
    assert Settings().in_folder("exports", "case-report.pdf") == str(clinic / "case-report.pdf")
    clinic.rmdir()  # gone since: the documents folder again
    assert Settings().folder("exports") == documents


def test_an_image_opened_while_the_index_is_built_is_shown_at_once_and_the_old_result_cleared(
        make_window, small_archive, data_dir, qtbot, tmp_path, monkeypatch):
    """While the index is built (minutes on a first start), a dropped image said only 'waiting for the index',
    under the previous image's result. Now the previous result is cleared, the new image is on screen at once,
    and the text says what it waits for; its own result replaces it when the index is there. (The index build
    is held back until the checks are made: a gate in front of the real ModelSession.open.)"""
    import threading

    from dermview.model.session import ModelSession
    from dermview.ui import workers

    folder = image_folder(data_dir, tmp_path / "clinic", sorted(p.stem for p in (data_dir / "images").glob("*.jpg"))[:3])
    photo = tmp_path / "visit.jpg"
    photo.write_bytes((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes())
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [photo])
    qtbot.waitUntil(lambda: window.classify.result.outcome is not None, timeout=WAIT_MS)  # a result on screen
    gate = threading.Event()
    real_open = ModelSession.open

    class Held:
        @staticmethod
        def open(*args, **kwargs):
            gate.wait(60)  # "building"
            return real_open(*args, **kwargs)
    monkeypatch.setattr(workers, "ModelSession", Held)
    try:
        window.open_archive(str(small_archive))
        qtbot.waitUntil(lambda: window.classify is not None and window.classify.model.rowCount() == 0, timeout=WAIT_MS)
        drop(window, [folder])
        wait_for_entries(window, 2)
        result = window.classify.result
        window.classify.worklist.select_key(window.classify.model.keys[1])
        assert window.session is None  # still "building"
        assert result.outcome is None and result.prediction is None and not result.tiles  # nothing of another image
        assert "Waiting for the similarity index" in result.headline.text()
        qtbot.waitUntil(lambda: result.query.image() is not None, timeout=10_000)  # the picture, before the index
    finally:
        gate.set()
    qtbot.waitUntil(lambda: result.outcome is not None, timeout=WAIT_MS)
    shown = window.classify.current_item()
    assert result.outcome is shown.outcome and shown.file_name == result.query_name


def test_at_1366x768_with_the_browser_shown_nothing_is_cut_off(make_window, small_archive, data_dir, qtbot):
    """The result's column beside the archive browser on a laptop screen: its content was wider than the column
    (the navigation row, the measures beside the query), so the headline, the vote and the 'Next' button were cut
    off at the right. Now rows go under one another there and the query is scaled whole."""
    from gui_helpers import wait_for_result

    window = make_window(small_archive)
    window.resize(1366, 768)
    window.show()
    wait_for_index(qtbot, window)
    window.show_outlines(True)  # remembered in the session's shared settings: put back at the end
    try:
        drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
        wait_for_result(qtbot, window)
        window.browser_action.setChecked(True)  # as the user would, once the result has taken the browser's room
        qtbot.waitUntil(lambda: window.browser.isVisible(), timeout=WAIT_MS)
        result = window.classify.result
        column = result._column
        qtbot.waitUntil(lambda: column.width() < 520, timeout=WAIT_MS)  # narrow: the browser has most of the width
        content = column.parentWidget().widget()  # the scroll area's content
        qtbot.waitUntil(lambda: content.width() <= column.width(), timeout=WAIT_MS)  # nothing wider than the column
        for widget in (result.headline, result.chart, window.classify.next_button, window.classify.save_case_button,
                       result.lesion_text):
            right = widget.mapTo(content, widget.rect().topRight()).x()
            assert widget.isVisible() and right <= column.width(), widget.objectName() or widget.text()
        shown = result.query.pixmap()
        assert shown.width() <= result.query.width() and shown.height() <= result.query.height()  # whole, not cropped
        assert abs(shown.width() / shown.height() - 4 / 3) < 0.02
        window.browser_action.setChecked(False)  # wide again: the measures go back beside the query
        qtbot.waitUntil(lambda: result.lesion_text.x() > result.query.x() + result.query.width() - 1, timeout=WAIT_MS)
        assert result.lesion_text.y() < result.headline.y()
    finally:
        window.show_outlines(False)
