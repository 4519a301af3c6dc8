"""Renders the follow-up view offscreen at 1366x768 for the documentation: an unchanged pair (an original and
itself photographed turned and closer) and a changed one (the same lesion grown by 40% in area, made from its
published mask as benchmarks/bench_followup.py makes them). Run from the project root:
QT_QPA_PLATFORM=offscreen .venv/bin/python docs/followup_screenshot.py"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QApplication

from benchmarks.bench_followup import grown
from dermview.clinic.report import FollowUpPage
from dermview.model.followup import follow_up, similarity, warp
from dermview.model.outline import read_mask
from dermview.render.qimage import to_qimage
from dermview.ui.followup_view import FollowUpDialog

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ham10000"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    name = "ISIC_0024310"
    earlier = Image.open(DATA / "originals" / f"{name}.jpg").convert("RGB")
    pixels = np.asarray(earlier, np.float64)
    turn = similarity(14.0, 1.1, (300, 225), (12.0, -10.0))
    mask = read_mask(DATA / "segmentations" / f"{name}_segmentation.png", earlier.size)
    bigger, _ = grown(pixels, mask, 1.4)
    for label, later_pixels in (("unchanged", pixels), ("changed", bigger)):
        later = Image.fromarray(np.clip(warp(later_pixels, turn, (450, 600), mode="reflect"), 0, 255).astype(np.uint8))
        change, before, after = follow_up(earlier, later, days=182)
        page = FollowUpPage("visit 1", "visit 2, 182 days on", before, after, change.sentences())
        dialog = FollowUpDialog(to_qimage(before), to_qimage(after), page.titles, page.sentences)
        dialog.resize(1366, 768)
        dialog.show()
        app.processEvents()
        dialog.fit()
        app.processEvents()
        dialog.grab().save(f"docs/followup-{label}-1366x768.png")
        dialog.close()
        print(label, change.flagged, change.sentences()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
