"""Every image mode becomes upright 8-bit RGB; broken input gives a clear error, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dermview.archive.imaging import MAX_PIXELS, decode_image
from dermview.errors import ImageDecodeError

from images import awkward_variants, big_photo, broken_variants, exif_rotated_jpeg, png_bomb


@pytest.fixture(scope="module")
def lesion(data_dir) -> Image.Image:
    return Image.open(data_dir / "originals" / "ISIC_0024307.jpg").convert("RGB")


def test_awkward_modes_decode_to_rgb(lesion):
    reference = np.asarray(lesion.convert("L"), dtype=np.float32)
    for name, data in awkward_variants(lesion).items():
        im = decode_image(data, name)
        assert im.mode == "RGB", name
        assert im.size == lesion.size, name
        # the content survives: same picture, not a black or clipped frame
        grey = np.asarray(im.convert("L"), dtype=np.float32)
        assert np.corrcoef(grey.ravel(), reference.ravel())[0, 1] > 0.9, name


def test_sixteen_bit_is_scaled_not_clipped(lesion):
    data = awkward_variants(lesion)["grey16.png"]
    im = decode_image(data, "grey16.png")
    expected = np.asarray(lesion.convert("L"), dtype=np.float32)
    assert abs(float(np.asarray(im)[..., 0].mean()) - float(expected.mean())) < 2.0


def test_exif_rotation_is_applied(lesion):
    im = decode_image(exif_rotated_jpeg(lesion, orientation=6), "rotated.jpg")
    assert im.size == lesion.size  # upright again: 600x450, not 450x600
    diff = np.abs(np.asarray(im, dtype=np.float32) - np.asarray(lesion, dtype=np.float32)).mean()
    assert diff < 6.0


def test_draft_decodes_jpeg_at_reduced_size(lesion):
    data = big_photo(lesion)
    full = decode_image(data, "big.jpg")
    small = decode_image(data, "big.jpg", draft_size=256)
    assert full.size == (4000, 3000)
    assert 256 <= min(small.size) < 1000  # 1/8 scale: 500x375


@pytest.mark.parametrize("name, message", [
    ("truncated.jpg", "truncated or damaged"),
    ("empty.jpg", "empty"),
    ("notes.jpg", "not a recognised image"),
    ("bomb.png", "decompression bomb"),
])
def test_broken_input_gives_clear_error(data_dir, name, message):
    data = broken_variants(data_dir / "originals" / "ISIC_0024307.jpg")[name]
    with pytest.raises(ImageDecodeError, match=message) as info:
        decode_image(data, name)
    assert str(info.value).startswith(name)


def test_bomb_is_refused_before_pixels_are_allocated():
    side = int((MAX_PIXELS * 1.05) ** 0.5)  # over our limit, under Pillow's own
    with pytest.raises(ImageDecodeError, match="megapixel safety limit"):
        decode_image(png_bomb(side, side), "bomb.png")
