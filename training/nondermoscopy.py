"""A set of images that are not dermoscopy, made on the fly (no download, nothing copied in): for
measuring the "unfamiliar image" warning. Photos and screenshots found on this machine are added
where present (documentation images that Debian and the toolchains ship)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ON_DISK = ("/usr/share/doc", "/usr/share/pixmaps", "/usr/share/backgrounds", "/root/.rustup/toolchains")


def synthetic(data: Path | None = None, seed: int = 0) -> dict[str, Image.Image]:
    """Textures, documents, diagrams, masks, flat colours: 60 images."""
    rng = np.random.default_rng(seed)
    out: dict[str, Image.Image] = {}
    for n in range(8):  # flat colours, including skin-like ones
        colour = tuple(int(c) for c in rng.integers(0, 256, 3)) if n < 5 else ((230, 190, 170), (200, 150, 130), (250, 220, 200))[n - 5]
        out[f"flat-{n}.png"] = Image.new("RGB", (600, 450), colour)
    for n in range(8):  # noise
        out[f"noise-{n}.png"] = Image.fromarray(rng.integers(0, 256, (450, 600, 3), dtype=np.uint8))
    for n in range(6):  # gradients
        x = np.linspace(0, 1, 600)[None, :, None] * rng.random(3) * 255
        y = np.linspace(0, 1, 450)[:, None, None] * rng.random(3) * 255
        out[f"gradient-{n}.png"] = Image.fromarray(np.clip(x + y, 0, 255).astype(np.uint8))
    for n in range(6):  # checkerboards and stripes
        size = 10 + 15 * n
        yy, xx = np.mgrid[0:450, 0:600]
        pattern = ((yy // size + xx // size) % 2) if n % 2 == 0 else (xx // size) % 2
        out[f"pattern-{n}.png"] = Image.fromarray((pattern * 255).astype(np.uint8)).convert("RGB")
    for n in range(12):  # text documents and forms
        page = Image.new("RGB", (600, 800), "white")
        draw = ImageDraw.Draw(page)
        for line in range(30):
            words = " ".join("".join(chr(97 + int(c)) for c in rng.integers(0, 26, rng.integers(2, 9)))
                             for _ in range(rng.integers(4, 12)))
            draw.text((30, 20 + line * 25), words, fill=(0, 0, 0))
        if n % 3 == 0:
            draw.rectangle((30, 500, 570, 700), outline=(0, 0, 0), width=2)
        out[f"document-{n}.png"] = page
    for n in range(10):  # diagrams: shapes on white
        canvas = Image.new("RGB", (600, 450), "white")
        draw = ImageDraw.Draw(canvas)
        for _ in range(8):
            x0, y0 = rng.integers(0, 500), rng.integers(0, 350)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x0 + rng.integers(20, 100),
                                                                      y0 + rng.integers(20, 100)), fill=colour)
        out[f"diagram-{n}.png"] = canvas
    if data is not None:  # lesion masks: black and white, the shape of a lesion but no dermoscopy
        masks = sorted((data / "segmentations").glob("*.png"))[:10]
        for path in masks:
            out[f"mask-{path.stem}.png"] = Image.open(path).convert("RGB")
    return out


def found_on_disk(limit: int = 120) -> dict[str, Image.Image]:
    """Photos, screenshots and figures from documentation folders, if this machine has them."""
    out: dict[str, Image.Image] = {}
    seen: set[tuple[str, int]] = set()  # the same figure shipped twice (two toolchains) counts once
    for root in ON_DISK:
        for path in sorted(Path(root).rglob("*")) if Path(root).is_dir() else []:
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or path.stat().st_size < 15_000:
                continue
            if (path.name, path.stat().st_size) in seen:
                continue
            seen.add((path.name, path.stat().st_size))
            try:
                image = Image.open(path)
                if min(image.size) < 64:
                    continue
                out[str(path)] = image.convert("RGB")
            except Exception:  # a figure Pillow cannot read: not part of the set
                continue
            if len(out) >= limit:
                return out
    return out
