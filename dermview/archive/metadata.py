"""Finding, reading and validating the HAM10000 metadata table (published CSV, .tab or Kaggle variant)."""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import pandas as pd

from ..errors import ArchiveError
from .codes import DX_CODES
from .files import read_regular_file

REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx", "dx_type")
OPTIONAL_COLUMNS = ("age", "sex", "localization", "dataset")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_METADATA_NAME = re.compile(r"^ham10000_metadata(\.(csv|tab|tsv|txt))?$", re.IGNORECASE)


def is_metadata_name(name: str) -> bool:
    return bool(_METADATA_NAME.match(name))


# The published table is 0.5 MB; a metadata file a hundred times larger is not HAM10000.
MAX_METADATA_BYTES = 50 * 1024 * 1024


def read_metadata(path: Path) -> pd.DataFrame:
    """Read and validate a metadata table; raise :class:`ArchiveError` with a specific message."""
    raw = read_regular_file(path, limit=MAX_METADATA_BYTES, what=f"The metadata file {path}", error=ArchiveError)
    return parse_metadata(raw, path.name)


def _decode(raw: bytes, name: str) -> str:
    """UTF-8 (with or without a byte-order mark); anything else is reported with its line, never replaced."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ArchiveError(
            f"The metadata file {name} is not UTF-8 text: line {line} holds the byte(s) "
            f"{raw[exc.start:exc.end].hex(' ')}. Save it as UTF-8 (or CSV UTF-8 from a spreadsheet).") from exc


def _line_numbers(mask: pd.Series) -> str:
    """File line numbers (header = 1) of the rows where ``mask`` holds, a few of them."""
    lines = [int(i) + 2 for i in mask[mask].index[:3]]
    return ", ".join(map(str, lines)) + (", ..." if int(mask.sum()) > 3 else "")


def _check_row_lengths(text: str, sep: str, name: str) -> None:
    """Rows may end in empty extra fields (a spreadsheet's trailing separator), never in extra values."""
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(rows, [])
    width = len(header) - (1 if header and header[-1].strip() == "" else 0)
    for line, row in enumerate(rows, start=2):
        if len(row) > width and any(field.strip() for field in row[width:]):
            raise ArchiveError(f"The metadata file {name} has {len(row)} values on line {line} but its header "
                               f"names {width} columns; the table is malformed.")


def parse_metadata(raw: bytes, name: str = "metadata") -> pd.DataFrame:
    text = _decode(raw, name)
    first_line = text.split("\n", 1)[0]
    sep = "\t" if first_line.count("\t") > first_line.count(",") else ","
    _check_row_lengths(text, sep, name)
    try:
        with warnings.catch_warnings():
            # index_col=False: rows ending in a separator (spreadsheet exports) must not shift the
            # columns; _check_row_lengths made sure that only empty trailing fields are dropped.
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ArchiveError(f"The metadata file {name} is not a readable table: {exc}.") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ArchiveError(
            f"The metadata file {name} lacks the required column(s) {', '.join(missing)} "
            f"(found: {', '.join(table.columns) or 'none'}).")
    if table.empty:
        raise ArchiveError(f"The metadata file {name} has no rows.")

    out = pd.DataFrame({c: table[c].str.strip() for c in REQUIRED_COLUMNS})
    out["dx"] = out["dx"].str.lower()
    out["dx_type"] = out["dx_type"].str.lower()
    for column in REQUIRED_COLUMNS:
        empty = out[column] == ""
        if empty.any():
            raise ArchiveError(f"The metadata file {name} has {int(empty.sum())} row(s) with an empty "
                               f"{column} (line {_line_numbers(empty)}); every image needs one.")

    duplicated = out["image_id"][out["image_id"].duplicated()]
    if len(duplicated):
        examples = ", ".join(sorted(set(duplicated))[:3])
        raise ArchiveError(
            f"The metadata file {name} lists {duplicated.nunique()} image_id(s) more than once "
            f"(e.g. {examples}); each image must appear once.")

    unknown = sorted(set(out["dx"]) - set(DX_CODES))
    if unknown:
        count = int((~out["dx"].isin(DX_CODES)).sum())
        raise ArchiveError(
            f"The metadata file {name} has {count} row(s) with unknown diagnosis code(s) "
            f"{', '.join(repr(u) for u in unknown[:5])}; expected one of {', '.join(DX_CODES)}.")

    # Optional columns: the Kaggle mirror drops `dataset` and writes ages as 80.0.
    age = table["age"] if "age" in table.columns else pd.Series("", index=table.index)
    out["age"] = pd.to_numeric(age.str.strip(), errors="coerce").astype("float32")
    for column in ("sex", "localization", "dataset"):
        values = table[column].str.strip().str.lower() if column in table.columns else ""
        out[column] = values
        out.loc[out[column] == "", column] = "unknown"
    for column in ("dx", "dx_type", "sex", "localization", "dataset"):
        out[column] = out[column].astype("category")
    return out.reset_index(drop=True)


