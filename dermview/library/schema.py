"""The case library's tables, its schema version and the migration from older versions (SQLAlchemy Core;
the same for SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .rules import MAX_CASE_ID

if TYPE_CHECKING:  # SQLAlchemy itself is imported only when a library is opened
    from sqlalchemy import MetaData, Table

# 1: cases and images. 2: + case_features (vectors per similarity) and the revision counter.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    meta: Table  # dermview_meta: key -> value (schema_version, revision)
    images: Table  # one row per image content, named by its SHA-256
    features: Table  # case_features: an image's vector per similarity
    cases: Table


def make_tables() -> Tables:
    from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, MetaData, String, Table, Text

    metadata = MetaData()
    meta = Table("dermview_meta", metadata, Column("key", String(64), primary_key=True),
                 Column("value", Text, nullable=False))
    images = Table("images", metadata, Column("sha256", String(64), primary_key=True),
                   Column("data", LargeBinary, nullable=False), Column("added_at", String(40), nullable=False))
    features = Table("case_features", metadata,
                     Column("sha256", String(64), ForeignKey("images.sha256"), primary_key=True),
                     Column("kind", String(200), primary_key=True),  # "learned:<version>"
                     Column("vector", LargeBinary, nullable=False))  # float32, little-endian
    cases = Table(
        "cases", metadata,
        Column("case_id", String(MAX_CASE_ID), primary_key=True),
        Column("sha256", String(64), ForeignKey("images.sha256"), nullable=False),
        Column("file_name", Text), Column("created_at", String(40), nullable=False),
        Column("body_site", Text), Column("age", Integer), Column("sex", String(16)),
        Column("note", Text, nullable=False), Column("features", String(32)), Column("model_version", Text),
        Column("suggestion", String(16)), Column("votes", Text), Column("confirmed_dx", String(16)),
        Column("confirmed_other", Text), Column("dx_type", String(16)), Column("confirmed_by", Text),
        Column("confirmed_at", String(40)))
    return Tables(metadata, meta, images, features, cases)


def create(connection, tables: Tables) -> None:
    """A new library's tables, at SCHEMA_VERSION, in the caller's transaction."""
    tables.metadata.create_all(connection)
    connection.execute(tables.meta.insert(), [{"key": "schema_version", "value": str(SCHEMA_VERSION)},
                                              {"key": "revision", "value": "0"}])


def schema_version(connection, tables: Tables, *, lock: bool = False) -> int:
    """The library's schema version (0 if it has none); ``lock``: read it FOR UPDATE (PostgreSQL)."""
    from sqlalchemy import select

    meta = tables.meta
    query = select(meta.c.value).where(meta.c.key == "schema_version")
    row = connection.execute(query.with_for_update() if lock else query).first()
    return int(row[0]) if row else 0


def migrate(connection, tables: Tables, *, lock: bool) -> None:
    """Bring an older schema up to SCHEMA_VERSION, in the caller's transaction. Another process may have done
    it meanwhile: the version is read again under a lock."""
    version = schema_version(connection, tables, lock=lock)
    if version >= SCHEMA_VERSION:
        return
    tables.metadata.create_all(connection)  # 1 -> 2: case_features (only missing tables)
    meta = tables.meta
    if version < 2:
        connection.execute(meta.insert().values(key="revision", value="0"))
    connection.execute(meta.update().where(meta.c.key == "schema_version")
                       .values(value=str(SCHEMA_VERSION)))
