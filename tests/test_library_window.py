"""The case library through the window's own widgets: save the shown image as a case, confirm it, find it
among the neighbours marked as an own case, choose whose images are searched, and delete only after asking."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from gui_helpers import WAIT_MS, current, drop, wait_for_result


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def save_button(form):
    return form.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_the_window_saves_confirms_searches_and_deletes_a_case(make_window, small_archive, qtbot, tmp_path,
                                                              monkeypatch, data_dir):
    monkeypatch.setenv("DERMVIEW_LIBRARY", f"sqlite:///{tmp_path / 'practice.sqlite'}")
    window = make_window(small_archive)
    library = window.library
    assert library.library is None and "No cases yet" in library.view.summary.text()
    visit = tmp_path / "clinic-visit-0042.jpg"
    shutil.copy(sorted((data_dir / "originals").glob("*.jpg"))[0], visit)
    drop(window, [visit])
    wait_for_result(qtbot, window)
    suggested = current(window).outcome.prediction.prediction

    # Save as case, from the result view: a case id is required, and checked before anything is stored.
    click(qtbot, window.classify.save_case_button)
    form = library.form
    assert form.isVisible()
    click(qtbot, save_button(form))
    assert "not a usable case id" in form.error.text() and form.isVisible()
    qtbot.keyClicks(form.case_id, "K-2026-017")
    qtbot.keyClicks(form.site, "left scapula")
    form.age.setValue(54)
    click(qtbot, save_button(form))
    qtbot.waitUntil(lambda: library.counts is not None and library.counts["awaiting"] == 1, timeout=WAIT_MS)
    assert window.library_label.text() == "Own cases: 1 awaiting confirmation"
    assert window.tabs.tabText(window.tabs.indexOf(library.view)) == "Case library (1 awaiting)"
    case = library.view.model.cases[0]
    assert (case.case_id, case.body_site, case.age, case.suggestion) == ("K-2026-017", "left scapula", 54, suggested)
    assert (tmp_path / "practice.sqlite").is_file()  # the first case created the library

    # Confirm it through the form.
    window.tabs.setCurrentWidget(library.view)
    assert library.view.select_case("K-2026-017")
    click(qtbot, library.view.confirm_button)
    form = library.form
    form.diagnosis.setCurrentIndex(form.diagnosis.findData("mel"))
    form.how.setCurrentIndex(form.how.findData("histo"))
    form.by.setText("Dr A")
    click(qtbot, save_button(form))
    qtbot.waitUntil(lambda: library.counts["confirmed"] == 1, timeout=WAIT_MS)
    assert library.view.model.cases[0].confirmed_dx == "mel" and window.library_label.text().startswith("Own cases: 0")
    assert window.settings.recorder == "Dr A"

    # Shown in Classify again: its own saved image is now the nearest neighbour, marked as an own case.
    rows = window.classify.model.rowCount()
    click(qtbot, library.view.show_button)
    qtbot.waitUntil(lambda: window.classify.model.rowCount() == rows + 1, timeout=WAIT_MS)
    wait_for_result(qtbot, window)
    first = window.classify.result.prediction.neighbours[0]
    assert (first.source, first.case_id, first.dx) == ("library", "K-2026-017", "mel")
    caption = window.classify.result.neighbours.item(0).text()
    assert "OWN CASE" in caption and "K-2026-017" in caption
    assert "own cases" in window.classify.result.neighbour_title.text()

    # Archive only: the same image is asked again and no own case answers.
    library.search_actions[type(window.settings.search).ARCHIVE].trigger()
    wait_for_result(qtbot, window)
    assert all(n.source == "archive" for n in window.classify.result.prediction.neighbours)
    library.search_actions[type(window.settings.search).BOTH].trigger()

    # Deleting asks; Cancel keeps the case, Yes removes it.
    window.tabs.setCurrentWidget(library.view)
    library.view.select_case("K-2026-017")
    click(qtbot, library.view.delete_button)
    assert library.question.isVisible() and "cannot be undone" in library.question.text()
    click(qtbot, library.question.button(QMessageBox.StandardButton.Cancel))
    qtbot.wait(200)
    assert library.counts["cases"] == 1
    click(qtbot, library.view.delete_button)
    click(qtbot, library.question.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: library.counts["cases"] == 0, timeout=WAIT_MS)


def test_an_unreachable_library_server_is_a_message_and_the_archive_still_answers(make_window, small_archive, qtbot,
                                                                                   tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("DERMVIEW_LIBRARY", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    window = make_window(small_archive)
    qtbot.waitUntil(lambda: "could not be opened" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert "cannot be used" in window.statusBar().currentMessage() and window.library.library is None
    visit = tmp_path / "visit.jpg"
    shutil.copy(sorted((data_dir / "originals").glob("*.jpg"))[1], visit)
    drop(window, [visit])
    wait_for_result(qtbot, window)
    assert current(window).error is None
    assert all(n.source == "archive" for n in window.classify.result.prediction.neighbours)


def test_show_case_shows_the_case_asked_for(make_window, small_archive, qtbot, tmp_path, monkeypatch, data_dir):
    """show_case(case_id) classifies that case's image, whichever row happens to be selected."""
    from dermview.library.store import CaseLibrary

    url = f"sqlite:///{tmp_path / 'practice.sqlite'}"
    seeded = CaseLibrary(url)
    originals = sorted((data_dir / "originals").glob("*.jpg"))
    seeded.add_case(originals[0].read_bytes(), "A-1", file_name="first.jpg")
    seeded.add_case(originals[1].read_bytes(), "B-2", file_name="second.jpg")
    seeded.close()
    monkeypatch.setenv("DERMVIEW_LIBRARY", url)
    window = make_window(small_archive)
    library = window.library
    qtbot.waitUntil(lambda: library.view is not None and len(library.view.model.cases) == 2, timeout=WAIT_MS)
    assert library.view.select_case("A-1")
    rows = window.classify.model.rowCount()
    library.show_case("B-2")
    qtbot.waitUntil(lambda: window.classify.model.rowCount() == rows + 1, timeout=WAIT_MS)
    assert "B-2" in window.classify.model.items[-1].name and "second.jpg" in window.classify.model.items[-1].name


