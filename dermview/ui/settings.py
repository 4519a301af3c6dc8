"""Typed settings, stored as an INI file in the per-user config folder (never next to the program)."""

from __future__ import annotations

import tempfile

from PySide6.QtCore import QByteArray, QSettings

from ..paths import ensure_dir, user_dirs


class Settings:
    def __init__(self) -> None:
        folder = user_dirs().config
        #: why the settings cannot be kept (the folder is a file, read-only, ...), or None
        self.problem: str | None = None
        try:
            ensure_dir(folder)
            probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-")
            probe.close()
        except OSError as exc:
            self.problem = f"the settings folder {folder} cannot be written ({exc.strerror or exc})"
        # QSettings keeps values in memory and only fails to save them when the folder is unusable.
        self._qs = QSettings(str(folder / "dermview.ini"), QSettings.Format.IniFormat)

    def _get(self, key: str, default, kind):
        value = self._qs.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    @property
    def last_archive(self) -> str:
        return self._get("archive/last", "", str)

    @last_archive.setter
    def last_archive(self, value: str) -> None:
        self._qs.setValue("archive/last", value)

    @property
    def features(self) -> str:
        """"learned" or "classic": what the user chose; "learned" falls back when it is unavailable."""
        value = self._get("model/features", "learned", str)
        return value if value in ("learned", "classic") else "learned"

    @features.setter
    def features(self, value: str) -> None:
        self._qs.setValue("model/features", value)

    def k_for(self, features: str, default: int) -> int:
        """k is remembered per kind of features: their best values differ."""
        return max(1, min(100, self._get(f"model/k_{features}", default, int)))

    def set_k_for(self, features: str, value: int) -> None:
        self._qs.setValue(f"model/k_{features}", int(value))

    @property
    def view_mode(self) -> str:
        mode = self._get("view/mode", "grid", str)
        return mode if mode in ("grid", "table") else "grid"

    @view_mode.setter
    def view_mode(self, value: str) -> None:
        self._qs.setValue("view/mode", value)

    def geometry(self, key: str) -> QByteArray | None:
        value = self._qs.value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._qs.setValue(f"window/{key}", value)

    def sync(self) -> None:
        self._qs.sync()
