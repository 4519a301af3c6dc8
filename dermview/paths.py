"""Per-user folders for everything dermview writes (feature cache, settings, logs).

dermview never writes into the archive or next to its own code. ``DERMVIEW_CACHE_DIR`` (or the
``--cache-dir`` option, which sets it) moves *everything* dermview writes under one folder, which
is what tests, portable installs and shared workstations want.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "dermview"
ENV_CACHE_DIR = "DERMVIEW_CACHE_DIR"


@dataclass(frozen=True)
class UserDirs:
    cache: Path
    config: Path
    logs: Path
    data: Path  # what the user made and would miss: saved sessions (and, later, their case library)


def _platform_dirs() -> UserDirs:
    home = Path.home()
    if sys.platform.startswith("win"):
        local = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP_NAME
        roaming = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / APP_NAME
        return UserDirs(cache=local / "Cache", config=roaming, logs=local / "Logs", data=roaming / "Data")
    if sys.platform == "darwin":
        lib = home / "Library"
        return UserDirs(cache=lib / "Caches" / APP_NAME,
                        config=lib / "Application Support" / APP_NAME,
                        logs=lib / "Logs" / APP_NAME, data=lib / "Application Support" / APP_NAME / "Data")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / APP_NAME
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / APP_NAME
    state = Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / APP_NAME
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / APP_NAME
    return UserDirs(cache=cache, config=config, logs=state / "logs", data=data)


def user_dirs() -> UserDirs:
    """The folders to use now; honours ``DERMVIEW_CACHE_DIR`` at every call."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        base = Path(override).expanduser().resolve()
        return UserDirs(cache=base, config=base / "settings", logs=base / "logs", data=base / "data")
    return _platform_dirs()


def set_cache_dir(path: str | os.PathLike) -> None:
    """What ``--cache-dir`` does: redirect every folder dermview writes to for this process."""
    os.environ[ENV_CACHE_DIR] = str(Path(path).expanduser().resolve())


def ensure_dir(path: Path) -> Path:
    """``path`` made if missing; a folder dermview makes is its owner's alone (0700: cases, sessions and logs
    are clinicians' data)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> None:
    """Make ``path`` readable and writable by its owner only (0600), if it exists and may be changed."""
    try:
        if path.is_file():
            os.chmod(path, 0o600)
    except OSError:  # another user's file, or a file system without modes: nothing to protect there
        pass


def unwritable(folder: Path, *, create: bool = True) -> str | None:
    """Why files cannot be written in ``folder`` (created first if ``create``), or None if they can.

    Tried, not guessed from permission bits: a read-only mount, a file in the way, or /proc all fail
    here, as they would for the real write (and root passes permission checks that say otherwise).
    """
    try:
        if create:
            ensure_dir(folder)
        with tempfile.TemporaryFile(dir=folder, prefix=".dermview-write-test-"):
            pass
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


def resources_dir() -> Path:
    """The package's own data folder, ``dermview/resources``: the learned model, the icon.

    Found through ``importlib.resources``, so the same lookup works in a source checkout, an
    installed wheel (pip, pipx) and the PyInstaller bundle, which collects it at the same place.
    """
    from importlib.resources import files

    return Path(str(files("dermview").joinpath("resources")))


def shipped_model(name: str, env_var: str) -> Path | None:
    """The network file ``name``.onnx: where ``env_var`` points (tests, retrained models), else the one shipped in
    ``resources/models``; None when neither names a file that is there."""
    override = os.environ.get(env_var)
    if override:
        return Path(override).expanduser()
    candidate = resources_dir() / "models" / f"{name}.onnx"
    return candidate if candidate.is_file() else None
