"""Turning what a user names (files, folders, zip files) into a list of images to classify."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from PIL import Image

from ..archive.imaging import decode_image, is_image_name, load_image_file
from ..errors import ImageDecodeError


@dataclass
class InputImage:
    name: str  # what the user sees: a path, or "archive.zip:member.jpg"
    stem: str  # the image id without extension (ISIC submissions use it)
    load: Callable[..., Image.Image]  # (draft_size=None) -> RGB image; raises ImageDecodeError


def _file_input(path: Path) -> InputImage:
    return InputImage(str(path), path.stem, lambda draft=None, p=path: load_image_file(p, draft_size=draft))


def _zip_inputs(path: Path) -> list[InputImage]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist()
                           if is_image_name(n) and not n.endswith("/") and "__MACOSX" not in n
                           and not n.rsplit("/", 1)[-1].startswith("._"))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImageDecodeError(f"{path.name}: not a readable zip file ({exc}).") from exc

    def loader(member: str):
        def load(draft=None):
            try:
                with zipfile.ZipFile(path) as zf:  # one handle per read: safe from any thread
                    data = zf.read(member)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ImageDecodeError(f"{member}: damaged inside {path.name} ({exc}).") from exc
            return decode_image(data, member.rsplit("/", 1)[-1], draft_size=draft)
        return load

    return [InputImage(f"{path}:{n}", Path(n).stem, loader(n)) for n in names]


def gather_inputs(paths: Iterable[str | Path]) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """Images to classify, and (name, error) for arguments that are not usable at all.

    Folders are searched recursively; zip files are opened in place; any other path is taken as an
    image, so that a non-image file gets a readable error when it is decoded.
    """
    images: list[InputImage] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_name(p.name)
                           and not p.name.startswith("."))
            if not found:
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
        elif path.exists():
            images.append(_file_input(path))
        else:
            problems.append((str(path), "no such file or folder"))
    return images, problems


def bytes_input(name: str, data: bytes) -> InputImage:
    """An image that arrived as bytes (e.g. pasted from the clipboard)."""
    return InputImage(name, Path(name).stem, lambda draft=None: decode_image(data, name, draft_size=draft))

