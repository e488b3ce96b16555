"""Open the local SQLite store: checks first, backup, upgrade, then engines.

`open_store` refuses a corrupt, locked, foreign or newer database with one clear line
(`StoreError`) *before* anything is written, so a bad file is left exactly as found.
The sync engine serves the engine/CLI (plain functions over a `Session`); the async
engine (`sqlite+aiosqlite`) on the same file serves the Textual UI's reads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from calsync_tui import clock
from local_store import migrations
from local_store.errors import StoreError
from local_store.migrations import downgrade, upgrade

__all__ = [
    "Store",
    "StoreError",
    "backup_file",
    "downgrade",
    "inspect_store",
    "make_engines",
    "open_store",
    "upgrade",
]

FILE_MODE = 0o600
BUSY_TIMEOUT_MS = 5000


@contextmanager
def _private_umask() -> Iterator[None]:
    """Files SQLite creates meanwhile (-wal, -shm, journals) get no group/other bits."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection settings: SQLite forgets all of these when a connection closes."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
    finally:
        cursor.close()


@dataclass
class Store:
    """Handles on one DB file. Use `session()` (sync) or `async_session()` (UI)."""

    db_path: Path
    backups_dir: Path
    engine: Engine
    async_engine: AsyncEngine
    backup_path: Path | None = None  # the copy written before this open's upgrade, if any

    def session(self) -> Session:
        """A sync session; use as `with store.session() as s:`. Objects stay readable after commit."""
        return Session(self.engine, expire_on_commit=False)

    def async_session(self) -> AsyncSession:
        """An async session on the aiosqlite engine; use as `async with store.async_session() as s:`."""
        return AsyncSession(self.async_engine, expire_on_commit=False)

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return migrations.current_revision(conn)

    def close(self) -> None:
        """Dispose both engines (the async one holds no pooled connections: NullPool)."""
        self.engine.dispose()
        self.async_engine.sync_engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _create_private(path: Path) -> None:
    """Create the empty DB file 0600 ourselves so no umask can widen it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None
    os.close(fd)


def _is_locked(exc: sqlite3.Error) -> bool:
    text_ = str(exc).lower()
    return "locked" in text_ or "busy" in text_


def _locked_error(db_path: Path) -> StoreError:
    return StoreError(
        f"database {db_path} is locked by another process; "
        "close the other calsync-tui (or sqlite3 session) and try again"
    )


def _corrupt_error(db_path: Path, detail: str) -> StoreError:
    return StoreError(
        f"database {db_path} is corrupt ({detail}); move it aside, then restore a backup "
        "copy in its place or start afresh"
    )


def _inspect(db_path: Path, lock_timeout: float, verify: bool = True) -> str | None:
    """Read-only checks; returns the current Alembic revision (None = unversioned).

    Raises StoreError for a non-database, a failed integrity check, a foreign schema,
    an unknown (newer) revision or a write lock held elsewhere. Writes nothing.
    """
    # No plain open()/close() of the file here: closing any descriptor on it drops every
    # POSIX lock this process holds through SQLite (sqlite.org/howtocorrupt.html 2.2).
    # SQLite itself says "file is not a database" on the first read, handled below.
    if not os.access(db_path, os.R_OK):
        raise StoreError(f"cannot read database {db_path}: permission denied")
    with _private_umask():
        conn = sqlite3.connect(db_path, timeout=lock_timeout, isolation_level=None)
    try:
        try:
            # quick_check reads every page: ~0.2 s at 50,000 events; `verify=False` skips it.
            rows = conn.execute("PRAGMA quick_check" if verify else "PRAGMA schema_version")
            first = rows.fetchall()
            if verify and [r[0] for r in first] != ["ok"]:
                raise _corrupt_error(db_path, f"integrity check: {first[0][0]}")
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            }
            revision: str | None = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            elif tables:
                raise StoreError(
                    f"database {db_path} is not a calsync-tui database (tables but no schema "
                    "version); move it aside or choose another --home"
                )
            if revision is not None and revision not in migrations.known_revisions():
                raise StoreError(
                    f"database {db_path} has schema revision {revision}, newer than this "
                    f"calsync-tui knows (head {migrations.head_revision()}); upgrade calsync-tui "
                    "or restore a backup"
                )
            # A write lock held elsewhere would make every later write fail: find out now.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise _locked_error(db_path) from None
            if "unable to open" in str(exc) or "readonly" in str(exc):
                raise StoreError(
                    f"cannot open database {db_path} for writing ({exc}); check the file's "
                    "and its directory's owner and permissions"
                ) from None
            raise _corrupt_error(db_path, str(exc)) from None
        return revision
    finally:
        conn.close()


def inspect_store(db_path: Path, lock_timeout: float = 1.0) -> str | None:
    """Check an existing DB without changing it; its Alembic revision (None = base).

    For `doctor`: raises StoreError exactly as `open_store` would, but never upgrades.
    """
    if not Path(db_path).is_file():
        raise StoreError(f"database {db_path} does not exist")
    return _inspect(Path(db_path), lock_timeout)


def backup_file(db_path: Path, backups_dir: Path, revision: str | None) -> Path:
    """Copy the DB with SQLite's online backup API (consistent even under WAL), 0600."""
    backups_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    target = backups_dir / f"calsync-{stamp}-rev{revision or 'base'}.db"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.chmod(target, FILE_MODE)
    return target


