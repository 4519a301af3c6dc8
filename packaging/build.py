"""Build dermview's one-folder executable, and on Linux the installable tarball.

    pip install -e '.[package]'
    python packaging/build.py

Produces dist/dermview/ with the executable dist/dermview/dermview (dermview.exe on Windows,
dist/dermview.app on macOS) and, on Linux, dist/dermview-VERSION-linux-ARCH.tar.gz holding the
folder, install.sh, the .desktop file and the icon. Prints the bundle's size and largest parts.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"


BUNDLE_LIMIT = 370_000_000  # the one-folder bundle's ceiling (bytes), a rule of the project


def folder_size(path: Path) -> int:
    """Bytes of the regular files below ``path``; links (PyInstaller adds some) are not counted twice."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def largest_parts(folder: Path, count: int = 5) -> list[tuple[int, str]]:
    """The biggest items one level down (libraries and package folders), largest first."""
    internal = folder / "_internal" if (folder / "_internal").is_dir() else folder
    sizes = []
    for child in internal.iterdir():
        if child.is_symlink():
            continue
        size = folder_size(child) if child.is_dir() else child.stat().st_size
        sizes.append((size, child.name))
    qt = internal / "PySide6" / "Qt" / "lib"
    if qt.is_dir():
        sizes += [(p.stat().st_size, f"PySide6/Qt/lib/{p.name}") for p in qt.iterdir() if p.is_file()]
    return sorted(sizes, reverse=True)[:count]


# Files that carry debug symbols and are safe to strip (plain ELF, not patchelf-ed by auditwheel):
# libpython and its extension modules from pyenv-style builds (~25 MB), and SQLAlchemy's Cython modules
# (9.0 -> 1.5 MB measured). Not the wheels' vendored libraries: stripping OpenBLAS in numpy.libs breaks it
# ("ELF load command address/offset not page-aligned").
STRIPPABLE = ("libpython3*.so*", "python3*/lib-dynload/*.so", "sqlalchemy/**/*.so")


def strip_debug_info(folder: Path) -> None:
    strip = shutil.which("strip")
    if strip is None:
        return
    for pattern in STRIPPABLE:
        for library in folder.rglob(pattern) if "/" not in pattern else folder.glob(f"**/{pattern}"):
            if library.is_file() and not library.is_symlink():
                subprocess.run([strip, "--strip-debug", str(library)], check=False)


def build_tarball(version: str) -> Path:
    arch = platform.machine() or "x86_64"
    stage = BUILD / "tarball" / f"dermview-{version}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    shutil.copytree(DIST / "dermview", stage / "dermview", symlinks=True)
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", stage / "install.sh")
    shutil.copy2(ROOT / "packaging" / "linux" / "dermview.desktop", stage / "dermview.desktop")
    shutil.copy2(ROOT / "dermview" / "resources" / "dermview.png", stage / "dermview.png")
    out = DIST / f"dermview-{version}-linux-{arch}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(stage, arcname=stage.name)
    return out


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from dermview import __version__

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
               "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"), str(ROOT / "packaging" / "dermview.spec")]
    print("building:", " ".join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        print("packaging/build.py: PyInstaller failed", file=sys.stderr)
        return result.returncode
    folder = DIST / "dermview"
    exe = folder / ("dermview.exe" if sys.platform == "win32" else "dermview")
    if not exe.exists():
        print(f"packaging/build.py: {exe} was not produced", file=sys.stderr)
        return 1
    if sys.platform.startswith("linux"):
        strip_debug_info(folder)
    print(f"\nbuilt {exe}")
    internal = folder / "_internal" if (folder / "_internal").is_dir() else folder
    learned = sum(folder_size(internal / part) for part in ("onnxruntime", "dermview/resources/models")
                  if (internal / part).is_dir())
    # Targets: 320 MB without the learned similarity (issue 5); onnxruntime and the model may add 50 MB (issue 6).
    print(f"one-folder bundle: {folder_size(folder) / 1e6:.0f} MB, of which onnxruntime and the learned model "
          f"{learned / 1e6:.1f} MB (targets: <= 320 MB without them, <= 50 MB for them)")
    print("largest parts:")
    for size, name in largest_parts(folder):
        print(f"  {size / 1e6:7.1f} MB  {name}")
    if folder_size(folder) > BUNDLE_LIMIT:
        print(f"packaging/build.py: the bundle is over the project's {BUNDLE_LIMIT / 1e6:.0f} MB", file=sys.stderr)
        return 1
    if sys.platform.startswith("linux"):
        tarball = build_tarball(__version__)
        print(f"tarball: {tarball} {tarball.stat().st_size / 1e6:.0f} MB (target <= 140 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
