"""Which stored rows a cycle plans over: the whole store, or (when provably equivalent,
see scope.py) only the changed events' families. Reads only; `persist` writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calsync_tui.engine import scope
from calsync_tui.engine.calendar_ref import CalendarRef
from calsync_tui.engine.classify import Seen, fresh_source_id
from calsync_tui.engine.model import Status
from calsync_tui.engine.persist import OUTSIDE_WINDOW, RowSet
from calsync_tui.engine.state import all_correlation_ids, as_datetime, load_rows
from calsync_tui.engine.window import Window


@dataclass(frozen=True)
class Scope:
    """The loading decision: scoped or full, and why full."""

    scoped: bool
    reason: str = ""


def load(
    conn: Any,
    cals: Sequence[CalendarRef],
    seen: dict[int, list[Seen]],
    window: Window,
    decision: Scope,
) -> RowSet:
    """Rows and used correlation ids: the whole store, or the changed events, their
    series, their id owners and the parked rows the window now reaches."""
    ids = [c.local_id for c in cals]
    if not decision.scoped:
        return RowSet(load_rows(conn, ids), all_correlation_ids(conn))
    rs = RowSet({}, {})
    keys: list[tuple[int, str]] = []
    candidates: set[str] = set()
    for cal in cals:
        masters = []
        for s in seen.get(cal.local_id, []):
            keys.append((cal.local_id, s.google_event_id))
            if s.cancelled:
                if not s.event.get("recurringEventId"):
                    masters.append(s.google_event_id)
                continue
            if s.cls.correlation_id:
                candidates.add(s.cls.correlation_id)
            if s.cls.is_source:
                fresh = fresh_source_id(s.event, cal.google_id)
                if fresh:
                    candidates.add(fresh)
        if masters:
            rs.keep(scope.series_rows(conn, cal.local_id, masters))
    rs.keep(scope.rows_by_key(conn, keys))
    # Id owners anywhere (a disabled calendar's row keeps its id unique too).
    owners = scope.rows_by_correlation(conn, candidates, None)
    rs.used_ids = {r["correlation_id"]: (r["calendar_id"], r["google_event_id"]) for r in owners}
    rs.keep([r for r in owners if r["calendar_id"] in ids])
    for r in scope.outside_window_rows(conn, ids, OUTSIDE_WINDOW):
        start_utc = as_datetime(r.get("start_utc"))
        if start_utc is not None and window.start <= start_utc < window.end:
            rs.keep([r])
    for key, r in rs.rows.items():
        rs.used_ids[r["correlation_id"]] = key
    return rs


def load_families(conn: Any, cals: Sequence[CalendarRef], rs: RowSet) -> None:
    """Close the loaded set over lineage: a source's blocks, a block's source (and so its
    sibling blocks), by the old and the new ids of every loaded row."""
    ids = [c.local_id for c in cals]
    frontier: set[str] = set()
    # Copies of the same meeting on other calendars decide each other's blocks.
    ical_frontier: set[str] = set()
    for r in [*rs.rows.values(), *rs.loaded.values()]:
        frontier.update(v for v in (r["correlation_id"], r.get("source_correlation_id")) if v)
        if r.get("ical_key"):
            ical_frontier.add(r["ical_key"])
    queried: set[str] = set()
    ical_queried: set[str] = set()
    while frontier - queried or ical_frontier - ical_queried:
        batch = frontier - queried
        ical_batch = ical_frontier - ical_queried
        queried |= batch
        ical_queried |= ical_batch
        found = scope.rows_by_correlation(conn, batch, ids)
        found += scope.rows_by_source(conn, batch, ids)
        found += scope.rows_by_ical_key(conn, ical_batch, ids)
        frontier = set()
        ical_frontier = set()
        for r in rs.keep(found):
            frontier.update(v for v in (r["correlation_id"], r.get("source_correlation_id")) if v)
            if r.get("ical_key"):
                ical_frontier.add(r["ical_key"])


def scoped_classes(
    conn: Any, cals: Sequence[CalendarRef], rs: RowSet, loaded_classes: Counter[str]
) -> Counter[str]:
    """Whole-store class counts: the store's GROUP BY, with the loaded rows' stored
    classes swapped for this cycle's."""
    out = Counter(scope.class_counts(conn, [c.local_id for c in cals]))
    for r in rs.loaded.values():
        if r.get("status") != str(Status.DELETED):
            out[str(r.get("event_class"))] -= 1
    out.update(loaded_classes)
    return Counter({k: v for k, v in out.items() if v > 0})


def decide(
    conn: Any,
    store: Any,
    cals: Sequence[CalendarRef],
    *,
    settings: Any,
    installation_id: str,
    now: Any,
    all_incremental: bool,
    changed_events: int,
    unfinished_extra: int,
    dry_run: bool,
) -> tuple[Scope, str]:
    """Scoped or full (scope.blocker decides), and this cycle's fingerprint."""
    fp = scope.fingerprint(
        conn,
        [(c.local_id, c.google_id, c.access_role, c.account, str(c.mode)) for c in cals],
        settings,
        installation_id,
        now,
    )
    reason = scope.blocker(
        scope.get_marker(store),
        fp=fp,
        water=scope.high_water(conn),
        unfinished_rows=scope.unfinished(conn) + unfinished_extra,
        modes=[c.mode for c in cals],
        all_read_incrementally=all_incremental,
        changed_events=changed_events,
        dry_run=dry_run,
    )
    return (Scope(False, reason) if reason is not None else Scope(True)), fp
