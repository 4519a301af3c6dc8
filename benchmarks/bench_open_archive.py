"""How long opening the archive takes: metadata + the table of contents of both published zips.

Target (issue 2): under 1 s for 10,015 images. Run: python -m benchmarks.bench_open_archive
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks._common import require_data, timed

from dermview.archive import open_archive

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from layouts import build_kaggle_layout, build_published_layout  # noqa: E402  (test helpers, not shipped)


def main() -> None:
    data = require_data()
    with tempfile.TemporaryDirectory() as tmp:
        published = build_published_layout(data, Path(tmp) / "published")
        kaggle = build_kaggle_layout(data, Path(tmp) / "kaggle")
        open_archive(published).close()  # warm the OS file cache; we measure dermview, not the disk
        for name, path in (("published two-zip layout", published), ("Kaggle folders", kaggle),
                           ("shared folder (images/ + originals/ + masks)", data)):
            median, times = timed(lambda path=path: open_archive(path).close(), repeat=7)
            print(f"open {name:<46} median {median * 1000:7.1f} ms   "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; 7 runs)")
        archive = open_archive(published)
        median, _ = timed(archive.content_key.__call__, repeat=1)
        print(f"content key (cache fingerprint) of the zip layout          {median * 1000:7.1f} ms")
        print("target: open under 1000 ms")


if __name__ == "__main__":
    main()
