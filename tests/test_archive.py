"""Opening the archive in every layout it is published in, and validating what is found."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dermview.archive import open_archive
from layouts import build_kaggle_layout, build_published_layout, write_tab_metadata
from dermview.errors import ArchiveError, ImageDecodeError

EXPECTED_DX = {"nv": 6705, "mel": 1113, "bkl": 1099, "bcc": 514, "akiec": 327, "vasc": 142, "df": 115}


def check_full_archive(archive) -> None:
    summary = archive.summary()
    assert summary["images"] == 10015
    assert summary["lesions"] == 7470
    assert summary["missing_images"] == 0
    assert summary["by_dx"] == EXPECTED_DX
    assert summary["by_dx_type"]["confocal"] == 69
    assert sum(summary["by_dx_type"].values()) == 10015


def test_shared_folder_opens(data_dir):
    with open_archive(data_dir) as archive:
        check_full_archive(archive)
        assert archive.unlisted_files == 0
        # the 153 full-size originals duplicate images already in images/; the complete folder wins
        assert archive.duplicate_files == 153
        assert archive.load_image("ISIC_0024307").size == (200, 150)


def test_published_zip_layout(published_layout):
    with open_archive(published_layout) as archive:
        check_full_archive(archive)
        assert [s.path.suffix for s in archive.sources] == [".zip", ".zip"]
        assert archive.load_image("ISIC_0027419").size == (200, 150)


def test_kaggle_layout(kaggle_layout):
    with open_archive(kaggle_layout) as archive:
        check_full_archive(archive)
        assert "dataset" in archive.metadata  # filled in as unknown
        assert set(archive.metadata["dataset"]) == {"unknown"}
        assert archive.metadata["age"].iloc[0] == 80.0


def test_kaggle_lower_case_nested_and_tab(data_dir, tmp_path):
    nested = tmp_path / "downloads" / "ham"
    build_kaggle_layout(data_dir, nested, lower_case=True)
    (nested / "HAM10000_metadata.csv").unlink()
    write_tab_metadata(data_dir, nested)
    with open_archive(tmp_path) as archive:
        check_full_archive(archive)
        assert archive.metadata_path.name == "HAM10000_metadata.tab"


def test_flat_folder_and_metadata_without_extension(data_dir, tmp_path):
    (tmp_path / "HAM10000_metadata").write_bytes((data_dir / "HAM10000_metadata.csv").read_bytes())
    (tmp_path / "all").symlink_to((data_dir / "images").resolve())
    with open_archive(tmp_path) as archive:
        check_full_archive(archive)


def test_missing_and_unlisted_images_are_counted(data_dir, tmp_path):
    meta = (data_dir / "HAM10000_metadata.csv").read_text()
    rows = meta.splitlines()
    ids = [r.split(",")[1] for r in rows[1:101]]
    (tmp_path / "HAM10000_metadata.csv").write_text("\n".join(rows[:101]) + "\n")
    folder = tmp_path / "images"
    folder.mkdir()
    for image_id in ids[:90]:  # 10 listed images absent
        shutil.copyfile(data_dir / "images" / f"{image_id}.jpg", folder / f"{image_id}.jpg")
    shutil.copyfile(data_dir / "images" / "ISIC_0024306.jpg", folder / "ISIC_9999999.jpg")  # not listed
    with open_archive(tmp_path) as archive:
        assert archive.missing_images == 10
        assert archive.unlisted_files == 1
        assert int(archive.metadata["available"].sum()) == 90
        with pytest.raises(ImageDecodeError, match="not in the archive"):
            archive.load_image(ids[95])


def _write_meta(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "HAM10000_metadata.csv").write_text(text)
    return folder


HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset\n"


@pytest.mark.parametrize("text, message", [
    ("lesion_id,image_id,dx\nHAM_1,ISIC_1,nv\n", r"lacks the required column\(s\) dx_type"),
    (HEADER + "HAM_1,ISIC_1,nv,histo,50,male,back,x\nHAM_2,ISIC_1,mel,histo,50,male,back,x\n",
     r"ISIC_1.*more than once|more than once.*ISIC_1"),
    (HEADER + "HAM_1,ISIC_1,nv,histo,50,male,back,x\nHAM_2,ISIC_2,melanoma,histo,,,,\n",
     r"unknown diagnosis code.*'melanoma'"),
    (HEADER, r"no rows"),
    (HEADER + ",ISIC_1,nv,histo,50,male,back,x\n", r"empty lesion_id"),
])
def test_metadata_validation_errors(tmp_path, text, message):
    with pytest.raises(ArchiveError, match=message):
        open_archive(_write_meta(tmp_path, text))


def test_no_metadata(tmp_path):
    (tmp_path / "ISIC_0000001.jpg").write_bytes(b"x")
    with pytest.raises(ArchiveError, match="No HAM10000 metadata"):
        open_archive(tmp_path)


def test_not_a_folder(tmp_path):
    with pytest.raises(ArchiveError, match="does not exist"):
        open_archive(tmp_path / "nowhere")


def test_damaged_zip(data_dir, tmp_path):
    ids = ["ISIC_0024306", "ISIC_0024307", "ISIC_0024308"]
    build_published_layout(data_dir, tmp_path, image_ids=ids)
    part1 = tmp_path / "HAM10000_images_part1.zip"
    part1.write_bytes(part1.read_bytes()[: part1.stat().st_size // 2])  # an interrupted download
    with pytest.raises(ArchiveError, match=r"HAM10000_images_part1\.zip is damaged"):
        open_archive(tmp_path)


def test_archive_is_never_written(published_layout):
    def snapshot():
        return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in published_layout.rglob("*"))

    before = snapshot()
    with open_archive(published_layout) as archive:
        archive.content_key()
        archive.load_image("ISIC_0024306")
    assert snapshot() == before


def test_concurrent_zip_reads_are_exact(data_dir, published_layout):
    with open_archive(published_layout) as archive:
        ids = list(archive.metadata["image_id"][::5])  # 2,003 images from both zips

        def digest(image_id):
            return image_id, hashlib.sha256(archive.read_bytes(image_id)).hexdigest()

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = dict(pool.map(digest, ids))
    for image_id, got in results.items():
        expected = hashlib.sha256((data_dir / "images" / f"{image_id}.jpg").read_bytes()).hexdigest()
        assert got == expected, image_id


def test_corrupt_member_inside_zip_is_an_image_error(data_dir, tmp_path):
    build_published_layout(data_dir, tmp_path, image_ids=["ISIC_0024306", "ISIC_0024307"])
    part = tmp_path / "HAM10000_images_part1.zip"
    with zipfile.ZipFile(part) as zf:
        info = zf.getinfo("ISIC_0024306.jpg")
    raw = bytearray(part.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 20
    raw[start:start + 200] = bytes(200)  # flip the compressed bytes of one member
    part.write_bytes(bytes(raw))
    archive = open_archive(tmp_path)
    with pytest.raises(ImageDecodeError):
        archive.load_image("ISIC_0024306")
    assert archive.load_image("ISIC_0024307").size == (200, 150)  # the neighbour still reads


def test_content_key_changes_with_content(data_dir, tmp_path):
    ids = ["ISIC_0024306", "ISIC_0024307"]
    build_published_layout(data_dir, tmp_path, image_ids=ids)
    key1 = open_archive(tmp_path).content_key()
    assert open_archive(tmp_path).content_key() == key1
    meta = tmp_path / "HAM10000_metadata.csv"
    meta.write_bytes(meta.read_bytes().replace(b"80,male,scalp", b"81,male,scalp", 1))
    assert open_archive(tmp_path).content_key() != key1
