"""Shrinks screenshots in place for the repository: a 256-colour adaptive palette with Floyd-Steinberg
dithering and PNG's best compression (a 1366x768 result view: about 1.3 MB to a few hundred kB). Run on
every screenshot a script writes: .venv/bin/python docs/optimise_png.py docs/*.png"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

LIMIT = 600_000  # bytes: no tracked screenshot over it (issue "a project a newcomer can pick up")


def optimise(path: Path) -> tuple[int, int]:
    before = path.stat().st_size
    image = Image.open(path)
    if image.mode != "P":
        rgb = image.convert("RGB")
        for colours in (256, 160, 96):  # fewer colours until the file is under LIMIT (large windows)
            rgb.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
            if path.stat().st_size <= LIMIT:
                break
    return before, path.stat().st_size


if __name__ == "__main__":
    for name in sys.argv[1:]:
        before, after = optimise(Path(name))
        print(f"{name}: {before / 1e3:.0f} kB -> {after / 1e3:.0f} kB")
