"""Bulk reads and writes of EventState rows (core SQL, executemany; no per-row ORM).

A 50,000-event inventory is one SELECT and one executemany upsert, so the engine stays
at seconds, not minutes. Rows travel as plain dicts keyed by column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from local_store.models import EventState

Row = dict[str, Any]
ROW_COLUMNS = tuple(c.name for c in EventState.__table__.columns)  # type: ignore[attr-defined]
_TABLE = EventState.__table__  # type: ignore[attr-defined]
_UPSERT_CHUNK = 5000
# Scalar column defaults, used when a row leaves a NOT NULL column unset (malformed events).
_DEFAULTS: dict[str, Any] = {
    c.name: c.default.arg
    for c in _TABLE.columns
    if c.default is not None and not callable(c.default.arg) and not c.nullable
}


def load_rows(conn: Connection, calendar_ids: Iterable[int]) -> dict[tuple[int, str], Row]:
    """Every EventState row of these calendars, keyed by (calendar id, Google event id).

    Raw DB-API rows: datetimes stay as SQLite stores them (strings), booleans as 0/1;
    `upsert_rows` writes them back unchanged. Fast at 50,000 rows.
    """
    ids = [int(i) for i in calendar_ids]
    if not ids:
        return {}
    cols = ", ".join(ROW_COLUMNS)
    marks = ", ".join("?" for _ in ids)
    result = conn.exec_driver_sql(
        f"SELECT {cols} FROM {_TABLE.name} WHERE calendar_id IN ({marks})", tuple(ids)
    )
    out: dict[tuple[int, str], Row] = {}
    for values in result:
        row = dict(zip(ROW_COLUMNS, values, strict=True))
        out[(row["calendar_id"], row["google_event_id"])] = row
    return out


def as_datetime(value: Any) -> datetime | None:
    """A stored datetime (string from `load_rows`, or a datetime) as an aware UTC value."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def all_correlation_ids(conn: Connection) -> dict[str, tuple[int, str]]:
    """correlation id -> (calendar id, event id) over the whole table (ids are global)."""
    result = conn.execute(
        select(_TABLE.c.correlation_id, _TABLE.c.calendar_id, _TABLE.c.google_event_id)
    )
    return {r[0]: (r[1], r[2]) for r in result}


def _sql_value(value: Any) -> Any:
    """Python value -> what SQLAlchemy's SQLite types store (so ORM reads stay identical)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def upsert_rows(conn: Connection, rows: Sequence[Row], now: datetime) -> None:
    """Insert or update rows by (calendar_id, google_event_id), in big executemany chunks.

    Plain DB-API executemany on one prepared statement: SQLAlchemy's per-row parameter
    processing costs more than SQLite itself at 50,000 rows.
    """
    if not rows:
        return
    cols = list(ROW_COLUMNS)
    updates = [c for c in cols if c not in ("calendar_id", "google_event_id", "created_at")]
    sql = (
        f"INSERT INTO {_TABLE.name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT(calendar_id, google_event_id) DO UPDATE SET "
        + ", ".join(f"{c}=excluded.{c}" for c in updates)
    )
    stamp = _sql_value(now)
    payload = []
    for row in rows:
        values = []
        for c in cols:
            if c == "updated_at":
                values.append(stamp)
            elif c == "created_at":
                values.append(_sql_value(row.get(c)) if row.get(c) else stamp)
            else:
                value = row.get(c)
                values.append(_sql_value(_DEFAULTS.get(c) if value is None else value))
        payload.append(tuple(values))
    for i in range(0, len(payload), _UPSERT_CHUNK):
        conn.exec_driver_sql(sql, payload[i : i + _UPSERT_CHUNK])


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
