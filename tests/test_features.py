"""The colour-texture features: deterministic, resolution-stable, vectorised."""

from __future__ import annotations


import numpy as np
from PIL import Image

from dermview.archive import load_image_file
from dermview.model import features
from dermview.model.features import DRAFT_SIZE, extract_batch, rgb_to_lab, to_work_array


def test_deterministic_and_finite(data_dir):
    batch = np.stack([to_work_array(load_image_file(p)) for p in sorted((data_dir / "images").glob("*.jpg"))[:40]])
    first, second = extract_batch(batch), extract_batch(batch.copy())
    assert first.shape == (40, features.feature_dim())
    assert np.array_equal(first, second)
    assert np.isfinite(first).all()
    # one image alone gives the same vector as inside a batch (no cross-talk between batch rows)
    assert np.allclose(extract_batch(batch[3:4])[0], first[3], atol=1e-5)


def test_lab_conversion_matches_reference_colours():
    rgb = np.array([[[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]]]], dtype=np.uint8)
    lab = rgb_to_lab(rgb)[0, 0]
    expected = np.array([[100, 0, 0], [0, 0, 0], [53.24, 80.09, 67.20], [32.30, 79.19, -107.86]])
    assert np.allclose(lab, expected, atol=0.5)


def test_colour_constancy_removes_a_colour_cast(data_dir):
    im = load_image_file(data_dir / "images" / "ISIC_0024306.jpg")
    arr = to_work_array(im)
    cast = np.clip(arr.astype(np.float32) * np.array([1.0, 0.85, 0.7]), 0, 255).astype(np.uint8)  # yellow light
    plain, tinted = extract_batch(np.stack([arr, cast]))
    other = extract_batch(to_work_array(load_image_file(data_dir / "images" / "ISIC_0024307.jpg"))[None])[0]
    scale = np.abs(plain - other).mean()
    assert np.abs(plain - tinted).mean() < 0.5 * scale


def test_portrait_images_are_turned_to_the_working_frame():
    portrait = Image.new("RGB", (300, 400), (180, 120, 100))
    assert to_work_array(portrait).shape == (features.WORK_SIZE[1], features.WORK_SIZE[0], 3)


def test_original_is_nearest_to_its_own_copy(data_dir, originals_archive, session_cache):
    """The issue's test: for the 600x450 originals, the nearest archive image is its 200x150 copy (among
    about 840 archive images; benchmarks/bench_archive_copies.py measures recognition among all 10,015)."""
    from conftest import index_of

    archive, index = index_of(originals_archive, session_cache, "classic")
    originals = sorted((data_dir / "originals").glob("*.jpg"))
    assert len(originals) == 153
    queries = extract_batch(np.stack([to_work_array(load_image_file(p, draft_size=DRAFT_SIZE)) for p in originals]))
    z_archive = index.projection.standardise(index.features)
    z_query = index.projection.standardise(queries)
    sq = (z_query ** 2).sum(1)[:, None] - 2 * z_query @ z_archive.T + (z_archive ** 2).sum(1)[None]
    nearest = index.image_ids[np.argmin(sq, axis=1)]
    hits = np.mean([n == p.stem for n, p in zip(nearest, originals)])
    assert hits >= 0.95, f"only {hits:.1%} of originals found their own copy"
