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

from .files import MAX_FILE_BYTES, read_regular_file

# At most this many pixels are ever decoded: 50 MP of RGBA is 200 MB, and decoding keeps at most three such
# copies (peak under 1 GB). A larger JPEG (a 108-megapixel phone with a dermatoscope attachment) is decoded at
# 1/2, 1/4 or 1/8 scale by libjpeg itself (draft mode), so memory stays bounded, and says so; other formats
# cannot be decoded reduced and are refused. Beyond MAX_STORED_PIXELS a file is refused whatever its format:
# no camera makes it, and a few KB declaring it is an attack or an accident.
MAX_PIXELS = 50_000_000
MAX_STORED_PIXELS = 400_000_000
# The key in a decoded image's ``info`` that holds (width, height) as stored, when it was decoded reduced.
DOWNSCALED_FROM = "dermview_downscaled_from"
# Pillow's own guard (about 89 MP warns, 179 MP fails) would refuse the 108-megapixel photograph before the
# checks above could decode it reduced: dermview's limits replace it.
Image.MAX_IMAGE_PIXELS = MAX_STORED_PIXELS
# A query smaller than this on either side holds too little to compare with the archive's 200x150
# (or 600x450) images; a 1x1 or 2x600 file is refused with a message rather than classified.
MIN_QUERY_SIDE = 64

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif")

__all__ = ["DOWNSCALED_FROM", "MAX_FILE_BYTES", "MAX_PIXELS", "MAX_STORED_PIXELS", "MIN_QUERY_SIDE", "decode_image", "load_image_file", "read_file_bytes"]


def read_file_bytes(path: str | Path) -> bytes:
    """An image file's bytes: regular files only, at most MAX_FILE_BYTES (see dermview.archive.files)."""
    return read_regular_file(path)


def decode_image(data: bytes, name: str = "image", *,
                 draft_size: int | tuple[int, int] | None = None, min_side: int | None = None) -> Image.Image:
    """Decode ``data`` to an RGB image, upright.

    ``draft_size``: for JPEGs, let libjpeg decode at 1/2, 1/4 or 1/8 scale as long as both sides
    stay at least this many pixels - several times faster for thumbnails and feature extraction.
    A (long, short) pair asks for at least that many pixels along the image's long and short side.
    ``min_side``: refuse an image whose stored size is smaller than this on either side (queries).
    Raises :class:`ImageDecodeError` with a readable message for anything that is not a usable image.
    """
    if not data:
        raise ImageDecodeError(f"{name}: the file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data))
            width, height = im.size
            reduced = width * height > MAX_PIXELS
            if width * height > MAX_STORED_PIXELS:
                raise ImageDecodeError(
                    f"{name}: the image declares {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels), more "
                    f"than the {MAX_STORED_PIXELS // 1_000_000} megapixels dermview opens; refused as a possible "
                    "decompression bomb.")
            if reduced and im.format != "JPEG":
                raise ImageDecodeError(
                    f"{name}: the image is {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels); a "
                    f"{im.format or 'non-JPEG'} file over {MAX_PIXELS // 1_000_000} megapixels cannot be opened "
                    "reduced. Save it smaller, or as a JPEG, and try again.")
            if width < 1 or height < 1:
                raise ImageDecodeError(f"{name}: image has no pixels.")
            if min_side and min(width, height) < min_side:
                raise ImageDecodeError(
                    f"{name}: the image is only {width}x{height} pixels, too small to judge; at least "
                    f"{min_side} pixels on each side are needed to compare it with the archive.")
            if im.format == "JPEG" and (draft_size or reduced):
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale: the smallest that keeps at least the requested size,
                # and never more than MAX_PIXELS (the request is capped at the largest scale within it).
                request = (width, height)
                if isinstance(draft_size, tuple):
                    long_side, short_side = draft_size
                    request = (long_side, short_side) if width >= height else (short_side, long_side)
                elif draft_size:
                    # A square request keeps the guarantee whichever way EXIF rotates the image.
                    request = (draft_size, draft_size)
                if reduced:
                    scale = next((s for s in (2, 4, 8) if (width / s) * (height / s) <= MAX_PIXELS), 8)
                    request = (min(request[0], -(-width // scale)), min(request[1], -(-height // scale)))
                im.draft("RGB", request)
            im.load()
            if draft_size and im.format != "JPEG":
                im = _reduced(im, draft_size)
            im = ImageOps.exif_transpose(im)
            rgb = to_rgb(im)
            if reduced:
                rgb.info[DOWNSCALED_FROM] = (width, height)
            return rgb
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{name}: not a recognised image file.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: the image declares more than the {MAX_STORED_PIXELS // 1_000_000} megapixels "
                               "dermview opens; refused as a possible decompression bomb.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        detail = str(exc) or type(exc).__name__
        if "truncated" in detail.lower():
            raise ImageDecodeError(f"{name}: the image file is truncated or damaged.") from exc
        raise ImageDecodeError(f"{name}: the image is damaged and cannot be decoded ({detail}).") from exc
    except MemoryError as exc:
        raise ImageDecodeError(f"{name}: not enough memory to decode this image.") from exc


def _reduced(im: Image.Image, draft_size: int | tuple[int, int]) -> Image.Image:
    """What JPEG draft mode does for other formats: shrink by a whole factor while both sides keep at
    least the requested size, so that the conversions after it work on a small copy (a 49-megapixel
    PNG would otherwise take three full-size RGBA copies, 600 MB)."""
    need_long, need_short = draft_size if isinstance(draft_size, tuple) else (draft_size, draft_size)
    factor = min(max(im.size) // max(need_long, 1), min(im.size) // max(need_short, 1))
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except (ValueError, NotImplementedError):  # modes reduce() does not handle (P, I;16): kept whole
        return im


_ROWS_PER_CHUNK = 256  # high-bit-depth conversion row block: bounded extra memory for any image size


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; high-bit-depth images are scaled, not clipped."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im)
        peak = float(arr.max()) if arr.size else 0.0
        top = 65535.0 if mode.startswith("I;16") else max(peak, 1.0)
        if mode in ("I", "F") and peak <= 255:
            top = 255.0
        grey = np.empty(arr.shape, np.uint8)
        for row in range(0, arr.shape[0], _ROWS_PER_CHUNK):  # a float copy of a block, not of the image
            block = arr[row:row + _ROWS_PER_CHUNK].astype(np.float32) * np.float32(255.0 / top)
            grey[row:row + _ROWS_PER_CHUNK] = np.clip(block, 0, 255)
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


def load_image_file(path: str | Path, *, draft_size: int | tuple[int, int] | None = None,
                    min_side: int | None = None) -> Image.Image:
    path = Path(path)
    return decode_image(read_file_bytes(path), path.name, draft_size=draft_size, min_side=min_side)


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)
