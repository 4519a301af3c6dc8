"""The lesion outline in the window, driven through its real widgets: the toggle (key and menu) on the query,
every neighbour tile, both sides of the compare view and the archive image with its published outline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from conftest import make_subset_archive
from dermview.model.outline import OUTLINE_COLOUR, PUBLISHED_COLOUR
from dermview.ui.compare import CompareDialog
from dermview.ui.thumbnail_loader import OUTLINE, PLAIN
from gui_helpers import WAIT_MS, drop, wait_for_index, wait_for_result


def coloured_pixels(pixmap, colour) -> int:
    """How many pixels of ``pixmap`` are exactly ``colour`` (what the outline is drawn in)."""
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, line = image.width(), image.height(), image.bytesPerLine()
    pixels = np.frombuffer(image.constBits(), np.uint8, count=line * height).reshape(height, line)[:, :width * 3]
    return int((pixels.reshape(height, width, 3) == np.array(colour, np.uint8)).all(axis=2).sum())


@pytest.fixture(scope="module")
def masked_archive(tmp_path_factory) -> Path:
    """A small real archive with the published masks unpacked beside its images, as the release ships them."""
    archive = make_subset_archive(tmp_path_factory.mktemp("masked") / "archive", 0.03, seed=3,
                                  include_images=["ISIC_0024307"])
    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ham10000"
    masks = archive / "HAM10000_segmentations_lesion_tschandl"
    masks.mkdir()
    for image in (archive / "images").glob("*.jpg"):
        (masks / f"{image.stem}_segmentation.png").symlink_to(data / "segmentations" / f"{image.stem}_segmentation.png")
    return archive


def test_the_outline_toggle_draws_on_query_tiles_and_compare(make_window, masked_archive, data_dir, qtbot):
    window = make_window(masked_archive)
    wait_for_index(qtbot, window)
    assert not window.outline_action.isChecked()
    assert window.outline_action.shortcut().toString() == "O"
    drop(window, [data_dir / "originals" / "ISIC_0024307.jpg"])
    wait_for_result(qtbot, window)
    result = window.classify.result
    assert result.outlined_query is not None  # the worker drew it beside the plain one
    assert coloured_pixels(result.query.image(), OUTLINE_COLOUR) == 0
    assert not result.lesion_text.isVisible()  # off: the query has the room

    window.activateWindow()
    result.neighbours.setFocus()
    qtbot.keyClick(result.neighbours, Qt.Key.Key_O)  # the key, as a clinician would press it
    assert window.outline_action.isChecked() and window.settings.outlines
    assert coloured_pixels(result.query.image(), OUTLINE_COLOUR) > 100
    measures = result.lesion_text  # beside the query, with the outline
    assert measures.isVisible() and "Shape asymmetry" in measures.text() and "nevi / melanomas" in measures.text()
    assert "not a diagnosis or a score" in measures.text()
    assert "never trained on" in measures.toolTip()  # the sentences, and how the outline did on held-out lesions
    assert result.neighbours.outline == OUTLINE
    qtbot.waitUntil(result.neighbours.all_loaded, timeout=WAIT_MS)
    first = result.tiles[0].nearest.image_id
    ids = [tile.nearest.image_id for tile in result.tiles]
    outlined = [window.thumbnails.get(i, result.neighbours.image_size, OUTLINE) for i in ids]
    plain = [window.thumbnails.get(i, result.neighbours.image_size, PLAIN) for i in ids]
    assert all(pixmap is not None for pixmap in outlined)
    # Every tile found its lesion (archive dermoscopy), and the plain pictures stay plain.
    assert sum(coloured_pixels(pixmap, OUTLINE_COLOUR) > 0 for pixmap in outlined) >= 0.8 * len(ids)
    assert all(coloured_pixels(pixmap, OUTLINE_COLOUR) == 0 for pixmap in plain if pixmap is not None)

    window.classify.compare_with(first)
    dialog = window.findChild(CompareDialog)
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.shown == first, timeout=WAIT_MS)
    assert coloured_pixels(dialog.left.item.pixmap(), OUTLINE_COLOUR) > 100
    right_outlined = dialog.right.item.pixmap()
    window.outline_action.trigger()  # the menu item: off again, on both sides of the open comparison
    assert coloured_pixels(dialog.left.item.pixmap(), OUTLINE_COLOUR) == 0
    qtbot.waitUntil(lambda: dialog.shown == first, timeout=WAIT_MS)
    assert coloured_pixels(dialog.right.item.pixmap(), OUTLINE_COLOUR) == 0
    assert coloured_pixels(right_outlined, OUTLINE_COLOUR) > 0
    assert coloured_pixels(result.query.image(), OUTLINE_COLOUR) == 0
    dialog.close()


def test_an_archive_image_shows_both_outlines_and_their_agreement(make_window, masked_archive, qtbot):
    window = make_window(masked_archive)
    window.outline_action.setChecked(True)
    window.select_image("ISIC_0024307")
    note = window.detail.outline_note
    qtbot.waitUntil(lambda: "Jaccard index" in note.text(), timeout=WAIT_MS)
    agreement = float(note.text().split("Jaccard index of ")[1][:4])
    assert 0.6 < agreement <= 1.0
    shown = window.detail.image.image()
    assert coloured_pixels(shown, OUTLINE_COLOUR) > 50 and coloured_pixels(shown, PUBLISHED_COLOUR) > 50
    window.outline_action.setChecked(False)
    assert not note.isVisible()
    qtbot.waitUntil(lambda: window.detail.image.image() is not None
                    and coloured_pixels(window.detail.image.image(), PUBLISHED_COLOUR) == 0, timeout=WAIT_MS)
