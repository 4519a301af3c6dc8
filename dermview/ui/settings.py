"""Typed settings, stored as an INI file in the per-user config folder (never next to the program)."""

from __future__ import annotations

import contextlib

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from ..model.extractors import feature_names
from ..model.predictor import DEFAULT_SEARCH, SearchIn
from ..library.urls import without_password
from ..paths import private_file, unwritable, user_dirs


class Settings:
    """The user's settings (dermview.ini in the per-user config folder). ``scratch``: read them, but keep every
    change in memory only (--self-test, --screenshot and the docs' scripts leave the user's settings alone)."""

    def __init__(self, *, scratch: bool = False) -> None:
        self.scratch = scratch
        self._changed: dict[str, object] = {}  # a scratch run's changes
        folder = user_dirs().config
        #: why the settings cannot be kept (the folder is a file, read-only, ...), or None
        reason = unwritable(folder)
        self.problem: str | None = f"the settings folder {folder} cannot be written ({reason})" if reason else None
        # QSettings keeps values in memory and only fails to save them when the folder is unusable. The file
        # is made the owner's alone first; QSettings keeps an existing file's permissions when it rewrites it.
        path = folder / "dermview.ini"
        if not reason and not scratch:
            with contextlib.suppress(OSError):
                path.touch(mode=0o600, exist_ok=True)
            private_file(path)
        self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    def _value(self, key: str, default=None):
        return self._changed[key] if key in self._changed else self._qs.value(key, default)

    def _set(self, key: str, value) -> None:
        if self.scratch:
            self._changed[key] = value
        else:
            self._qs.setValue(key, value)

    def _get(self, key: str, default, kind):
        value = self._value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    @property
    def last_archive(self) -> str:
        return self._get("archive/last", "", str)

    @last_archive.setter
    def last_archive(self, value: str) -> None:
        self._set("archive/last", value)

    @property
    def features(self) -> str:
        """The kind of similarity the user chose (a registry name); the most preferred kind by default.
        The window falls back from a choice that cannot be used here, with a note."""
        preferred = feature_names()[0]
        value = self._get("model/features", preferred, str)
        return value if value in feature_names() else preferred

    @features.setter
    def features(self, value: str) -> None:
        self._set("model/features", value)

    def k_for(self, features: str, default: int) -> int:
        """k is remembered per kind of features: their best values differ."""
        return max(1, min(100, self._get(f"model/k_{features}", default, int)))

    def set_k_for(self, features: str, value: int) -> None:
        self._set(f"model/k_{features}", int(value))

    @property
    def search(self) -> SearchIn:
        """Whose images may be neighbours: the archive, the practice's own confirmed cases, or both."""
        try:
            return SearchIn(self._get("library/search", DEFAULT_SEARCH.value, str))
        except ValueError:
            return DEFAULT_SEARCH

    @search.setter
    def search(self, value: SearchIn) -> None:
        self._set("library/search", value.value)

    @property
    def library_url(self) -> str:
        """A practice's library (postgresql://...), or "" for DERMVIEW_LIBRARY or the per-user SQLite file."""
        return self._get("library/url", "", str)

    @library_url.setter
    def library_url(self, value: str) -> None:
        # Never a password on disk: the run that was given one keeps it in memory (library.urls.library_url).
        self._set("library/url", without_password(value) if value else value)

    @property
    def recorder(self) -> str:
        """Who records confirmations on this workstation (the last name given)."""
        return self._get("library/recorder", "", str)

    @recorder.setter
    def recorder(self, value: str) -> None:
        self._set("library/recorder", value)

    @property
    def view_mode(self) -> str:
        mode = self._get("view/mode", "grid", str)
        return mode if mode in ("grid", "table") else "grid"

    @view_mode.setter
    def view_mode(self, value: str) -> None:
        self._set("view/mode", value)

    @property
    def outlines(self) -> bool:
        """View > Lesion Outlines: the lesion's outline drawn on the query, the neighbours and the archive image."""
        return str(self._get("view/outlines", "false", str)).lower() == "true"

    @outlines.setter
    def outlines(self, value: bool) -> None:
        self._set("view/outlines", "true" if value else "false")

    def folder(self, key: str) -> str:
        """Where an open or save dialog starts: the folder last used for ``key`` ("images", "exports"), if it
        is still there, else the user's documents folder (never the program's own folder)."""
        last = self._get(f"folders/{key}", "", str)
        if last and Path(last).is_dir():
            return last
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())

    def remember_folder(self, key: str, path: str) -> None:
        """The folder of ``path`` (a file chosen in a dialog) is where the next ``key`` dialog starts."""
        self._set(f"folders/{key}", str(Path(path).parent))

    def in_folder(self, key: str, file_name: str) -> str:
        """``file_name`` in the folder a ``key`` save dialog starts in."""
        return str(Path(self.folder(key)) / file_name)

    def geometry(self, key: str) -> QByteArray | None:
        value = self._value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._set(f"window/{key}", value)

    def sync(self) -> None:
        if not self.scratch:
            self._qs.sync()
