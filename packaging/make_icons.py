"""Draw dermview's icon (a pigmented lesion under a dermatoscope's ring) into dermview/resources/ (the PNG the window uses) and packaging/icons/ (.ico, .icns).

Run once after changing the design: python packaging/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "dermview" / "resources"
ICONS = ROOT / "packaging" / "icons"


def draw(size: int = 512) -> Image.Image:
    scale = size / 512
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse([16 * scale, 16 * scale, 496 * scale, 496 * scale], fill=(40, 44, 52, 255))  # scope ring
    d.ellipse([48 * scale, 48 * scale, 464 * scale, 464 * scale], fill=(233, 196, 178, 255))  # skin
    lesion = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ld = ImageDraw.Draw(lesion)
    ld.ellipse([150 * scale, 160 * scale, 370 * scale, 350 * scale], fill=(120, 72, 48, 255))
    ld.ellipse([205 * scale, 205 * scale, 310 * scale, 300 * scale], fill=(70, 40, 30, 255))
    lesion = lesion.filter(ImageFilter.GaussianBlur(10 * scale))
    im.alpha_composite(lesion)
    d = ImageDraw.Draw(im)
    d.ellipse([48 * scale, 48 * scale, 464 * scale, 464 * scale], outline=(250, 250, 250, 255), width=int(10 * scale))
    return im


def main() -> None:
    ICONS.mkdir(exist_ok=True)
    icon = draw(512)
    icon.resize((256, 256), Image.Resampling.LANCZOS).save(RESOURCES / "dermview.png")
    icon.save(ICONS / "dermview.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    icon.save(ICONS / "dermview.icns")
    print("wrote", ", ".join(p.name for p in sorted([*RESOURCES.glob("dermview.*"), *ICONS.glob("dermview.*")])))


if __name__ == "__main__":
    main()
