"""A worklist that survives a restart: its images by path and SHA-256, with the clinician's notes.

Saved as one JSON file in the per-user data folder, atomically, whenever the worklist changes. On
reopening, every image is found again by its path (a zip member by its zip and name; a pasted image
from the copy kept beside the session) and must still have the content it had: a moved, deleted or
changed file becomes a row that says so, with its note kept, never a silent re-use of other pixels.
Results are not stored: they are recomputed, so they always come from the index in use.

Each open window claims a session file of its own (:func:`claim_slot`): the first one open has
``last-session.json``, a second one open at the same time ``last-session-2.json``, and so on, so two
windows never overwrite each other's session. The claim is an operating-system lock on a file beside it,
released when the window closes or the process ends, however it ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..archive.inputs import InputImage, bytes_input, gather_inputs, sha256_of, split_zip_name
from ..errors import DermviewError
from ..outputs import atomic_file, now
from ..paths import ensure_dir, user_dirs
from .worklist import WorkItem

SESSION_FORMAT = "dermview-session"
SESSION_VERSION = 1
PASTED_FOLDER = "pasted"  # beside the session file: pasted images exist nowhere else


MOST_SLOTS = 9  # windows open at once, each with a session of its own


def session_file(slot: int = 1) -> Path:
    """The session file of a window's ``slot`` (1: the first window open)."""
    return user_dirs().data / "sessions" / ("last-session.json" if slot == 1 else f"last-session-{slot}.json")


class SessionSlot:
    """A window's claim on one session file: held until :meth:`release` (or the process ends)."""

    def __init__(self, number: int, path: Path, handle=None):
        self.number, self.path, self._handle = number, path, handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None


def _lock(handle) -> bool:
    """An exclusive, non-blocking lock on the open file ``handle``: False if another holder has it."""
    try:
        if sys.platform == "win32":  # (a check mypy understands: msvcrt exists only there)
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def claim_slot() -> SessionSlot:
    """The first session file no other open window holds (last-session.json when this is the only window).
    When every slot is held, or the folder cannot be written, slot 1's path without a claim: saving still
    works, as it did before there were slots."""
    for number in range(1, MOST_SLOTS + 1):
        path = session_file(number)
        try:
            handle = open(ensure_dir(path.parent) / (path.stem + ".lock"), "a+b")  # noqa: SIM115 (held: the lock)
        except OSError:
            break
        if _lock(handle):
            return SessionSlot(number, path, handle)
        handle.close()
    return SessionSlot(1, session_file(1))


@dataclass
class SavedSession:
    path: Path
    saved_at: str
    archive: str
    images: list[dict]

    def describe(self) -> str:
        notes = sum(1 for image in self.images if image.get("note"))
        return (f"{len(self.images)} image{'s' if len(self.images) != 1 else ''}"
                + (f", {notes} with notes" if notes else "") + f", saved {self.saved_at.replace('T', ' ')[:16]}")


def save_session(items: list[WorkItem], archive: str, path: Path | None = None) -> Path:
    """Write the worklist (not its results) atomically. Pasted images are kept as files beside it."""
    path = path or session_file()
    ensure_dir(path.parent)
    images = []
    for item in items:
        record: dict = {"name": item.name, "note": item.note, "sha256": item.sha256, "error": item.error,
                        "archive_image_id": item.archive_image_id}
        source = item.input
        if source is not None and source.path is None and split_zip_name(source.name) is None:
            # Pasted: its bytes exist only in memory, so the session keeps them (named by content).
            data = source.read()
            digest = sha256_of(data)
            keep = ensure_dir(path.parent / PASTED_FOLDER) / f"{digest}.png"
            if not keep.exists():
                with atomic_file(keep, "wb", private=True) as handle:
                    handle.write(data)
            record.update(sha256=digest, pasted=keep.name)
        images.append(record)
    document = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "saved_at": now(), "archive": archive,
                "images": images}
    with atomic_file(path, "w", private=True) as handle:
        json.dump(document, handle, indent=1, ensure_ascii=False)
    return path


