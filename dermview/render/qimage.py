"""Pillow images to QImage. Safe on any thread (QImage, unlike QPixmap, is not tied to the GUI)."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage


def to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: `data` is freed when this function returns


def fit_within(image: Image.Image, size: int) -> Image.Image:
    if max(image.size) <= size:
        return image
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return copy
