"""The window, driven through its real widgets (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage

from dermview.archive import DX_CODES
from dermview.ui.compare import CompareDialog
from dermview.ui.settings import Settings

from dermview.ui.worklist import Column
from gui_helpers import select_row, WAIT_MS, drop, wait_for_index, wait_for_result


def test_start_screen_explains_the_archive(make_window, tmp_path, qtbot):
    window = make_window()
    assert window.pages.currentWidget() is window.start_page
    browser = window.start_page.text
    text = browser.toPlainText()
    assert "HAM10000" in text and "HAM10000_images_part1.zip" in text and "not a medical device" in text
    # all of it is on screen: the widget is as tall as the laid-out text, with no scrolling needed
    assert browser.height() >= browser.document().size().height()
    assert browser.verticalScrollBar().maximum() == 0
    window.open_archive(str(tmp_path))
    qtbot.waitUntil(lambda: not window.opening_archive, timeout=WAIT_MS)  # opened on a worker thread
    assert window.archive is None
    error = window.start_page.error
    assert "No HAM10000 metadata" in error.text()
    assert error.minimumHeight() >= error.heightForWidth(error.width())  # the wrapped message is not clipped
    assert window.pages.currentWidget() is window.start_page


@pytest.mark.slow
def test_facets_give_the_published_counts(make_window, data_dir, qtbot):
    window = make_window(data_dir)
    assert window.browser.model.rowCount() == 10015
    window.browser.facets.set_checked("dx", "mel")
    assert window.browser.model.rowCount() == 1113
    assert window.browser.count_label.text() == "1,113 of 10,015 images"
    assert "(1,113)" in window.browser.facets._boxes["dx"]["mel"].text()
    window.browser.facets.set_checked("dx", "mel", False)
    window.browser.facets.set_checked("dx_type", "confocal")
    assert window.browser.model.rowCount() == 69
    # live counts: with confocal ticked, every confocal image is bkl
    assert "(69)" in window.browser.facets._boxes["dx"]["bkl"].text()
    assert "(0)" in window.browser.facets._boxes["dx"]["mel"].text()
    window.browser.facets.clear()
    qtbot.keyClicks(window.browser.facets.search, "HAM_0000118")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=2000)
    # selecting it shows the image large and the other image of the same lesion
    window.browser.grid.setCurrentIndex(window.browser.model.index(0, 8))
    assert window.detail.fields["lesion_id"].text() == "HAM_0000118"
    assert window.detail.lesion_strip.count() == 1
    other = window.detail.lesion_strip.item(0).text()
    assert other != window.detail.fields["image_id"].text() and other.startswith("ISIC_")


@pytest.mark.slow
def test_age_range_and_table_sorting(make_window, data_dir):
    window = make_window(data_dir)
    window.browser.facets.age_min.setValue(80)
    ages = window.archive.metadata["age"]
    assert window.browser.model.rowCount() == int((ages >= 80).sum())
    window.browser.set_view_mode("table")
    window.browser.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    top = [window.browser.model.data(window.browser.model.index(r, 4)) for r in range(3)]
    assert top == ["85"] * 3


def test_drop_an_original_gives_prediction_and_neighbours(make_window, small_model, small_archive, data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    window.classify.k_spin.setValue(9)
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    prediction = window.classify.result.prediction
    assert prediction is not None and prediction.prediction in DX_CODES
    assert window.classify.result.neighbours.count() == 9
    assert set(window.classify.result.chart.votes()) == set(DX_CODES)
    assert "Nearest-neighbour suggestion" in window.classify.result.headline.text()
    # the original is also in the archive: its own lesion must not vote for it
    own = window.session.predictor.lesion_of("ISIC_0024307")
    if own is not None:
        assert own not in {n.lesion_id for n in prediction.neighbours}
        assert f"This is archive image ISIC_0024307 (lesion {own})" in window.classify.result.title.text()
    notice = window.classify.result.findChild(type(window.archive_label), "medical-notice")
    assert notice.isVisible() and "not a medical device" in notice.text()
    qtbot.waitUntil(window.classify.result.neighbours.all_loaded, timeout=WAIT_MS)


def test_broken_drop_shows_a_message_and_the_window_keeps_working(make_window, small_model, small_archive,
                                                                  data_dir, tmp_path, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()[:3000])
    drop(window, [broken])
    wait_for_result(qtbot, window)
    assert "truncated or damaged" in window.classify.result.headline.text()
    model = window.classify.model
    assert model.index(0, Column.SUGGESTION).data() == "could not be classified"
    drop(window, [data_dir / "originals" / "ISIC_0024338.jpg", tmp_path / "missing.jpg"])
    names = [item.file_name for item in model.items]
    good, missing = names.index("ISIC_0024338.jpg"), names.index("missing.jpg")
    assert window.classify.worklist.current_key() == model.keys[good]  # the readable image is shown first
    qtbot.waitUntil(lambda: model.items[good].outcome is not None, timeout=WAIT_MS)
    wait_for_result(qtbot, window)
    assert window.classify.result.prediction is not None
    window.classify.worklist.select_key(model.keys[missing])
    assert "no such file" in window.classify.result.headline.text()
    assert "no such file" in model.index(missing, Column.SUGGESTION).data(Qt.ItemDataRole.ToolTipRole)


def test_folder_drop_makes_a_list_to_step_through(make_window, small_model, small_archive, data_dir, qtbot, tmp_path):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    folder = tmp_path / "visit"
    folder.mkdir()
    for name in ("ISIC_0024307.jpg", "ISIC_0024308.jpg", "ISIC_0024310.jpg"):
        (folder / name).write_bytes((data_dir / "originals" / name).read_bytes())
    drop(window, [folder])
    assert window.classify.model.rowCount() == 3
    assert window.tabs.currentWidget() is window.classify.worklist  # several images: the worklist shows
    for row in range(3):
        select_row(window, row)
        wait_for_result(qtbot, window)
        assert f"Query: <b>{sorted(p.name for p in folder.iterdir())[row]}</b>" in window.classify.result.title.text()


def test_compare_view_zooms_both_sides(make_window, small_model, small_archive, data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    item = window.classify.result.neighbours.item(0)
    rect = window.classify.result.neighbours.visualItemRect(item)
    qtbot.mouseClick(window.classify.result.neighbours.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.findChild(CompareDialog) is not None, timeout=WAIT_MS)
    dialog = window.findChild(CompareDialog)
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.shown == window.classify.result.tiles[0].nearest.image_id,
                    timeout=WAIT_MS)
    before = dialog.zoom_level()
    dialog.zoom(1.25)
    after = dialog.zoom_level()
    assert after[0] == pytest.approx(before[0] * 1.25) and after[1] == pytest.approx(before[1] * 1.25)
    dialog.left.horizontalScrollBar().setValue(dialog.left.horizontalScrollBar().maximum())
    assert dialog.right.horizontalScrollBar().value() == dialog.left.horizontalScrollBar().value()
    dialog.close()


def test_a_lesion_with_more_images_opens_them_all_in_the_compare_view(make_window, small_model, small_archive,
                                                                      data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    # Its 21 neighbours in the small archive come from 18 lesions (measured): some tiles stand for several images.
    drop(window, [data_dir / "originals" / "ISIC_0024310.jpg"])
    wait_for_result(qtbot, window)
    result = window.classify.result
    row, tile = next((i, t) for i, t in enumerate(result.tiles) if t.more)
    assert f"+{len(tile.more)} more" in result.neighbours.item(row).text()
    rect = result.neighbours.visualItemRect(result.neighbours.item(row))
    qtbot.mouseClick(result.neighbours.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.findChild(CompareDialog) is not None, timeout=WAIT_MS)
    dialog = window.findChild(CompareDialog)
    qtbot.waitUntil(lambda: dialog.shown == tile.nearest.image_id, timeout=WAIT_MS)
    buttons = dialog.choices.buttons()
    assert [b.text().split()[0] for b in buttons] == [tile.nearest.image_id, *(m.image_id for m in tile.more)]
    qtbot.mouseClick(buttons[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.shown == tile.more[0].image_id, timeout=WAIT_MS)
    assert dialog.neighbour_title.text().startswith(tile.more[0].image_id)
    assert tile.nearest.lesion_id in dialog.neighbour_title.text()
    dialog.close()


def test_larger_screens_show_more_and_larger_tiles(make_window, small_model, small_archive, data_dir, qtbot):
    from dermview.ui.app import layout_report

    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    sizes = {}
    for width, height in ((1366, 768), (1920, 1080), (1366, 768)):
        window.resize(width, height)
        qtbot.waitUntil(lambda w=width: window.size().width() == w)
        qtbot.wait(50)  # the layout settles
        sizes[width] = layout_report(window)
    assert sizes[1366]["neighbour_tile"][0] >= 150 and sizes[1366]["neighbours_visible"] >= 9
    assert sizes[1920]["neighbour_tile"][0] > sizes[1366]["neighbour_tile"][0]
    tiles = len(window.classify.result.tiles)  # k is whatever the settings remember: maybe fewer than 15 lesions
    assert sizes[1920]["neighbours_visible"] >= min(tiles, max(15, sizes[1366]["neighbours_visible"]))


def test_find_similar_excludes_own_lesion(make_window, small_model, small_archive, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    meta = window.archive.metadata
    lesion = meta["lesion_id"].value_counts().index[0]
    image_id = meta.loc[meta["lesion_id"] == lesion, "image_id"].iloc[0]
    window.select_image(image_id)
    qtbot.mouseClick(window.detail.similar, Qt.MouseButton.LeftButton)
    wait_for_result(qtbot, window)
    assert lesion not in {n.lesion_id for n in window.classify.result.prediction.neighbours}
    assert f"This is archive image {image_id}: the images of its lesion {lesion} are left out" in \
        window.classify.result.title.text()
    # the same image dropped as a file is recognised (by its content) and treated alike
    drop(window, [Path(small_archive) / "images" / f"{image_id}.jpg"])
    wait_for_result(qtbot, window)
    assert lesion not in {n.lesion_id for n in window.classify.result.prediction.neighbours}
    assert f"This is archive image {image_id} (lesion {lesion})" in window.classify.result.title.text()


def test_rapid_queries_newest_wins(make_window, small_model, small_archive, data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    originals = sorted((data_dir / "originals").glob("*.jpg"))[:20]
    answers = []
    window.service.query_done.connect(answers.append)
    drop(window, originals)
    for row in range(20):  # the user flicks through the list faster than the model can answer
        select_row(window, row)
    wait_for_result(qtbot, window)
    assert window.classify.worklist.current_key() == window.classify.model.keys[19]
    assert f"Query: <b>{originals[19].name}</b>" in window.classify.result.title.text()
    qtbot.wait(300)
    assert len(answers) < 20  # superseded views were skipped, not all decoded and shown


def test_paste_image_from_clipboard(make_window, small_model, small_archive, data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    QGuiApplication.clipboard().setImage(QImage(str(data_dir / "originals" / "ISIC_0024307.jpg")))
    window.paste_action.trigger()
    wait_for_result(qtbot, window)
    assert window.classify.result.prediction is not None


def test_keyboard_navigation_in_grid_and_neighbours(make_window, small_model, small_archive, data_dir, qtbot):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    window.browser.grid.setFocus()
    window.browser.grid.setCurrentIndex(window.browser.model.index(0, 8))
    first = window.detail.fields["image_id"].text()
    qtbot.keyClick(window.browser.grid, Qt.Key.Key_Right)
    assert window.detail.fields["image_id"].text() == window.browser.model.image_id(1) != first
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    strip = window.classify.result.neighbours
    strip.setFocus()
    strip.setCurrentRow(0)
    qtbot.keyClick(strip, Qt.Key.Key_Right)
    assert strip.currentRow() == 1
    qtbot.keyClick(strip, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.findChild(CompareDialog) is not None, timeout=WAIT_MS)


def test_settings_persist(make_window, small_archive, qtbot):
    window = make_window(small_archive)
    window.classify.k_spin.setValue(11)
    window.browser.set_view_mode("table")
    window.close()
    again = make_window()
    assert again.settings.last_archive == str(Path(small_archive).resolve())
    assert again.settings.k_for("classic", 0) == 11 and again.settings.view_mode == "table"


def test_learned_features_in_the_window_and_switching_back(make_window, originals_archive, originals_learned, data_dir,
                                                           qtbot):
    from dermview.model.learned import model_info

    window = make_window(originals_archive, features="learned")
    assert window.classify.features_combo.currentData() == "learned"
    assert not window.classify.feature_note.isVisible()
    assert window.classify.k_spin.value() == model_info().k  # the model's own k, chosen on held-out lesions
    wait_for_index(qtbot, window)
    assert window.session.features == "learned"
    assert "learned dermoscopy embedding" in window.index_label.text()
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    assert len(window.classify.result.prediction.neighbours) == model_info().k
    if window.session.predictor.lesion_of("ISIC_0024307") is not None:  # an archive image the network was trained on
        assert "trained on this image" in window.classify.result.title.text()
    first = window.classify.result.prediction

    window.classify.features_combo.setCurrentIndex(window.classify.features_combo.findData("classic"))
    qtbot.waitUntil(lambda: window.session is not None and window.session.features == "classic",
                    timeout=WAIT_MS)
    wait_for_result(qtbot, window)
    assert "colour-texture" in window.index_label.text()
    assert window.classify.result.prediction is not first  # asked again with the other features
    shown = window.classify.result.prediction.neighbours
    assert len(shown) == window.classify.k_spin.value()  # the k of this similarity ...
    assert window.classify.result.neighbours.count() == len({n.lesion_id for n in shown})  # ... as lesion tiles
    assert Settings().features == "classic"


def test_missing_learned_model_shows_a_note_and_uses_colour_texture(make_window, small_model, small_archive,
                                                                    qtbot, monkeypatch, tmp_path):
    from dermview.model.learned import ENV_MODEL

    monkeypatch.setenv(ENV_MODEL, str(tmp_path / "missing.onnx"))
    window = make_window(small_archive, features="learned")
    learned_item = window.classify.features_combo.model().item(window.classify.features_combo.findData("learned"))
    assert not learned_item.isEnabled() and "not installed" in learned_item.toolTip()
    assert window.classify.features_combo.currentData() == "classic"
    assert window.classify.feature_note.isVisible() and "not available" in window.classify.feature_note.text()
    wait_for_index(qtbot, window)
    assert window.session.features == "classic"
    assert Settings().features == "learned"  # the user's choice is kept for when the model is back


EVIL_NAME = "<font color=red size=7>MELANOMA - excise now<br>"


def _labels_render_no_markup_from(window, needle: str) -> list[str]:
    """Every label, tool tip and message whose text holds ``needle`` interpreted as markup."""
    from PySide6.QtWidgets import QLabel, QListWidget

    offenders = []
    for label in window.findChildren(QLabel):
        text = label.text()
        if needle in text and label.textFormat() != Qt.TextFormat.PlainText:
            offenders.append(f"label {label.objectName() or type(label).__name__}: {text[:60]}")
    for widget in window.findChildren(QListWidget):
        for i in range(widget.count()):
            tip = widget.item(i).toolTip()
            if needle in tip:
                offenders.append(f"tool tip: {tip[:60]}")
    return offenders


def test_file_names_are_shown_as_plain_text(make_window, small_model, small_archive, data_dir, qtbot, tmp_path):
    good = tmp_path / f"{EVIL_NAME}.jpg"
    good.write_bytes((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes())
    bad = tmp_path / f"{EVIL_NAME}broken.jpg"
    bad.write_bytes(b"not an image")
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [good])
    wait_for_result(qtbot, window)
    assert window.classify.result.prediction is not None
    assert EVIL_NAME in window.classify.result.title.text().replace("&lt;", "<").replace("&gt;", ">")
    assert not _labels_render_no_markup_from(window, "<font")
    drop(window, [bad])
    wait_for_result(qtbot, window)
    assert window.classify.result.prediction is None
    assert not _labels_render_no_markup_from(window, "<font")


def test_performance_view_pools_the_learned_held_out_folds_and_shows_each(qtbot, tmp_path):
    """The learned similarity's figures are its three held-out folds together; the dialog draws their
    pooled confusion matrix and says fold by fold how far apart they were (plain text)."""
    from dermview.model.extractors import get_kind
    from dermview.ui.performance import PerformanceDialog

    report = get_kind("learned").held_out()
    dialog = PerformanceDialog("Learned", report)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert sum(map(sum, dialog.matrix.matrix)) == report["n"] > 6000
    assert dialog.folds.textFormat() == Qt.TextFormat.PlainText
    for fold in report["by_fold"]:
        assert f"fold {fold['fold']} {fold['accuracy']:.3f} / {fold['balanced_accuracy']:.3f}" in dialog.folds.text()
    assert dialog.grab().save(str(tmp_path / "performance-learned.png"))
    dialog.close()


def test_performance_view_draws_the_held_out_figures(make_window, small_model, small_archive, qtbot, tmp_path):
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    window.performance_action.trigger()
    dialog = window.performance
    qtbot.waitExposed(dialog)
    held_out = window.session.held_out
    assert dialog.matrix.matrix == held_out["confusion"]["matrix"]
    assert sum(map(sum, dialog.matrix.matrix)) == held_out["n"]
    picture = dialog.grab()
    assert picture.width() >= dialog.matrix.sizeHint().width()
    assert picture.save(str(tmp_path / "performance.png"))
    image = picture.toImage()  # the diagonal is drawn green, the rest red: both appear
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 10
    dialog.close()


def test_table_columns_are_wide_enough_for_their_longest_text(make_window, small_model, small_archive):
    window = make_window(small_archive)
    window.browser.set_view_mode("table")
    table, model = window.browser.table, window.browser.model
    metrics = table.fontMetrics()
    for column in range(model.columnCount() - 1):  # the last is the grid's hidden caption
        assert table.columnWidth(column) >= metrics.horizontalAdvance(model.widest_text(column)), model.headerData(
            column, Qt.Orientation.Horizontal)
    assert model.widest_text(2) == "Actinic keratosis / Bowen's disease (akiec)"


def test_the_first_window_fits_the_screen(qtbot):
    """On its first start (no stored geometry) the window fits the screen's available area: a 1366x768 laptop
    keeps its status bar and right edge; a large screen gets the usual size."""
    from PySide6.QtCore import QSize

    from dermview.ui.screen import FIRST_SIZE, first_size

    laptop = first_size(QSize(1366, 728))  # 1366x768 less a 40-pixel panel
    assert laptop.width() <= 1366 - 16 and laptop.height() <= 728 - 40
    assert first_size(QSize(2560, 1400)) == FIRST_SIZE
    from dermview.ui.main_window import MainWindow
    from dermview.ui.settings import Settings

    window = MainWindow(Settings())  # a fresh per-user folder (conftest): no stored geometry
    qtbot.addWidget(window)
    available = window.screen().availableGeometry()
    assert window.width() <= available.width() and window.height() <= available.height()
    window.close()
    qtbot.waitUntil(lambda: window.service._thread.isFinished(), timeout=10_000)


def _shown_size(view):
    """(width, height) in screen pixels of the image a compare view shows."""
    rect = view.mapFromScene(view.item.sceneBoundingRect()).boundingRect()
    return rect.width(), rect.height()


def test_compare_shows_both_images_at_one_scale_fitted(make_window, small_model, small_archive, data_dir, qtbot):
    """Side by side means equal magnification: the query (a 600x450 original) and the neighbour (a 200x150
    archive image) open fitted at the same on-screen size, and stay equal after zooming and after Fit."""
    window = make_window(small_archive)
    window.resize(1366, 768)
    wait_for_index(qtbot, window)
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    window.classify.compare_with(window.classify.result.tiles[0].nearest.image_id)
    dialog = window.classify.compare
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.shown is not None, timeout=WAIT_MS)
    qtbot.wait(100)
    for _ in range(2):
        (lw, lh), (rw, rh) = _shown_size(dialog.left), _shown_size(dialog.right)
        assert abs(lw - rw) <= 2 and abs(lh - rh) <= 2, ((lw, lh), (rw, rh))
        viewport = dialog.left.viewport().size()
        assert lw <= viewport.width() + 1 and lh <= viewport.height() + 1  # fitted: the whole image is in view
        assert lw >= 0.9 * viewport.width() or lh >= 0.9 * viewport.height()  # and not a stamp in a corner
        dialog.zoom(1.25)
        (lw, _), (rw, _) = _shown_size(dialog.left), _shown_size(dialog.right)
        assert abs(lw - rw) <= 2
        dialog.fit()
    dialog.close()
