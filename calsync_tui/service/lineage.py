"""Explain one event: its source, the blocks mirroring it on each target, and every
journal entry that touched any of them. Used by `calsync-tui lineage` and the TUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from calsync_tui.errors import CalsyncError
from local_store.models import Calendar, EventState, Mutation


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
    created_at: datetime | None
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
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass
class EventNode:
    """One EventState row with its calendar and journal history."""

    calendar: str  # Google calendar id
    calendar_id: int
    google_event_id: str
    correlation_id: str
    event_class: str
    event_type: str
    status: str
    summary: str
    start: str
    end: str
    source_correlation_id: str | None
    error: str | None
    journal: list[JournalEntry] = field(default_factory=list)

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


@dataclass
class Lineage:
    """source -> blocks. `source` is None when only an orphan block is known."""

    query: str
    source: EventNode | None
    blocks: list[EventNode]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "source": self.source.to_json() if self.source else None,
            "blocks": [b.to_json() for b in self.blocks],
        }


def _node(state: EventState, calendars: dict[int, str]) -> EventNode:
    return EventNode(
        calendar=calendars.get(state.calendar_id, str(state.calendar_id)),
        calendar_id=state.calendar_id,
        google_event_id=state.google_event_id,
        correlation_id=state.correlation_id,
        event_class=state.event_class,
        event_type=state.event_type,
        status=state.status,
        summary=state.summary,
        start=state.start,
        end=state.end,
        source_correlation_id=state.source_correlation_id,
        error=state.error,
    )


def lineage(session: Session, id_or_google_id: str) -> Lineage:
    """Lineage of a correlation id or a Google event id; CalsyncError when unknown."""
    key = id_or_google_id.strip()
    if not key:
        raise CalsyncError("lineage needs an event id or a correlation id")
    found = session.get(EventState, key)
    if found is None:
        rows = list(session.exec(select(EventState).where(EventState.google_event_id == key)).all())
        if not rows:
            instance = session.exec(
                select(EventState).where(EventState.recurring_event_id == key)
            ).first()
            if instance is not None:
                raise CalsyncError(
                    f"{key!r} is a recurring series; pass one instance id, e.g. "
                    f"{instance.google_event_id!r}"
                )
            raise CalsyncError(f"no event known with id {key!r} (run `calsync-tui sync` first?)")
        rows.sort(key=lambda r: (r.event_type != "user_event", r.status == "deleted"))
        found = rows[0]
    calendars = {
        c.id: c.google_id for c in session.exec(select(Calendar)).all() if c.id is not None
    }
    source_state: EventState | None = found
    if found.event_type == "busy_block":
        source_state = (
            session.get(EventState, found.source_correlation_id)
            if found.source_correlation_id
            else None
        )
    source_cid = source_state.correlation_id if source_state else found.source_correlation_id
    blocks: list[EventState] = []
    if source_cid:
        blocks = list(
            session.exec(
                select(EventState)
                .where(EventState.source_correlation_id == source_cid)
                .order_by(col(EventState.calendar_id))
            ).all()
        )
    if found.event_type == "busy_block" and all(
        b.correlation_id != found.correlation_id for b in blocks
    ):
        blocks.append(found)
    nodes = [_node(b, calendars) for b in blocks]
    source = _node(source_state, calendars) if source_state else None
    everything = ([source] if source else []) + nodes
    if everything:
        conds = [
            and_(
                col(Mutation.calendar_id) == n.calendar_id,
                col(Mutation.google_event_id) == n.google_event_id,
            )
            for n in everything
        ]
        cids = [n.correlation_id for n in everything]
        entries = session.exec(
            select(Mutation)
            .where(or_(col(Mutation.correlation_id).in_(cids), *conds))
            .order_by(col(Mutation.id))
        ).all()
        for m in entries:
            entry = JournalEntry(
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
            for n in everything:
                if (n.calendar_id, n.google_event_id) == (m.calendar_id, m.google_event_id) or (
                    m.correlation_id == n.correlation_id
                ):
                    n.journal.append(entry)
                    break
    return Lineage(key, source, nodes)
