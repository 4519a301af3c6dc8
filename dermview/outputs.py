"""Files dermview writes where the user says (``--isic-csv``, ``--screenshot``): checked before the
work starts, written atomically so that a failure never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO
from collections.abc import Iterable, Iterator

from .errors import DermviewError
from .paths import unwritable


def now() -> str:
    """Local time with its UTC offset, to the second: what a record says about when. (Here, not in the
    worklist, so that the case library does not import the model: its store imported in 2.7 s with it,
    0.7 s without.)"""
    return datetime.now().astimezone().isoformat(timespec="seconds")


_UMASK = os.umask(0o022)  # read once, at import, and put back at once
os.umask(_UMASK)


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *,
                      replaces_images: bool = False) -> Path:
    """The path resolved, or a :class:`DermviewError` saying why it cannot be written.

    Called before any long work, so that an hour of predictions never ends in "folder not found". An output
    never replaces one of the command's ``inputs`` (files, folders or zips the user named, or the images found
    in them), nor an existing image unless ``replaces_images`` (a command replacing what it made itself).
    """
    target = Path(path).expanduser()
    refuse_replacing(target, inputs, replaces_images=replaces_images)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise DermviewError(f"Cannot write {target}: it is a folder; give a file name.")
    if (target.exists() and not target.is_file()) or (target.is_symlink() and not target.exists()):
        # A device, a FIFO or a socket would be replaced by a regular file (as root, /dev/null itself).
        raise DermviewError(f"Cannot write {target}: it is not a regular file (a device, a pipe or a broken link); "
                            "give an ordinary file name.")
    if not folder.is_dir():
        raise DermviewError(f"Cannot write {target}: the folder {folder} does not exist.")
    problem = unwritable(folder, create=False)
    if problem:
        raise DermviewError(f"Cannot write {target}: the folder {folder} is not writable ({problem}).")
    return target


def refuse_replacing(target: Path, inputs: Iterable[str | os.PathLike] = (), *, replaces_images: bool = False) -> None:
    """A :class:`DermviewError` naming both paths if writing ``target`` would replace one of ``inputs``, or an
    existing image (unless ``replaces_images``)."""
    from .archive.imaging import is_image_name

    if not target.exists():
        return
    for source in inputs:
        with suppress(OSError):
            if os.path.samefile(target, source):
                raise DermviewError(f"Cannot write {target}: it is the input {source}, which would be replaced; nothing "
                                    "was written. Give the output another name.")
    if is_image_name(target.name) and not replaces_images:
        raise DermviewError(f"Cannot write {target}: an image of that name is already there, which would be replaced; "
                            "nothing was written. Give the output another name.")


@contextmanager
def atomic_path(path: str | os.PathLike, *, private: bool = False) -> Iterator[Path]:
    """A temporary path in the target's folder for a writer that opens files itself (Qt's PDF writer);
    flushed to disk and renamed over the target at the end, removed if anything fails. ``private``: the
    file stays its owner's alone (0600: dermview's own files); otherwise it is made as an ordinary new
    file would be (a report or an export the user names)."""
    target = Path(path).expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f"{target.stem}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    if not private:
        os.chmod(tmp, 0o666 & ~_UMASK)  # not mkstemp's owner-only 0600
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # a full disk, a quota, a vanished folder: the old file stays, whole
        with suppress(OSError):
            os.unlink(tmp)
        raise DermviewError(f"Cannot write {target}: {exc.strerror or exc}. Nothing was written; any earlier file "
                            "of that name was left as it was.") from exc
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", newline: str | None = None, *,
                private: bool = False) -> Iterator[IO]:
    """Write through a temporary file in the same folder, flushed to disk and renamed over the target at
    the end: readers see the old file or the new one, never half of one. ``mode``: "w" (UTF-8 text) or "wb";
    ``private`` as for atomic_path."""
    with atomic_path(path, private=private) as tmp:
        handle: IO
        handle = open(tmp, mode) if "b" in mode else open(tmp, mode, encoding="utf-8", newline=newline)  # noqa: SIM115
        with handle:
            yield handle
            handle.flush()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula at a cell's start


def spreadsheet_safe(text: str) -> str:
    """A CSV cell a spreadsheet will show as text, not run as a formula: a leading =, +, -, @, tab or
    carriage return gets a ' before it (OWASP's advice for CSV injection), and so does text that really
    begins with ' before one of those or another ', so that from_spreadsheet_safe gives back exactly what
    was written. Other text is unchanged."""
    return "'" + text if text[:1] in FORMULA_STARTS or _escaped(text) else text


def _escaped(text: str) -> bool:
    return text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'")


def from_spreadsheet_safe(text: str) -> str:
    """The text spreadsheet_safe was given."""
    return text[1:] if _escaped(text) else text
