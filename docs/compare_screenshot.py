"""Renders docs/compare-1366x768.png: the query (a 600x450 original) beside its nearest archive lesion (a
200x150 image) at one magnification. Run from the project root with the learned index built:
.venv/bin/python docs/compare_screenshot.py"""

from __future__ import annotations

from _window import ARCHIVE, ROOT, save_comparison, scripted_window, wait


def main() -> None:
    app, window = scripted_window()
    window.open_archive(str(ARCHIVE))
    wait(app, lambda: window.session is not None)
    save_comparison(app, window, ARCHIVE / "originals" / "ISIC_0024482.jpg", ROOT / "docs" / "compare-1366x768.png")
    window.close()


if __name__ == "__main__":
    main()
