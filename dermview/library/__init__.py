"""The clinician's own confirmed cases (Qt-free): one SQLite file per user by default, or a practice's
PostgreSQL database, through one code path (SQLAlchemy Core)."""