def make_engines(db_path: Path) -> tuple[Engine, AsyncEngine]:
    """Sync and async engines on one file, each connection with WAL, FK and busy timeout."""
    engine = create_engine(f"sqlite:///{db_path}")
    event.listen(engine, "connect", _on_connect)
    # NullPool: an aiosqlite connection belongs to the event loop that opened it; pooling
    # it across loops (tests, app restarts) breaks on close. Opening SQLite costs ~0.1 ms.
    async_engine = create_async_engine(f"sqlite+aiosqlite:///{db_path}", poolclass=NullPool)
    event.listen(async_engine.sync_engine, "connect", _on_connect)
    return engine, async_engine


def open_store(
    db_path: Path,
    backups_dir: Path,
    *,
    lock_timeout: float = BUSY_TIMEOUT_MS / 1000,
    verify: bool = True,
) -> Store:
    """Open (creating 0600 if absent) and upgrade to head, backing up an existing file first.

    `verify` runs SQLite's quick_check first (a corrupt file is refused before anything
    reads or writes it); a caller racing for a first frame may turn it off.
    """
    db_path = Path(db_path)
    existed = db_path.exists() and db_path.stat().st_size > 0
    if db_path.exists() and not db_path.is_file():
        raise StoreError(f"database path {db_path} is not a file")
    _create_private(db_path)
    current = _inspect(db_path, lock_timeout, verify)
    head = migrations.head_revision()
    backup: Path | None = None
    if current != head:
        if existed:
            try:
                backup = backup_file(db_path, backups_dir, current)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(
                    f"cannot write a backup of {db_path} to {backups_dir} before upgrading "
                    f"({exc}); nothing was changed: free space or fix that directory"
                ) from None
        with _private_umask():
            engine = migrations.transactional_engine(db_path)
            try:
                migrations.upgrade(engine)
            except Exception as exc:  # one line for the user; the chain keeps the detail
                raise StoreError(
                    f"upgrading database {db_path} failed ({exc.__class__.__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}); "
                    + (f"a backup is at {backup}" if backup else "nothing was changed")
                ) from exc
            finally:
                engine.dispose()
    engine, async_engine = make_engines(db_path)
    with _private_umask(), engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # opens the WAL/SHM files now, under the umask
    return Store(
        db_path=db_path,
        backups_dir=backups_dir,
        engine=engine,
        async_engine=async_engine,
        backup_path=backup,
    )
