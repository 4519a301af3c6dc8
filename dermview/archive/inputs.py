"""Turning what a user names (files, folders, zip files) into a list of images to classify.

Query images get the archive's own limits (dermview.archive.files): regular files only, a size cap,
zip members read in place and refused one by one when encrypted, oddly compressed or a zip bomb,
and images too small to judge refused with a message. Nothing here stops at the first bad input:
every problem becomes an (input, message) pair beside the images that are fine.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from collections.abc import Callable, Iterable

from PIL import Image

from ..errors import ImageDecodeError
from .files import read_zip_member
from .imaging import MIN_QUERY_SIDE, decode_image, is_image_name, read_file_bytes
from .sources import is_hidden_member


@dataclass
class InputImage:
    """One image a user named. Its bytes are read when needed (from any thread), never kept."""

    name: str  # what the user sees: a path, or "archive.zip:member.jpg"
    stem: str  # the image id without extension (ISIC submissions use it)
    read: Callable[[], bytes]  # the file's bytes; raises ImageDecodeError
    path: Path | None = None  # the file on disk, when there is one (a worklist can find it again)

    def load(self, draft_size: int | tuple[int, int] | None = None) -> Image.Image:
        """The image in RGB (at least ``draft_size`` when given); raises ImageDecodeError."""
        return self.decode(self.read(), draft_size)

    def decode(self, data: bytes, draft_size: int | tuple[int, int] | None = None) -> Image.Image:
        return decode_image(data, self.file_name, draft_size=draft_size, min_side=MIN_QUERY_SIDE)

    @property
    def file_name(self) -> str:
        """The name without its folders (or its zip file), for messages, exports and reports."""
        return self.path.name if self.path is not None else base_name(self.name)


def split_zip_name(name: str) -> tuple[Path, str] | None:
    """(Path("a/b.zip"), "c/d.jpg") for a zip member's input name "a/b.zip:c/d.jpg"; None for others."""
    lower = name.lower()
    if ".zip:" not in lower:
        return None
    cut = lower.rindex(".zip:") + 4
    return Path(name[:cut]), name[cut + 1:]


def base_name(name: str) -> str:
    """A user-facing input name without its folders or zip file: "a/b.zip:c/d.jpg" -> "d.jpg"."""
    parts = split_zip_name(name)
    member = parts[1] if parts else name
    return Path(member).name or member


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 that names an image's content in exports, reports and sessions."""
    return hashlib.sha256(data).hexdigest()


def _file_input(path: Path) -> InputImage:
    return InputImage(str(path), path.stem, partial(read_file_bytes, path), path=path)


def _is_listed_image(name: str) -> bool:
    return is_image_name(name) and not name.endswith("/") and not is_hidden_member(name)


UTF8_NAME_FLAG = 0x800  # a zip member's general-purpose flag: its name is UTF-8


def member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as its maker wrote it: Linux's Info-ZIP writes UTF-8 names without setting the
    UTF-8 flag, which Python then reads as code page 437 ("M├╝ller" for "Müller")."""
    if info.flag_bits & UTF8_NAME_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):  # really code page 437 (or something else): as read
        return info.filename


def _zip_inputs(path: Path) -> list[InputImage]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted((i for i in zf.infolist() if _is_listed_image(i.filename)), key=lambda i: i.filename)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ImageDecodeError(f"{path.name}: not a readable zip file ({exc}).") from exc

    def reader(info: zipfile.ZipInfo):
        def read() -> bytes:
            try:
                with zipfile.ZipFile(path) as zf:  # one handle per read: safe from any thread
                    return read_zip_member(zf, info, zip_name=path.name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ImageDecodeError(f"{path.name}: the zip can no longer be read ({exc}).") from exc
        return read

    return [InputImage(f"{path}:{member_name(i)}", Path(member_name(i)).stem, reader(i)) for i in members]


def walk_images(folder: Path, skipped: list[str] | None = None) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files below ``folder`` (sorted), and (subfolder, error) for every folder that could not be read.
    ``skipped``: if given, the other (not hidden) files found are appended to it."""
    found: list[Path] = []
    problems: list[tuple[str, str]] = []

    def unreadable(exc: OSError) -> None:
        where = exc.filename or str(folder)
        problems.append((str(where), f"the folder cannot be read ({exc.strerror or exc}); its images were skipped"))

    for here, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(here) / f for f in files if is_image_name(f) and not f.startswith("."))
        if skipped is not None:
            skipped.extend(str(Path(here) / f) for f in sorted(files) if not is_image_name(f) and not f.startswith("."))
    return sorted(found), problems


def gather_inputs(paths: Iterable[str | Path], skipped: list[str] | None = None
                  ) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """Images to classify, and (name, error) for inputs that are not usable at all.

    Folders are searched recursively; zip files are opened in place; any other path is taken as an
    image, so that a non-image file gets a readable error when it is decoded. ``skipped``: if given, the
    files inside folders that are not images (and so were passed over) are appended to it.
    """
    images: list[InputImage] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found, unreadable = walk_images(path, skipped)
            problems.extend(unreadable)
            if not found and not unreadable:
                problems.append((str(path), "the folder contains no image files"))
            images.extend(_file_input(p) for p in found)
        elif path.suffix.lower() == ".zip" and path.is_file():
            try:
                members = _zip_inputs(path)
            except ImageDecodeError as exc:
                problems.append((str(path), str(exc)))
                continue
            if not members:
                problems.append((str(path), "the zip file contains no image files"))
            images.extend(members)
        elif path.exists() or path.is_symlink():
            images.append(_file_input(path))  # a FIFO, device or dangling link gets its error on reading
        else:
            problems.append((str(path), "no such file or folder"))
    return images, problems


def skipped_sentence(skipped: list[str]) -> str:
    """What to tell the user about the files inside the folders given that were not images (gather_inputs)."""
    n = len(skipped)
    shown = ", ".join(Path(p).name for p in skipped[:3]) + (", ..." if n > 3 else "")
    return (f"{n:,} file{'s' if n != 1 else ''} in the folders given {'are' if n != 1 else 'is'} not an image and "
            f"{'were' if n != 1 else 'was'} skipped ({shown}).")


def bytes_input(name: str, data: bytes) -> InputImage:
    """An image that arrived as bytes (e.g. pasted from the clipboard)."""
    return InputImage(name, Path(name).stem, lambda: data)
