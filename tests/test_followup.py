"""Follow-up of one lesion (issue 45, the Qt-free core): the alignment's bound, the change measures on drawn
shapes, and ``dermview compare``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dermview.cli import main
from dermview.model import followup
from dermview.model.followup import Alignment, compare_lesion, largest_diameter, similarity, warp

SKIN = (214, 162, 146)


def test_an_image_turned_scaled_and_moved_is_aligned_within_3_pixels(data_dir):
    """Issue 45's bound: an original against itself rotated, scaled 0.8-1.25x and shifted, at 600x450."""
    points = np.array([[x, y] for x in (200, 300, 400) for y in (150, 225, 300)], np.float64)
    for name, (rotation, scale, shift) in (("ISIC_0024307", (17.0, 1.2, (25.0, -12.0))),
                                           ("ISIC_0024310", (-24.0, 0.83, (-20.0, 18.0)))):
        image = Image.open(data_dir / "originals" / f"{name}.jpg").convert("RGB")
        moved = similarity(rotation, scale, (300, 225), shift)
        later = Image.fromarray(np.clip(warp(np.asarray(image, np.float64), moved, (450, 600), mode="reflect"),
                                        0, 255).astype(np.uint8))
        found = followup.align(image, later)
        back = (points @ moved[:, :2].T + moved[:, 2]) @ found.matrix[:, :2].T + found.matrix[:, 2]
        assert found.aligned and np.linalg.norm(back - points, axis=1).max() <= 3.0, name
        assert found.rotation_degrees == pytest.approx(-rotation, abs=1.5) and found.scale == pytest.approx(1 / scale,
                                                                                                            rel=0.03)


def test_images_that_share_nothing_are_not_aligned_and_say_so(data_dir):
    image = Image.open(data_dir / "originals" / "ISIC_0024307.jpg").convert("RGB")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (450, 600, 3)).astype(np.uint8))
    found = followup.align(image, noise)
    assert not found.aligned and found.sentence == followup.NOT_ALIGNED
    change = compare_lesion(image, noise, np.ones((450, 600), bool), np.ones((450, 600), bool), alignment=found)
    assert change.area_ratio is None and not change.flagged and change.sentences() == [followup.NOT_ALIGNED]


def drawn(radius: float, blotch: bool = False) -> tuple[Image.Image, np.ndarray]:
    yy, xx = np.mgrid[0:300, 0:400]
    mask = (yy - 150) ** 2 + (xx - 200) ** 2 <= radius ** 2
    pixels = np.zeros((300, 400, 3), np.uint8) + np.array(SKIN, np.uint8)
    pixels[mask] = (176, 118, 76)  # light brown
    if blotch:
        pixels[mask & ((yy - 150) ** 2 + (xx - 200) ** 2 <= (radius / 3) ** 2)] = (34, 30, 30)  # black
    return Image.fromarray(pixels), mask


IDENTITY = Alignment(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0.0, 1.0, (0.0, 0.0), 1.0)


def test_growth_and_a_new_colour_are_measured_and_flagged_and_no_change_is_not_called_benign():
    earlier, mask = drawn(60)
    same = compare_lesion(earlier, earlier, mask, mask, days=120, alignment=IDENTITY)
    assert same.area_ratio == pytest.approx(1.0) and same.diameter_ratio == pytest.approx(1.0) and not same.flagged
    assert "over 120 days" in same.sentences()[0] and "No measurable change" in same.sentences()[-1]
    assert not any("benign" in s and "not" not in s for s in same.sentences())
    later, bigger = drawn(60 * np.sqrt(1.4))
    grown = compare_lesion(earlier, later, mask, bigger, alignment=IDENTITY)
    assert grown.area_ratio == pytest.approx(1.4, rel=0.03) and grown.diameter_ratio == pytest.approx(np.sqrt(1.4),
                                                                                                      rel=0.03)
    assert grown.flagged and "40% larger" in grown.sentences()[0] and "closer look" in grown.sentences()[-1]
    blotched, _ = drawn(60, blotch=True)
    coloured = compare_lesion(earlier, blotched, mask, mask, alignment=IDENTITY)
    assert coloured.new_colours == ["black"] and coloured.flagged and "New colour: black." in coloured.sentences()
    record = coloured.to_json()
    assert record["flagged"] and record["new_colours"] == ["black"] and record["alignment"]["aligned"]


def test_the_largest_diameter_is_the_longest_chord():
    mask = np.zeros((50, 80), bool)
    mask[10:40, 20:60] = True  # 30 x 40 pixels: corner to corner 29 x 39
    assert largest_diameter(mask) == pytest.approx(np.hypot(29, 39))
    assert largest_diameter(np.zeros((5, 5), bool)) == 0.0


