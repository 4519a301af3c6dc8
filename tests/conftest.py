"""Shared fixtures: the real HAM10000 copy next to the project, and layouts built from it in temp folders."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT.parent / "shared" / "data" / "ham10000"
OTHER_SOURCES = PROJECT_ROOT.parent / "shared" / "data" / "other-sources"  # other devices' dermoscopy, for training


def pytest_sessionstart(session) -> None:
    """In CI (CI=true) the archive must be there: a suite that skips most of itself must not pass."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and not (DATA / "HAM10000_metadata.csv").is_file():
        raise pytest.UsageError(f"CI: the shared HAM10000 copy is not at {DATA}; the tests that need it would only skip.")


def require_data() -> Path:
    if not (DATA / "HAM10000_metadata.csv").is_file():
        pytest.skip(f"the shared HAM10000 copy is not at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_data()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Nothing a test does may touch the real per-user folders."""
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(tmp_path_factory.mktemp("dermview-home")))


@pytest.fixture(scope="session")
def published_layout(tmp_path_factory) -> Path:
    """metadata + HAM10000_images_part1.zip / part2.zip, as published, built once per run."""
    from layouts import build_published_layout
    return build_published_layout(require_data(), tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="session")
def kaggle_layout(tmp_path_factory) -> Path:
    from layouts import build_kaggle_layout
    return build_kaggle_layout(require_data(), tmp_path_factory.mktemp("kaggle"))


def make_subset_archive(dest: Path, lesion_fraction: float, seed: int = 0, exclude_lesions=(),
                        include_images=()) -> Path:
    """A real but smaller archive: every image of a random share of the lesions (all classes kept),
    plus every image of the lesions of ``include_images``."""
    import numpy as np
    import pandas as pd

    data = require_data()
    meta = pd.read_csv(data / "HAM10000_metadata.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    lesions = meta.drop_duplicates("lesion_id")
    lesions = lesions[~lesions["lesion_id"].isin(set(exclude_lesions))]
    chosen = lesions.groupby("dx", group_keys=False).apply(
        lambda g: g.sample(max(8, int(len(g) * lesion_fraction)), random_state=int(rng.integers(1 << 30))))
    wanted = set(chosen["lesion_id"]) | set(meta.loc[meta["image_id"].isin(set(include_images)), "lesion_id"])
    subset = meta[meta["lesion_id"].isin(wanted)]
    dest.mkdir(parents=True, exist_ok=True)
    subset.to_csv(dest / "HAM10000_metadata.csv", index=False)
    images = dest / "images"
    images.mkdir()
    for image_id in subset["image_id"]:
        (images / f"{image_id}.jpg").symlink_to(data / "images" / f"{image_id}.jpg")
    return dest


# -- the case library's two back ends ------------------------------------------------------------

_library_names = itertools.count(1)


@pytest.fixture(scope="session")
def cluster():
    """A throw-away PostgreSQL server on a local socket, stopped after the run."""
    from postgres import Cluster, server_bin

    if server_bin() is None:
        pytest.skip("PostgreSQL's server is not installed (CI installs Debian's postgresql)")
    server = Cluster()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A new, empty case library: an SQLite file, then a database on the throw-away server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'library.sqlite'}"
    return request.getfixturevalue("cluster").database(f"library_{os.getpid()}_{next(_library_names)}")


@pytest.fixture(scope="session")
def small_archive(tmp_path_factory) -> Path:
    """About 1,500 images of 15% of the lesions: enough for every class, quick to index."""
    return make_subset_archive(tmp_path_factory.mktemp("small") / "archive", 0.15)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("session-cache")


@pytest.fixture(scope="session")
def small_model(small_archive, session_cache):
    """(archive, index, predictor) for the small archive, built once."""
    from dermview.archive import open_archive
    from dermview.model.index import load_or_build_index
    from dermview.model.predictor import Predictor

    os.environ["DERMVIEW_CACHE_DIR"] = str(session_cache)
    try:
        archive = open_archive(small_archive)
        index = load_or_build_index(archive)
    finally:
        del os.environ["DERMVIEW_CACHE_DIR"]
    return archive, index, Predictor(archive, index)


