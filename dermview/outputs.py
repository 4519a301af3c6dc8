"""Files dermview writes where the user says (``--isic-csv``, ``--screenshot``): checked before the
work starts, written atomically so that a failure never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import DermviewError


def check_output_path(path: str | os.PathLike) -> Path:
    """The path resolved, or a :class:`DermviewError` saying why it cannot be written.

    Called before any long work, so that an hour of predictions never ends in "folder not found".
    """
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise DermviewError(f"Cannot write {target}: it is a folder; give a file name.")
    if not folder.is_dir():
        raise DermviewError(f"Cannot write {target}: the folder {folder} does not exist.")
    try:
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".dermview-write-test-")
        probe.close()
    except OSError as exc:
        raise DermviewError(f"Cannot write {target}: the folder {folder} is not writable "
                            f"({exc.strerror or exc}).") from exc
    return target


@contextmanager
def atomic_text_file(path: str | os.PathLike, newline: str | None = None) -> Iterator[IO[str]]:
    """Write a text file through a temporary file in the same folder, renamed over the target at the end."""
    target = Path(path).expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
