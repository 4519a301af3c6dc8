"""The core (archive, model, CLI) must work from a script or notebook without Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import dermview
from conftest import PROJECT_ROOT


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dermview.__path__, "dermview."):
        if not info.name.startswith(("dermview.ui", "dermview.render")) and info.name != "dermview.__main__":
            names.append(info.name)
    return names


def test_importing_every_core_module_loads_no_qt():
    modules = core_modules()
    assert "dermview.archive.archive" in modules and "dermview.cli" in modules
    code = ("import sys\n"
            f"for name in {modules!r}: __import__(name)\n"
            "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'dermview.ui'))\n"
            "print(','.join(qt))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core modules pulled in Qt: {out.stdout}"


def test_import_linter_contract():
    """Run by this very interpreter, so it works however pytest was started (any venv, activated or not)."""
    pytest.importorskip("importlinter", reason="import-linter is not installed (it is in the test extra)")
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout
