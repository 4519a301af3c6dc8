"""dermview index / predict / evaluate from the command line, on real images."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dermview.archive import DX_CODES, ISIC_COLUMNS
from dermview.cli import main

from conftest import make_subset_archive
from images import awkward_variants, big_photo, broken_variants, exif_rotated_jpeg


@pytest.fixture()
def cached(session_cache, monkeypatch):
    """Use the session's cache, so that the small archive's index is built only once."""
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))


def test_index_command(small_archive, small_model, cached, capsys):
    assert main(["index", "--archive", str(small_archive), "--features", "classic"]) == 0
    out = capsys.readouterr().out
    assert f"Index of {len(small_model[1].image_ids):,} images (classic features) ready" in out


@pytest.fixture(scope="module")
def query_folder(tmp_path_factory, data_dir) -> Path:
    """Awkward but valid images and broken ones, in nested folders."""
    folder = tmp_path_factory.mktemp("queries")
    lesion = Image.open(data_dir / "originals" / "ISIC_0024307.jpg").convert("RGB")
    (folder / "good").mkdir()
    (folder / "bad").mkdir()
    for name, data in awkward_variants(lesion).items():
        (folder / "good" / name).write_bytes(data)
    (folder / "good" / "rotated.jpg").write_bytes(exif_rotated_jpeg(lesion))
    (folder / "good" / "phone-12mp.jpg").write_bytes(big_photo(lesion))
    for name, data in broken_variants(data_dir / "originals" / "ISIC_0024307.jpg").items():
        (folder / "bad" / name).write_bytes(data)
    return folder


def test_predict_awkward_and_broken_images(originals_archive, originals_learned, cached, query_folder, capsys):
    # No --features: the default, learned similarity (the originals archive's learned index is shared).
    status = main(["predict", "--archive", str(originals_archive), "--json", "--k", "9", str(query_folder)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {Path(entry["image"]).name: entry for entry in lines}
    good = {p.name for p in (query_folder / "good").iterdir()}
    bad = {p.name for p in (query_folder / "bad").iterdir()}
    assert set(by_name) == good | bad
    assert status == 1  # some failed, the rest were predicted
    for name in good:
        entry = by_name[name]
        assert "error" not in entry, entry
        # Answered: a suggestion, or (an awkward picture unlike dermoscopy) none, with why.
        assert entry["prediction"] in DX_CODES or entry["muted_reason"], entry
        assert len(entry["neighbours"]) == 9
        assert entry["votes"] is None if entry["prediction"] is None else abs(sum(entry["votes"].values()) - 1) < 1e-3
    for name in bad:
        assert "error" in by_name[name] and "Traceback" not in by_name[name]["error"]
    assert "truncated or damaged" in by_name["truncated.jpg"]["error"]
    assert "decompression bomb" in by_name["bomb.png"]["error"]


def test_the_same_picture_in_any_format_is_described_alike(small_model, query_folder):
    """Decoding differences (format, EXIF rotation, a 12 MP photo) move the features far less than
    the difference between two lesions does."""
    from dermview.archive import load_image_file

    archive, index, predictor = small_model
    # (not rgba.png: its white transparent corner is a real change to the picture)
    names = ("image.tiff", "image.webp", "image.bmp", "cmyk.jpg", "rotated.jpg", "phone-12mp.jpg")
    vectors = np.array([predictor.features_of(load_image_file(query_folder / "good" / n,
                                                              draft_size=predictor.extractor.draft_size))
                        for n in names])
    z = index.projection.standardise(vectors)
    spread = max(np.linalg.norm(a - b) for a in z for b in z)
    archive_z = index.projection.standardise(index.features)
    between_lesions = np.median(np.linalg.norm(archive_z - z[0], axis=1))
    assert spread < 0.35 * between_lesions, (spread, between_lesions)


def test_predict_isic_csv_and_zip_input(originals_archive, originals_learned, cached, data_dir, tmp_path, capsys):
    ids = ["ISIC_0024306", "ISIC_0024307", "ISIC_0024308"]
    with zipfile.ZipFile(tmp_path / "test.zip", "w") as zf:
        for image_id in ids:
            zf.write(data_dir / "images" / f"{image_id}.jpg", f"ISIC2018_Task3_Test_Images/{image_id}.jpg")
    out = tmp_path / "submission.csv"
    assert main(["predict", "--archive", str(originals_archive), "--isic-csv", str(out), str(tmp_path / "test.zip")]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["image", *ISIC_COLUMNS]
    assert [r[0] for r in rows[1:]] == ids
    for row in rows[1:]:
        values = [float(v) for v in row[1:]]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert len(set(values)) == 7, f"tied scores in {row}"
    assert "ISIC_0024306" in capsys.readouterr().out


def test_predict_missing_path_is_an_error_line(originals_archive, originals_learned, cached, capsys, tmp_path):
    assert main(["predict", "--archive", str(originals_archive), str(tmp_path / "nope.jpg")]) == 1
    assert "no such file or folder" in capsys.readouterr().out


def test_evaluate_json_keys(small_archive, small_model, cached, capsys):
    # Two folds: what is checked here is the report's shape and that it beats raw pixels, not its numbers.
    assert main(["evaluate", "--archive", str(small_archive), "--features", "classic", "--folds", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "balanced_accuracy", "per_class", "confusion", "baselines"):
        assert key in report
    assert set(report["per_class"]) == set(DX_CODES)
    assert set(report["per_class"]["mel"]) >= {"recall", "precision", "n"}
    assert report["confusion"]["labels"] == list(DX_CODES)
    for name in ("majority", "raw_pixel_knn"):
        assert set(report["baselines"][name]) >= {"accuracy", "balanced_accuracy"}
    assert report["balanced_accuracy"] > report["baselines"]["raw_pixel_knn"]["balanced_accuracy"]
    assert sum(v["n"] for v in report["per_class"].values()) == len(small_model[1].image_ids)


def test_evaluate_external_test_set(small_archive, small_model, cached, data_dir, tmp_path, capsys):
    """A part of HAM10000 lesion-disjoint from the small archive, written as the ISIC 2018 Task 3 test set
    (the small archive is the training archive, so its cached index serves)."""
    train_archive = small_archive
    known = set(pd.read_csv(train_archive / "HAM10000_metadata.csv")["lesion_id"])
    test_archive = make_subset_archive(tmp_path / "heldout", 0.02, seed=7, exclude_lesions=known)
    held = pd.read_csv(test_archive / "HAM10000_metadata.csv")
    assert not known & set(held["lesion_id"]) and len(held) > 100
    with zipfile.ZipFile(tmp_path / "ISIC2018_Task3_Test_Images.zip", "w") as zf:
        for image_id in held["image_id"]:
            zf.write(data_dir / "images" / f"{image_id}.jpg", f"ISIC2018_Task3_Test_Images/{image_id}.jpg")
    truth = pd.read_csv(data_dir / "variants" / "ISIC2018_Task3_Training_GroundTruth.csv")
    truth[truth["image"].isin(set(held["image_id"]))].to_csv(tmp_path / "truth.csv", index=False)

    assert main(["evaluate", "--archive", str(train_archive), "--features", "classic", "--test-images",
                 str(tmp_path / "ISIC2018_Task3_Test_Images.zip"), "--ground-truth", str(tmp_path / "truth.csv"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_predicted"] == len(held)
    assert sum(v["n"] for v in report["per_class"].values()) == len(held)
    aucs = [v["roc_auc"] for v in report["per_class"].values() if v.get("roc_auc") is not None]
    assert aucs and all(0.0 <= a <= 1.0 for a in aucs)
    assert np.mean(aucs) > 0.6  # far better than chance on held-out lesions
    assert set(report["baselines"]) == {"majority", "raw_pixel_knn"}


def test_evaluate_argument_errors(small_archive, capsys):
    assert main(["evaluate", "--archive", str(small_archive), "--test-images", "x.zip"]) == 2
    assert "go together" in capsys.readouterr().err


def test_a_k_beyond_the_archive_is_capped_with_a_line(small_archive, small_model, session_cache, data_dir, capsys,
                                                      monkeypatch):
    """`--k 100000` was taken without a word: it is capped at the archive's images, and the note says so."""
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    archive, _, _ = small_model
    images = int(archive.metadata["available"].sum())
    image = data_dir / "originals" / "ISIC_0024307.jpg"
    assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--json", "--k", "100000",
                 str(image)]) == 0
    out, err = capsys.readouterr()
    assert f"--k 100,000 is more than the archive's {images:,} images; using {images:,}." in err
    entry = json.loads(out.splitlines()[0])
    assert "error" not in entry and entry["k"] <= images