def load_session(path: Path | None = None) -> SavedSession | None:
    """The saved session, or None when there is none (or it lists no images). Raises DermviewError for
    a file that is not a dermview session or comes from a newer dermview."""
    path = path or session_file()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise DermviewError(f"The saved session {path} cannot be read ({type(exc).__name__}); it was left as it "
                            "is.") from exc
    if not isinstance(document, dict) or document.get("format") != SESSION_FORMAT:
        raise DermviewError(f"{path} is not a dermview session; it was left as it is.")
    version = document.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or not isinstance(document.get("images", []), list):
        raise DermviewError(f"The saved session {path} is damaged (its version or image list is not what dermview "
                            "writes); it was left as it is.")
    if version > SESSION_VERSION:
        raise DermviewError(f"The saved session {path} was written by a newer dermview; it was left as it is.")
    images = [i for i in document.get("images", []) if isinstance(i, dict) and isinstance(i.get("name"), str)
              and all(isinstance(i.get(key), (str, type(None))) for key in ("note", "sha256", "error", "archive_image_id",
                                                                            "pasted"))]
    if not images:
        return None
    return SavedSession(path, str(document.get("saved_at", "")), str(document.get("archive", "")), images)


def set_aside(saved: SavedSession) -> Path:
    """Keep a session the user did not reopen under another name (nothing they had is lost)."""
    target = saved.path.with_name(f"session-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.replace(saved.path, target)
    return target


def keep_earlier_session(path: Path | None = None) -> str | None:
    """Before a worklist that never offered the saved session overwrites it (a window started with images,
    "Open with"): keep the saved one under another name, damaged or not. A sentence saying where, or None
    if there was nothing to keep."""
    path = path or session_file()
    try:
        saved = load_session(path)
    except DermviewError:
        if not path.exists():
            return None
        kept = path.with_name(f"session-damaged-{time.strftime('%Y%m%d-%H%M%S')}.json")
        try:
            os.replace(path, kept)
        except OSError as exc:
            return f"The saved session could not be read, nor set aside ({exc})."
        return f"The saved session could not be read; it was kept as {kept}."
    if saved is None:
        return None
    try:
        kept = set_aside(saved)
    except OSError as exc:
        return f"The earlier session could not be set aside: {exc}"
    return f"Your earlier session ({saved.describe()}) was kept as {kept}."


def restore_items(saved: SavedSession) -> list[WorkItem]:
    """The saved rows as worklist items, each found again and checked against its SHA-256 (reads every
    file: run it off the GUI thread). Rows that cannot be found or have changed say why."""
    zips: dict[Path, dict[str, InputImage]] = {}
    items = []
    for record in saved.images:
        name, note, digest = record["name"], str(record.get("note") or ""), record.get("sha256")
        if record.get("archive_image_id"):
            items.append(WorkItem(name, archive_image_id=str(record["archive_image_id"]), note=note))
            continue
        item = WorkItem(name, note=note, known_sha256=digest)
        try:
            source = _find_again(record, saved.path.parent, zips)
            if digest and sha256_of(source.read()) != digest:
                raise DermviewError("its content has changed since the session was saved (another SHA-256); "
                                    "it was not re-used")
            item.input = source
        except DermviewError as exc:
            item.fail(f"{name}: {exc}")
        items.append(item)
    return items


def _find_again(record: dict, folder: Path, zips: dict[Path, dict[str, InputImage]]) -> InputImage:
    name = record["name"]
    if record.get("pasted"):
        kept = folder / PASTED_FOLDER / Path(record["pasted"]).name
        if not kept.is_file():
            raise DermviewError("the pasted image kept with the session is gone")
        return bytes_input(name, kept.read_bytes())
    parts = split_zip_name(name)
    if parts is not None:
        zip_path, member = parts
        if not zip_path.is_file():
            raise DermviewError(f"the zip file {zip_path} has been moved or deleted since the session was saved")
        if zip_path not in zips:
            images, _problems = gather_inputs([zip_path])
            zips[zip_path] = {image.name: image for image in images}
        found = zips[zip_path].get(name)
        if found is None:
            raise DermviewError(f"{member} is no longer in {zip_path.name}")
        return found
    path = Path(name)
    if not path.exists():
        raise DermviewError("the file has been moved or deleted since the session was saved")
    images, problems = gather_inputs([path])
    if not images:
        raise DermviewError(problems[0][1] if problems else "the file cannot be read")
    return images[0]
