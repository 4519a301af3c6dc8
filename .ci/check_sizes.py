"""History that stops growing: no tracked file over 1 MB outside dermview/resources/models/ (the networks the
product ships), except the held-out network the tests read. Screenshots are shrunk (docs/optimise_png.py);
a tried network is summed up in the model card's table, not committed."""

import subprocess
import sys
from pathlib import Path

LIMIT = 1_000_000
ALLOWED = {"training/heldout/dermview-embedding-fold0.onnx"}  # tests/conftest.py's HELD_OUT_MODEL

files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.splitlines()
large = [f for f in files if Path(f).is_file() and Path(f).stat().st_size > LIMIT
         and not f.startswith("dermview/resources/models/") and f not in ALLOWED]
for name in large:
    print(f"{name}: {Path(name).stat().st_size / 1e6:.1f} MB tracked; over {LIMIT / 1e6:.0f} MB outside "
          "dermview/resources/models/ (shrink it, or keep it out of the repository)", file=sys.stderr)
sys.exit(1 if large else 0)
