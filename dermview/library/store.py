"""The case library's storage: cases and their images, each change one transaction.

One code path for both back ends (SQLAlchemy Core): an SQLite file in the per-user data folder by
default (WAL, a busy timeout, foreign keys on), or a practice's PostgreSQL database named by
``--library postgresql://...`` or ``DERMVIEW_LIBRARY`` (psycopg 3, whose wheel carries its own libpq).
An image is stored once, named by its SHA-256, however many cases use it. A library written by a
newer dermview (a higher schema version) is refused, never touched; an older one is exported to a zip
in the per-user data folder first, then migrated in one transaction.

Each image's features are stored per similarity (``case_features``), so confirmed cases join a search
without recomputing them, on every workstation of a practice. A revision number, raised by every
change, lets a searcher notice changes with one cheap read (dermview.library.search).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..archive.codes import DX_CODES
from ..archive.inputs import sha256_of
from ..errors import DermviewError
from ..outputs import now
from ..paths import ensure_dir, private_file, user_dirs
from .rules import (CONFIRMATIONS, MAX_CASE_ID, OTHER, check_age, check_case_id, check_confirmation, check_image,  # noqa: F401
                    check_note, check_sex, check_text)
from .records import AWAITING, CONFIRMED, Case, SearchableCase  # noqa: F401  (re-exported)
from .schema import SCHEMA_VERSION, create, make_tables, migrate, schema_version  # noqa: F401  (re-exported)
from .transfer import EXPORT_COLUMNS, export_zip, read_export  # noqa: F401  (re-exported)
from .urls import ENV_LIBRARY, check_persistent, redacted, default_url, library_exists, library_url, shown_url, sqlite_path  # noqa: F401  (re-exported)



def sqlite_tables(path: Path) -> list[str]:
    """The tables of an SQLite file, read without writing a byte ([] for a missing or empty file)."""
    import sqlite3

    if not path.is_file() or path.stat().st_size == 0:
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.Error as exc:
        raise DermviewError(f"{path} is not a case library dermview can open ({exc}).") from exc


def _driver_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class CaseLibrary:
    """Opened once per process (or per window); every method is one transaction and thread-safe."""

    def __init__(self, url: str | None = None):
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import SQLAlchemyError

        self.url = library_url(url)
        check_persistent(self.url)
        driver = _driver_url(self.url)
        self.is_sqlite = driver.startswith("sqlite")
        self.file = sqlite_path(self.url)
        if self.file is not None:
            ensure_dir(self.file.parent)
            self._refuse_foreign(sqlite_tables(self.file))  # before any connection sets WAL, which writes
        try:
            self.engine = create_engine(driver, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
            raise DermviewError(f"{shown_url(self.url)} is not a case library dermview can open ({redacted(detail)}).") from exc
        if self.is_sqlite:
            @event.listens_for(self.engine, "connect")
            def _pragmas(connection, _record):  # every connection: concurrent readers, a patient writer
                # Python's sqlite3 runs CREATE TABLE outside any transaction and begins others lazily;
                # dermview begins them itself (below), so that a new library's tables appear all at once.
                connection.isolation_level = None
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=15000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @event.listens_for(self.engine, "begin")
            def _begin(connection):
                # Take the write lock at the start: two processes creating a library, or reading then
                # writing a case, wait for each other (busy timeout) instead of one seeing half a schema
                # or failing on a lock upgrade. Readers are not blocked (WAL).
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        self._tables()
        self._open_schema()
        if self.file is not None:  # the practice's cases: the owner's alone (its journal files too)
            for path in (self.file, self.file.with_name(self.file.name + "-wal"), self.file.with_name(self.file.name + "-shm")):
                private_file(path)

    def _tables(self) -> None:
        tables = make_tables()
        self.metadata, self.meta, self.images, self.features, self.cases = (
            tables.metadata, tables.meta, tables.images, tables.features, tables.cases)
        self.schema = tables

    def _refuse_foreign(self, tables: list[str]) -> None:
        """Someone else's database (tables, none of them dermview's) is looked at, never written to."""
        if tables and "dermview_meta" not in tables:
            raise DermviewError(
                f"{shown_url(self.url)} is not a dermview case library: it holds other tables "
                f"({', '.join(sorted(tables)[:5])}{', ...' if len(tables) > 5 else ''}). Nothing was written to it; "
                "give an empty database or a new file.")

    def _unreachable(self, exc: Exception) -> DermviewError:
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DermviewError(f"The case library at {shown_url(self.url)} cannot be used ({redacted(detail)}). "
                             "The archive still works without it.")

    def _open_schema(self) -> None:
        """Create the tables on first use, or check the version of the ones there (and migrate an older one)."""
        from sqlalchemy import inspect
        from sqlalchemy.exc import SQLAlchemyError

        for attempt in range(3):  # two processes creating a new library at once: one wins, the other reads
            try:
                with self.engine.begin() as connection:
                    if not inspect(connection).has_table("dermview_meta"):
                        self._refuse_foreign(inspect(connection).get_table_names())
                        create(connection, self.schema)
                        return
                    version = self._schema_version(connection)
                break
            except SQLAlchemyError as exc:
                if attempt == 2:
                    raise self._unreachable(exc) from exc
        if version > SCHEMA_VERSION:
            raise DermviewError(f"The case library at {shown_url(self.url)} was written by a newer dermview (schema "
                                f"{version}; this one knows {SCHEMA_VERSION}). It was not changed; update dermview.")
        if version < SCHEMA_VERSION:
            self.migrated_backup = self._backup(version)
            self._run(self._migrate)

    migrated_backup: Path | None = None  # the export written before this process migrated the library

    def _schema_version(self, connection, *, lock: bool = False) -> int:
        return schema_version(connection, self.schema, lock=lock and not self.is_sqlite)

    def _backup(self, version: int) -> Path:
        """Every case and image as an export zip, before a migration touches anything."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = ensure_dir(user_dirs().data / "backups") / f"library-schema{version}-before-migration-{stamp}.zip"
        self.export_zip(path)
        return path

    def _migrate(self, connection) -> None:
        migrate(connection, self.schema, lock=not self.is_sqlite)

    def _bump(self, connection) -> None:
        """Raise the revision: in the same transaction as the change it announces."""
        from sqlalchemy import Integer, String, cast

        connection.execute(self.meta.update().where(self.meta.c.key == "revision")
                           .values(value=cast(cast(self.meta.c.value, Integer) + 1, String)))

    def revision(self) -> int:
        """A number that every change to the cases raises: one cheap read tells a searcher to look again."""
        from sqlalchemy import select

        row = self._run(lambda c: c.execute(select(self.meta.c.value).where(self.meta.c.key == "revision")).first())
        return int(row[0]) if row else 0

    def _run(self, work):
        """``work(connection)`` in one transaction; database errors become one readable sentence."""
        from sqlalchemy.exc import IntegrityError, SQLAlchemyError

        try:
            with self.engine.begin() as connection:
                return work(connection)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise self._unreachable(exc) from exc

    # -- changes ------------------------------------------------------------------------------------
    def add_case(self, data: bytes, case_id: str, *, file_name: str | None = None, body_site: str | None = None,
                 age: int | None = None, sex: str | None = None, note: str = "", outcome=None,
                 features: tuple[str, np.ndarray] | None = None) -> Case:
        """Store a new case (and its image, unless the library has that content already). ``features``:
        (kind, vector) of the image, stored with it so that the case is searchable without recomputing."""
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        case_id = check_case_id(case_id)
        age, sex, note = check_age(age), check_sex(sex), check_note(note)
        file_name, body_site = check_text(file_name, "file name"), check_text(body_site, "body site")
        check_image(data, file_name or "the image")  # a case is a picture: not a text file, not a damaged image
        digest = sha256_of(data)
        row = {"case_id": case_id, "sha256": digest, "file_name": file_name, "created_at": now(),
               "body_site": body_site, "age": age, "sex": sex, "note": note,
               "features": outcome.features if outcome else None,
               "model_version": outcome.model_version if outcome else None,
               "suggestion": outcome.suggestion if outcome else None,
               "votes": json.dumps(outcome.prediction.votes) if outcome else None}

        def work(connection):
            if connection.execute(select(self.cases.c.case_id).where(self.cases.c.case_id == case_id)).first():
                raise DermviewError(f"The library already has a case {case_id}; choose another case id.")
            same = connection.execute(select(self.cases.c.case_id).where(self.cases.c.sha256 == digest)).first()
            if same:  # one picture, one case: a second id would split its confirmation and its follow-up
                raise DermviewError(f"This image is already case {same[0]} in the library; nothing was added. Open "
                                    f"that case instead.")
            if not connection.execute(select(self.images.c.sha256).where(self.images.c.sha256 == digest)).first():
                connection.execute(self.images.insert().values(sha256=digest, data=data, added_at=now()))
            if features is not None:
                self._store_features(connection, digest, *features)
            connection.execute(self.cases.insert().values(**row))
            self._bump(connection)

        for attempt in range(3):  # another process stored the same image or case id a moment ago
            try:
                self._run(work)
                break
            except IntegrityError as exc:
                if attempt == 2:
                    raise DermviewError(f"Case {case_id} could not be stored: {exc.orig}") from exc
        return self.case(case_id)

    def confirm(self, case_id: str, diagnosis: str, dx_type: str, *, by: str | None = None,
                other: str | None = None) -> Case:
        """Record (or correct) how a case turned out: one of the seven diagnoses, or "other" with a text."""
        diagnosis, dx_type, other = check_confirmation(diagnosis, dx_type, other)
        values = {"confirmed_dx": diagnosis, "confirmed_other": other, "dx_type": dx_type,
                  "confirmed_by": check_text(by, "name of who confirmed it"), "confirmed_at": now()}

        def work(connection):
            done = connection.execute(self.cases.update().where(self.cases.c.case_id == case_id).values(**values))
            if done.rowcount == 0:
                raise DermviewError(f"The library has no case {case_id}.")
            self._bump(connection)

        self._run(work)
        return self.case(case_id)

    def delete_case(self, case_id: str) -> None:
        """Remove a case, and its image if no other case uses it (the caller has asked the user)."""
        from sqlalchemy import func, select

        def work(connection):
            found = connection.execute(select(self.cases.c.sha256).where(self.cases.c.case_id == case_id)).first()
            if found is None:
                raise DermviewError(f"The library has no case {case_id}.")
            connection.execute(self.cases.delete().where(self.cases.c.case_id == case_id))
            users = connection.execute(select(func.count()).select_from(self.cases)
                                       .where(self.cases.c.sha256 == found[0])).scalar()
            if not users:
                connection.execute(self.features.delete().where(self.features.c.sha256 == found[0]))
                connection.execute(self.images.delete().where(self.images.c.sha256 == found[0]))
            self._bump(connection)

        self._run(work)

    # -- reading ------------------------------------------------------------------------------------
    def _case(self, row) -> Case:
        values = dict(row._mapping)
        values["votes"] = json.loads(values["votes"]) if values.get("votes") else None
        return Case(**values)

    def case(self, case_id: str) -> Case:
        from sqlalchemy import select

        row = self._run(lambda c: c.execute(select(self.cases).where(self.cases.c.case_id == case_id)).first())
        if row is None:
            raise DermviewError(f"The library has no case {case_id}.")
        return self._case(row)

    def cases_list(self, status: str | None = None, diagnosis: str | None = None) -> list[Case]:
        from sqlalchemy import select

        query = select(self.cases).order_by(self.cases.c.created_at, self.cases.c.case_id)
        if status == AWAITING:
            query = query.where(self.cases.c.confirmed_dx.is_(None))
        elif status == CONFIRMED:
            query = query.where(self.cases.c.confirmed_dx.is_not(None))
        if diagnosis:
            query = query.where(self.cases.c.confirmed_dx == diagnosis)
        return [self._case(row) for row in self._run(lambda c: c.execute(query).all())]

    def image(self, sha256: str) -> bytes:
        from sqlalchemy import select

        row = self._run(lambda c: c.execute(select(self.images.c.data).where(self.images.c.sha256 == sha256)).first())
        if row is None:
            raise DermviewError(f"The library has no image {sha256}.")
        return bytes(row[0])

    def counts(self) -> dict[str, int]:
        """{"cases", "awaiting", "confirmed", "images"}."""
        from sqlalchemy import func, select

        def work(connection):
            total = connection.execute(select(func.count()).select_from(self.cases)).scalar() or 0
            awaiting = connection.execute(select(func.count()).select_from(self.cases)
                                          .where(self.cases.c.confirmed_dx.is_(None))).scalar() or 0
            images = connection.execute(select(func.count()).select_from(self.images)).scalar() or 0
            return {"cases": total, "awaiting": awaiting, "confirmed": total - awaiting, "images": images}

        return self._run(work)

    # -- searching ----------------------------------------------------------------------------------
    def searchable(self, kind: str, known: Iterable[str] = ()) -> list[SearchableCase]:
        """The confirmed cases with one of the seven diagnoses, each with its stored vector for the
        similarity ``kind`` (None where none is stored yet, or where its image is in ``known``: the caller
        has that vector already, and 5,000 of them are megabytes to fetch from a server)."""
        from sqlalchemy import select

        listing = (select(self.cases.c.case_id, self.cases.c.sha256, self.cases.c.confirmed_dx, self.cases.c.dx_type)
                   .where(self.cases.c.confirmed_dx.in_(DX_CODES)).order_by(self.cases.c.case_id))

        def work(connection):
            rows = connection.execute(listing).all()
            wanted = sorted({r[1] for r in rows} - set(known))
            vectors: dict[str, np.ndarray] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                for digest, blob in connection.execute(select(self.features.c.sha256, self.features.c.vector).where(
                        self.features.c.kind == kind, self.features.c.sha256.in_(chunk))):
                    vectors[digest] = np.frombuffer(bytes(blob), "<f4")
            return rows, vectors

        rows, vectors = self._run(work)
        return [SearchableCase(r[0], r[1], r[2], r[3], vectors.get(r[1])) for r in rows]

    def _store_features(self, connection, sha256: str, kind: str, vector: np.ndarray) -> None:
        from sqlalchemy import select

        present = connection.execute(select(self.features.c.sha256).where(
            self.features.c.sha256 == sha256, self.features.c.kind == kind)).first()
        if present is None:
            connection.execute(self.features.insert().values(
                sha256=sha256, kind=kind, vector=np.ascontiguousarray(vector, "<f4").tobytes()))

    def store_features(self, sha256: str, kind: str, vector: np.ndarray) -> None:
        """Keep an image's vector for ``kind`` (computed by a searcher that found none), unless one is there."""
        from sqlalchemy.exc import IntegrityError

        with contextlib.suppress(IntegrityError):  # another process stored it (or deleted the image) just now
            self._run(lambda c: self._store_features(c, sha256, kind, vector))

    # -- moving between machines ------------------------------------------------------------------
    def export_zip(self, path: str | os.PathLike) -> int:
        """Every case and image as a zip (dermview.library.transfer), written atomically; the count."""
        return export_zip(self, path)

    def import_zip(self, path: str | os.PathLike) -> tuple[int, int]:
        """Cases from an export, every one checked first (dermview.library.transfer.read_export), then added
        in one transaction: (added, already there). A case id that exists with other content stops the import
        with a message and changes nothing."""
        from sqlalchemy import select

        cases, images = read_export(path)

        def work(connection):
            added = present = 0
            for row in cases:
                existing = connection.execute(select(self.cases.c.sha256)
                                              .where(self.cases.c.case_id == row["case_id"])).first()
                if existing is not None:
                    if existing[0] != row["sha256"]:
                        raise DermviewError(f"Case {row['case_id']} exists here with another image; nothing was "
                                            "imported.")
                    present += 1
                    continue
                if not connection.execute(select(self.images.c.sha256)
                                          .where(self.images.c.sha256 == row["sha256"])).first():
                    connection.execute(self.images.insert().values(sha256=row["sha256"], data=images[row["sha256"]],
                                                                   added_at=now()))
                connection.execute(self.cases.insert().values(**row))
                added += 1
            if added:
                self._bump(connection)
            return added, present

        from sqlalchemy.exc import IntegrityError

        try:
            return self._run(work)
        except IntegrityError as exc:  # another import or add stored one of these cases a moment ago
            raise DermviewError(f"{os.fspath(path)}: another change to the library stored one of these cases at the "
                                "same moment; nothing was imported. Import again.") from exc

    def close(self) -> None:
        self.engine.dispose()
