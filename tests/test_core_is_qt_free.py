"""The core (archive, model, CLI) must work from a script or notebook without Qt."""

from __future__ import annotations

import importlib.util
import pkgutil
import shutil
import subprocess
import sys

import pytest

import dermview
from conftest import PROJECT_ROOT


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dermview.__path__, "dermview."):
        if not info.name.startswith("dermview.ui") and info.name != "dermview.__main__":
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
    lint = shutil.which("lint-imports", path=str(PROJECT_ROOT / ".venv" / "bin")) or shutil.which("lint-imports")
    if lint is None and importlib.util.find_spec("importlinter") is None:
        pytest.skip("import-linter is not installed (it is in the test extra)")
    cmd = [lint] if lint else [sys.executable, "-m", "importlinter.cli"]
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout
