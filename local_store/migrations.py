"""Alembic, driven from code: no alembic.ini, the scripts ship inside the package.

`upgrade`/`downgrade` accept a `Store`, an `Engine` or a DB path so tests and `doctor`
can move a file between revisions without going through `open_store`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import local_store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

if TYPE_CHECKING:
    from local_store.db import Store

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"
BASE = "base"


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config pointing at the packaged scripts; `env.py` runs on `connection`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError("no Alembic revision shipped with local_store")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in script_directory().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in `alembic_version`, or None for an unversioned DB."""
    return MigrationContext.configure(connection).get_current_revision()


def schema_diff(connection: Connection) -> list[Any]:
    """Differences between the live schema and the models (empty when they match)."""
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(ctx, SQLModel.metadata))


def transactional_engine(db_path: Path) -> Engine:
    """A sync engine whose transactions really wrap DDL.

    pysqlite only opens a transaction before DML, so a migration interrupted half-way
    would leave some tables behind. This is SQLAlchemy's documented recipe: let the
    driver autocommit and emit BEGIN ourselves, so each revision is all-or-nothing.
    """
    engine = create_engine(f"sqlite:///{db_path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=5000")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # outside any transaction here

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def _engine_for(target: Store | Engine | Path) -> Iterator[Engine]:
    if isinstance(target, Path):
        engine = transactional_engine(target)
        try:
            yield engine
        finally:
            engine.dispose()
    elif isinstance(target, Engine):
        yield target
    else:
        engine = transactional_engine(target.db_path)
        try:
            yield engine
        finally:
            engine.dispose()


def upgrade(target: Store | Engine | Path, revision: str = "head") -> None:
    """Move the DB up to `revision` (default head), one transaction."""
    with _engine_for(target) as engine, engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(target: Store | Engine | Path, revision: str = BASE) -> None:
    """Move the DB down to `revision` (default base: no tables), one transaction."""
    with _engine_for(target) as engine, engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def new_revision(message: str) -> Path:
    """Autogenerate a revision from the models' diff against a scratch DB at head.

    For developers changing `models.py`: `python -m local_store.migrations "add x"`;
    review the file it writes under `alembic/versions/` before committing.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "scratch.db"
        upgrade(db, "head")
        engine = transactional_engine(db)
        try:
            with engine.begin() as conn:
                script = command.revision(alembic_config(conn), message=message, autogenerate=True)
        finally:
            engine.dispose()
    scripts = script if isinstance(script, list) else [script]
    if not scripts or scripts[0] is None:
        raise RuntimeError("Alembic wrote no revision")
    return Path(scripts[0].path)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        raise SystemExit('usage: python -m local_store.migrations "what changed"')
    print(new_revision(sys.argv[1]))