def test_a_library_made_for_a_first_case_that_fails_is_closed(make_window, small_archive, qtbot, tmp_path,
                                                             monkeypatch, data_dir):
    """A note over the limit is caught by the form before anything is stored. The first case creates the
    library; if adding it fails (here: the store refuses it), the library made for it is closed again, not
    left open with its file handles, and the form comes back filled, saying why."""
    from dermview.errors import DermviewError
    from dermview.library import store
    from dermview.library.rules import MAX_NOTE
    from dermview.ui import library as library_actions

    closed = []
    real_close = store.CaseLibrary.close
    monkeypatch.setattr(store.CaseLibrary, "close", lambda self: (closed.append(self.url), real_close(self))[1])
    url = f"sqlite:///{tmp_path / 'practice.sqlite'}"
    monkeypatch.setenv("DERMVIEW_LIBRARY", url)
    window = make_window(small_archive)
    library = window.library
    drop(window, [sorted((data_dir / "originals").glob("*.jpg"))[0]])
    wait_for_result(qtbot, window)
    click(qtbot, window.classify.save_case_button)
    form = library.form
    qtbot.keyClicks(form.case_id, "K-1")
    form.note.setPlainText("n" * (MAX_NOTE + 1))
    click(qtbot, save_button(form))
    assert "note" in form.error.text() and form.isVisible() and not closed  # caught before storing
    form.note.setPlainText("seen twice")

    def refused(*_args, **_kwargs):
        raise DermviewError("the library refused it (a test)")
    monkeypatch.setattr(library_actions, "add_work_item", refused)
    click(qtbot, save_button(form))
    qtbot.waitUntil(lambda: url in closed, timeout=WAIT_MS)
    assert library.library is None
    qtbot.waitUntil(lambda: "The case was not saved: the library refused it" in form.error.text(), timeout=WAIT_MS)
    assert form.isVisible() and form.case_id.text() == "K-1" and form.note.toPlainText() == "seen twice"
    assert save_button(form).isEnabled()
