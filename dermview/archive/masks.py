"""The published lesion masks (HAM10000's segmentation release), where the user's archive folder holds them.

They ship as ``HAM10000_segmentations_lesion_tschandl.zip`` or unpacked into a folder of
``ISIC_0024306_segmentation.png`` files, beside the images. dermview shows them on an archive image's detail
beside its own outline; they are never an input to anything (a new image has no mask). Read in place, never
written.
"""

from __future__ import annotations

import io
import os
import re
import threading
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageDecodeError
from .files import read_regular_file, read_zip_member
from .sources import is_hidden_member

MASK_NAME = re.compile(r"^(ISIC_\d+)_segmentation\.png$", re.IGNORECASE)
SEARCH_DEPTH = 3  # folders below the archive's root looked in: the layouts people unpack to


def as_mask(picture: Image.Image | np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask picture, or an (H, W) bool array -> (H, W) bool: where it is at least half white, first resized to
    ``size`` (width, height) when given and different."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture.astype(np.uint8) * 255)
    picture = picture.convert("L")
    if size is not None and picture.size != size:
        picture = picture.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(picture) >= 128


class PublishedMasks:
    """The masks found under one archive folder, by image id. Thread-safe reads."""

    def __init__(self, files: dict[str, Path | tuple[Path, zipfile.ZipInfo]]):
        self.files = files
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self.files)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self.files

    @classmethod
    def find(cls, root: str | Path) -> PublishedMasks | None:
        """The masks in ``root`` and up to SEARCH_DEPTH folders below it (files, or members of zips), or None."""
        files: dict[str, Path | tuple[Path, zipfile.ZipInfo]] = {}

        def walk(folder: Path, depth: int) -> None:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                return
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                match = MASK_NAME.match(entry.name)
                if match and entry.is_file():
                    files.setdefault(match.group(1), Path(entry.path))
                elif entry.name.lower().endswith(".zip") and "segmentation" in entry.name.lower() and entry.is_file():
                    try:
                        with zipfile.ZipFile(entry.path) as archive:
                            for info in archive.infolist():
                                member = MASK_NAME.match(info.filename.rsplit("/", 1)[-1])
                                if member and not is_hidden_member(info.filename):
                                    files.setdefault(member.group(1), (Path(entry.path), info))
                    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                        continue  # a damaged release: the masks are an extra, the archive still opens
                elif depth < SEARCH_DEPTH and entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), depth + 1)

        walk(Path(root), 0)
        return cls(files) if files else None

    def read(self, image_id: str, size: tuple[int, int]) -> np.ndarray | None:
        """The published mask of ``image_id`` as (H, W) bool at ``size`` (width, height), or None without one.
        Raises ImageDecodeError for a damaged mask file."""
        where = self.files.get(image_id)
        if where is None:
            return None
        if isinstance(where, Path):
            data = read_regular_file(where)
        else:
            path, info = where
            handles = getattr(self._local, "zips", None)
            if handles is None:
                handles = self._local.zips = {}
            if path not in handles:
                handles[path] = zipfile.ZipFile(path)
            data = read_zip_member(handles[path], info, zip_name=path.name)
        try:
            with Image.open(io.BytesIO(data)) as mask:
                return as_mask(mask, size)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ImageDecodeError(f"The published mask of {image_id} is damaged ({exc}).") from exc