@pytest.fixture(scope="session")
def originals_archive(tmp_path_factory) -> Path:
    """The lesions of the 153 originals (600x450) among 6% of the others: about 840 archive images in
    which each original's own 200x150 copy must be found first."""
    originals = [p.stem for p in (require_data() / "originals").glob("*.jpg")]
    return make_subset_archive(tmp_path_factory.mktemp("originals") / "archive", 0.06, seed=5,
                               include_images=originals)


@pytest.fixture(scope="session")
def originals_learned(originals_archive, session_cache):
    """(archive, index): the originals archive's learned index, built once per run in the session cache
    for every test that needs a learned index."""
    return index_of(originals_archive, session_cache, "learned")


def index_of(archive_path: Path, cache: Path, features: str):
    """(archive, index) of ``archive_path`` with ``features``, built in ``cache`` (once per run)."""
    from dermview.archive import open_archive
    from dermview.model.index import load_or_build_index

    os.environ["DERMVIEW_CACHE_DIR"] = str(cache)
    try:
        archive = open_archive(archive_path)
        return archive, load_or_build_index(archive, extractor_name=features)
    finally:
        del os.environ["DERMVIEW_CACHE_DIR"]


# -- the window ---------------------------------------------------------------------------------

@pytest.fixture()
def gui_cache(session_cache, monkeypatch):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    return session_cache


@pytest.fixture()
def make_window(qtbot, gui_cache):
    """Windows on the session's cache; each is closed afterwards, and no thread it started may be left."""
    from dermview.ui.main_window import MainWindow
    from dermview.ui.settings import Settings

    windows = []
    before = {t.ident for t in threading.enumerate()}

    def make(archive: Path | None = None, features: str = "classic", keep_session: bool = False):
        from dermview.clinic.sessions import session_file

        if not keep_session:  # each test starts without a last session to offer, unless it tests that
            session_file().unlink(missing_ok=True)
        settings = Settings()
        settings.features = features  # most tests pin the colour-texture index the session already built
        window = MainWindow(settings)
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        if archive is not None:
            window.open_archive(str(archive))
            qtbot.waitUntil(lambda: not window.opening_archive, timeout=60_000)  # opened on a worker thread
            assert window.archive is not None, window.start_page.error.text()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    # Every thread the window started has ended: the model QThread and the thumbnail pool.
    for window in windows:
        assert window.service._thread.isFinished()
    # A QThread that started Python threads (an index build's pool) is registered by Python as a
    # "dummy" thread that never reports itself ended; the QThreads are checked above instead.
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()
            and not isinstance(t, threading._DummyThread)]
    assert not left, f"threads left running: {left}"


# -- the two longest checks, run in the core the other tests leave idle ---------------------------

HELD_OUT_TEST = "test_held_out_model_reproduces_the_model_card"
HELD_OUT_MODEL = PROJECT_ROOT / "training" / "heldout" / "dermview-embedding-fold0.onnx"  # the card's fold
TRAINING_SMOKE_TEST = "test_training_pipeline_smoke"
_background: dict[str, dict] = {}


