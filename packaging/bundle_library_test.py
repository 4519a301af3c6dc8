"""The bundled dermview keeps cases in a real PostgreSQL database with no PostgreSQL client of its
own installed (psycopg's wheel carries libpq): a throw-away cluster, three commands, one refusal.
Run by .ci/run after the build:  .venv/bin/python packaging/bundle_library_test.py dist/dermview/dermview ARCHIVE"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres import Cluster  # noqa: E402


def main() -> int:
    app, archive = sys.argv[1], Path(sys.argv[2])
    cluster = Cluster()
    try:
        url = cluster.database("bundle")
        image = str(archive / "originals" / "ISIC_0024307.jpg")
        for args in (["add", image, "--case-id", "PG-1"], ["confirm", "PG-1", "--diagnosis", "mel", "--dx-type", "histo"],
                     ["list", "--json"]):
            result = subprocess.run([app, "library", "--library", url, *args], capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                print(f"bundle library test: {' '.join(args[:1])} failed: {result.stderr}", file=sys.stderr)
                return 1
        if '"status": "confirmed"' not in result.stdout:
            print(f"bundle library test: the case was not confirmed: {result.stdout}", file=sys.stderr)
            return 1
        refused = subprocess.run([app, "library", "--library", f"postgresql://postgres@/x?host={cluster.base}/none",
                                  "list"], capture_output=True, text=True, timeout=120)
        if refused.returncode != 2 or "cannot be used" not in refused.stderr:
            print(f"bundle library test: an unreachable server gave: {refused.stderr}", file=sys.stderr)
            return 1
    finally:
        cluster.stop()
    print("bundle library test passed: a case added, confirmed and listed on PostgreSQL; an unreachable server refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
