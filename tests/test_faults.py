"""Every class of hostile or broken input ends in one clear message, never a traceback or a hang,
and the good inputs beside it are still processed (issue: nothing breaks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dermview.archive import open_archive
from dermview.archive.files import MAX_FILE_BYTES, read_regular_file, read_zip_member
from dermview.archive.metadata import parse_metadata
from dermview.cli import main
from dermview.errors import ArchiveError, DermviewError, ImageDecodeError
from dermview.model.extractors import choose_features, get_extractor
from dermview.model.index import (build_index, cache_file, compute_features, load_cached_index,
                                  load_or_build_index, remove_stale_temp_files)
from dermview.archive.inputs import gather_inputs

from conftest import PROJECT_ROOT, make_subset_archive
from faults import patch_zip_member, zip_bomb, zip_of


@pytest.fixture()
def cached(session_cache, monkeypatch):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))


@pytest.fixture(scope="module")
def lesion_jpeg(data_dir) -> bytes:
    return (data_dir / "originals" / "ISIC_0024307.jpg").read_bytes()


@pytest.fixture()
def tiny_archive(tmp_path):
    return make_subset_archive(tmp_path / "tiny", 0.02, seed=3)


def predict_json(capsys, archive: Path, *inputs, extra=()) -> tuple[int, dict[str, dict]]:
    status = main(["predict", "--archive", str(archive), "--features", "classic", "--json", *extra,
                   *map(str, inputs)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return status, {Path(e["image"]).name if ":" not in Path(e["image"]).name else e["image"].rsplit(":", 1)[1]: e
                    for e in lines}


# -- zips -------------------------------------------------------------------------------------------

def test_query_zip_with_encrypted_and_deflate64_members(small_archive, small_model, cached, tmp_path,
                                                        lesion_jpeg, capsys):
    path = zip_of(tmp_path / "queries.zip", {"plain.jpg": lesion_jpeg, "locked.jpg": lesion_jpeg,
                                             "deflate64.jpg": lesion_jpeg})
    patch_zip_member(path, "locked.jpg", flag_bits=0x1)
    patch_zip_member(path, "deflate64.jpg", method=9)
    status, by_name = predict_json(capsys, small_archive, path)
    assert set(by_name) == {"plain.jpg", "locked.jpg", "deflate64.jpg"}
    assert status == 1
    assert by_name["plain.jpg"]["prediction"]  # the good member beside the bad ones is classified
    assert "encrypted" in by_name["locked.jpg"]["error"]
    assert "Deflate64" in by_name["deflate64.jpg"]["error"]


def test_archive_zip_with_an_encrypted_member_skips_only_that_image(tmp_path, data_dir):
    meta = pd.read_csv(data_dir / "HAM10000_metadata.csv").head(6)
    meta.to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    part = zip_of(tmp_path / "HAM10000_images_part1.zip",
                  {f"{i}.jpg": (data_dir / "images" / f"{i}.jpg").read_bytes() for i in meta["image_id"]})
    locked = f"{meta['image_id'][2]}.jpg"
    patch_zip_member(part, locked, flag_bits=0x1)
    archive = open_archive(tmp_path)
    ids = list(meta["image_id"])
    features, errors = compute_features(lambda i: archive.load_image(i), ids, get_extractor("classic"))
    assert list(errors) == [ids[2]] and "encrypted" in errors[ids[2]]
    assert np.isfinite(np.delete(features, 2, axis=0)).all()


def test_zip_bomb_is_refused_with_bounded_memory(tmp_path):
    path = zip_bomb(tmp_path / "bomb.zip", megabytes=MAX_FILE_BYTES // (1 << 20) + 16)
    images, problems = gather_inputs([path])
    assert not problems and len(images) == 1
    with pytest.raises(ImageDecodeError, match="too large"):
        images[0].load()
    # A header that understates the size is not trusted: reading stops at the cap, not at the header.
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bomb.jpg")
        info.file_size = 1000
        with pytest.raises(ImageDecodeError):
            read_zip_member(zf, info, zip_name="bomb.zip", limit=4 << 20)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_peak_memory_stays_under_one_gigabyte_for_hostile_queries(small_archive, small_model, session_cache,
                                                                   tmp_path):
    """A zip bomb, a 49-megapixel RGBA PNG and a 16-bit one, classified in a separate process."""
    zip_bomb(tmp_path / "bomb.zip", megabytes=300)
    side = 7000
    Image.new("RGBA", (side, side), (180, 120, 100, 200)).save(tmp_path / "huge-rgba.png", compress_level=1)
    Image.new("I;16", (side, side), 30000).save(tmp_path / "huge-16bit.png", compress_level=1)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest process across fork and exec.
    code = ("import re, sys\nfrom dermview.cli import main\nstatus = main(sys.argv[1:])\n"
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print('PEAK', hwm, file=sys.stderr)\nsys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, "predict", "--archive", str(small_archive), "--features",
                             "classic", "--json", "--cache-dir", str(session_cache),
                             *(str(tmp_path / n) for n in ("bomb.zip", "huge-rgba.png", "huge-16bit.png"))],
                            capture_output=True, text=True, timeout=300)
    lines = {Path(json.loads(x)["image"]).name.rsplit(":", 1)[-1]: json.loads(x) for x in result.stdout.splitlines()}
    assert "too large" in lines["bomb.jpg"]["error"]
    for name in ("huge-rgba.png", "huge-16bit.png"):  # answered (flat colour: unfamiliar, with why), not refused
        assert "error" not in lines[name] and (lines[name]["prediction"] or lines[name]["muted_reason"]), lines[name]
    peak_kb = int(result.stderr.split("PEAK")[-1].split()[0])
    print(f"peak memory of the hostile predict run: {peak_kb / 1e3:.0f} MB")
    assert peak_kb < 1_000_000, f"peak memory {peak_kb / 1e3:.0f} MB"


# -- files that are not files -----------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_device_and_huge_metadata_are_refused_without_reading(tmp_path, data_dir):
    fifo = tmp_path / "fifo" / "HAM10000_metadata.csv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(ArchiveError, match="FIFO"):
        open_archive(fifo.parent)
    with pytest.raises(ArchiveError, match="device"):
        read_regular_file("/dev/zero", error=ArchiveError)
    big = tmp_path / "big" / "HAM10000_metadata.csv"
    big.parent.mkdir()
    with open(big, "wb") as handle:
        handle.truncate(1 << 30)  # a sparse gigabyte: instant, and never read
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="too large"):
        open_archive(big.parent)
    assert time.monotonic() - start < 5


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_image_that_is_a_fifo_or_a_dangling_link_is_missing_not_a_hang(tiny_archive, capsys):
    images = sorted((tiny_archive / "images").iterdir())
    images[0].unlink()
    os.mkfifo(images[0])
    images[1].unlink()
    images[1].symlink_to(tiny_archive / "nowhere.jpg")
    archive = open_archive(tiny_archive)
    assert archive.missing_images == 2
    assert main(["info", "--archive", str(tiny_archive), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing_images"] == 2
    found, problems = gather_inputs([images[0], images[1]])
    for item in found:
        with pytest.raises(ImageDecodeError, match="FIFO|does not exist"):
            item.load()


# -- metadata ---------------------------------------------------------------------------------------

def test_metadata_rows_with_a_trailing_comma_parse_like_the_original(data_dir):
    raw = (data_dir / "HAM10000_metadata.csv").read_bytes()
    lines = raw.decode().splitlines()
    trailing = "\r\n".join([lines[0]] + [line + "," for line in lines[1:200]]).encode()
    expected = parse_metadata("\r\n".join(lines[:200]).encode())
    pd.testing.assert_frame_equal(parse_metadata(trailing), expected)
    extra_value = "\r\n".join([lines[0], lines[1] + ",surprise"] + lines[2:20]).encode()
    with pytest.raises(ArchiveError, match="9 values on line 2"):
        parse_metadata(extra_value)


def test_empty_required_values_and_undecodable_bytes_are_reported_with_their_line(data_dir):
    lines = (data_dir / "HAM10000_metadata.csv").read_bytes().decode().splitlines()[:50]
    header = lines[0].split(",")
    row = lines[7].split(",")
    row[header.index("dx_type")] = ""
    empty = "\n".join(lines[:7] + [",".join(row)] + lines[8:]).encode()
    with pytest.raises(ArchiveError, match=r"empty dx_type \(line 8\)"):
        parse_metadata(empty)
    latin1 = "\n".join(lines[:10]).encode() + "\nHAM_1,ISIC_9,nv,histo,40,male,\xe9paule,x".encode("latin-1")
    with pytest.raises(ArchiveError, match="line 11.*UTF-8|not UTF-8 text: line 11"):
        parse_metadata(latin1)


# -- folders, outputs, sizes ------------------------------------------------------------------------

def test_an_unreadable_subfolder_is_reported(tmp_path, lesion_jpeg, monkeypatch):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.jpg").write_bytes(lesion_jpeg)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.jpg").write_bytes(lesion_jpeg)
    real_scandir = os.scandir

    def scandir(path="."):  # root reads anything, so the refusal a clinician's account gets is simulated
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    images, problems = gather_inputs([tmp_path])
    assert [Path(i.name).name for i in images] == ["a.jpg"]
    assert len(problems) == 1 and problems[0][0].endswith("locked") and "Permission denied" in problems[0][1]


def test_output_path_is_checked_before_the_work(small_archive, tmp_path, capsys):
    cache = tmp_path / "cache"
    for target in (tmp_path / "missing-folder" / "out.csv", tmp_path):
        status = main(["predict", "--archive", str(small_archive), "--cache-dir", str(cache),
                       "--isic-csv", str(target), str(tmp_path)])
        assert status == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Cannot write" in err
    assert not (cache / "index").exists()  # refused before any index was built


def test_tiny_images_are_too_small_to_judge(small_archive, small_model, cached, tmp_path, lesion_jpeg, capsys):
    Image.new("RGB", (1, 1), (120, 80, 60)).save(tmp_path / "dot.png")
    Image.open(tmp_path / "dot.png").resize((2, 600)).save(tmp_path / "sliver.png")
    (tmp_path / "lesion.jpg").write_bytes(lesion_jpeg)
    status, by_name = predict_json(capsys, small_archive, tmp_path)
    assert status == 1 and by_name["lesion.jpg"]["prediction"]
    for name in ("dot.png", "sliver.png"):
        assert "too small to judge" in by_name[name]["error"]


# -- the index and the model -----------------------------------------------------------------------

def _rewrite_cache(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def indexed_tiny_archive(tmp_path_factory) -> tuple[Path, Path]:
    """(a tiny archive, the index folder of a cache that holds its colour-texture index), built once."""
    from conftest import index_of

    archive = make_subset_archive(tmp_path_factory.mktemp("indexed") / "tiny", 0.02, seed=3)
    cache = tmp_path_factory.mktemp("indexed-cache")
    index_of(archive, cache, "classic")
    return archive, cache / "index"


@pytest.mark.parametrize("damage", ["shape", "unknown-ids", "nan", "shuffled"])
def test_an_inconsistent_index_cache_is_rebuilt_not_trusted(indexed_tiny_archive, damage):
    tiny_archive, prebuilt = indexed_tiny_archive
    shutil.copytree(prebuilt, Path(os.environ["DERMVIEW_CACHE_DIR"]) / "index")  # this test's own cache
    archive = open_archive(tiny_archive)
    built = load_cached_index(archive)
    assert built is not None
    path = cache_file(archive, get_extractor())
    features = built.features.copy()
    if damage == "shape":
        _rewrite_cache(path, features=features[:-3])
    elif damage == "unknown-ids":
        ids = built.image_ids.copy()
        ids[0] = "ISIC_9999999"
        _rewrite_cache(path, image_ids=ids)
    elif damage == "nan":
        features[5, 3] = np.nan
        _rewrite_cache(path, features=features)
    else:
        _rewrite_cache(path, embedded=built.embedded[::-1].copy())
    assert load_cached_index(open_archive(tiny_archive)) is None
    rebuilt = load_or_build_index(open_archive(tiny_archive))
    assert np.isfinite(rebuilt.features).all() and len(rebuilt.image_ids) == len(built.image_ids)
    assert load_cached_index(open_archive(tiny_archive)) is not None


def test_leftover_temp_files_are_removed(tmp_path):
    old, fresh = tmp_path / "classic-x.abc.tmp", tmp_path / "classic-x.def.tmp"
    old.write_bytes(b"half a save")
    fresh.write_bytes(b"a save in progress")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temp_files(tmp_path) == 1
    assert not old.exists() and fresh.exists()


def test_identical_images_or_one_diagnosis_give_a_sentence(tmp_path, data_dir):
    same = make_subset_archive(tmp_path / "same", 0.02, seed=5)
    first = sorted((same / "images").iterdir())[0].resolve()
    for image in (same / "images").iterdir():
        image.unlink()
        image.symlink_to(first)
    with pytest.raises(DermviewError, match="too alike"):
        build_index(open_archive(same))
    one = make_subset_archive(tmp_path / "one", 0.02, seed=5)
    meta = pd.read_csv(one / "HAM10000_metadata.csv")
    meta["dx"] = "nv"
    meta.to_csv(one / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DermviewError, match="only one diagnosis"):
        build_index(open_archive(one))


def test_a_damaged_model_file_falls_back_with_a_note(tmp_path, monkeypatch, small_archive, capsys):
    shipped = PROJECT_ROOT / "dermview" / "resources" / "models"
    model = tmp_path / "dermview-embedding.onnx"
    model.write_bytes(b"\x08\x07" + os.urandom(4000))  # not a protobuf an ONNX model could be
    shutil.copy(shipped / "dermview-embedding.json", tmp_path / "dermview-embedding.json")
    monkeypatch.setenv("DERMVIEW_EMBEDDING_MODEL", str(model))
    choice = choose_features("auto")
    assert choice.name == "classic" and "damaged" in choice.note
    with pytest.raises(DermviewError, match="damaged"):
        choose_features("learned")
    assert main(["index", "--archive", str(small_archive), "--features", "learned",
                 "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "Traceback" not in err
