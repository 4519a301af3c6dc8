"""Re-create the layouts HAM10000 is published in from an unpacked copy (for tests and benchmarks).

The archive is never modified: everything is written under ``dest``. Zips are written with
deflate, as the published ones are.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd

PART1_COUNT = 5000  # the published part1 zip holds the first 5,000 images by image_id


def _image_files(source: Path) -> list[Path]:
    return sorted((source / "images").glob("ISIC_*.jpg"))


def build_published_layout(source: Path, dest: Path, image_ids: list[str] | None = None) -> Path:
    """``HAM10000_metadata`` (.csv) + ``HAM10000_images_part1.zip`` / ``part2.zip``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "HAM10000_metadata.csv", dest / "HAM10000_metadata.csv")
    files = _image_files(source)
    if image_ids is not None:
        wanted = set(image_ids)
        files = [f for f in files if f.stem in wanted]
    for part, chunk in ((1, files[:PART1_COUNT]), (2, files[PART1_COUNT:])):
        with zipfile.ZipFile(dest / f"HAM10000_images_part{part}.zip", "w", zipfile.ZIP_DEFLATED,
                             compresslevel=1) as zf:
            for file in chunk:
                zf.write(file, file.name)
    return dest


def build_kaggle_layout(source: Path, dest: Path, lower_case: bool = False) -> Path:
    """The Kaggle mirror: the Kaggle metadata variant + two unpacked part folders (links, not copies)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "variants" / "HAM10000_metadata_kaggle.csv", dest / "HAM10000_metadata.csv")
    files = _image_files(source)
    images = (source / "images").resolve()  # once: resolving each of 10,015 files took seconds on a busy disk
    for part, chunk in ((1, files[:PART1_COUNT]), (2, files[PART1_COUNT:])):
        name = f"HAM10000_images_part_{part}"
        folder = dest / (name.lower() if lower_case else name)
        folder.mkdir()
        for file in chunk:
            (folder / file.name).symlink_to(images / file.name)
    return dest


def write_tab_metadata(source: Path, dest: Path) -> Path:
    """The tab-separated ``HAM10000_metadata.tab`` variant some copies carry."""
    table = pd.read_csv(source / "HAM10000_metadata.csv", dtype=str, keep_default_na=False)
    out = dest / "HAM10000_metadata.tab"
    table.to_csv(out, sep="\t", index=False)
    return out
