"""Where an archive's images live: published zips (read in place) or folders of JPEGs.

Each source maps ``image_id`` to one stored file and reads its bytes. Reads are safe from many
threads at once: every thread gets its own zip handle, because one ``ZipFile`` shared across
threads is a known source of corrupt reads.
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from pathlib import Path
from collections.abc import Mapping

from ..errors import ArchiveError, ImageDecodeError
from .files import read_regular_file, read_zip_member
from .metadata import is_metadata_name

# ISIC_0024306.jpg, in any case; segmentation masks (ISIC_..._segmentation.png) do not match.
IMAGE_NAME = re.compile(r"^(ISIC_\d+)\.jpe?g$", re.IGNORECASE)
# Any other JPEG: counted as "unlisted" if the metadata does not name it.
OTHER_JPEG = re.compile(r"^(.+)\.jpe?g$", re.IGNORECASE)


def is_hidden_member(name: str) -> bool:
    """macOS resource forks and their folder inside zips (``__MACOSX/``, ``._name.jpg``): never images."""
    return "__MACOSX" in name.split("/") or name.rsplit("/", 1)[-1].startswith("._")


def image_id_of(name: str) -> str | None:
    if is_hidden_member(name):
        return None
    base = name.rsplit("/", 1)[-1]
    match = IMAGE_NAME.match(base) or OTHER_JPEG.match(base)
    return match.group(1) if match else None


class ImageSource:
    """A set of image files keyed by image_id."""

    path: Path
    files: Mapping[str, object]  # image_id -> where it is stored (a Path, a ZipInfo)

    def read(self, image_id: str) -> bytes:
        raise NotImplementedError

    def fingerprint(self, image_id: str) -> str:
        """A cheap token that changes when the file's content changes."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        raise NotImplementedError


class FolderSource(ImageSource):
    files: dict[str, Path]

    def __init__(self, path: Path, files: dict[str, Path]):
        self.path = path
        self.files = files

    def read(self, image_id: str) -> bytes:
        return read_regular_file(self.files[image_id])

    def fingerprint(self, image_id: str) -> str:
        try:
            st = self.files[image_id].stat()
        except OSError:
            return "unreadable"
        return f"{st.st_size}:{st.st_mtime_ns}"

    def describe(self) -> str:
        return f"folder {self.path.name}/ ({len(self.files)} images)"


class ZipSource(ImageSource):
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ArchiveError(
                f"The zip file {path.name} is damaged or incomplete and cannot be read "
                f"({exc}); download it again or unpack it with another tool.") from exc
        self.files: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir():
                continue
            image_id = image_id_of(info.filename)
            if image_id is None:
                continue
            self.files.setdefault(image_id, info)

    def _handle(self) -> zipfile.ZipFile:
        handle = getattr(self._local, "zip", None)
        if handle is None:
            try:
                handle = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ImageDecodeError(f"{self.path.name}: cannot open the zip ({exc}).") from exc
            self._local.zip = handle
        return handle

    def read(self, image_id: str) -> bytes:
        return read_zip_member(self._handle(), self.files[image_id], zip_name=self.path.name)

    def fingerprint(self, image_id: str) -> str:
        info = self.files[image_id]
        return f"{info.file_size}:{info.CRC:08x}"

    def close(self) -> None:
        handle = getattr(self._local, "zip", None)
        if handle is not None:
            handle.close()
            self._local.zip = None

    def describe(self) -> str:
        return f"zip {self.path.name} ({len(self.files)} images)"


def _is_regular(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def scan_folders(root: Path, max_depth: int = 4) -> tuple[list[Path], list[Path], list[FolderSource]]:
    """Walk ``root``: metadata candidates, zip files, and one FolderSource per folder holding JPEGs."""
    metadata: list[Path] = []
    zips: list[Path] = []
    folders: list[FolderSource] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        images: dict[str, Path] = {}
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if depth < max_depth and name != "__MACOSX":
                    walk(Path(entry.path), depth + 1)
            elif is_metadata_name(name):
                metadata.append(Path(entry.path))
            elif name.lower().endswith(".zip") and _is_regular(entry):  # a FIFO named .zip would hang
                zips.append(Path(entry.path))
            else:
                image_id = image_id_of(name)
                # is_file() follows links: a dangling link (or a FIFO) is not an image that is present.
                if image_id is not None and _is_regular(entry):
                    images.setdefault(image_id, Path(entry.path))
        if images:
            folders.append(FolderSource(folder, images))

    walk(root, 0)
    return metadata, zips, folders
