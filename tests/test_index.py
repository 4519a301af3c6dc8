"""The cached index: keyed to content and versions, atomic, pickle-free, cancellable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dermview.errors import DermviewError

from dermview.archive import open_archive
from dermview.errors import CancelledError
from dermview.model import features
from dermview.model import index as index_module
from dermview.model.extractors import get_extractor
from dermview.model.index import build_index, cache_file, load_cached_index, load_or_build_index, save_index

from conftest import make_subset_archive


@pytest.fixture()
def tiny_archive(tmp_path):
    return make_subset_archive(tmp_path / "tiny", 0.02, seed=3)


def test_index_is_cached_and_reused(tiny_archive, monkeypatch):
    archive = open_archive(tiny_archive)
    built = load_or_build_index(archive)
    path = cache_file(archive, get_extractor())
    assert path.is_file() and path.suffix == ".npz"
    assert len(built.image_ids) == int(archive.metadata["available"].sum())

    def no_build(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(index_module, "build_index", no_build)
    again = load_or_build_index(open_archive(tiny_archive))
    assert np.array_equal(again.features, built.features)
    assert np.array_equal(again.embedded, built.embedded)
    # stored without pickle: plain arrays only
    with np.load(path, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)


def test_cache_is_rebuilt_when_content_or_version_changes(tiny_archive, monkeypatch):
    archive = open_archive(tiny_archive)
    load_or_build_index(archive)
    assert load_cached_index(open_archive(tiny_archive)) is not None
    # another image file in place of one listed: content changed
    images = sorted((tiny_archive / "images").iterdir())
    target = images[0]
    replacement = images[1].resolve()
    target.unlink()
    target.symlink_to(replacement)
    assert load_cached_index(open_archive(tiny_archive)) is None
    load_or_build_index(open_archive(tiny_archive))
    assert load_cached_index(open_archive(tiny_archive)) is not None
    # a new feature version invalidates it too
    monkeypatch.setattr(features, "FEATURE_VERSION", "classic-test-bump")
    assert load_cached_index(open_archive(tiny_archive)) is None


def test_damaged_cache_is_ignored_and_rebuilt(tiny_archive):
    archive = open_archive(tiny_archive)
    load_or_build_index(archive)
    path = cache_file(archive, get_extractor())
    path.write_bytes(path.read_bytes()[:1000])
    assert load_cached_index(open_archive(tiny_archive)) is None
    rebuilt = load_or_build_index(open_archive(tiny_archive))
    assert len(rebuilt.image_ids) > 0 and load_cached_index(open_archive(tiny_archive)) is not None


def test_crash_during_write_keeps_the_old_cache(tiny_archive, monkeypatch):
    archive = open_archive(tiny_archive)
    index = load_or_build_index(archive)
    path = cache_file(archive, get_extractor())
    before = path.read_bytes()

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(index_module.np, "savez", crash)
    with pytest.raises(DermviewError, match="disk full"):  # a sentence for the user, not a bare OSError
        save_index(index, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_cancel_stops_the_build(tiny_archive):
    archive = open_archive(tiny_archive)
    seen = []
    with pytest.raises(CancelledError):
        build_index(archive, progress=lambda done, total: seen.append(done), cancel=lambda: len(seen) >= 2)
    assert seen[-1] < len(archive.metadata)
    assert not cache_file(archive, get_extractor()).exists()


def test_unreadable_image_is_skipped_not_fatal(tiny_archive):
    images = sorted((tiny_archive / "images").iterdir())
    images[0].unlink()
    images[0].write_bytes(b"")  # a zero-byte file where a JPEG should be
    index = build_index(open_archive(tiny_archive))
    assert images[0].stem in index.failed and "empty" in index.failed[images[0].stem]
    assert images[0].stem not in set(index.image_ids)
    assert len(index.image_ids) == len(images) - 1


def test_progress_reaches_the_total(tiny_archive):
    calls = []
    build_index(open_archive(tiny_archive), progress=lambda done, total: calls.append((done, total)))
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] == len(open_archive(tiny_archive).metadata)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_learned_index_fits_the_familiarity_model_on_its_own_colour_texture_columns(tiny_archive, monkeypatch):
    """The unfamiliar-image model is fitted on colour-texture features of a sample of the archive. The learned
    similarity's description already ends with them (the decode its queries are checked with), so building its
    index describes no image a second time; the model is the one fitted on those columns of the sample."""
    from dermview.model.extractors import ClassicExtractor
    from dermview.model.familiarity import fit_familiarity, sample_rows

    described = []
    real_extract = ClassicExtractor.extract
    monkeypatch.setattr(ClassicExtractor, "extract", lambda self, batch: described.append(len(batch)) or
                        real_extract(self, batch))
    archive = open_archive(tiny_archive)
    index = build_index(archive, extractor_name="learned")
    assert described == []  # no colour-texture pass of its own
    learned = get_extractor("learned")
    assert index.features.shape[1] > learned.colour_texture_from == learned.passthrough
    expected = fit_familiarity(index.features[sample_rows(len(index.image_ids)), learned.colour_texture_from:])
    for name, array in expected.to_arrays().items():
        np.testing.assert_allclose(index.familiarity.to_arrays()[name], array, rtol=1e-6, err_msg=name)
    image = archive.load_image(index.image_ids[0], draft_size=learned.draft_size)
    own = learned.extract(learned.prepare(image)[None])[0, learned.colour_texture_from:]
    assert index.familiarity.distance(own)[0] < index.familiarity.threshold  # an archive image is familiar
    classic = build_index(archive, extractor_name="classic")
    assert described  # the colour-texture similarity describes its images with the same functions
    np.testing.assert_allclose(classic.familiarity.threshold, index.familiarity.threshold, rtol=0.02)


def test_each_network_has_its_own_index_cache_file(small_archive, tmp_path):
    """`evaluate --model OTHER.onnx` built its index into the file the shipped network's index lives in, so the
    next start rebuilt it: the cache file is keyed by the network file's hash (in the extractor's version)."""
    from dermview.archive import open_archive
    from dermview.model import learned
    from dermview.model.learned import LearnedExtractor

    archive = open_archive(small_archive)
    shipped = LearnedExtractor(learned.default_model_path())
    held_out = LearnedExtractor(Path(__file__).resolve().parents[1] / "training" / "heldout" / "dermview-embedding-fold0.onnx")
    assert cache_file(archive, shipped) != cache_file(archive, held_out)
    assert cache_file(archive, shipped) == cache_file(archive, LearnedExtractor(learned.default_model_path()))
    assert cache_file(archive, shipped).parent == cache_file(archive, held_out).parent
