"""What a case may hold: one set of rules for adding, confirming and importing, in both back ends.

Every rule raises DermviewError with a sentence that names the field (and, through ``check_case_row``,
the case), so that ``library add``, ``library confirm`` and ``library import`` refuse the same things with
the same words, whether the library is an SQLite file or a PostgreSQL database.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from ..archive.codes import DX_CODES, DX_TYPE_NAMES
from ..archive.imaging import decode_image
from ..errors import DermviewError

OTHER = "other"  # a confirmed diagnosis outside the seven: its text says what
CONFIRMATIONS = tuple(DX_TYPE_NAMES)  # histo, follow_up, consensus, confocal
SEXES = ("male", "female", "other", "unknown")
MAX_CASE_ID = 100
MAX_TEXT = 200  # body site, file name, who confirmed, the other diagnosis's words, similarity names
MAX_NOTE = 20_000  # characters: a page of notes; more would cover the report's page (and its notice)
MAX_AGE = 130


def _printable(value: str, what: str, limit: int, *, lines: bool = False) -> str:
    """``value`` if it is at most ``limit`` characters of plain text (with ``lines``, line breaks and tabs too)."""
    if len(value) > limit:
        raise DermviewError(f"The {what} is {len(value):,} characters long; at most {limit:,} are kept.")
    plain = value.replace("\r\n", " ").replace("\n", " ").replace("\t", " ") if lines else value
    if not plain.isprintable():
        raise DermviewError(f"The {what} holds control characters; give plain text.")
    return value


def check_case_id(case_id: str) -> str:
    """A case id is the clinician's pseudonymous label: 1-100 printable characters, no patient name needed."""
    cleaned = (case_id or "").strip()
    if not cleaned or len(cleaned) > MAX_CASE_ID or not cleaned.isprintable():
        shown = repr(cleaned[:40] + ("..." if len(cleaned) > 40 else ""))
        raise DermviewError(f"{shown} is not a usable case id: give 1 to {MAX_CASE_ID} printable characters "
                            "(a pseudonymous label such as K-2026-017; no patient name is needed).")
    return cleaned


def check_age(age: int | str | None) -> int | None:
    if age is None or age == "":
        return None
    try:
        value = int(age)
    except (TypeError, ValueError):
        raise DermviewError(f"The age {str(age)[:20]!r} is not a whole number of years.") from None
    if not 0 <= value <= MAX_AGE:
        raise DermviewError(f"An age of {value} is not possible; give years between 0 and {MAX_AGE}.")
    return value


def check_sex(sex: str | None) -> str | None:
    if sex in (None, ""):
        return None
    if sex not in SEXES:
        raise DermviewError(f"The sex {str(sex)[:20]!r} is not one of {', '.join(SEXES)}.")
    return sex


def check_text(value: str | None, what: str, limit: int = MAX_TEXT) -> str | None:
    """Optional plain text (no control characters), at most ``limit`` characters."""
    return None if value in (None, "") else _printable(str(value), what, limit)


def check_note(note: str | None) -> str:
    return _printable(note or "", "note", MAX_NOTE, lines=True)


def check_confirmation(diagnosis: str, dx_type: str, other: str | None) -> tuple[str, str, str | None]:
    """(diagnosis, how it was confirmed, the other diagnosis's words or None)."""
    if diagnosis not in (*DX_CODES, OTHER):
        raise DermviewError(f"{str(diagnosis)[:30]!r} is not a diagnosis dermview knows; use one of "
                            f"{', '.join(DX_CODES)} or '{OTHER}' with --other TEXT.")
    other = check_text((other or "").strip(), "other diagnosis's text")
    if diagnosis == OTHER and not other:
        raise DermviewError("A diagnosis of 'other' needs its text (--other), e.g. 'seborrhoeic wart'.")
    if dx_type not in CONFIRMATIONS:
        raise DermviewError(f"{str(dx_type)[:30]!r} is not a way of confirming a diagnosis; use one of "
                            f"{', '.join(CONFIRMATIONS)}.")
    return diagnosis, dx_type, other if diagnosis == OTHER else None


def check_image(data: bytes, name: str = "the image") -> None:
    """The bytes must be an image dermview can decode (within its size limits): a case is a picture."""
    decode_image(data, name)


def check_votes(votes) -> dict[str, float] | None:
    """A vote record: each of the seven diagnoses (or some of them) with a share between 0 and 1."""
    if votes in (None, "", {}):
        return None
    if isinstance(votes, str):
        try:
            votes = json.loads(votes)
        except ValueError:
            raise DermviewError("The votes are not a JSON object of diagnosis shares.") from None
    if not isinstance(votes, dict) or not all(k in DX_CODES for k in votes):
        raise DermviewError(f"The votes must map the diagnoses {', '.join(DX_CODES)} to shares.")
    shares = {}
    for code, share in votes.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or not 0 <= share <= 1:
            raise DermviewError(f"The vote share for {code} is {str(share)[:20]!r}, not a number between 0 and 1.")
        shares[code] = float(share)
    return shares


def check_time(value: str | None, what: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        raise DermviewError(f"The {what} {str(value)[:30]!r} is not a date and time.") from None
    return str(value)


def check_case_row(row: dict) -> dict:
    """An imported case's fields (the export's columns, as text) checked by the same rules as ``add`` and
    ``confirm``, typed as the library stores them. Raises DermviewError naming the case and the field."""
    case_id = row.get("case_id") or ""
    try:
        clean_id = check_case_id(case_id)
    except DermviewError as exc:
        raise DermviewError(f"case_id: {exc}") from None
    out: dict = {"case_id": clean_id}
    field = "?"
    try:
        field = "sha256"
        digest = (row.get("sha256") or "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DermviewError("The image's SHA-256 is not 64 hexadecimal digits.")
        out["sha256"] = digest
        for field in ("file_name", "body_site", "features", "model_version", "confirmed_by"):
            out[field] = check_text(row.get(field), field.replace("_", " "))
        field = "age"
        out["age"] = check_age(row.get("age"))
        field = "sex"
        out["sex"] = check_sex(row.get("sex"))
        field = "note"
        out["note"] = check_note(row.get("note"))
        field = "created_at"
        out["created_at"] = check_time(row.get("created_at"), "creation time")
        if out["created_at"] is None:
            raise DermviewError("The creation time is missing.")
        field = "suggestion"
        suggestion = row.get("suggestion") or None
        if suggestion is not None and suggestion not in DX_CODES:
            raise DermviewError(f"The suggestion {suggestion[:30]!r} is not one of {', '.join(DX_CODES)}.")
        out["suggestion"] = suggestion
        field = "votes"
        votes = check_votes(row.get("votes"))
        out["votes"] = json.dumps(votes) if votes else None
        field = "confirmed_dx"
        diagnosis, dx_type = row.get("confirmed_dx") or None, row.get("dx_type") or None
        if diagnosis or dx_type:
            field = "confirmed_dx" if diagnosis not in (*DX_CODES, OTHER) else "dx_type"
            diagnosis, dx_type, other = check_confirmation(diagnosis or "", dx_type or "", row.get("confirmed_other"))
            field = "confirmed_at"
            out.update(confirmed_dx=diagnosis, dx_type=dx_type, confirmed_other=other,
                       confirmed_at=check_time(row.get("confirmed_at"), "confirmation time"))
        else:
            out.update(confirmed_dx=None, dx_type=None, confirmed_other=None, confirmed_at=None)
    except DermviewError as exc:
        raise DermviewError(f"case {clean_id}, field {field}: {exc}") from None
    return out
