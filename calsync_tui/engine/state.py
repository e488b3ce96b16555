"""Bulk reads and writes of EventState rows (core SQL, executemany; no per-row ORM).

A 50,000-event inventory is one SELECT and one executemany upsert, so the engine stays
at seconds, not minutes. Rows travel as plain dicts keyed by column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from local_store.models import EventState

Row = dict[str, Any]
ROW_COLUMNS = tuple(c.name for c in EventState.__table__.columns)  # type: ignore[attr-defined]
_TABLE = EventState.__table__  # type: ignore[attr-defined]
_UPSERT_CHUNK = 5000


def load_rows(conn: Connection, calendar_ids: Iterable[int]) -> dict[tuple[int, str], Row]:
    """Every EventState row of these calendars, keyed by (calendar id, Google event id)."""
    ids = list(calendar_ids)
    if not ids:
        return {}
    result = conn.execute(select(_TABLE).where(_TABLE.c.calendar_id.in_(ids)))
    return {(r["calendar_id"], r["google_event_id"]): dict(r) for r in result.mappings()}


def all_correlation_ids(conn: Connection) -> dict[str, tuple[int, str]]:
    """correlation id -> (calendar id, event id) over the whole table (ids are global)."""
    result = conn.execute(
        select(_TABLE.c.correlation_id, _TABLE.c.calendar_id, _TABLE.c.google_event_id)
    )
    return {r[0]: (r[1], r[2]) for r in result}


def upsert_rows(conn: Connection, rows: Sequence[Row], now: datetime) -> None:
    """Insert or update rows by (calendar_id, google_event_id), in big executemany chunks."""
    if not rows:
        return
    cols = [c for c in ROW_COLUMNS if c != "created_at"]
    stmt = sqlite_insert(_TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["calendar_id", "google_event_id"],
        set_={c: stmt.excluded[c] for c in cols if c not in ("calendar_id", "google_event_id")},
    )
    payload = []
    for row in rows:
        item = {c: row.get(c) for c in cols}
        item["created_at"] = row.get("created_at") or now
        item["updated_at"] = now
        payload.append(item)
    for i in range(0, len(payload), _UPSERT_CHUNK):
        conn.execute(stmt, payload[i : i + _UPSERT_CHUNK])


def update_rows(conn: Connection, changes: Sequence[Row], now: datetime) -> None:
    """Apply partial updates keyed by calendar_id + google_event_id (same keys per call)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for change in changes:
        keys = tuple(sorted(k for k in change if k not in ("calendar_id", "google_event_id")))
        groups.setdefault(keys, []).append(change)
    for keys, items in groups.items():
        stmt = (
            update(_TABLE)
            .where(_TABLE.c.calendar_id == bindparam("k_cal"))
            .where(_TABLE.c.google_event_id == bindparam("k_gid"))
            .values({k: bindparam(f"v_{k}") for k in (*keys, "updated_at")})
        )
        params = [
            {
                "k_cal": it["calendar_id"],
                "k_gid": it["google_event_id"],
                "v_updated_at": now,
                **{f"v_{k}": it[k] for k in keys},
            }
            for it in items
        ]
        conn.execute(stmt, params)
