"""Shared fixtures: the real HAM10000 copy next to the project, and layouts built from it in temp folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT.parent / "shared" / "data" / "ham10000"


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
    from dermview.archive.layouts import build_published_layout
    return build_published_layout(require_data(), tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="session")
def kaggle_layout(tmp_path_factory) -> Path:
    from dermview.archive.layouts import build_kaggle_layout
    return build_kaggle_layout(require_data(), tmp_path_factory.mktemp("kaggle"))
