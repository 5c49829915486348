"""The database schema: migrate it, say where it stands, refuse to run on the wrong one.

Alembic (about 10 MB) is loaded only by the functions that migrate: a gunicorn web worker, which
only checks the revision, never pays for it."""

from __future__ import annotations

from range_control.context import Range
from range_control.store.session import SCHEMA_HEAD


def require_current(ctx: Range) -> None:
    """Refuse (``SchemaMismatch``) unless the schema is the one this code needs."""
    ctx.store.require_schema(SCHEMA_HEAD)


def check_integrity(ctx: Range) -> None:
    """Refuse (``Corrupt``, one line saying what to do) a damaged SQLite file."""
    ctx.store.check_integrity()


def upgrade(ctx: Range, revision: str = "head") -> str | None:
    """Create or migrate the schema (to the newest revision by default); the revision now."""
    from range_control.store import migrate

    migrate.upgrade(ctx.store.engine, revision)
    return migrate.current(ctx.store.engine)


def current(ctx: Range) -> tuple[str | None, str | None]:
    """(the database's revision, the newest revision this code knows)."""
    from range_control.store import migrate

    return migrate.current(ctx.store.engine), migrate.head()


def new_revision(ctx: Range, message: str) -> None:
    """(Developers) autogenerate a migration from the models."""
    from range_control.store import migrate

    migrate.revision(ctx.store.engine, message)
