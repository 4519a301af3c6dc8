"""Awkward but valid images, and broken ones, made on the fly from a real archive image."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def awkward_variants(rgb: Image.Image) -> dict[str, bytes]:
    """Valid images in modes and formats people have: each must decode to an RGB image."""
    arr = np.asarray(rgb)
    grey16 = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    rgba = rgb.convert("RGBA")
    alpha = np.full(rgb.size[::-1], 255, np.uint8)
    alpha[:20, :20] = 0  # a transparent corner, as from a screenshot tool
    rgba.putalpha(Image.fromarray(alpha))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.info["transparency"] = 0
    return {
        "rgba.png": encode(rgba, "PNG"),
        "palette.png": encode(palette, "PNG", transparency=0),
        "cmyk.jpg": encode(rgb.convert("CMYK"), "JPEG", quality=95),
        "grey.jpg": encode(rgb.convert("L"), "JPEG", quality=95),
        "grey16.png": encode(Image.fromarray(grey16), "PNG"),
        "image.tiff": encode(rgb, "TIFF"),
        "image.webp": encode(rgb, "WEBP", quality=90),
        "image.bmp": encode(Image.fromarray(arr), "BMP"),
    }


def exif_rotated_jpeg(rgb: Image.Image, orientation: int = 6) -> bytes:
    """The pixels stored sideways with an EXIF tag saying how to turn them upright."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = rgb.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge image (900 megapixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def broken_variants(real_jpeg: Path) -> dict[str, bytes]:
    data = real_jpeg.read_bytes()
    return {
        "truncated.jpg": data[: len(data) // 2],
        "empty.jpg": b"",
        "notes.jpg": b"This is a text file with a .jpg name.\n" * 20,
        "bomb.png": png_bomb(),
    }


def big_photo(rgb: Image.Image, size=(4000, 3000)) -> bytes:
    """A 12-megapixel phone-sized photo."""
    return encode(rgb.resize(size, Image.Resampling.BILINEAR), "JPEG", quality=85)
