"""The bundled dermview keeps cases in a real PostgreSQL database with no PostgreSQL client of its
own installed (psycopg's wheel carries libpq): a throw-away cluster, three commands, one refusal.
Run by .ci/run after the build:  .venv/bin/python packaging/bundle_library_test.py dist/dermview/dermview ARCHIVE"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from postgres import Cluster  # noqa: E402


def tiny_archive(archive: Path) -> Path:
    """Ten images of each diagnosis, as links in a temporary folder: an index in seconds."""
    folder = Path(tempfile.mkdtemp(prefix="dermview-bundle-archive-"))
    (folder / "images").mkdir()
    with open(archive / "HAM10000_metadata.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows, per_dx = [], {}
        for row in reader:
            if per_dx.get(row["dx"], 0) < 10:
                per_dx[row["dx"]] = per_dx.get(row["dx"], 0) + 1
                rows.append(row)
                (folder / "images" / f"{row['image_id']}.jpg").symlink_to(archive / "images" / f"{row['image_id']}.jpg")
    with open(folder / "HAM10000_metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def main() -> int:
    app, archive = sys.argv[1], Path(sys.argv[2]).resolve()
    tiny = str(tiny_archive(archive))
    cluster = Cluster()
    try:
        url = cluster.database("bundle")
        image = str(archive / "originals" / "ISIC_0024307.jpg")
        for args in (["add", image, "--case-id", "PG-1", "--archive", tiny, "--features", "classic"],
                     ["confirm", "PG-1", "--diagnosis", "mel", "--dx-type", "histo"], ["list", "--json"]):
            result = subprocess.run([app, "library", "--library", url, *args], capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                print(f"bundle library test: {' '.join(args[:1])} failed: {result.stderr}", file=sys.stderr)
                return 1
        if '"status": "confirmed"' not in result.stdout:
            print(f"bundle library test: the case was not confirmed: {result.stdout}", file=sys.stderr)
            return 1
        found = subprocess.run([app, "predict", "--archive", tiny, "--features", "classic", "--library", url, "--json",
                                image], capture_output=True, text=True, timeout=300)
        first = json.loads(found.stdout.splitlines()[0])["neighbours"][0] if found.returncode == 0 else {}
        if (first.get("source"), first.get("case_id")) != ("library", "PG-1"):
            print(f"bundle library test: the confirmed case was not its image's nearest neighbour: {found.stdout} "
                  f"{found.stderr}", file=sys.stderr)
            return 1
        refused = subprocess.run([app, "library", "--library", f"postgresql://postgres@/x?host={cluster.base}/none",
                                  "list"], capture_output=True, text=True, timeout=120)
        if refused.returncode != 2 or "cannot be used" not in refused.stderr:
            print(f"bundle library test: an unreachable server gave: {refused.stderr}", file=sys.stderr)
            return 1
    finally:
        cluster.stop()
        shutil.rmtree(tiny, ignore_errors=True)
    print("bundle library test passed: a case added, confirmed and listed on PostgreSQL, found as its image's "
          "nearest neighbour by predict; an unreachable server refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