def small_labelled_folder(source: Path, folder: Path, per_class: int) -> Path:
    """``folder`` holding the first ``per_class`` images of each diagnosis of a labelled folder (images/ and
    labels.csv with image and dx), copied, with a labels.csv naming them; the rows without a diagnosis too."""
    import csv
    import shutil

    (folder / "images").mkdir(parents=True)
    with open(source / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept: list[dict] = []
    for dx in dict.fromkeys(row["dx"] for row in rows):
        kept += [row for row in rows if row["dx"] == dx][:per_class]
    for row in kept:
        shutil.copy(source / "images" / f"{row['image']}.jpg", folder / "images")
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return folder


def background_command(test_name: str, folder: Path) -> list[str] | None:
    """The real command a background test checks, writing what it makes into ``folder``; None when
    what it needs is not installed (the test itself then says what is missing)."""
    import importlib.util
    import sys

    if not (DATA / "HAM10000_metadata.csv").is_file():
        return None
    if test_name == HELD_OUT_TEST and HELD_OUT_MODEL.is_file():
        return [sys.executable, "-m", "dermview", "evaluate", "--archive", str(DATA), "--model", str(HELD_OUT_MODEL),
                "--features", "learned", "--json"]
    if (test_name == TRAINING_SMOKE_TEST and (OTHER_SOURCES / "labels.csv").is_file()
            and all(importlib.util.find_spec(m) for m in ("torch", "efficientnet_lite_pytorch"))):
        # A few steps on a handful of images, with a few of another device's beside them: caching, training,
        # ONNX export, held-out report.
        return [sys.executable, "-m", "training", "embedding", "--archive", str(DATA),
                "--holdout-fold", "0", "--limit", "80", "--steps", "3", "--batch", "8", "--copies", "2",
                "--threads", "1", "--skip-classic", "--work-dir", str(folder / "work"), "--out", str(folder / "out"),
                "--extra-source", str(small_labelled_folder(OTHER_SOURCES, folder / "other-clinic", 6))]
    return None


def pytest_configure(config):
    """numpy runs as in dermview's own processes (cli.main and the window's main do the same)."""
    from dermview.model.threads import use_one_blas_thread

    use_one_blas_thread()


def pytest_collection_modifyitems(config, items):
    """The background checks go last: by then their runs (below) are done or nearly."""
    last = [item for name in (TRAINING_SMOKE_TEST, HELD_OUT_TEST) for item in items if item.name == name]
    items[:] = [item for item in items if item not in last] + last


def pytest_collection_finish(session):
    """Start the model card's re-measurement and the training smoke run as soon as the tests are known.

    The re-measurement (``dermview evaluate --model``) embeds all 10,015 images, about 140 CPU-seconds;
    the training smoke run, about 14. The other tests run one at a time and keep one core busy (185
    CPU-seconds in 176 s for the fast set), so at the lowest priority these two run in the core they
    leave idle instead of adding two and a half minutes. Each is the real command in its own process;
    its test, run last, reads what it made."""
    if session.config.option.collectonly:
        return
    import subprocess
    import tempfile

    lowest = (lambda: os.nice(19)) if hasattr(os, "nice") else None
    for name in {item.name for item in session.items} & {HELD_OUT_TEST, TRAINING_SMOKE_TEST}:
        folder = Path(tempfile.mkdtemp(prefix=f"dermview-{name}-"))
        command = background_command(name, folder)
        if command is None:
            folder.rmdir()
            continue
        out, err = (folder / "stdout.txt").open("wb"), (folder / "stderr.txt").open("wb")
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=lowest,
                                   cwd=PROJECT_ROOT, env={**os.environ, "DERMVIEW_CACHE_DIR": str(folder / "cache")})
        _background[name] = {"process": process, "folder": folder, "files": (out, err)}


def background_result(test_name: str, timeout: float = 900) -> tuple[int, str, str, Path]:
    """(exit status, stdout, stderr, its folder) of a background check's command, waiting for it to end."""
    run = _background.get(test_name)
    if run is None:
        raise RuntimeError(f"the background run for {test_name} was not started (the shared archive, the held-out "
                           "network or the training packages are missing)")
    run["process"].wait(timeout=timeout)
    for handle in run["files"]:
        handle.close()
    folder = run["folder"]
    return (run["process"].returncode, (folder / "stdout.txt").read_text(encoding="utf-8", errors="replace"),
            (folder / "stderr.txt").read_text(encoding="utf-8", errors="replace"), folder)


def pytest_sessionfinish(session, exitstatus):
    """Never leave a background run going (a run stopped early, a test deselected by -k)."""
    import shutil

    while _background:
        _, run = _background.popitem()
        if run["process"].poll() is None:
            run["process"].kill()
            run["process"].wait()
        for handle in run["files"]:
            handle.close()
        shutil.rmtree(run["folder"], ignore_errors=True)
