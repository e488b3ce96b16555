"""When a cycle may plan over only the changed event "families", and how to load them.

The full cycle plans over every stored row; at 50,000 events that is seconds. After a
clean full-scope cycle the store is converged (desired == actual), so the next cycle's
plan can only involve the families of what changed: a changed event, the blocks whose
source is a changed source, the source (and sibling blocks) of a changed block. Loading
just those is equivalent to the full plan *only* while nothing else moved, so the fast
path is allowed only when every condition below holds; anything else runs the full path:

- a clean (no failure, no skip, no error, no cascade, nothing stuck) non-dry cycle of this
  process, on this store, was the last non-dry run (SyncRun and Mutation ids, EventState
  row count and last rowid unchanged since: no other process or migration step wrote);
- the same fingerprint: enabled calendars, roles, accounts and modes, planning settings,
  installation id, migration state and the window's day;
- every calendar mode is uuid (legacy matching by title and time is global);
- every calendar was read incrementally, nothing failed, the change set is small;
- no `pending` journal row and no `creating` row;
- fewer than FULL_EVERY_CYCLES cycles and FULL_EVERY_SECONDS since the last full cycle.

The marker lives in this process only: each new process starts with a full cycle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from calsync_tui import clock
from calsync_tui.engine.model import EngineMode, MutationStatus, Status
from calsync_tui.engine.state import ROW_COLUMNS, Row
from calsync_tui.settings import Settings

MAX_CHANGED_EVENTS = 500
FULL_EVERY_CYCLES = 50
FULL_EVERY_SECONDS = 3600.0
_CHUNK = 500
_COLS = ", ".join(ROW_COLUMNS)

FULL = "full"
SCOPED = "scoped"


@dataclass(frozen=True)
class Marker:
    """What a clean non-dry cycle leaves behind for the next one to compare."""

    fingerprint: str
    water: tuple[int, int, int, int]  # high_water() right after that cycle
    cycles_since_full: int
    full_at: float  # clock.now().timestamp() of the last full-scope cycle


_MARKERS: dict[str, Marker] = {}


def store_key(store: Any) -> str:
    """One marker per database file (str of the engine URL names it)."""
    return str(store.engine.url)


def get_marker(store: Any) -> Marker | None:
    return _MARKERS.get(store_key(store))


def forget(store: Any) -> None:
    """The next cycle on this store runs the full path."""
    _MARKERS.pop(store_key(store), None)


def remember(store: Any, marker: Marker) -> None:
    _MARKERS[store_key(store)] = marker


def fingerprint(
    conn: Connection,
    calendars: Sequence[tuple[int, str, str, str, str]],
    settings: Settings,
    installation_id: str,
    now: datetime,
) -> str:
    """Hash of everything (besides events) that the plan depends on."""
    migration = conn.exec_driver_sql(
        "SELECT phase, rollout_percent, legacy_detection, paused, updated_at FROM migrationstate"
    ).all()
    payload = {
        "calendars": sorted(calendars),
        "settings": [
            settings.window_days_back,
            settings.window_days_ahead,
            settings.title_template,
            settings.hide_titles,
            list(settings.legacy_markers),
            list(settings.ignored_event_types),
            settings.respect_manual_deletion,
        ],
        "installation": installation_id,
        "migration": [list(r) for r in migration],
        "day": now.date().isoformat(),
    }
    raw = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def high_water(conn: Connection) -> tuple[int, int, int, int]:
    """Last non-dry SyncRun id, last Mutation id, EventState row count and last rowid:
    a run, a journal write or a row added/removed by anyone else moves one of them."""
    run = conn.exec_driver_sql("SELECT max(id) FROM syncrun WHERE kind != 'dry_run'").scalar()
    mut = conn.exec_driver_sql("SELECT max(id) FROM mutation").scalar()
    count, last = conn.exec_driver_sql("SELECT count(*), max(rowid) FROM eventstate").one()
    return int(run or 0), int(mut or 0), int(count or 0), int(last or 0)


def unfinished(conn: Connection) -> int:
    """Pending journal rows plus `creating` rows (reconcile's business: full path)."""
    pending = conn.exec_driver_sql(
        "SELECT count(*) FROM mutation WHERE status = ?", (str(MutationStatus.PENDING),)
    ).scalar()
    creating = conn.exec_driver_sql(
        "SELECT count(*) FROM eventstate WHERE status = ?", (str(Status.CREATING),)
    ).scalar()
    return int(pending or 0) + int(creating or 0)


def blocker(
    marker: Marker | None,
    *,
    fp: str,
    water: tuple[int, int, int, int],
    unfinished_rows: int,
    modes: Iterable[EngineMode],
    all_read_incrementally: bool,
    changed_events: int,
    dry_run: bool,
) -> str | None:
    """Why this cycle must run the full path, or None when the scoped path is equivalent."""
    if dry_run:
        return "dry run (always full: it is the reference a user reviews)"
    if marker is None:
        return "no clean full cycle in this process yet"
    if marker.fingerprint != fp:
        return "calendars, settings, migration state or day changed"
    if water != marker.water:
        return "another run, journal write or stored row since the last cycle"
    if marker.cycles_since_full >= FULL_EVERY_CYCLES:
        return "periodic full cycle (cycle count)"
    if clock.now().timestamp() - marker.full_at >= FULL_EVERY_SECONDS:
        return "periodic full cycle (time)"
    if any(m != EngineMode.UUID for m in modes):
        return "a calendar in legacy or hybrid mode"
    if not all_read_incrementally:
        return "a calendar was listed in full or could not be read"
    if unfinished_rows:
        return "pending journal rows or creating blocks"
    if changed_events > MAX_CHANGED_EVENTS:
        return f"more than {MAX_CHANGED_EVENTS} changed events"
    return None


# --- indexed loads ---------------------------------------------------------------------


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _select(conn: Connection, where: str, params: tuple[Any, ...]) -> list[Row]:
    result = conn.exec_driver_sql(f"SELECT {_COLS} FROM eventstate WHERE {where}", params)
    return [dict(zip(ROW_COLUMNS, values, strict=True)) for values in result]


def _in(
    conn: Connection, column: str, values: Iterable[Any], cal_ids: Sequence[int] | None
) -> list[Row]:
    """Rows (of these calendars; None: of all) whose `column` is one of `values`."""
    out: list[Row] = []
    cals = tuple(cal_ids) if cal_ids is not None else ()
    where_cal = (
        f" AND calendar_id IN ({', '.join('?' for _ in cals)})" if cal_ids is not None else ""
    )
    for part in _chunks(sorted(set(values))):
        marks = ", ".join("?" for _ in part)
        out += _select(conn, f"{column} IN ({marks}){where_cal}", (*part, *cals))
    return out


def rows_by_key(conn: Connection, keys: Iterable[tuple[int, str]]) -> list[Row]:
    """Rows by (calendar id, Google event id): the unique index."""
    by_cal: dict[int, list[str]] = {}
    for cal_id, gid in keys:
        by_cal.setdefault(cal_id, []).append(gid)
    out: list[Row] = []
    for cal_id, gids in by_cal.items():
        out += _in(conn, "google_event_id", gids, [cal_id])
    return out


def rows_by_correlation(
    conn: Connection, cids: Iterable[str], cal_ids: Sequence[int] | None
) -> list[Row]:
    """Rows holding these correlation ids (primary key); cal_ids None: any calendar."""
    return _in(conn, "correlation_id", cids, cal_ids)


def rows_by_source(conn: Connection, cids: Iterable[str], cal_ids: Sequence[int]) -> list[Row]:
    """Blocks whose source is one of these (ix_eventstate_source)."""
    return _in(conn, "source_correlation_id", cids, cal_ids)


def rows_by_ical_key(conn: Connection, keys: Iterable[str], cal_ids: Sequence[int]) -> list[Row]:
    """Copies of the same meetings (ix_eventstate_ical_key)."""
    return _in(conn, "ical_key", keys, cal_ids)


def series_rows(conn: Connection, cal_id: int, masters: Iterable[str]) -> list[Row]:
    """Instances of these series on one calendar (a cancelled master takes them along)."""
    return _in(conn, "recurring_event_id", masters, [cal_id])


def outside_window_rows(conn: Connection, cal_ids: Sequence[int], error: str) -> list[Row]:
    """Live rows parked as outside the window (the window slides over them)."""
    marks = ", ".join("?" for _ in cal_ids)
    return _select(
        conn,
        f"error = ? AND status != ? AND calendar_id IN ({marks})",
        (error, str(Status.DELETED), *cal_ids),
    )


def class_counts(conn: Connection, cal_ids: Sequence[int]) -> dict[str, int]:
    """Live rows per event class over the whole store (one GROUP BY, no row objects)."""
    marks = ", ".join("?" for _ in cal_ids)
    result = conn.exec_driver_sql(
        f"SELECT event_class, count(*) FROM eventstate WHERE status != ? "
        f"AND calendar_id IN ({marks}) GROUP BY event_class",
        (str(Status.DELETED), *cal_ids),
    )
    return {str(cls): int(n) for cls, n in result}
