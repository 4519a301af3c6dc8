"""Decoding any image a clinician may drop on dermview into an 8-bit RGB Pillow image.

EXIF orientation is applied, every mode is converted to RGB, very large images are refused before
their pixels are decoded (decompression-bomb guard), and JPEGs can be decoded at a reduced size
(draft mode) when only a thumbnail or a small working copy is needed.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageDecodeError

# A 12-megapixel phone photo must open; a 100-megapixel "image" of a few KB is an attack or an accident.
MAX_PIXELS = 80_000_000
# Compressed files larger than this are refused before reading (no dermatoscopic image comes close).
MAX_FILE_BYTES = 200 * 1024 * 1024

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif")


def read_file_bytes(path: str | Path) -> bytes:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageDecodeError(f"{path.name}: cannot read the file ({exc.strerror or exc}).") from exc
    if size > MAX_FILE_BYTES:
        raise ImageDecodeError(f"{path.name}: file is too large ({size / 1e6:.0f} MB).")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"{path.name}: cannot read the file ({exc.strerror or exc}).") from exc


def decode_image(data: bytes, name: str = "image", *,
                 draft_size: int | tuple[int, int] | None = None) -> Image.Image:
    """Decode ``data`` to an RGB image, upright.

    ``draft_size``: for JPEGs, let libjpeg decode at 1/2, 1/4 or 1/8 scale as long as both sides
    stay at least this many pixels - several times faster for thumbnails and feature extraction.
    A (long, short) pair asks for at least that many pixels along the image's long and short side.
    Raises :class:`ImageDecodeError` with a readable message for anything that is not a usable image.
    """
    if not data:
        raise ImageDecodeError(f"{name}: the file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise ImageDecodeError(
                    f"{name}: image is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
                    "megapixel safety limit; refused as a possible decompression bomb.")
            if width < 1 or height < 1:
                raise ImageDecodeError(f"{name}: image has no pixels.")
            if draft_size and im.format == "JPEG":
                if isinstance(draft_size, tuple):
                    long_side, short_side = draft_size
                    im.draft("RGB", (long_side, short_side) if width >= height else (short_side, long_side))
                else:
                    # A square request keeps the guarantee whichever way EXIF rotates the image.
                    im.draft("RGB", (draft_size, draft_size))
            im = ImageOps.exif_transpose(im)
            im.load()
            return to_rgb(im)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{name}: not a recognised image file.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: image is too large; refused as a possible decompression bomb.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        detail = str(exc) or type(exc).__name__
        if "truncated" in detail.lower():
            raise ImageDecodeError(f"{name}: the image file is truncated or damaged.") from exc
        raise ImageDecodeError(f"{name}: the image is damaged and cannot be decoded ({detail}).") from exc
    except MemoryError as exc:
        raise ImageDecodeError(f"{name}: not enough memory to decode this image.") from exc


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; high-bit-depth images are scaled, not clipped."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if mode in ("I", "F") and arr.max() <= 255:
            top = 255.0
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        # Transparent areas become white, like paper, rather than arbitrary hidden colours.
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def load_image_file(path: str | Path, *, draft_size: int | tuple[int, int] | None = None) -> Image.Image:
    path = Path(path)
    return decode_image(read_file_bytes(path), path.name, draft_size=draft_size)


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)
