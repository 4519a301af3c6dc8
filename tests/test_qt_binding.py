"""Guards against known defects of the Qt binding that would crash the app in long sessions."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys
from PySide6.QtCore import QObject, Signal

class Emitter(QObject):
    changed = Signal(str, int)

emitter = Emitter()
before = sys.getrefcount(True)
for i in range(200):
    emitter.changed.emit("x", i)
print(sys.getrefcount(True) - before)
"""


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12 (PEP 683): its reference "
                    "count never changes, so the defect cannot show, nor crash the app")
def test_signal_emit_keeps_reference_counts():
    """PySide6 6.12.0 dropped a reference to True on every emit: scrolling the grid aborted the app."""
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120,
                            env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    assert abs(int(result.stdout.strip().splitlines()[-1])) < 20
