"""open_store: modes, pragmas, round trips, constraints and the refusals that change nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from local_store import migrations
from local_store.db import Store, open_store
from local_store.errors import StoreError
from local_store.models import Account, Calendar, EventState, Mutation


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _calendar(store: Store) -> int:
    with store.session() as s:
        account = Account(email="me@example.com")
        s.add(account)
        s.commit()
        assert account.id is not None
        cal = Calendar(account_id=account.id, google_id="primary@example.com", enabled=True)
        s.add(cal)
        s.commit()
        assert cal.id is not None
        return cal.id


def test_new_store_is_private_wal_with_foreign_keys(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask must not widen any file
    try:
        store = open_store(tmp_path / "calsync.db", tmp_path / "backups")
    finally:
        os.umask(old)
    try:
        _calendar(store)  # forces WAL writes
        for name in ("calsync.db", "calsync.db-wal", "calsync.db-shm"):
            assert _mode(tmp_path / name) == 0o600, name
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert store.schema_revision() == migrations.head_revision()
        assert store.backup_path is None  # nothing to back up on a new file
        assert not (tmp_path / "backups").exists()
    finally:
        store.close()


def test_round_trip_sync_and_async(store: Store) -> None:
    cal_id = _calendar(store)
    with store.session() as s:
        s.add(
            EventState(
                correlation_id="c1",
                calendar_id=cal_id,
                google_event_id="g1",
                summary="Standup ☕",
                start="2026-01-05T09:00:00+01:00",
                end="2026-01-05T09:15:00+01:00",
            )
        )
        s.commit()

    async def read() -> list[EventState]:
        async with store.async_session() as a:
            return list((await a.exec(select(EventState))).all())

    rows = asyncio.run(read())
    assert [(r.correlation_id, r.summary, r.start) for r in rows] == [
        ("c1", "Standup ☕", "2026-01-05T09:00:00+01:00")
    ]
    assert asyncio.run(read())[0].google_event_id == "g1"  # a second loop works too


def test_unique_calendar_event_and_foreign_keys(store: Store) -> None:
    cal_id = _calendar(store)
    with store.session() as s:
        s.add(EventState(correlation_id="a", calendar_id=cal_id, google_event_id="same"))
        s.commit()
        s.add(EventState(correlation_id="b", calendar_id=cal_id, google_event_id="same"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(EventState(correlation_id="c", calendar_id=cal_id + 99, google_event_id="x"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(Mutation(plan_id="p", op="insert", calendar_id=cal_id + 99, google_event_id="x"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        s.add(Calendar(account_id=1, google_id="primary@example.com"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        assert len(s.exec(select(EventState)).all()) == 1


def test_reopen_keeps_data_and_writes_no_backup(tmp_path: Path) -> None:
    with open_store(tmp_path / "calsync.db", tmp_path / "backups") as store:
        _calendar(store)
    with open_store(tmp_path / "calsync.db", tmp_path / "backups") as store:
        assert store.backup_path is None
        with store.session() as s:
            assert s.exec(select(Account.email)).all() == ["me@example.com"]
    assert not (tmp_path / "backups").exists()


def test_not_a_database_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    db.write_bytes(os.urandom(8192))
    before = _digest(db)
    with pytest.raises(StoreError, match="corrupt") as err:
        open_store(db, tmp_path / "backups")
    assert "\n" not in str(err.value)
    with pytest.raises(StoreError, match=r"is corrupt \(file is not a database\)"):
        open_store(db, tmp_path / "backups", verify=False)  # SQLite refuses it on the first read
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calsync.db"]


def test_damaged_pages_are_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups") as store:
        cal_id = _calendar(store)
        with store.session() as s:
            for i in range(300):
                s.add(
                    EventState(correlation_id=f"c{i}", calendar_id=cal_id, google_event_id=f"g{i}")
                )
            s.commit()
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 6 * page
    raw[3 * page : 5 * page] = b"\xff" * (2 * page)  # keep the header valid, smash btree pages
    db.write_bytes(bytes(raw))
    before = _digest(db)
    with pytest.raises(StoreError, match="corrupt"):
        open_store(db, tmp_path / "backups")
    assert _digest(db) == before


def test_newer_revision_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups"):
        pass
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    conn.commit()
    conn.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="newer than this calsync-tui") as err:
        open_store(db, tmp_path / "backups")
    assert "ffff_from_the_future" in str(err.value)
    assert _digest(db) == before
    assert not (tmp_path / "backups").exists()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="not a calsync-tui database"):
        open_store(db, tmp_path / "backups")
    assert _digest(db) == before


def test_locked_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups"):
        pass
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            open_store(db, tmp_path / "backups", lock_timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with open_store(db, tmp_path / "backups", lock_timeout=0.2) as store:  # free again: opens
        assert store.schema_revision() == migrations.head_revision()


def test_directory_in_place_of_db_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calsync.db").mkdir()
    with pytest.raises(StoreError, match="not a file"):
        open_store(tmp_path / "calsync.db", tmp_path / "backups")


def test_ui_reads_are_not_blocked_by_a_writer_in_progress(store: Store) -> None:
    """WAL: the async (UI) side reads the last committed state while the engine writes."""
    cal_id = _calendar(store)
    with store.engine.connect() as writer:
        writer.exec_driver_sql("BEGIN IMMEDIATE")
        writer.exec_driver_sql(
            "INSERT INTO account (email, auth_kind, scopes, needs_signin, created_at, updated_at) "
            "VALUES ('pending@example.com', 'static', '', 0, '2026-01-01', '2026-01-01')"
        )

        async def read() -> list[str]:
            async with store.async_session() as a:
                return list((await a.exec(select(Account.email))).all())

        started = time.perf_counter()
        assert asyncio.run(read()) == ["me@example.com"]
        assert time.perf_counter() - started < 1.0  # not waiting on the busy timeout
        writer.exec_driver_sql("COMMIT")
    assert sorted(asyncio.run(read())) == ["me@example.com", "pending@example.com"]
    assert cal_id > 0
