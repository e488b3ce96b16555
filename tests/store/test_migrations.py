"""Alembic: the revision matches the models, round-trips, and backs up before upgrading."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from local_store import migrations
from local_store.db import open_store
from local_store.errors import StoreError
from local_store.models import Account, Calendar


def _tables(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows} - {"alembic_version"}


def test_head_schema_matches_models_exactly(tmp_path: Path) -> None:
    with open_store(tmp_path / "calsync.db", tmp_path / "backups") as store:
        with store.engine.connect() as conn:
            assert migrations.schema_diff(conn) == []
            indexes = {
                ix["name"] for t in SQLModel.metadata.tables for ix in inspect(conn).get_indexes(t)
            }
        expected = {ix.name for t in SQLModel.metadata.tables.values() for ix in t.indexes}
        assert expected <= indexes
        assert "ix_eventstate_calendar_start" in indexes


def test_downgrade_base_then_upgrade_head_round_trips(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups"):
        pass
    all_tables = set(SQLModel.metadata.tables)
    assert _tables(db) == all_tables
    migrations.downgrade(db, "base")
    assert _tables(db) == set()
    migrations.upgrade(db, "head")
    assert _tables(db) == all_tables
    with open_store(db, tmp_path / "backups") as store:
        assert store.schema_revision() == migrations.head_revision()
        with store.engine.connect() as conn:
            assert migrations.schema_diff(conn) == []


def test_existing_db_behind_head_is_backed_up_then_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    backups = tmp_path / "backups"
    with open_store(db, backups):
        pass
    migrations.downgrade(db, "base")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE keepsake (note TEXT)")
    conn.execute("INSERT INTO keepsake VALUES ('before upgrade')")
    conn.commit()
    conn.close()

    with open_store(db, backups) as store:
        assert store.schema_revision() == migrations.head_revision()
        backup = store.backup_path
        with store.session() as s:  # the upgraded DB is usable
            s.add(Account(email="after@example.com"))
            s.commit()
            assert s.exec(select(Account.email)).all() == ["after@example.com"]

    assert backup is not None and backup.parent == backups
    assert backup.name.startswith("calsync-") and backup.name.endswith("-revbase.db")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    copy = sqlite3.connect(backup)
    try:
        assert copy.execute("SELECT note FROM keepsake").fetchall() == [("before upgrade",)]
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (0,)
        tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        copy.close()
    assert "account" not in tables  # the copy is the pre-upgrade state
    assert [p.name for p in backups.iterdir()] == [backup.name]

    with open_store(db, backups):  # at head now: no second backup
        pass
    assert len(list(backups.iterdir())) == 1


def test_no_upgrade_without_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups"):
        pass
    migrations.downgrade(db, "base")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the backups directory should be")
    before = db.read_bytes()
    with pytest.raises(StoreError, match=r"cannot write a backup .* nothing was changed"):
        open_store(db, blocked)
    assert db.read_bytes() == before
    assert _tables(db) == set()


def test_0001_to_0002_keeps_rows_and_forces_one_full_listing(tmp_path: Path) -> None:
    """A store from before the same-meeting rule: the rows stay, the new column comes
    empty, and every calendar's sync token is dropped so the next cycle lists in full."""
    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups") as store, store.session() as s:
        account = Account(email="a@example.com")
        s.add(account)
        s.commit()
        assert account.id is not None
        s.add(Calendar(account_id=account.id, google_id="c@example.com", sync_token="tok"))
        s.commit()
    migrations.downgrade(db, "0001")
    conn = sqlite3.connect(db)
    try:
        assert "ical_key" not in [r[1] for r in conn.execute("PRAGMA table_info(eventstate)")]
    finally:
        conn.close()
    migrations.upgrade(db, "head")
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT google_id, sync_token FROM calendar").fetchall()
        assert rows == [("c@example.com", None)]
        assert "ical_key" in [r[1] for r in conn.execute("PRAGMA table_info(eventstate)")]
    finally:
        conn.close()


def _old_shape_rows(db: Path) -> None:
    """Journal rows exactly as the code before revision 0004 wrote them: the engine's
    raw body, the migration's `{"body", "result", "adopted"}`, a rollback restore's
    `{"body", "gateway_op", "undoes"}`."""
    import json

    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "INSERT INTO account (id, email, auth_kind, scopes, needs_signin, created_at,"
            " updated_at) VALUES (1, 'a@example.com', 'static', '', 0, '2026-01-01', '2026-01-01')"
        )
        conn.execute(
            "INSERT INTO calendar (id, account_id, google_id, summary, time_zone, access_role,"
            " \"primary\", enabled, engine_mode, created_at, updated_at) VALUES (1, 1, 'c@x',"
            " '', 'UTC', 'owner', 0, 1, 'uuid', '2026-01-01', '2026-01-01')"
        )
        body = {
            "id": "b1",
            "summary": "Busy - X",
            "extendedProperties": {"private": {"calsync_source": "src-1"}},
        }
        rows = [
            (1, "sync", "insert", json.dumps(body), "done"),
            (
                2,
                "migration",
                "insert",
                json.dumps({"body": body, "result": {"id": "b1", "etag": "e"}, "adopted": True}),
                "done",
            ),
            (3, "migration", "stamp", json.dumps({"body": {"summary": "S"}}), "pending"),
            (
                4,
                "rollback",
                "restore",
                json.dumps(
                    {
                        "body": {"summary": "T"},
                        "gateway_op": "update",
                        "undoes": [2, 3],
                        "result": {"summary": "T"},
                        "adopted": False,
                    }
                ),
                "done",
            ),
        ]
        for rid, origin, op, after, status in rows:
            conn.execute(
                "INSERT INTO mutation (id, plan_id, seq, origin, op, calendar_id,"
                " google_event_id, reason, before_json, after_json, status, attempts,"
                " created_at, updated_at) VALUES (?, 'p', ?, ?, ?, 1, 'b1', '', NULL, ?, ?, 1,"
                " '2026-01-01', '2026-01-01')",
                (rid, rid, origin, op, after, status),
            )
        conn.commit()
    finally:
        conn.close()


