"""Explain one event: its source, the busy block on each target, and every journal entry
that touched any of them. The one lineage reader: `calsync-tui lineage` prints it and the
console's lineage screen draws it.

Which event an id names (always the same answer for the same store):

1. a correlation id names its EventState row;
2. else a Google event id names the rows carrying it. One id can be on several calendars
   (an invitation on two calendars of the same person, copies of one meeting): a live row
   before a deleted one, a source before a block, then the calendar that was seen first
   (lowest local id). The other calendars holding that id are listed in `also_on`;
3. else a recurring series' master id is refused with `SeriesId` (below);
4. else `UnknownEvent`.

Recurring events, the one rule: **lineage is per instance.** The engine lists with
`singleEvents=true`, so each instance in the window is its own source with its own
EventState row (Google id `<master>_<original start>`, correlation id
`instance_correlation_id(series_cid, originalStartTime)`) and its own blocks, whose
`source_correlation_id` is that instance's correlation id. So:

- an instance (by Google id or correlation id) shows that instance and its blocks;
- an exception (an instance moved or retitled) is the same instance: its row carries the
  new time and title, and so do its blocks;
- a cancelled instance keeps its row, marked `deleted`; its blocks are deleted from
  Google, so its lineage shows them `deleted` with the delete in their journal. An
  instance cancelled before it was ever mirrored has no row: it is unknown;
- the series master's id names no single event: it is refused in one line that says how
  many instances are known and names one to ask for instead (the CLI exits 1 with it, the
  console shows it in the lineage view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from calsync_tui.engine.model import EventClass, EventType
from calsync_tui.errors import CalsyncError
from calsync_tui.service.readmodel import EventRow, event_row
from local_store import queries
from local_store.models import EventState, Mutation

# Classes of events this tool (or its predecessor) made to mirror a source.
BLOCK_CLASSES = frozenset(
    {EventClass.BUSY_BLOCK, EventClass.LEGACY_BUSY_BLOCK, EventClass.ORPHANED_BLOCK}
)


class UnknownEvent(CalsyncError):
    """No event, correlation id or series is known by that id."""


class SeriesId(CalsyncError):
    """The id of a recurring series' master: lineage is per instance."""

    def __init__(self, key: str, instances: int, example: str) -> None:
        super().__init__(
            f"{key!r} is a recurring series ({instances} instance(s) known); lineage is "
            f"per instance: pass one instance id, e.g. {example!r}"
        )
        self.instances = instances
        self.example = example


@dataclass(frozen=True)
class JournalEntry:
    id: int
    plan_id: str
    origin: str
    op: str
    status: str
    reason: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plan_id": self.plan_id,
            "origin": self.origin,
            "op": self.op,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(frozen=True)
class EventNode(EventRow):
    """One event as the events list shows it (`readmodel.EventRow`, times as stored) with
    its calendar and journal history; built by the one builder, `readmodel.event_row`."""

    calendar: str = ""  # Google calendar id
    calendar_name: str = ""  # what the person calls it (its summary, else its Google id)
    event_type: str = ""
    recurring_event_id: str | None = None
    journal: tuple[JournalEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "google_event_id": self.google_event_id,
            "correlation_id": self.correlation_id,
            "event_class": self.event_class,
            "event_type": self.event_type,
            "status": self.status,
            "summary": self.summary,
            "start": self.start,
            "end": self.end,
            "source_correlation_id": self.source_correlation_id,
            "error": self.error,
            "journal": [j.to_json() for j in self.journal],
        }


@dataclass(frozen=True)
class Lineage:
    """source -> blocks. `source` is None when only blocks are known (an orphan, or a
    legacy block not linked to a source); `note` then says which."""

    query: str
    source: EventNode | None
    blocks: tuple[EventNode, ...]
    note: str | None = None
    also_on: tuple[str, ...] = field(default=())  # other calendars holding the Google id

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "source": self.source.to_json() if self.source else None,
            "blocks": [b.to_json() for b in self.blocks],
            "note": self.note,
            "also_on": list(self.also_on),
        }


def lineage(session: Session, id_or_google_id: str) -> Lineage:
    """Lineage of a correlation id or a Google event id (see the module's rules);
    `UnknownEvent` / `SeriesId` (both `CalsyncError`) when it names no single event."""
    key = id_or_google_id.strip()
    if not key:
        raise UnknownEvent("lineage needs an event id or a correlation id")
    found, also_on = _find(session, key)
    names = queries.calendar_names(session)
    google_ids = queries.calendar_google_ids(session)
    is_block = found.event_type == EventType.BUSY_BLOCK or found.event_class in BLOCK_CLASSES
    source: EventState | None = found
    note = None
    if is_block:
        source = None
        if found.source_correlation_id:
            source = session.get(EventState, found.source_correlation_id)
            if source is None:
                note = "the block's source is gone (an orphan: the next cycle deletes it)"
        else:
            note = (
                "a legacy block not linked to any source: the migration's prepare step links "
                "legacy blocks (or lists them as orphans, duplicates or cascades)"
            )
    source_cid = source.correlation_id if source else found.source_correlation_id
    rows = queries.blocks_of(session, source_cid) if source_cid else []
    if is_block and all(b.correlation_id != found.correlation_id for b in rows):
        rows.append(found)
    everything = ([source] if source else []) + rows
    journal = queries.journal_of(session, everything)

    def node(e: EventState) -> EventNode:
        return _node(e, names, google_ids, journal)

    return Lineage(
        query=key,
        source=node(source) if source else None,
        blocks=tuple(node(b) for b in rows),
        note=note,
        also_on=tuple(google_ids.get(c, str(c)) for c in also_on),
    )


def _find(session: Session, key: str) -> tuple[EventState, list[int]]:
    """The row `key` names and the other calendars (local ids) holding that Google id."""
    found = session.get(EventState, key)
    if found is not None:
        return found, []
    rows = queries.events_by_google_id(session, key)
    if rows:
        rows.sort(
            key=lambda r: (
                r.status == queries.GONE_STATUS,
                r.event_type != EventType.USER_EVENT,
                r.calendar_id,
            )
        )
        others = sorted({r.calendar_id for r in rows[1:]} - {rows[0].calendar_id})
        return rows[0], others
    instances = queries.series_instances(session, key)
    if instances:
        raise SeriesId(key, len(instances), instances[0].google_event_id)
    raise UnknownEvent(f"no event known with id {key!r} (run `calsync-tui sync` first?)")


def _node(
    e: EventState,
    names: dict[int, str],
    google_ids: dict[int, str],
    journal: list[Mutation],
) -> EventNode:
    entries = tuple(
        JournalEntry(
            m.id or 0,
            m.plan_id,
            m.origin,
            m.op,
            m.status,
            m.reason,
            m.attempts,
            m.error,
            m.created_at,
            m.updated_at,
        )
        for m in journal
        if m.correlation_id == e.correlation_id
        or (m.calendar_id, m.google_event_id) == (e.calendar_id, e.google_event_id)
    )
    return event_row(
        e,
        cls=EventNode,
        calendar=google_ids.get(e.calendar_id, str(e.calendar_id)),
        calendar_name=names.get(e.calendar_id, str(e.calendar_id)),
        event_type=e.event_type,
        recurring_event_id=e.recurring_event_id,
        journal=entries,
    )
