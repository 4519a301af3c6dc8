"""Renders docs/library-result-1366x768.png and docs/library-tab-1366x768.png: a practice's case library
(a temporary SQLite file of archive originals saved as cases, some confirmed) searched beside the archive,
and the Case library tab. The query is a follow-up photograph of case K-2026-003 (its original cropped and
turned). Run from the project root with the learned index built: .venv/bin/python docs/library_screenshot.py"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from _window import ARCHIVE, ROOT, scripted_window, wait

FOLDER = Path(tempfile.mkdtemp(prefix="dermview-library-"))
os.environ["DERMVIEW_LIBRARY"] = f"sqlite:///{FOLDER / 'practice.sqlite'}"

from PIL import Image  # noqa: E402

from dermview.library.store import CaseLibrary  # noqa: E402

# (original, case id, confirmed diagnosis, how, site, age, sex); None: awaiting confirmation
CASES = [("ISIC_0024310.jpg", "K-2026-001", "mel", "histo", "back", 61, "male"),
         ("ISIC_0024307.jpg", "K-2026-002", "nv", "follow_up", "left forearm", 34, "female"),
         ("ISIC_0024315.jpg", "K-2026-003", "mel", "histo", "right calf", 58, "female"),
         ("ISIC_0024318.jpg", "K-2026-004", None, None, "scalp", 72, "male"),
         ("ISIC_0024323.jpg", "K-2026-005", "other", "histo", "chest", 49, "male")]


def main() -> None:
    library = CaseLibrary()
    originals = {p.name: p for p in (ARCHIVE / "originals").glob("*.jpg")}
    names = sorted(originals)
    for n, (name, case_id, dx, how, site, age, sex) in enumerate(CASES):
        path = originals.get(name) or originals[names[n * 7]]
        library.add_case(path.read_bytes(), case_id, file_name=f"2026-0{n + 3}-12_{case_id}.jpg", body_site=site,
                         age=age, sex=sex, note="excised" if dx == "mel" else "")
        if dx:
            library.confirm(case_id, dx, how, by="Dr Example", other="seborrhoeic wart" if dx == "other" else None)
    follow_up = FOLDER / "2026-12-01_follow-up.jpg"
    picture = Image.open(originals.get(CASES[2][0]) or originals[names[14]]).convert("RGB")
    w, h = picture.size
    picture = picture.crop((w // 12, h // 12, w - w // 12, h - h // 12)).rotate(90, expand=True)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=88)
    follow_up.write_bytes(buffer.getvalue())
    library.close()

    app, window = scripted_window()
    window.open_archive(str(ARCHIVE))
    wait(app, lambda: window.session is not None and window.library.counts is not None)
    window.add_queries([str(follow_up)])
    wait(app, lambda: window.classify.result.prediction is not None)
    wait(app, lambda: False, timeout=2.0)  # thumbnails
    window.grab().save(str(ROOT / "docs" / "library-result-1366x768.png"))
    window.tabs.setCurrentWidget(window.library.view)
    window.library.view.select_case("K-2026-003")
    wait(app, lambda: False, timeout=1.5)
    window.grab().save(str(ROOT / "docs" / "library-tab-1366x768.png"))
    window.close()


if __name__ == "__main__":
    main()
