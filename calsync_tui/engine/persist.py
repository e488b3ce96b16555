"""Stage 3, persist: fold one cycle's classified listings into the stored EventState rows
and save them (one upsert per cycle, before any Google write).

Rows travel as the table's own shape (`state.Row`, a dict per column) so 50,000 of them
load and save in one statement each. `RowSet` holds the rows the cycle plans over, what
changed, and which row owns each correlation id (ids are unique across the store).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update

from calsync_tui.engine.calendar_ref import CalendarRef
from calsync_tui.engine.classify import Seen, classify_stored, fresh_source_id
from calsync_tui.engine.fields import (
    BadEventData,
    mirror_digest,
    outside,
    parse_times,
    same_event_key,
    stored_outside,
    time_columns,
    title_digest,
)
from calsync_tui.engine.fields import title_of as _title
from calsync_tui.engine.foreign import foreign_columns
from calsync_tui.engine.model import CALSYNC_NAMESPACE, EventClass, EventType, Status
from calsync_tui.engine.read import Listing
from calsync_tui.engine.state import Row, as_datetime, upsert_rows
from calsync_tui.engine.window import Window
from calsync_tui.google.types import GoogleEvent
from local_store.models import Calendar

_CAL = Calendar.__table__  # type: ignore[attr-defined]
DELETED_BY_HAND = "deleted by hand"
OUTSIDE_WINDOW = "ignored: outside the window"
_SOURCES = (str(EventClass.NEW_USER_EVENT), str(EventClass.TRACKED_USER_EVENT))
Key = tuple[int, str]


def surrogate_id(calendar_id: int, google_event_id: str) -> str:
    """Row id for events that have no correlation id of their own (legacy, external...)."""
    return str(uuid.uuid5(CALSYNC_NAMESPACE, f"row|{calendar_id}|{google_event_id}"))


class RowSet:
    """The rows one cycle plans over, keyed by (calendar id, Google event id)."""

    def __init__(self, rows: dict[Key, Row], used_ids: dict[str, Key]) -> None:
        self.rows = rows
        self.used_ids = used_ids
        self.changed: dict[Key, Row] = {}
        # Scoped cycles: rows as loaded from the store, before this cycle's changes.
        self.loaded: dict[Key, Row] = {}
        # Full dicts of blocks listed this cycle: the journal's `before` for their writes.
        self.listed: dict[Key, GoogleEvent] = {}
        self.classified: set[Key] = set()

    def keep(self, found: Iterable[Row]) -> list[Row]:
        """Add stored rows not loaded yet (a loaded row may already carry this cycle's
        changes); returns the new ones."""
        new = []
        for r in found:
            key = (r["calendar_id"], r["google_event_id"])
            if key not in self.rows:
                self.rows[key] = r
                self.loaded[key] = r
                new.append(r)
        return new

    def put(self, key: Key, row: Row) -> None:
        self.rows[key] = row
        self.changed[key] = row

    # --- removals --------------------------------------------------------------------

    def removals(
        self,
        cal_id: int,
        seen: list[Seen],
        full: bool,
        span: tuple[datetime, datetime] | None = None,
        slice_span: tuple[datetime, datetime] | None = None,
        zone: str | None = None,
    ) -> list[tuple[Key, bool]]:
        """(row, by hand) pairs a listing removes: cancelled events and the instances of
        cancelled series, and (full listing) rows no longer listed. `span`: the full
        listing's [timeMin, timeMax); a row wholly outside it was not asked for, so its
        absence removes nothing (history behind the window keeps its blocks, and after a
        410 the full listing must not read it as deleted). `slice_span`: a slice listing's
        (the newly entered days, window.py) is a full listing of its span: a row inside it
        that no listing of this cycle holds is gone (deleted while no listing could say
        so, e.g. beyond the listings' reach during a 410). `zone`: the calendar's time zone
        (all-day rows are compared at its midnights, as Google lists them)."""
        out: list[tuple[Key, bool]] = []
        masters: set[str] = set()
        for s in seen:
            if s.cancelled:
                out.append(((cal_id, s.google_event_id), True))
                if not s.event.get("recurringEventId"):
                    masters.add(s.google_event_id)  # a whole series went away
        if masters:
            for k, r in self.rows.items():
                if k[0] == cal_id and r.get("recurring_event_id") in masters:
                    out.append((k, True))
        reach = span if full else slice_span
        if full or slice_span is not None:
            listed = {s.google_event_id for s in seen if not s.cancelled}
            for k, r in self.rows.items():
                if k[0] != cal_id or k[1] in listed:
                    continue
                if reach is not None and stored_outside(r, reach, zone):
                    continue
                out.append((k, False))
        return out

    def removed_sources(self, removals: list[tuple[Key, bool]]) -> int:
        """How many live sources these removals take away (the mass-deletion guard); a
        series counts once, however many of its instances go (one deletion by a person)."""
        keys = {k for k, _ in removals}
        return len(
            {
                r.get("recurring_event_id") or k[1]
                for k in keys
                if (r := self.rows.get(k)) is not None
                and r.get("event_class") in _SOURCES
                and r.get("status") in (str(Status.CREATED), str(Status.SYNCED))
            }
        )

    def apply_removals(self, removals: list[tuple[Key, bool]]) -> None:
        """Applied before any classification, so an event moved between calendars keeps
        its correlation id."""
        for key, by_hand in removals:
            self._gone(key, by_hand=by_hand)

    def _gone(self, key: Key, *, by_hand: bool) -> None:
        row = self.rows.get(key)
        if row is None or row.get("status") == str(Status.DELETED):
            return
        if row.get("status") == str(Status.CREATING):
            return  # our own write in flight (reconcile decides)
        row = dict(row)
        row["status"] = str(Status.DELETED)
        if row.get("event_type") == str(EventType.BUSY_BLOCK):
            row["error"] = DELETED_BY_HAND if by_hand else "missing from full listing"
        self.put(key, row)

    # --- listed events -----------------------------------------------------------------

    def apply_listing(
        self,
        cal: CalendarRef,
        seen: list[Seen],
        now: datetime,
        keep: tuple[datetime, datetime] | None = None,
    ) -> None:
        """Each classified, live listed event becomes its row (correlation ids kept unique).

        `keep` [from, until): an event not stored yet and wholly outside it gets no row (a
        changed series listed for years ahead; window.py lists it when the window nears)."""
        cal_id = cal.local_id
        for s in seen:
            if s.cancelled:
                continue
            event, cls, gid = s.event, s.cls, s.google_event_id
            key = (cal_id, gid)
            old = self.rows.get(key)
            if old is None and keep is not None and _outside(event, keep, cal.time_zone):
                continue
            self.classified.add(key)
            if cls.event_type == EventType.BUSY_BLOCK:
                self.listed[key] = event
            cid = cls.correlation_id
            if cls.event_class in (
                EventClass.LEGACY_BUSY_BLOCK,
                EventClass.EXTERNAL_CALSYNC,
                EventClass.ERROR,
            ):
                cid = None
            reason = cls.reason
            event_class = cls.event_class
            stamped = cls.stamped
            if cid is not None:
                self._release(cid, key)
            if cid is not None and self._taken(cid, key):
                if cls.is_source:
                    # A copy of a stamped event (same calsync_id): a new source of its
                    # own, re-stamped with its deterministic id.
                    cid = fresh_source_id(event, cal.google_id)
                    stamped = False
                    event_class = EventClass.NEW_USER_EVENT
                    if cid is None or self._taken(cid, key):
                        event_class = EventClass.ERROR
                        reason = "duplicate calsync_id"
                        cid = None
                else:  # a copied block or other: its own row id; the plan drops extras
                    cid = None
            if cid is None:
                cid = surrogate_id(cal_id, gid)
            if old is not None and old["correlation_id"] != cid:
                self.used_ids.pop(old["correlation_id"], None)
            self.used_ids[cid] = key
            is_block = cls.event_type == EventType.BUSY_BLOCK
            row: Row = dict(old) if old else {"created_at": now}
            title = _title(event)
            row.update(
                {
                    "correlation_id": cid,
                    "calendar_id": cal_id,
                    "google_event_id": gid,
                    "event_type": str(cls.event_type),
                    "event_class": str(event_class),
                    "created_by_us": bool(old and old.get("created_by_us"))
                    or event_class == EventClass.BUSY_BLOCK,
                    "stamped": stamped
                    or bool(old and old.get("stamped") and old["correlation_id"] == cid),
                    "source_correlation_id": cls.source_correlation_id,
                    "status": str(Status.SYNCED),
                    "recurring_event_id": cls.recurring_event_id,
                    "ical_key": same_event_key(event),
                    "summary": title,
                    "title_hash": mirror_digest(event) if is_block else title_digest(title),
                    "etag": event.get("etag"),
                    "google_updated": event.get("updated"),
                    "error": (
                        reason
                        if event_class == EventClass.ERROR
                        else OUTSIDE_WINDOW
                        if reason == "outside the window"
                        else None
                    ),
                    "last_seen": now,
                    **time_columns(event, cal.time_zone),
                    # adoption (engine.foreign): another installation's markers, if any
                    **foreign_columns(cls),
                }
            )
            self.put(key, row)

    def _taken(self, cid: str, key: Key) -> bool:
        """Is `cid` the id of another live row (correlation ids are unique)?"""
        owner = self.used_ids.get(cid)
        if owner is None or owner == key:
            return False
        other = self.rows.get(owner)
        if other is None:
            return True  # a row of a calendar not in this cycle (disabled): keep it unique
        return other.get("status") != str(Status.DELETED)

    def _release(self, cid: str, key: Key) -> None:
        """A deleted row holding `cid` (the event moved to another calendar) hands it over
        and keeps a row id of its own."""
        owner = self.used_ids.get(cid)
        if owner is None or owner == key:
            return
        other = self.rows.get(owner)
        if other is None or other.get("status") != str(Status.DELETED):
            return
        other = dict(other)
        other["correlation_id"] = surrogate_id(owner[0], owner[1])
        self.put(owner, other)
        self.used_ids[other["correlation_id"]] = owner
        del self.used_ids[cid]

    # --- stored rows -------------------------------------------------------------------

    def rewindow(self, window: Window) -> None:
        """Sources ignored as outside the window come in as the window slides."""
        for key, row in list(self.rows.items()):
            if row.get("error") != OUTSIDE_WINDOW or row.get("status") == str(Status.DELETED):
                continue
            start_utc = as_datetime(row.get("start_utc"))
            if start_utc is None:
                continue
            if window.start <= start_utc < window.end:
                row = dict(row)
                row["event_class"] = str(
                    EventClass.TRACKED_USER_EVENT
                    if row.get("stamped")
                    else EventClass.NEW_USER_EVENT
                )
                row["error"] = None
                self.put(key, row)

    def classify_stored(self, modes: dict[int, CalendarRef], markers: tuple[str, ...]) -> None:
        """Rows not listed this cycle get their class under the calendar's current mode
        (listed ones were classified with it already)."""
        for key, row in list(self.rows.items()):
            cal = modes.get(key[0])
            if cal is None or key in self.classified:
                continue
            cls = classify_stored(
                row.get("event_class"),
                title=row.get("summary") or "",
                stamped=bool(row.get("stamped")),
                has_error=row.get("error") is not None,
                event_type=row.get("event_type"),
                mode=cal.mode,
                markers=markers,
            )
            if cls != row.get("event_class"):
                row = dict(row)
                row["event_class"] = cls
                row["event_type"] = str(
                    EventType.BUSY_BLOCK
                    if cls == str(EventClass.LEGACY_BUSY_BLOCK)
                    else EventType.USER_EVENT
                )
                self.put(key, row)

    def mark_orphans(self, keys: Iterable[Key]) -> None:
        """Blocks the plan deletes as orphans get that class (for display)."""
        for key in keys:
            row = self.rows.get(key)
            if row is not None and row.get("event_class") == str(EventClass.BUSY_BLOCK):
                row["event_class"] = str(EventClass.ORPHANED_BLOCK)
                self.changed[key] = row


def _outside(event: GoogleEvent, keep: tuple[datetime, datetime], zone: str | None) -> bool:
    try:
        start, end = parse_times(event)
    except BadEventData:
        return False  # malformed: stored as an error row, never dropped unseen
    return outside(start, end, keep, zone)


def save(store: Any, rows: RowSet, listings: list[Listing], now: datetime) -> None:
    """The changed rows and each calendar's read outcome (read cursor, mode, error), in
    one transaction. A held listing (guard.py) keeps its old cursor: its changes come
    back next cycle."""
    with store.engine.begin() as conn:
        upsert_rows(conn, list(rows.changed.values()), now)
        for x in listings:
            values: dict[str, Any] = {"last_error": x.error or x.held, "updated_at": now}
            if x.page is not None and x.held is None:
                values.update(
                    sync_token=x.cursor.encode(),
                    last_synced_at=now,
                    last_error=None,
                    engine_mode=str(x.cal.ref.mode),
                )
            conn.execute(update(_CAL).where(_CAL.c.id == x.cal.ref.local_id).values(**values))
