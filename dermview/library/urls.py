"""Where a case library is, and how its address may be shown, stored and logged.

A library is an SQLite file (``sqlite:///PATH``) or a PostgreSQL database (``postgresql://user@host/db``).
A password never leaves the process: it is shown and logged as ``***``, and what is stored (the window's
settings) is the address without it. A password belongs in PostgreSQL's own password file (``~/.pgpass``
or ``PGPASSFILE``), which psycopg reads; one given on the command line or in ``DERMVIEW_LIBRARY`` is used
for that run only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import DermviewError
from ..paths import user_dirs

ENV_LIBRARY = "DERMVIEW_LIBRARY"
SECRET = "***"
_SECRET_KEYS = {"password", "passwd", "pwd", "sslpassword"}
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|sslpassword)=[^&\s]*")


def default_url() -> str:
    return f"sqlite:///{user_dirs().data / 'library.sqlite'}"


def library_url(explicit: str | None = None) -> str:
    """Where the library is: ``--library`` (or the stored setting), else ``DERMVIEW_LIBRARY``, else the per-user
    SQLite file. A stored address without its password takes the password of the same address in
    ``DERMVIEW_LIBRARY`` (the run's own, never stored)."""
    env = os.environ.get(ENV_LIBRARY) or ""
    if explicit and env and explicit != env and without_password(env) == without_password(explicit):
        return env
    return explicit or env or default_url()


def redacted(text: str) -> str:
    """``text`` (a URL, a message, a command line) with every password in a URL replaced by ***: the part
    between the user name's ':' and the last '@' of each word (a password may hold ':' or '@'), and any
    password=... parameter."""
    out = []
    for token in re.split(r"(\s+)", text):
        if "://" in token and "@" in token.split("://", 1)[1]:
            scheme, rest = token.split("://", 1)
            credentials, host = rest.rsplit("@", 1)
            if ":" in credentials:
                token = f"{scheme}://{credentials.split(':', 1)[0]}:{SECRET}@{host}"
        out.append(token)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={SECRET}", "".join(out))


def shown_url(url: str) -> str:
    """The URL without its password, for messages; an SQLite file as its path."""
    if url.startswith("sqlite:///") and url not in ("sqlite:///", "sqlite:///:memory:"):
        return url[len("sqlite:///"):]
    return redacted(url)


def without_password(url: str) -> str:
    """The URL with no password in it at all (for the stored settings): the user part keeps its name."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redacted(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        netloc = f"{credentials.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _SECRET_KEYS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def has_password(url: str) -> bool:
    return without_password(url) != url


def check_persistent(url: str) -> None:
    """Raises DermviewError for an address whose cases would vanish when the process ends (an in-memory
    SQLite database: ``sqlite://``, ``sqlite:///``, ``:memory:``, ``mode=memory``)."""
    lowered = url.strip().lower()
    if lowered.startswith("sqlite"):
        path = lowered.split("://", 1)[1] if "://" in lowered else ""
        path = path[1:] if path.startswith("/") else path
        if not path or path.startswith(":memory:") or "mode=memory" in lowered:
            raise DermviewError(f"{shown_url(url) or url} is an in-memory database: every case would be lost when "
                                "dermview ends. Give a file (sqlite:///PATH) or a PostgreSQL database.")


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite library URL, or None for any other kind."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):].split("?", 1)[0]).expanduser()
    return None


def library_exists(url: str) -> bool:
    """False only for an SQLite file that is not there yet (searching must not create an empty library)."""
    path = sqlite_path(url)
    return path.is_file() if path is not None else True
