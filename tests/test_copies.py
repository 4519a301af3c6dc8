"""Archive copies are recognised by their content, whatever their name, size or JPEG quality."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from dermview.cli import main
from dermview.model.copies import find_copy, fingerprint

from gui_helpers import drop, wait_for_index, wait_for_result


def test_copies_of_archive_images_are_recognised_and_others_are_not(small_model, small_archive, session_cache,
                                                                   data_dir, tmp_path, capsys):
    _, index, predictor = small_model
    originals = sorted((data_dir / "originals").glob("*.jpg"))
    queries = tmp_path / "clinic"
    queries.mkdir()
    for n, path in enumerate(originals):  # renamed, as a clinic's export would name them
        (queries / f"patient-{n:03d}.jpg").write_bytes(path.read_bytes())
    assert main(["predict", "--archive", str(small_archive), "--features", "classic", "--json", "--cache-dir",
                 str(session_cache), str(queries)]) == 0
    by_name = {Path(e["image"]).name: e for e in map(json.loads, capsys.readouterr().out.splitlines())}
    in_archive = [(n, p.stem) for n, p in enumerate(originals) if predictor.lesion_of(p.stem)]
    absent = [n for n, p in enumerate(originals) if predictor.lesion_of(p.stem) is None]
    assert len(in_archive) >= 10 and len(absent) >= 10
    found = [by_name[f"patient-{n:03d}.jpg"]["archive_match"] == stem for n, stem in in_archive]
    assert all(found), f"{sum(found)} of {len(found)} archive copies recognised"
    for n, stem in in_archive:  # recognised means its lesion cannot vote for it
        assert all(nb["lesion_id"] != predictor.lesion_of(stem) for nb in by_name[f"patient-{n:03d}.jpg"]["neighbours"])
    assert [by_name[f"patient-{n:03d}.jpg"]["archive_match"] for n in absent] == [None] * len(absent)


def test_a_smaller_recompressed_copy_still_matches(small_model, data_dir):
    _, index, predictor = small_model
    path = next(p for p in sorted((data_dir / "originals").glob("*.jpg")) if predictor.lesion_of(p.stem))
    image = Image.open(path).convert("RGB")
    buffer = io.BytesIO()
    image.resize((300, 225)).save(buffer, "JPEG", quality=55)
    copy = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    row = find_copy(*fingerprint(copy), index.copy_hashes, index.copy_thumbs)
    assert row is not None and index.image_ids[row] == path.stem
    mirrored = copy.transpose(Image.Transpose.FLIP_LEFT_RIGHT)  # another picture, as far as the archive knows
    assert find_copy(*fingerprint(mirrored), index.copy_hashes, index.copy_thumbs) is None
    flat = Image.fromarray(np.full((150, 200, 3), 128, np.uint8))
    assert find_copy(*fingerprint(flat), index.copy_hashes, index.copy_thumbs) is None


def test_the_window_says_the_query_is_an_archive_image(make_window, small_model, small_archive, data_dir, qtbot,
                                                       tmp_path):
    _, _, predictor = small_model
    path = next(p for p in sorted((data_dir / "originals").glob("*.jpg")) if predictor.lesion_of(p.stem))
    renamed = tmp_path / "photo.jpg"
    renamed.write_bytes(path.read_bytes())
    window = make_window(small_archive)
    wait_for_index(qtbot, window)
    drop(window, [renamed])
    wait_for_result(qtbot, window)
    title = window.classify.result.title.text()
    assert f"This is archive image {path.stem}" in title and predictor.lesion_of(path.stem) in title
