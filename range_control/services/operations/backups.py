"""Backups that restore: one file holding a consistent snapshot of the database, the range's
secrets and a manifest, taken while the event runs.

- SQLite: the online backup API copies the database in one step from one read transaction (in
  WAL mode writers carry on meanwhile), and the manifest's counts are read from the copy.
- PostgreSQL: a ``REPEATABLE READ`` transaction exports its snapshot; the manifest's counts are
  read in it and ``pg_dump --snapshot`` (custom format) dumps exactly that state.

The file is a gzip'd tar: ``manifest.json``, ``database.sqlite`` or ``database.pgdump``, and
the secrets (session key, flag key, organiser token: without the flag key no dynamic flag can
be checked again) as ``secrets.json.enc`` when a passphrase is given (Fernet, key from scrypt)
or ``SECRET-secrets.json`` in the clear otherwise, which the manifest says too. It is written
beside its destination and renamed into place when complete (0600): a file with the final name
is always whole, which is what the rolling backups and ``rangectl doctor`` rely on.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from range_control.context import Range
from range_control.core import metrics
from range_control.core.clock import iso
from range_control.core.errors import Conflict, InvalidInput, ServiceError, Unavailable, first_line
from range_control.core.files import fsync_dir
from range_control.core.settings import (
    GENERATED_SECRETS,
    SECRETS_FILE,
    Settings,
    save_secrets,
    stored_secrets,
)

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.pgdump"
SECRETS_PLAIN = "SECRET-secrets.json"
# The teams' deliverables of graded tasks (files under RANGE_DATA_DIR/submissions), as one
# inner tar: optional (a range with none, or a backup from before graded tasks, has none).
SUBMISSIONS_MEMBER = "submissions.tar"
SUBMISSIONS_DIR = "submissions"
SECRETS_SEALED = "secrets.json.enc"
# What the manifest counts, and a restore checks again.
COUNTED = ("teams", "challenges", "attempts", "solves", "hint_unlocks", "awards", "audit_log")
ROLLING_PREFIX = "range-"
ROLLING_SUFFIX = ".tar.gz"

Step = Callable[[str], None]


@dataclass(frozen=True)
class Manifest:
    format: int
    taken_at: datetime
    database: str  # sqlite | postgresql
    schema_revision: str | None
    event_slug: str
    counts: dict[str, int]
    secrets: str  # sealed | plain
    files: dict[str, str]  # member -> sha256

    def to_json(self) -> bytes:
        doc = {**self.__dict__, "taken_at": iso(self.taken_at)}
        return json.dumps(doc, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            doc = json.loads(raw)
            doc["taken_at"] = datetime.fromisoformat(doc["taken_at"])
            return cls(**doc)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(
                "{where}: {manifest} is not a range backup manifest: {exc}",
                where=where,
                manifest=MANIFEST,
                exc=exc,
            ) from None


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: Manifest
    size: int


@dataclass(frozen=True)
class LastBackup:
    path: Path
    taken_at: datetime


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _counts(conn: Any) -> dict[str, int]:
    return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in COUNTED}  # noqa: S608 - fixed names


def _revision(conn: Any) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - no schema yet
        return None


def _pg_tool(name: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pg_dump or pg_restore on the database of ``url``; its password goes in the
    environment, never on a command line that ``ps`` shows."""
    exe = shutil.which(name)
    if exe is None:
        raise Unavailable("{name} is not installed (Debian: postgresql-client)", name=name)
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dbname = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    done = subprocess.run(  # noqa: S603 - pg_dump/psql with our own arguments
        [exe, *args, f"--dbname={dbname}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceError("{name} failed: {stderr}", name=name, stderr=_last_line(done.stderr))
    return done


# --- secrets ---------------------------------------------------------------------------------


def _secrets_of(settings: Settings) -> dict[str, str]:
    settings.ensure_secrets()
    return {n: getattr(settings, n).get_secret_value() for n in GENERATED_SECRETS}


def _fernet(passphrase: str, salt: bytes) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _seal(data: bytes, passphrase: str) -> bytes:
    salt = os.urandom(16)
    return b"RCB1" + salt + _fernet(passphrase, salt).encrypt(data)


def _unseal(blob: bytes, passphrase: str, where: str) -> bytes:
    from cryptography.fernet import InvalidToken

    if not blob.startswith(b"RCB1") or len(blob) < 21:
        raise InvalidInput("{where}: {member} is damaged", where=where, member=SECRETS_SEALED)
    try:
        return _fernet(passphrase, blob[4:20]).decrypt(blob[20:])
    except InvalidToken:
        raise InvalidInput(
            "{where}: wrong passphrase for the secrets of this backup", where=where
        ) from None


# --- taking a backup -------------------------------------------------------------------------


def take(
    ctx: Range, out: Path, *, passphrase: str | None = None, step: Step | None = None
) -> Backup:
    """Snapshot the running range into ``out`` (a new file; an existing one is replaced only
    once the new one is complete)."""
    step = step or (lambda _msg: None)
    out = out.resolve()
    if out.is_dir():
        raise InvalidInput("{out}: is a directory; name the backup file", out=out)
    if not out.parent.is_dir():
        raise InvalidInput("{parent}: no such directory", parent=out.parent)
    try:
        backup = _take(ctx, out, passphrase, step)
    except Exception:
        metrics.BACKUPS.labels("failed").inc()
        raise
    metrics.BACKUPS.labels("ok").inc()
    return backup


def _take(ctx: Range, out: Path, passphrase: str | None, step: Step) -> Backup:
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as tmp:
        work = Path(tmp)
        dialect = ctx.store.engine.dialect.name
        step("snapshot of the database")
        if dialect == "sqlite":
            member = _sqlite_snapshot(ctx, work / SQLITE_MEMBER)
            counts, revision = _facts(f"sqlite:///{member}")  # the copy's: what it holds
        elif dialect == "postgresql":
            member = work / PG_MEMBER
            counts, revision = _pg_snapshot(ctx, member)
        else:
            raise InvalidInput("backups of a {dialect} database are not supported", dialect=dialect)
        step("secrets")
        raw = json.dumps(_secrets_of(ctx.settings)).encode()
        if passphrase:
            secrets_path, kind = work / SECRETS_SEALED, "sealed"
            secrets_path.write_bytes(_seal(raw, passphrase))
        else:
            secrets_path, kind = work / SECRETS_PLAIN, "plain"
            secrets_path.write_bytes(raw)
        members = [member, secrets_path]
        uploads = ctx.settings.data_dir / SUBMISSIONS_DIR
        if uploads.is_dir():
            step("the teams' deliverables")
            with tarfile.open(work / SUBMISSIONS_MEMBER, "w") as inner:
                inner.add(uploads, arcname=SUBMISSIONS_DIR, filter=_owned)
            members.append(work / SUBMISSIONS_MEMBER)
        manifest = Manifest(
            format=FORMAT,
            taken_at=ctx.clock.now(),
            database=dialect,
            schema_revision=revision,
            event_slug=ctx.event_slug,
            counts=counts,
            secrets=kind,
            files={p.name: _sha256(p) for p in members},
        )
        step("writing the archive")
        partial = out.with_name(f".{out.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_archive(fd, manifest, tuple(members))
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk leaves no half backup behind
            raise
        os.replace(partial, out)
        fsync_dir(out.parent)
    return Backup(out, manifest, out.stat().st_size)


def _owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """The range's own files: private to the user that restores them."""
    info.mode = 0o700 if info.isdir() else 0o600
    info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
    return info


def _write_archive(fd: int, manifest: Manifest, members: tuple[Path, ...]) -> None:
    """The gzip'd tar of the manifest and the members, on stable storage when this returns."""
    with os.fdopen(fd, "wb") as raw_out:
        with tarfile.open(fileobj=raw_out, mode="w:gz", compresslevel=1) as tar:
            body = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            info.mtime = int(manifest.taken_at.timestamp())
            tar.addfile(info, io.BytesIO(body))
            for path in members:
                tar.add(path, arcname=path.name, filter=_private)
        raw_out.flush()
        os.fsync(raw_out.fileno())


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _sqlite_snapshot(ctx: Range, dest: Path) -> Path:
    source = ctx.store.file.path  # type: ignore[union-attr]
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(dest)) as dst,
    ):
        src.execute(f"PRAGMA busy_timeout = {ctx.settings.sqlite_busy_timeout_ms}")
        src.backup(dst)  # all pages in one step: one consistent read transaction
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    return dest


def _facts(url: str) -> tuple[dict[str, int], str | None]:
    """The counts and schema revision of the database at ``url`` (a copy, or a restored one)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _counts(conn), _revision(conn)
    finally:
        engine.dispose()


def _pg_snapshot(ctx: Range, dest: Path) -> tuple[dict[str, int], str | None]:
    url = ctx.settings.resolved_database_url
    with ctx.store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            counts, revision = _counts(conn), _revision(conn)
            # The transaction stays open while pg_dump reads the exported snapshot.
            _pg_tool(
                "pg_dump",
                url,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={dest}",
            )
    return counts, revision


def _last_line(stderr: str) -> str:
    """pg_dump and pg_restore say what went wrong last."""
    return (stderr.strip().splitlines() or ["(no message)"])[-1]


# --- reading and restoring -------------------------------------------------------------------


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[Manifest, Path]]:
    """The backup unpacked in a private temporary directory, every file checked."""
    where = str(path)
    if not path.is_file():
        raise InvalidInput("{where}: no such backup file", where=where)
    with tempfile.TemporaryDirectory(prefix="range-restore-") as tmp:
        work = Path(tmp)
        try:
            with tarfile.open(path, mode="r:*") as tar:
                names = tar.getnames()
                if MANIFEST not in names:
                    raise InvalidInput(
                        "{where}: not a range backup (no {manifest})",
                        where=where,
                        manifest=MANIFEST,
                    )
                manifest = Manifest.from_json(tar.extractfile(MANIFEST).read(), where)  # type: ignore[union-attr]
                if manifest.format != FORMAT:
                    raise InvalidInput(
                        "{where}: backup format {format}; this version reads format {supported}",
                        where=where,
                        format=manifest.format,
                        supported=FORMAT,
                    )
                for name, digest in manifest.files.items():
                    if name not in names or "/" in name:
                        raise InvalidInput(
                            "{where}: {name} is missing from the backup", where=where, name=name
                        )
                    tar.extract(name, work, filter="data")
                    if _sha256(work / name) != digest:
                        raise InvalidInput(
                            "{where}: {name} is damaged (checksum differs)", where=where, name=name
                        )
        except tarfile.ReadError:
            raise InvalidInput(
                "{where}: not a readable backup (not a .tar.gz file)", where=where
            ) from None
        except (tarfile.TarError, EOFError, OSError) as exc:
            first = first_line(str(exc)) or type(exc).__name__
            raise InvalidInput(
                "{where}: not a readable backup ({first})", where=where, first=first
            ) from None
        yield manifest, work


def inspect(path: Path) -> Manifest:
    with _opened(path) as (manifest, _):
        return manifest


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    target: str
    counts: dict[str, int]


def restore(
    settings: Settings,
    path: Path,
    *,
    force: bool = False,
    passphrase: str | None = None,
    step: Step | None = None,
) -> Restored:
    """Restore ``path`` into the database and data dir of ``settings``: refused when either
    holds a range already, unless ``force``. The counts restored are checked against the
    manifest."""
    step = step or (lambda _msg: None)
    step("checking the backup")
    with _opened(path) as (manifest, work):
        _check_schema(manifest, str(path))
        secrets = _read_secrets(manifest, work, passphrase, str(path))
        url = settings.resolved_database_url
        kind = make_url(url).get_backend_name()
        if kind != manifest.database:
            raise InvalidInput(
                "{path}: a backup of a {database} database cannot be restored into {kind} ({url})",
                path=path,
                database=manifest.database,
                kind=kind,
                url=make_url(url).render_as_string(hide_password=True),
            )
        _check_secrets_target(settings, secrets, force)
        step("restoring the database")
        if kind == "sqlite":
            where = str(_restore_sqlite(settings, work / SQLITE_MEMBER, force))
        else:
            _restore_pg(url, work / PG_MEMBER, force)
            where = make_url(url).render_as_string(hide_password=True)
        counts, _ = _facts(url)
        step("restoring the secrets")
        save_secrets(settings.data_dir, secrets)
        if SUBMISSIONS_MEMBER in manifest.files:
            step("restoring the teams' deliverables")
            with tarfile.open(work / SUBMISSIONS_MEMBER) as inner:
                inner.extractall(settings.data_dir, filter="data")
    if counts != manifest.counts:
        raise ServiceError(
            "restored {counts}, but the backup's manifest says {counts2}",
            counts=counts,
            counts2=manifest.counts,
        )
    return Restored(manifest, where, counts)


def _check_schema(manifest: Manifest, where: str) -> None:
    """A backup from newer code than this cannot be used by it: refused before anything is
    written (an older one restores, and ``rangectl db upgrade`` brings it up to date)."""
    from range_control.store import migrate  # Alembic: loaded by a restore, not by a web worker

    revision = manifest.schema_revision
    if revision is None:
        raise InvalidInput(
            "{where}: the backed-up database has no schema: nothing to restore", where=where
        )
    if not migrate.known(revision):
        raise InvalidInput(
            "{where}: its schema revision {revision} is newer than this version's ({migrate}): "
            "restore it with the version that took it",
            where=where,
            revision=revision,
            migrate=migrate.head(),
        )


def _read_secrets(
    manifest: Manifest, work: Path, passphrase: str | None, where: str
) -> dict[str, str]:
    if manifest.secrets == "sealed":
        if not passphrase:
            raise InvalidInput(
                "{where}: its secrets are encrypted: give the passphrase "
                "(RANGE_BACKUP_PASSPHRASE or --passphrase-file)",
                where=where,
            )
        raw = _unseal((work / SECRETS_SEALED).read_bytes(), passphrase, where)
    else:
        raw = (work / SECRETS_PLAIN).read_bytes()
    doc = json.loads(raw)
    if set(doc) != set(GENERATED_SECRETS):
        raise InvalidInput("{where}: the secrets in the backup are incomplete", where=where)
    return doc


def _check_secrets_target(settings: Settings, secrets: dict[str, str], force: bool) -> None:
    path = settings.data_dir / SECRETS_FILE
    if not force and path.exists() and path.stat().st_size:
        stored = stored_secrets(settings.data_dir)
        if any(stored.get(k) not in (None, v) for k, v in secrets.items()):
            raise Conflict(
                "{path} holds other secrets than the backup: restore into an empty data dir, or "
                "--force to replace them",
                path=path,
            )
    if given := settings.overridden(secrets):
        names = ", ".join(given)
        log.warning(
            "%s set in the environment differ from the backup's and will win: the "
            "restored range needs the backup's (in %s)",
            names,
            SECRETS_FILE,
        )


def _sqlite_tables(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]


def _restore_sqlite(settings: Settings, source: Path, force: bool) -> Path:
    target = Path(make_url(settings.resolved_database_url).database or "")
    if target.exists() and target.stat().st_size and _sqlite_tables(target) and not force:
        raise Conflict(
            "{target} already holds a range: restore into an empty data dir, or --force to "
            "replace it (stop the range first)",
            target=target,
        )
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, staged)
    os.chmod(staged, 0o600)
    with contextlib.closing(sqlite3.connect(staged)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{target}{suffix}")
    os.replace(staged, target)
    fsync_dir(target.parent)
    return target


def _restore_pg(url: str, dump: Path, force: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalar()
            if tables and not force:
                raise Conflict(
                    "{url} already holds tables: restore into an empty database, or --force to "
                    "replace them (stop the range first)",
                    url=make_url(url).render_as_string(hide_password=True),
                )
            if tables:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    _pg_tool(
        "pg_restore",
        url,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        str(dump),
    )


# --- rolling backups (the worker) ------------------------------------------------------------


_STAMP = "%Y%m%dT%H%M%SZ"


def rolling_name(now: datetime) -> str:
    return f"{ROLLING_PREFIX}{now.astimezone(UTC).strftime(_STAMP)}{ROLLING_SUFFIX}"


def _rolling(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.name.startswith(ROLLING_PREFIX) and p.name.endswith(ROLLING_SUFFIX)
    )


def rolling(ctx: Range) -> Backup:
    """One rolling backup into the backup directory, keeping the newest ``backup_keep``."""
    directory = ctx.settings.resolved_backup_dir
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    passphrase = ctx.settings.backup_passphrase
    backup = take(
        ctx,
        directory / rolling_name(ctx.clock.now()),
        passphrase=passphrase.get_secret_value() if passphrase else None,
    )
    for old in _rolling(directory)[: -ctx.settings.backup_keep]:
        old.unlink()
    return backup


def last_good(settings: Settings) -> LastBackup | None:
    """The newest complete rolling backup (a file only gets its name once complete)."""
    found = _rolling(settings.resolved_backup_dir)
    if not found:
        return None
    newest = found[-1]
    stamp = newest.name[len(ROLLING_PREFIX) : -len(ROLLING_SUFFIX)]
    try:
        taken = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        taken = datetime.fromtimestamp(newest.stat().st_mtime, UTC)
    return LastBackup(newest, taken)
