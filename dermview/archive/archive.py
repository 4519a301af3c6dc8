"""Opening a HAM10000 archive folder in any of the layouts people actually have on disk.

Published: metadata + HAM10000_images_part1.zip / part2.zip (read in place, never unpacked).
Kaggle: HAM10000_images_part_1/ and _part_2/ folders (any case), ages as 80.0, no `dataset` column.
Also one flat folder of JPEGs, and any of these nested a few folders down. Nothing is ever written here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..errors import ArchiveError, ImageDecodeError
from .imaging import decode_image
from .metadata import read_metadata
from .sources import ImageSource, ZipSource, scan_folders

_ARCHIVE_ZIP = re.compile(r"ham10000|isic|images", re.IGNORECASE)


@dataclass
class Archive:
    root: Path
    metadata_path: Path
    metadata: pd.DataFrame  # validated; column `available` says whether the image file was found
    sources: list[ImageSource]
    unlisted_files: int
    duplicate_files: int
    notes: list[str] = field(default_factory=list)
    _source_of: dict[str, ImageSource] = field(default_factory=dict, repr=False)
    _content_key: str | None = field(default=None, repr=False)

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path) -> Archive:
        root = Path(root).expanduser()
        if root.is_file():  # the user picked the metadata file itself
            root = root.parent
        if not root.is_dir():
            raise ArchiveError(f"The archive folder {root} does not exist or is not a folder.")
        root = root.resolve()
        metadata_files, zip_files, folders = scan_folders(root)
        if not metadata_files:
            raise ArchiveError(
                f"No HAM10000 metadata table (HAM10000_metadata, .csv or .tab) was found in {root} "
                "or its subfolders. Point dermview at the folder that holds the metadata and the images.")
        # Shallowest first, then the published .csv before other variants.
        metadata_files.sort(key=lambda p: (len(p.relative_to(root).parts), p.suffix.lower() != ".csv", str(p)))
        metadata_path = metadata_files[0]
        metadata = read_metadata(metadata_path)

        notes: list[str] = []
        sources: list[ImageSource] = []
        for zip_path in zip_files:
            try:
                source: ImageSource = ZipSource(zip_path)
            except ArchiveError:
                if _ARCHIVE_ZIP.search(zip_path.name):
                    raise
                notes.append(f"Ignored unreadable zip {zip_path.name}.")
                continue
            if source.files:
                sources.append(source)
        sources.extend(folders)
        # Where an image is stored twice (e.g. a folder of a few full-size originals beside the
        # complete set), take it from the source that holds the most images, zips before folders.
        sources.sort(key=lambda s: (-len(s.files), not isinstance(s, ZipSource), str(s.path)))

        listed = set(metadata["image_id"])
        source_of: dict[str, ImageSource] = {}
        found: set[str] = set()
        duplicates = 0
        for source in sources:
            for image_id in source.files:
                if image_id in found:
                    duplicates += 1
                    continue
                found.add(image_id)
                if image_id in listed:
                    source_of[image_id] = source
        unlisted = len(found - listed)
        metadata["available"] = metadata["image_id"].isin(source_of.keys())
        missing = int((~metadata["available"]).sum())
        if missing:
            notes.append(f"{missing} image(s) listed in the metadata were not found; they are shown as missing.")
        if unlisted:
            notes.append(f"{unlisted} image file(s) not listed in the metadata were ignored.")
        return cls(root=root, metadata_path=metadata_path, metadata=metadata, sources=sources,
                   unlisted_files=unlisted, duplicate_files=duplicates, notes=notes, _source_of=source_of)

    def close(self) -> None:
        for source in self.sources:
            source.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- images --------------------------------------------------------------------------------
    def read_bytes(self, image_id: str) -> bytes:
        source = self._source_of.get(image_id)
        if source is None:
            raise ImageDecodeError(f"{image_id}: listed in the metadata but its image file is not in the archive.")
        return source.read(image_id)

    def load_image(self, image_id: str, *, draft_size: int | tuple[int, int] | None = None) -> Image.Image:
        """The image as upright 8-bit RGB; thread-safe."""
        return decode_image(self.read_bytes(image_id), image_id, draft_size=draft_size)

    # -- facts ---------------------------------------------------------------------------------
    @property
    def missing_images(self) -> int:
        return int((~self.metadata["available"]).sum())

    @property
    def layout(self) -> str:
        if not self.sources:
            return "no images found"
        return "; ".join(s.describe() for s in self.sources)

    def content_key(self) -> str:
        """Changes whenever the metadata or any image file changes: the feature cache is keyed to it."""
        if self._content_key is None:
            digest = hashlib.sha256(self.metadata_path.read_bytes())
            for image_id in self.metadata["image_id"]:
                source = self._source_of.get(image_id)
                token = source.fingerprint(image_id) if source is not None else "missing"
                digest.update(f"{image_id}={token};".encode())
            self._content_key = digest.hexdigest()
        return self._content_key

    def summary(self) -> dict:
        meta = self.metadata

        def counts(column: str) -> dict[str, int]:
            values = Counter(meta[column].astype(str))
            return {k: int(v) for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))}

        ages = meta["age"].to_numpy()
        return {
            "archive": str(self.root),
            "metadata": str(self.metadata_path),
            "layout": self.layout,
            "images": int(len(meta)),
            "lesions": int(meta["lesion_id"].nunique()),
            "missing_images": self.missing_images,
            "unlisted_files": int(self.unlisted_files),
            "duplicate_files": int(self.duplicate_files),
            "by_dx": counts("dx"),
            "by_dx_type": counts("dx_type"),
            "by_sex": counts("sex"),
            "by_localization": counts("localization"),
            "by_dataset": counts("dataset"),
            "age_unknown": int(np.isnan(ages).sum()),
            "notes": list(self.notes),
        }


def open_archive(root: str | Path) -> Archive:
    return Archive.open(root)
