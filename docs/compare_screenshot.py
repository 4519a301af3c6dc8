"""Renders docs/compare-1366x768.png: the query (a 600x450 original) beside its nearest archive lesion (a
200x150 image) at one magnification. Run from the project root with the learned index built:
.venv/bin/python docs/compare_screenshot.py"""

from __future__ import annotations

from _window import ARCHIVE, ROOT, scripted_window, wait


def main() -> None:
    app, window = scripted_window()
    window.open_archive(str(ARCHIVE))
    wait(app, lambda: window.session is not None)
    window.add_queries([str(ARCHIVE / "originals" / "ISIC_0024482.jpg")])
    wait(app, lambda: window.classify is not None and window.classify.result.prediction is not None)
    result = window.classify.result
    window.classify.compare_with(result.tiles[0].nearest.image_id)
    dialog = window.classify.compare
    dialog.resize(1366, 768)
    wait(app, lambda: dialog.shown is not None)
    wait(app, lambda: False, timeout=1.0)
    dialog.grab().save(str(ROOT / "docs" / "compare-1366x768.png"))
    dialog.close()
    window.close()


if __name__ == "__main__":
    main()
