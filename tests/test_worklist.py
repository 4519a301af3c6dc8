"""The worklist in the window: a folder of good and bad files, sorting, filtering, stepping, notes,
exports that read back, a report from the window, Cancel, and a session that survives a restart."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from dermview.clinic.worklist import PENDING, read_csv
from dermview.ui.worklist import Column
from gui_helpers import WAIT_MS, current, drop, wait_for_index, wait_for_result


def wait_all_classified(qtbot, window):
    qtbot.waitUntil(lambda: all(item.status != PENDING for item in window.classify.model.items), timeout=WAIT_MS)


@pytest.fixture()
def clinic_folder(tmp_path, data_dir):
    """Five real images under clinic names, a truncated JPEG and an empty file."""
    folder = tmp_path / "clinic-2026-12-01"
    folder.mkdir()
    originals = sorted((data_dir / "originals").glob("*.jpg"))[:5]
    for number, path in enumerate(originals):
        shutil.copy(path, folder / f"patient-{number:02d}.jpg")
    (folder / "truncated.jpg").write_bytes(originals[0].read_bytes()[:2500])
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def header_click(qtbot, table, column: Column) -> None:
    header = table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=header.rect().center().__class__(x, 5))


def test_a_clinic_folder_sorted_filtered_stepped_annotated_and_exported(make_window, small_model, small_archive,
                                                                         clinic_folder, qtbot, tmp_path):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [clinic_folder])
    classify, model = window.classify, window.classify.model
    assert window.tabs.currentWidget() is classify.worklist
    wait_all_classified(qtbot, window)
    assert model.rowCount() == 7  # bad files are listed with why, never dropped
    errors = {item.file_name: item.error for item in model.items if item.error}
    assert set(errors) == {"truncated.jpg", "empty.jpg"} and "empty" in errors["empty.jpg"]
    assert "7 images; 5 classified; 2 could not be classified" in classify.worklist.status.text()

    # Most melanoma-like first: two clicks on the header sort descending.
    table, proxy = classify.worklist.table, classify.worklist.proxy
    header_click(qtbot, table, Column.MELANOMA)
    if table.horizontalHeader().sortIndicatorOrder() != Qt.SortOrder.DescendingOrder:
        header_click(qtbot, table, Column.MELANOMA)
    shares = [model.item(classify.worklist.key_at(r)).share("mel") for r in range(proxy.rowCount())]
    known = [s for s in shares if s is not None]
    assert known == sorted(known, reverse=True) and shares[:5] == known  # rows without a vote come last

    # Filter by text and by kind.
    classify.worklist.filter_edit.setText("patient-03")
    assert proxy.rowCount() == 1
    classify.worklist.filter_edit.clear()
    classify.worklist.show_combo.setCurrentIndex(classify.worklist.show_combo.findData("errors"))
    assert proxy.rowCount() == 2
    classify.worklist.show_combo.setCurrentIndex(0)

    # Step through the sorted rows from the result view with the keyboard.
    table.setFocus()
    table.setCurrentIndex(proxy.index(0, Column.FILE))
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert window.tabs.currentWidget() is classify
    wait_for_result(qtbot, window)
    first = current(window).file_name
    qtbot.keyClick(classify.result, Qt.Key.Key_PageDown)
    wait_for_result(qtbot, window)
    second = model.item(classify.worklist.key_at(1))
    assert current(window) is second and second.file_name != first
    assert f"Query: <b>{second.file_name}</b>" in classify.result.title.text()
    assert "Image 2 of 7" in classify.position_label.text()

    # A note typed into the table is kept on the row.
    window.tabs.setCurrentWidget(classify.worklist)
    table.setFocus()
    table.setCurrentIndex(proxy.index(0, Column.NOTE))
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editor = table.viewport().findChild(QLineEdit)
    assert editor is not None and editor.isVisible()  # F2 opened the note for writing
    qtbot.keyClicks(editor, "Recheck in 3 months, left scapula")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    noted = model.item(classify.worklist.key_at(0))
    qtbot.waitUntil(lambda: noted.note == "Recheck in 3 months, left scapula")  # the delegate commits queued

    # The export reads back to the rows' own numbers.
    assert window.clinic.export_worklist(str(tmp_path / "worklist.csv"))
    rows = {row["file_name"]: row for row in read_csv(tmp_path / "worklist.csv")}
    assert len(rows) == 7 and rows[noted.file_name]["note"] == noted.note
    for item in model.items:
        row = rows[item.file_name]
        if item.error:
            assert row["status"] == "error" and row["error"] == item.error
        else:
            assert row["vote_mel"] == round(item.share("mel"), 4) and row["sha256"] == item.sha256
            assert row["neighbours"].split() == [n.image_id for n in item.outcome.prediction.neighbours]

    # A report of two selected rows, written by the window's file worker.
    if shutil.which("pdftotext"):
        good = [k for k, item in zip(model.keys, model.items) if not item.error][:2]
        pages = window.clinic.report_pages(good)
        window.clinic.export_report(str(tmp_path / "two.pdf"), pages)
        qtbot.waitUntil(lambda: (tmp_path / "two.pdf").exists(), timeout=WAIT_MS)
        text = subprocess.run(["pdftotext", str(tmp_path / "two.pdf"), "-"], capture_output=True, text=True).stdout
        assert text.count("dermview case report") == 2 and "not a medical device" in text
        # Print goes through the same renderer; a printer set to a PDF file shows what it received.
        from PySide6.QtPrintSupport import QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(tmp_path / "printed.pdf"))
        window.clinic.print_pages(printer, pages)
        qtbot.waitUntil(lambda: "Printed 2 report pages" in window.statusBar().currentMessage(), timeout=WAIT_MS)
        printed = subprocess.run(["pdftotext", str(tmp_path / "printed.pdf"), "-"], capture_output=True,
                                 text=True).stdout
        assert printed.count("dermview case report") == 2 and pages[0].file_name in printed


def test_cancel_keeps_the_rows_done_and_the_rest_can_be_classified_later(make_window, small_model, small_archive,
                                                                         data_dir, qtbot, tmp_path):
    folder = tmp_path / "visit"
    folder.mkdir()
    for path in sorted((data_dir / "originals").glob("*.jpg"))[:40]:  # plenty to cancel after the third
        (folder / path.name).symlink_to(path)
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [folder])
    classify = window.classify
    qtbot.waitUntil(lambda: sum(i.outcome is not None for i in classify.model.items) >= 3, timeout=WAIT_MS)
    qtbot.mouseClick(classify.worklist.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.wait(200)  # the image being classified when Cancel was clicked may still arrive
    done = sum(item.outcome is not None for item in classify.model.items)
    waiting = sum(item.status == PENDING for item in classify.model.items)
    assert done >= 3 and waiting > 0 and "(cancelled)" in classify.worklist.status.text()
    assert classify.worklist.resume_button.isVisible()
    qtbot.mouseClick(classify.worklist.resume_button, Qt.MouseButton.LeftButton)
    wait_all_classified(qtbot, window)
    assert sum(item.outcome is not None for item in classify.model.items) == 40


def test_the_session_survives_a_restart_and_reports_moved_or_changed_files(make_window, small_model, small_archive,
                                                                           data_dir, qtbot, tmp_path):
    folder = tmp_path / "visit"
    folder.mkdir()
    originals = sorted((data_dir / "originals").glob("*.jpg"))[:3]
    for number, path in enumerate(originals):
        shutil.copy(path, folder / f"lesion-{number}.jpg")
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [folder])
    wait_all_classified(qtbot, window)
    for row, item in enumerate(window.classify.model.items):
        window.classify.model.setData(window.classify.model.index(row, Column.NOTE), f"note {item.file_name}")
    window.close()

    Image.open(originals[0]).rotate(90).save(folder / "lesion-1.jpg")  # changed content, same name
    (folder / "lesion-2.jpg").rename(tmp_path / "elsewhere.jpg")  # moved away
    again = make_window(small_archive, keep_session=True)
    worklist = again.classify.worklist
    qtbot.waitUntil(lambda: worklist.offer.isVisible(), timeout=WAIT_MS)
    assert "3 images, 3 with notes" in worklist.offer_label.text()
    qtbot.mouseClick(worklist.findChild(type(worklist.resume_button), "reopen-session"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.classify.model.rowCount() == 3, timeout=WAIT_MS)
    wait_all_classified(qtbot, again)
    items = {item.file_name: item for item in again.classify.model.items}
    assert all(item.note == f"note {name}" for name, item in items.items())  # nothing the clinician wrote is lost
    assert items["lesion-0.jpg"].outcome is not None and items["lesion-0.jpg"].error is None
    assert "content has changed" in items["lesion-1.jpg"].error and items["lesion-1.jpg"].outcome is None
    assert "moved or deleted" in items["lesion-2.jpg"].error


def test_open_with_keeps_the_saved_session_aside(make_window, small_model, small_archive, data_dir, qtbot):
    """A window started with an image (the file manager's "Open with") never offered the saved session: the
    session, notes included, is kept under another name, not overwritten by the one-row worklist."""
    from dermview.clinic.sessions import save_session, session_file
    from dermview.clinic.worklist import WorkItem

    save_session([WorkItem(f"/clinic/img-{n}.jpg", note=f"note {n}") for n in range(150)], str(small_archive))
    earlier = set(session_file().parent.glob("session-*.json"))  # kept aside by other tests of this run
    window = make_window(keep_session=True)
    window.pending_files.append(str(data_dir / "originals" / "ISIC_0024307.jpg"))
    window.open_archive(str(small_archive))
    qtbot.waitUntil(lambda: window.classify is not None and window.classify.model.rowCount() == 1, timeout=WAIT_MS)
    wait_all_classified(qtbot, window)
    window.clinic.save_now()
    kept = list(set(session_file().parent.glob("session-*.json")) - earlier)
    assert len(kept) == 1
    import json

    assert [i["note"] for i in json.loads(kept[0].read_text())["images"]] == [f"note {n}" for n in range(150)]
    assert len(json.loads(session_file().read_text())["images"]) == 1


def test_a_muted_row_shows_no_vote_and_names_what_it_is(make_window, small_model, small_archive, data_dir, qtbot,
                                                        tmp_path):
    from training.nondermoscopy import synthetic

    letter = tmp_path / "referral-letter.png"
    synthetic(data_dir)["document-1.png"].save(letter)
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [letter, data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_all_classified(qtbot, window)
    model = window.classify.model
    rows = {item.file_name: row for row, item in enumerate(model.items)}
    muted, lesion = rows["referral-letter.png"], rows["ISIC_0024307.jpg"]
    assert model.index(muted, Column.MELANOMA).data() == "" and model.index(muted, Column.UNFAMILIAR).data() == "unlike the archive"
    assert model.index(lesion, Column.MELANOMA).data().endswith("%") and model.index(lesion, Column.UNFAMILIAR).data() == ""


def test_two_windows_open_at_once_keep_a_session_each(make_window, small_model, small_archive, data_dir, qtbot):
    """Two windows open at the same time each saved to the one last-session file: the one that saved last
    overwrote the other's worklist and notes. Now each claims a session file of its own while it is open."""
    import json

    from dermview.clinic.sessions import session_file

    session_file(2).unlink(missing_ok=True)
    first = make_window(small_archive)
    second = make_window(small_archive)
    for window, image in ((first, "ISIC_0024307.jpg"), (second, "ISIC_0024308.jpg")):
        wait_for_index(qtbot, window)
        drop(window, [data_dir / "originals" / image])
        wait_all_classified(qtbot, window)
        window.classify.model.setData(window.classify.model.index(0, Column.NOTE), f"seen in {image}")
        window.clinic.save_now()
    first.clinic.save_now()  # the first window saves again, after the second: it must not overwrite it
    notes = {json.loads(path.read_text())["images"][0]["note"] for path in (session_file(1), session_file(2))}
    assert notes == {"seen in ISIC_0024307.jpg", "seen in ISIC_0024308.jpg"}
    assert {first.clinic.slot.path, second.clinic.slot.path} == {session_file(1), session_file(2)}
    holder, other = (first, second) if first.clinic.slot.number == 1 else (second, first)
    holder.close()  # its file is free again: the next window is offered that window's session
    again = make_window(small_archive, keep_session=True)
    worklist = again.classify.worklist
    qtbot.waitUntil(lambda: worklist.offer.isVisible(), timeout=WAIT_MS)
    assert again.clinic.slot.path == session_file(1) and "1 image, 1 with notes" in worklist.offer_label.text()
    other.close()