def test_0004_one_journal_shape_up_and_down(tmp_path: Path) -> None:
    """Every origin's rows end in the one shape (body sent in after_json, the rest in
    columns of its own), and downgrade gives back the rows as they were."""
    import json

    from calsync_tui.writes.record import record_of

    db = tmp_path / "calsync.db"
    with open_store(db, tmp_path / "backups"):
        pass
    migrations.downgrade(db, "0003")
    _old_shape_rows(db)
    conn = sqlite3.connect(db)
    before = conn.execute("SELECT id, after_json FROM mutation ORDER BY id").fetchall()
    conn.close()

    migrations.upgrade(db, "head")
    with open_store(db, tmp_path / "backups") as store, store.session() as s:
        from local_store.models import Mutation

        recs = {m.id: record_of(m) for m in s.exec(select(Mutation))}
    body = {
        "id": "b1",
        "summary": "Busy - X",
        "extendedProperties": {"private": {"calsync_source": "src-1"}},
    }
    assert recs[1].body == body and recs[1].result is None and recs[1].write.call == "insert"
    assert recs[2].body == body and recs[2].result == {"id": "b1", "etag": "e"}
    assert recs[2].adopted and recs[2].write.source_correlation_id == "src-1"
    assert recs[3].body == {"summary": "S"} and recs[3].write.call == "patch"
    assert recs[4].body == {"summary": "T"} and recs[4].write.call == "update"
    assert recs[4].write.undoes == (2, 3)
    conn = sqlite3.connect(db)
    try:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(eventstate)")}
        assert {"generation", "refusal_reason", "refusal_version", "refused_at"} <= cols
        cols = {r[1] for r in conn.execute("PRAGMA table_info(account)")}
        assert {"writes_paused_until", "lockout_level"} <= cols
    finally:
        conn.close()

    migrations.downgrade(db, "0003")
    conn = sqlite3.connect(db)
    try:
        after = conn.execute("SELECT id, after_json FROM mutation ORDER BY id").fetchall()
        cols = {r[1] for r in conn.execute("PRAGMA table_info(mutation)")}
    finally:
        conn.close()
    assert "result_json" not in cols and "gateway_op" not in cols
    assert [(i, json.loads(a)) for i, a in after] == [(i, json.loads(a)) for i, a in before]


def test_0005_all_day_rows_move_to_midnight_in_their_calendars_zone(tmp_path: Path) -> None:
    """Rows the code before the all-day fix wrote (UTC midnight) are rewritten once, so an
    existing home lists an all-day 11-26 after 11-25 21:45 without waiting for Google to
    list the event again; downgrade gives back UTC midnight."""
    from datetime import UTC, datetime

    from local_store import queries
    from local_store.models import EventState

    db = tmp_path / "calsync.db"
    backups = tmp_path / "backups"
    with open_store(db, backups) as store, store.session() as s:
        account = Account(email="a@example.com")
        s.add(account)
        s.commit()
        assert account.id is not None
        cal = Calendar(account_id=account.id, google_id="c@example.com", time_zone="Asia/Tokyo")
        s.add(cal)
        s.commit()
        assert cal.id is not None
        common = {"calendar_id": cal.id, "event_type": "user_event", "status": "synced"}
        s.add(
            EventState(
                correlation_id="allday",
                google_event_id="g-allday",
                summary="Holiday",
                start="2026-11-26",
                end="2026-11-27",
                start_utc=datetime(2026, 11, 26, tzinfo=UTC),  # the old UTC-midnight form
                all_day=True,
                **common,  # type: ignore[arg-type]
            )
        )
        s.add(
            EventState(
                correlation_id="timed",
                google_event_id="g-timed",
                summary="Late call",
                start="2026-11-25T20:00:00Z",
                end="2026-11-25T21:00:00Z",
                start_utc=datetime(2026, 11, 25, 20, tzinfo=UTC),  # 11-26 05:00 in Tokyo
                all_day=False,
                **common,  # type: ignore[arg-type]
            )
        )
        s.commit()
        cal_id = cal.id
    migrations.downgrade(db, "0004")
    migrations.upgrade(db, "head")
    with open_store(db, backups) as store, store.session() as s:
        page = queries.events_page(s, cal_id)
        # Tokyo midnight of 11-26 is 11-25 15:00 UTC: the all-day day comes first there
        assert [e.correlation_id for e in page] == ["allday", "timed"]
        allday = next(e for e in page if e.correlation_id == "allday")
        assert allday.start_utc is not None
        assert allday.start_utc.replace(tzinfo=UTC) == datetime(2026, 11, 25, 15, tzinfo=UTC)
    migrations.downgrade(db, "0004")
    conn = sqlite3.connect(db)
    try:
        got = conn.execute("SELECT start_utc FROM eventstate WHERE correlation_id='allday'")
        assert got.fetchone()[0].startswith("2026-11-26 00:00:00")
    finally:
        conn.close()
