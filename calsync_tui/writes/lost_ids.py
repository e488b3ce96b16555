"""Block ids that can never be used again are replaced by the next generation.

Google never frees an event id. When an insert answers 409 and the existing event can
neither be read (404: purged from the trash) nor revived (403: the person deleted it in
the web UI; the gateway answers `reason="idLost"`), the block is re-created under the
next generation of its id (`ids.event_id_for(correlation id, n + 1)`). The generation is
journaled before the insert — in one transaction: the old row recorded failed, the
block's EventState moved to the new id with its generation, a new `pending` insert —
so a crash at any point converges: before that commit the old insert is re-sent and
lost again (the same next id, deterministically); after it the new insert is re-sent
(409 adopted if it landed). Never a duplicate, never retried forever.

An insert planned under an older generation (the planner derives generation 0) is
retargeted to the generation in use before it is journaled (`current_generation`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, select, update

from calsync_tui.writes.ids import correlation_of, event_id_for, generation_of
from calsync_tui.writes.record import Op, Record, Write
from local_store.models import EventState

MAX_GENERATION = 50  # far beyond any real history; a guard against a loop, not a limit
_ES = EventState.__table__  # type: ignore[attr-defined]
# Ids not made by `event_id_for` (an event rollback re-creates keeps no correlation id):
# their generations derive from a stable uuid of calendar + id.
_FOREIGN = uuid.UUID("8d2c4a0e-3b1f-4f6a-9c1d-5e7b2a9f0c33")


def is_lost(record: Record, reason: str | None) -> bool:
    return record.write.call == "insert" and reason == "idLost"


def next_id(calendar_google_id: str, event_id: str) -> tuple[str, int] | None:
    """The next generation's id of `event_id`, and that generation (None past the guard)."""
    cid = correlation_of(event_id)
    gen = generation_of(event_id)
    if cid is None or gen is None:
        cid, gen = str(uuid.uuid5(_FOREIGN, f"{calendar_google_id}|{event_id}")), 0
    if gen + 1 > MAX_GENERATION:
        return None
    return event_id_for(cid, gen + 1), gen + 1


def replacement(record: Record, calendar_google_id: str) -> tuple[Write, int] | None:
    """The same insert under the next generation of its id."""
    got = next_id(calendar_google_id, record.google_event_id)
    if got is None:
        return None
    new_id, gen = got
    old = record.google_event_id
    write = record.write.retargeted(new_id)
    reason = f"{record.write.reason} (id {old} lost for good: generation {gen})".strip()
    return replace(write, reason=reason), gen


def move_block(conn: Connection, record: Record, new_id: str, generation: int) -> None:
    """The block's EventState follows it to its new id, `creating` (before the insert)."""
    if record.write.correlation_id is None:
        return
    conn.execute(
        update(_ES)
        .where(
            _ES.c.correlation_id == record.write.correlation_id,
            _ES.c.calendar_id == record.calendar_id,
        )
        .values(google_event_id=new_id, generation=generation, status="creating", error=None)
    )


def stamp_generation(conn: Connection, calendar_id: int, event_id: str, generation: int) -> None:
    """The generation in use, on the block's row under its new id (however the origin
    wrote that row)."""
    conn.execute(
        update(_ES)
        .where(_ES.c.calendar_id == calendar_id, _ES.c.google_event_id == event_id)
        .values(generation=generation)
    )


def current_generation(conn: Connection, writes: Sequence[Write]) -> list[Write]:
    """Inserts planned under an older generation of a block's id, retargeted to the
    generation the store says is in use (the one a lost id was replaced with)."""
    cids = [w.correlation_id for w in writes if w.op == Op.INSERT and w.correlation_id]
    if not cids:
        return list(writes)
    rows = conn.execute(
        select(_ES.c.correlation_id, _ES.c.calendar_id, _ES.c.google_event_id).where(
            _ES.c.correlation_id.in_(cids)
        )
    ).all()
    in_use = {(r[0], r[1]): r[2] for r in rows}
    out = []
    for w in writes:
        have = in_use.get((w.correlation_id or "", w.calendar_id))
        if (
            w.op == Op.INSERT
            and have is not None
            and have != w.google_event_id
            and correlation_of(have) == correlation_of(w.google_event_id) is not None
            and (generation_of(have) or 0) > (generation_of(w.google_event_id) or 0)
        ):
            w = w.retargeted(have)
        out.append(w)
    return out