def test_dermview_compare_says_what_changed_and_refuses_what_it_cannot_read(data_dir, tmp_path, capsys):
    original = data_dir / "originals" / "ISIC_0024307.jpg"
    assert main(["compare", str(original), str(original), "--json", "--days", "30"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["alignment"]["aligned"] and record["area_ratio"] == pytest.approx(1.0, abs=0.01)
    assert not record["flagged"] and record["days"] == 30 and record["earlier"]["area_share"] > 0
    assert main(["compare", str(original), str(tmp_path / "missing.jpg")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(original), str(original), "--days", "-3"]) == 2
    assert "negative" in capsys.readouterr().err


def test_the_window_shows_two_visits_aligned_with_what_changed(make_window, small_archive, data_dir, qtbot, tmp_path,
                                                               monkeypatch):
    """File > Compare with an Earlier Visit, through the real widgets: today's image is the one shown, the earlier
    one is chosen in a file dialog; both come up side by side, the later aligned, and the changes in words."""
    from gui_helpers import WAIT_MS, drop, wait_for_index, wait_for_result
    from PySide6.QtWidgets import QFileDialog

    today = data_dir / "originals" / "ISIC_0024307.jpg"
    image = Image.open(today).convert("RGB")
    # The dialogs remember these folders in the session's shared settings: both go at the end, so that the
    # next test's dialogs start where they would have.
    visits, exports = tmp_path / "visits", tmp_path / "exports"
    visits.mkdir()
    exports.mkdir()
    earlier = visits / "last-spring.png"
    Image.fromarray(np.clip(warp(np.asarray(image, np.float64), similarity(12.0, 0.9, (300, 225), (10.0, -8.0)),
                                 (450, 600), mode="reflect"), 0, 255).astype(np.uint8)).save(earlier)
    window = make_window(small_archive)
    window.followup_action.trigger()  # nothing shown yet: a sentence, no dialog
    assert getattr(window, "followup", None) is None
    wait_for_index(qtbot, window)
    drop(window, [today])
    wait_for_result(qtbot, window)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(earlier), ""))
    window.followup_action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "followup", None) is not None, timeout=WAIT_MS)
    dialog = window.followup
    text = dialog.changes.text()
    assert "Area" in text and "measured with the later image aligned" in text and "benign" not in text.replace(
        "says nothing about whether the lesion is benign", "")
    assert dialog.left.item.pixmap().size() == dialog.right.item.pixmap().size()  # the later one in the earlier's frame
    before = dialog.right.item.pixmap().cacheKey()
    dialog.blend.setValue(60)
    assert dialog.right.item.pixmap().cacheKey() != before
    page = exports / "follow-up page.pdf"  # Save as PDF: the follow-up page, written on the file worker
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(page), ""))
    dialog.save_pdf.click()
    qtbot.waitUntil(page.exists, timeout=WAIT_MS)
    assert page.read_bytes().startswith(b"%PDF")
    earlier_bytes = earlier.read_bytes()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(earlier), ""))
    dialog.save_pdf.click()  # over the earlier image: refused, said, the image left as it was
    qtbot.waitUntil(lambda: "follow-up page could not be written" in window.statusBar().currentMessage(),
                    timeout=WAIT_MS)
    assert "would be replaced" in window.statusBar().currentMessage()
    assert earlier.read_bytes() == earlier_bytes
    dialog.close()
    import shutil

    shutil.rmtree(visits)
    shutil.rmtree(exports)


def test_dermview_compare_writes_the_follow_up_page_and_never_over_an_input(data_dir, tmp_path, capsys):
    original = data_dir / "originals" / "ISIC_0024307.jpg"
    later = tmp_path / "later.png"
    pixels = np.asarray(Image.open(original).convert("RGB"), np.float64)
    Image.fromarray(np.clip(warp(pixels, similarity(8.0, 1.05, (300, 225), (6.0, 4.0)), (450, 600), mode="reflect"),
                            0, 255).astype(np.uint8)).save(later)
    pdf = tmp_path / "follow-up.pdf"
    assert main(["compare", str(original), str(later), "--pdf", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF") and b"%%EOF" in pdf.read_bytes()[-64:]
    assert "Area" in capsys.readouterr().out
    before = later.read_bytes()
    assert main(["compare", str(original), str(later), "--pdf", str(later)]) == 2
    assert "would be replaced" in capsys.readouterr().err and later.read_bytes() == before
