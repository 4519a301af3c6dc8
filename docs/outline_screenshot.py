"""Renders the lesion outlines' two other screenshots: docs/archive-image-outlines-1366x768.png (an archive
image with dermview's outline and the published one, and how far they agree) and docs/compare-outlines-1366x768.png
(both sides of the compare view outlined). Run from the project root with the learned index built:
.venv/bin/python docs/outline_screenshot.py"""

from __future__ import annotations

from _window import ARCHIVE, ROOT, save_comparison, scripted_window, wait


def main() -> None:
    app, window = scripted_window()
    window.open_archive(str(ARCHIVE))
    wait(app, lambda: window.session is not None)
    window.outline_action.setChecked(True)  # View > Lesion Outlines
    window.select_image("ISIC_0024482")
    wait(app, lambda: "Jaccard" in window.detail.outline_note.text())
    wait(app, lambda: False, timeout=1.0)
    window.grab().save(str(ROOT / "docs" / "archive-image-outlines-1366x768.png"))
    save_comparison(app, window, ARCHIVE / "originals" / "ISIC_0024482.jpg",
                    ROOT / "docs" / "compare-outlines-1366x768.png")
    window.outline_action.setChecked(False)  # as the settings were
    window.close()


if __name__ == "__main__":
    main()
