"""Every image mode becomes upright 8-bit RGB; broken input gives a clear error, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dermview.archive.imaging import DOWNSCALED_FROM, MAX_PIXELS, MAX_STORED_PIXELS, decode_image
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
    side = int((MAX_PIXELS * 1.05) ** 0.5)  # over the decoded limit: a PNG cannot be decoded reduced
    with pytest.raises(ImageDecodeError, match="over 50 megapixels cannot be opened reduced"):
        decode_image(png_bomb(side, side), "bomb.png")
    side = int((MAX_STORED_PIXELS * 1.05) ** 0.5)  # more than any camera makes: refused whatever the format
    with pytest.raises(ImageDecodeError, match="more than the 400 megapixels dermview opens"):
        decode_image(png_bomb(side, side), "bomb.png")


def test_a_108_megapixel_dermoscopy_photograph_is_read_reduced_and_says_so(data_dir):
    """A 12000x9000 JPEG (a 108-megapixel phone with a dermatoscope attachment) is decoded by libjpeg at a
    reduced scale, within MAX_PIXELS, and the decoded image says from what size."""
    import io

    lesion = Image.open(data_dir / "originals" / "ISIC_0024307.jpg").resize((12000, 9000), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    lesion.save(buffer, "JPEG", quality=80)
    del lesion
    whole = decode_image(buffer.getvalue(), "phone.jpg")
    assert whole.width * whole.height <= MAX_PIXELS and whole.size == (6000, 4500)
    assert whole.info[DOWNSCALED_FROM] == (12000, 9000)
    small = decode_image(buffer.getvalue(), "phone.jpg", draft_size=256)
    assert small.size == (1500, 1125) and small.info[DOWNSCALED_FROM] == (12000, 9000)
    assert DOWNSCALED_FROM not in decode_image((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()).info


def test_zip_member_names_from_linux_info_zip_read_as_written(data_dir, tmp_path):
    """Info-ZIP on Linux writes UTF-8 names without the UTF-8 flag; they were shown as code page 437
    ("M\u251c\u255dller"). A name that really is code page 437 stays as it was read."""
    import zipfile

    from dermview.archive.inputs import gather_inputs

    data = (data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()
    path = tmp_path / "clinic.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("Müller/rücken.jpg", "plain.jpg"):
            info = zipfile.ZipInfo(name)
            archive.writestr(info, data)
    raw = bytearray(path.read_bytes())  # what Info-ZIP writes: the UTF-8 bytes, flag bit 11 clear
    for offset in range(len(raw) - 4):
        if raw[offset:offset + 4] in (b"PK\x03\x04", b"PK\x01\x02"):
            flag_at = offset + (6 if raw[offset + 2] == 3 else 8)  # local header, central directory
            raw[flag_at + 1] &= ~0x08  # bit 11 (0x800) of the little-endian flags: bit 3 of the second byte
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as archive:
        assert "Müller/rücken.jpg" not in archive.namelist()  # Python's own reading: garbled
    images, problems = gather_inputs([path])
    assert not problems and sorted(i.name.split(":", 1)[1] for i in images) == ["Müller/rücken.jpg", "plain.jpg"]
    assert {i.stem for i in images} == {"rücken", "plain"} and all(i.read() == data for i in images)


def test_a_folder_says_how_many_files_it_skipped(data_dir, tmp_path):
    from dermview.archive.inputs import gather_inputs, skipped_sentence

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.jpg").write_bytes((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes())
    for name in ("notes.txt", "sub/export.csv", ".hidden"):
        (tmp_path / name).write_text("x")
    skipped: list[str] = []
    images, problems = gather_inputs([tmp_path], skipped)
    assert len(images) == 1 and not problems
    assert sorted(p.rsplit("/", 1)[-1] for p in skipped) == ["export.csv", "notes.txt"]
    assert skipped_sentence(skipped).startswith("2 files in the folders given are not an image and were skipped")
