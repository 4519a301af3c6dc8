"""Finding, reading and validating the HAM10000 metadata table (published CSV, .tab or Kaggle variant)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from ..errors import ArchiveError
from .codes import DX_CODES

REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx", "dx_type")
OPTIONAL_COLUMNS = ("age", "sex", "localization", "dataset")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_METADATA_NAME = re.compile(r"^ham10000_metadata(\.(csv|tab|tsv|txt))?$", re.IGNORECASE)


def is_metadata_name(name: str) -> bool:
    return bool(_METADATA_NAME.match(name))


def read_metadata(path: Path) -> pd.DataFrame:
    """Read and validate a metadata table; raise :class:`ArchiveError` with a specific message."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"Cannot read the metadata file {path}: {exc.strerror or exc}.") from exc
    return parse_metadata(raw, path.name)


def parse_metadata(raw: bytes, name: str = "metadata") -> pd.DataFrame:
    text = raw.decode("utf-8-sig", errors="replace")
    first_line = text.split("\n", 1)[0]
    sep = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
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
    for column in ("lesion_id", "image_id"):
        empty = int((out[column] == "").sum())
        if empty:
            raise ArchiveError(f"The metadata file {name} has {empty} row(s) with an empty {column}.")

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


