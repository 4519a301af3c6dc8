"""Starting dermview the ways users and scripts do: a mistyped command, no display, unusable folders,
scripted runs with a bad query (issue: nothing breaks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import make_subset_archive


def run_dermview(*args, env_changes=None, timeout=240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(env_changes or {})
    return subprocess.run([sys.executable, "-m", "dermview", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory):
    return make_subset_archive(tmp_path_factory.mktemp("launch") / "tiny", 0.02, seed=3)


@pytest.fixture(scope="module")
def smallest_archive(tmp_path_factory):
    """About 100 images: for the runs that must build their index in memory, having nowhere to keep it."""
    return make_subset_archive(tmp_path_factory.mktemp("launch") / "smallest", 0.004, seed=3)


@pytest.fixture(scope="module")
def tiny_index(tiny_archive, tmp_path_factory) -> Path:
    """The tiny archive's colour-texture index, built once for the module (its cache's index folder)."""
    from conftest import index_of

    cache = tmp_path_factory.mktemp("launch-cache")
    index_of(tiny_archive, cache, "classic")
    return cache / "index"


@pytest.fixture()
def tiny_cache(tiny_index, tmp_path) -> str:
    """A fresh per-user folder (no settings, no saved session) that already holds the tiny archive's index,
    for the runs that are not about building it."""
    cache = tmp_path / "c"
    shutil.copytree(tiny_index, cache / "index")
    return str(cache)


def test_a_mistyped_command_does_not_start_the_window(tmp_path):
    result = run_dermview("inof", "--archive", tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "did you mean 'info'" in result.stderr


def test_no_display_says_so_in_one_line(tmp_path):
    result = run_dermview("--archive", tmp_path, env_changes={"DERMVIEW_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "no display" in result.stderr and "QT_QPA_PLATFORM=offscreen" in result.stderr


def test_a_display_qt_cannot_use_ends_in_one_line_not_an_abort(tmp_path):
    result = run_dermview("--archive", tmp_path, env_changes={"DISPLAY": ":97", "QT_QPA_PLATFORM": "xcb",
                                                              "DERMVIEW_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dermview:")]
    assert len(lines) == 1 and "the window cannot be shown" in lines[0]


@pytest.mark.parametrize("where", ["a-file", "proc"])
def test_the_window_runs_with_an_unusable_cache_folder(smallest_archive, tmp_path, where):
    if where == "a-file":
        cache = tmp_path / "not-a-folder"
        cache.write_text("a file where the cache folder should be")
    else:
        cache = Path("/proc/dermview-cache")  # not writable, not even by root
    result = run_dermview("--self-test", "--features", "classic", "--archive", smallest_archive, "--cache-dir", cache)
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout
    assert "warning" in result.stderr and "cannot be written" in result.stderr
    assert "Traceback" not in result.stderr


def test_scripted_run_reports_a_bad_query_after_a_good_one_and_leaves_no_temp_files(tiny_archive, tiny_cache, tmp_path,
                                                                                    data_dir):
    temp = tmp_path / "tmp"
    temp.mkdir()
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    good = data_dir / "originals" / "ISIC_0024307.jpg"
    result = run_dermview("--self-test", "--features", "classic", "--archive", tiny_archive, "--query", good,
                          "--query", bad, env_changes={"TMPDIR": str(temp), "DERMVIEW_CACHE_DIR": tiny_cache})
    assert result.returncode == 1
    assert "notes.jpg" in result.stderr and "1 of 2 images could not be classified" in result.stderr
    assert list(temp.iterdir()) == []
    # and a plain self-test passes, again leaving nothing behind
    result = run_dermview("--self-test", "--features", "classic", "--archive", tiny_archive,
                          env_changes={"TMPDIR": str(temp), "DERMVIEW_CACHE_DIR": tiny_cache})
    assert result.returncode == 0, result.stderr
    assert list(temp.iterdir()) == []


def test_a_tiny_image_in_the_window_is_too_small_to_judge(tiny_archive, tiny_cache, tmp_path):
    Image.new("RGB", (2, 600), (120, 80, 60)).save(tmp_path / "sliver.png")
    result = run_dermview("--self-test", "--features", "classic", "--archive", tiny_archive, "--query",
                          tmp_path / "sliver.png", env_changes={"DERMVIEW_CACHE_DIR": tiny_cache})
    assert result.returncode == 1 and "too small to judge" in result.stderr


def test_the_result_fits_a_1366x768_laptop_screen(tiny_archive, tiny_cache, tmp_path, data_dir):
    """The layout report: the query large, at least nine 150-pixel lesion tiles visible without scrolling."""
    import json

    shot, layout = tmp_path / "window.png", tmp_path / "layout.json"
    result = run_dermview("--archive", tiny_archive, "--features", "classic", "--window-size", "1366x768",
                          "--screenshot", shot, "--layout-json", layout, data_dir / "originals" / "ISIC_0024307.jpg",
                          env_changes={"QT_QPA_PLATFORM": "offscreen", "DERMVIEW_CACHE_DIR": tiny_cache})
    assert result.returncode == 0, result.stderr
    report = json.loads(layout.read_text())
    assert report["window"] == [1366, 768]
    assert report["query_image"][0] >= 300
    assert report["neighbours_visible"] >= 9 and report["neighbour_tile"][0] >= 150
    assert shot.stat().st_size > 50_000


def test_a_library_password_reaches_neither_the_log_nor_the_settings(tiny_archive, tiny_cache, tmp_path):
    """`dermview --library postgresql://user:PASSWORD@host/db`: the run may use the password, but the log shows
    `***` and the stored setting has no password at all (issue "keep secrets and clinicians' data safe")."""
    url = "postgresql://alice:S3cr3t-pw@127.0.0.1:1/cases"
    result = run_dermview("--self-test", "--features", "classic", "--archive", tiny_archive, "--library", url,
                          env_changes={"DERMVIEW_CACHE_DIR": tiny_cache})
    assert result.returncode == 0, result.stderr
    written = [p for p in Path(tiny_cache).rglob("*") if p.is_file() and p.suffix in (".log", ".ini")]
    assert any(p.suffix == ".log" for p in written)  # a self-test stores no settings at all (scratch), only its log
    for path in written:
        text = path.read_text(errors="replace")
        assert "S3cr3t-pw" not in text, path
    log = next(p for p in written if p.suffix == ".log").read_text()
    assert "alice:***@127.0.0.1" in log
    assert "S3cr3t-pw" not in result.stdout + result.stderr
    # and the window's stored setting, when a real run stores it, keeps no password
    from dermview.ui.settings import Settings

    os.environ["DERMVIEW_CACHE_DIR"] = tiny_cache
    try:
        settings = Settings()
        settings.library_url = url
        settings.sync()
    finally:
        del os.environ["DERMVIEW_CACHE_DIR"]
    ini = next(Path(tiny_cache).rglob("dermview.ini")).read_text()
    assert "S3cr3t-pw" not in ini and "alice@127.0.0.1" in ini


def test_a_self_test_leaves_the_users_settings_and_session_as_they_were(tiny_archive, tiny_cache, tmp_path):
    """`--self-test --features classic --outlines on` rewrote dermview.ini (the similarity, the outlines, the last
    archive, the window's geometry): a scripted run reads the user's settings and changes none of them."""
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(tiny_cache, cache)
    settings = cache / "settings" / "dermview.ini"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text("[archive]\nlast=/somewhere/else\n\n[model]\nfeatures=learned\n\n[view]\noutlines=false\n")
    before = {p.relative_to(cache): p.read_bytes() for p in (cache / "settings").rglob("*") if p.is_file()}
    result = run_dermview("--self-test", "--features", "classic", "--outlines", "on", "--window-size", "1366x768",
                          "--archive", tiny_archive, env_changes={"DERMVIEW_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    after = {p.relative_to(cache): p.read_bytes() for p in (cache / "settings").rglob("*") if p.is_file()}
    assert after == before
