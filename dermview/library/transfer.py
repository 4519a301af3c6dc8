"""Moving a case library between machines: an export zip (``cases.csv``, ``images/<sha256>`` and a
``manifest.json`` naming the format's version), and its import.

The import trusts nothing in the file: every member name, every size (a zip bomb is cut off), every image
(its SHA-256 and that it decodes) and every case (dermview.library.rules, the rules ``add`` and ``confirm``
follow) is checked before the library is touched; then everything is added in one transaction. A bad
file is refused as a whole with one sentence naming the case and the field, and the library is left as
it was.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict

from ..archive.files import MAX_FILE_BYTES, read_zip_member
from ..archive.inputs import sha256_of
from ..errors import DermviewError
from ..outputs import atomic_path
from .rules import MAX_NOTE, check_case_row, check_image

EXPORT_FORMAT = "dermview-library-export"
EXPORT_VERSION = 1  # exports written before the manifest existed are version 1 too
EXPORT_COLUMNS = ("case_id", "sha256", "file_name", "created_at", "body_site", "age", "sex", "note", "features",
                  "model_version", "suggestion", "votes", "confirmed_dx", "confirmed_other", "dx_type",
                  "confirmed_by", "confirmed_at")
MAX_TABLE_BYTES = 50 * 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
_IMAGE_MEMBER = re.compile(r"images/[0-9a-f]{64}")


def export_zip(library, path: str | os.PathLike) -> int:
    """Every case and image of ``library`` (a CaseLibrary) as a zip, written atomically; the count."""
    cases = library.cases_list()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for case in cases:
        row = asdict(case)
        row["votes"] = json.dumps(case.votes) if case.votes else ""
        writer.writerow({k: "" if row[k] is None else row[k] for k in EXPORT_COLUMNS})
    with atomic_path(path, private=True) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}))
        archive.writestr("cases.csv", text.getvalue())
        for digest in sorted({case.sha256 for case in cases}):
            archive.writestr(f"images/{digest}", library.image(digest))
    return len(cases)


class ExportImages(Mapping[str, bytes]):
    """An export's images by SHA-256, read from the zip one at a time when asked for (an import of thousands of
    cases never holds them all in memory); each is checked against its SHA-256 again as it is read."""

    def __init__(self, path: str | os.PathLike, members: dict[str, str]):
        self._path, self._members = path, members  # SHA-256 -> the member's name

    def __getitem__(self, digest: str) -> bytes:
        name = os.fspath(self._path)
        try:
            with zipfile.ZipFile(self._path) as archive:
                data = read_zip_member(archive, archive.getinfo(self._members[digest]), zip_name=name,
                                       limit=MAX_FILE_BYTES)
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            raise DermviewError(f"{name} can no longer be read ({exc}); nothing was imported.") from exc
        if sha256_of(data) != digest:
            raise DermviewError(f"{name}: the image {digest} changed while it was imported; nothing was imported.")
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


def read_export(path: str | os.PathLike) -> tuple[list[dict], ExportImages]:
    """(the cases, checked and typed as the library stores them; the images they use, by SHA-256, each checked
    here and read again when it is stored), or a DermviewError naming what is wrong. Nothing is written
    anywhere, and at most one image is in memory at a time."""
    name = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DermviewError(f"{name} is not a case library export ({exc}).") from exc
    with archive:
        members = {}
        for info in archive.infolist():
            member = info.filename
            if member in ("cases.csv", "manifest.json") or _IMAGE_MEMBER.fullmatch(member):
                members[member] = info
            elif member not in ("images/",):
                raise DermviewError(f"{name}: the member {member[:80]!r} is not part of a dermview export (only "
                                    "cases.csv, manifest.json and images/<sha256>); nothing was imported.")
        if "manifest.json" in members:
            try:
                manifest = json.loads(read_zip_member(archive, members["manifest.json"], zip_name=name,
                                                      limit=MAX_MANIFEST_BYTES))
                version = manifest["version"] if manifest.get("format") == EXPORT_FORMAT else None
            except (ValueError, KeyError, TypeError, AttributeError):
                version = None
            if not isinstance(version, int) or isinstance(version, bool):
                raise DermviewError(f"{name}: its manifest.json is not a dermview export's; nothing was imported.")
            if version > EXPORT_VERSION:
                raise DermviewError(f"{name} was written by a newer dermview (export version {version}; this one reads "
                                    f"{EXPORT_VERSION}); nothing was imported. Update dermview.")
        if "cases.csv" not in members:
            raise DermviewError(f"{name} is not a case library export (it has no cases.csv).")
        try:
            table = read_zip_member(archive, members["cases.csv"], zip_name=name, limit=MAX_TABLE_BYTES).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DermviewError(f"{name}: cases.csv is not UTF-8 text; nothing was imported.") from exc
        rows = _rows(table, name)
        cases, seen = [], set()
        for row in rows:
            case = check_case_row(row)
            if case["case_id"] in seen:
                raise DermviewError(f"{name}: case {case['case_id']} appears twice; nothing was imported.")
            seen.add(case["case_id"])
            cases.append(case)
        images: dict[str, str] = {}
        for digest in sorted({case["sha256"] for case in cases}):
            image_info = members.get(f"images/{digest}")
            if image_info is None:
                owner = next(c["case_id"] for c in cases if c["sha256"] == digest)
                raise DermviewError(f"{name}: case {owner} has no image in the export; nothing was imported.")
            try:
                data = read_zip_member(archive, image_info, zip_name=name, limit=MAX_FILE_BYTES)
                if sha256_of(data) != digest:
                    raise DermviewError(f"{name}: the image {digest} is damaged (its content has another SHA-256).")
                check_image(data, f"{name}: the image {digest[:12]}...")
            except DermviewError as exc:
                raise DermviewError(f"{str(exc).rstrip('.')}; nothing was imported.") from None
            images[digest] = image_info.filename
    return cases, ExportImages(path, images)


def _rows(table: str, name: str) -> list[dict]:
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 8 * MAX_NOTE))  # a note at its limit must read back
    try:
        reader = csv.DictReader(io.StringIO(table, newline=""))
        header = reader.fieldnames or []
        if list(header) != list(EXPORT_COLUMNS):
            missing = [c for c in EXPORT_COLUMNS if c not in header]
            extra = [c for c in header if c not in EXPORT_COLUMNS]
            raise DermviewError(f"{name}: cases.csv's columns are not an export's ("
                                + "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                                          f"unknown {', '.join(map(str, extra))[:100]}" if extra else "",
                                                          "another order" if not missing and not extra else ""]))
                                + "); nothing was imported.")
        rows = []
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise DermviewError(f"{name}: line {reader.line_num} of cases.csv has {'more' if None in row else 'fewer'} "
                                    "values than columns; nothing was imported.")
            rows.append(row)
        return rows
    except csv.Error as exc:
        raise DermviewError(f"{name}: cases.csv cannot be read ({exc}); nothing was imported.") from exc
    finally:
        csv.field_size_limit(limit)
