"""Guard against mass deletion (vdirsyncer's `StorageEmpty`, OutlookGoogleCalendarSync's
bulk-delete warning).

When a calendar's listing suddenly lacks most of its previously seen sources (more than
`MIN_SOURCES` and over half of them), or a full listing comes back empty where there
were events, the cycle does not believe it: that calendar's listing is not applied
(nothing is deleted, its blocks elsewhere stay, its read cursor is not advanced so the
same changes come back next cycle), and an Alert of kind `mass_deletion` waits for the
user. `confirm_deletions` (the console's key, `sync --confirm-deletions`) turns open
holds into `mass_deletion_confirmed`; the next cycle that reads the calendar lets the
deletions through and marks the alert `mass_deletion_applied`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from calsync_tui.engine.fields import stored_outside
from calsync_tui.engine.model import EventClass, Status
from local_store.models import Alert, EventState

MIN_SOURCES = 10
HELD = "mass_deletion"
CONFIRMED = "mass_deletion_confirmed"
APPLIED = "mass_deletion_applied"
CLEARED = "mass_deletion_cleared"  # the listing looked ordinary again before any confirm
_ALERT = Alert.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]
_SOURCES = (str(EventClass.NEW_USER_EVENT), str(EventClass.TRACKED_USER_EVENT))
_SEEN = (str(Status.CREATED), str(Status.SYNCED))


@dataclass(frozen=True)
class Hold:
    """Deletions of one calendar the cycle did not apply."""

    calendar_id: int
    calendar: str  # Google id
    gone: int  # sources (or, for an empty full listing, events) the listing lacks
    seen: int  # live sources (events) stored before

    def message(self) -> str:
        what = "events" if self.gone == self.seen and self.gone else "sources"
        return (
            f"{self.calendar}: the listing lacks {self.gone} of {self.seen} {what} seen before; "
            "their blocks are kept until you confirm: calsync-tui sync --confirm-deletions "
            "(or the console's confirm key)"
        )


def live_counts(
    conn: Any,
    calendar_id: int,
    span: tuple[datetime, datetime] | None = None,
    zone: str | None = None,
) -> tuple[int, int]:
    """(live sources, live rows) stored for a calendar: rows Google confirmed (a
    `failed` or `creating` block is no evidence of an event there). `span`: only rows a
    listing over it would return (history behind the window is not expected back)."""
    rows = conn.execute(
        select(
            _ES.c.event_class,
            _ES.c.recurring_event_id,
            _ES.c.google_event_id,
            _ES.c.start,
            _ES.c.end,
            _ES.c.all_day,
            _ES.c.time_zone,
        ).where(_ES.c.calendar_id == calendar_id, _ES.c.status.in_(_SEEN))
    ).mappings()
    inside = [r for r in rows if span is None or not stored_outside(r, span, zone)]
    # a series counts once, as in RowSet.removed_sources
    sources = {
        r["recurring_event_id"] or r["google_event_id"]
        for r in inside
        if r["event_class"] in _SOURCES
    }
    return len(sources), len(inside)


def check(
    conn: Any,
    calendar_id: int,
    calendar: str,
    *,
    removed_sources: int,
    full: bool,
    listed_live: int,
    span: tuple[datetime, datetime] | None = None,
    zone: str | None = None,
) -> Hold | None:
    """A hold when this listing would remove too much; None when it looks ordinary."""
    if full and listed_live == 0:
        # Only a person's events vanishing is a deletion to doubt: when the calendar held
        # nothing but our own blocks (a person deleted them, the trash was purged), an
        # empty listing deletes nothing elsewhere, and the blocks must come back.
        sources, rows = live_counts(conn, calendar_id, span, zone)
        return Hold(calendar_id, calendar, rows, rows) if sources else None
    if removed_sources <= MIN_SOURCES:
        return None
    sources, _rows = live_counts(conn, calendar_id, span, zone)
    if removed_sources * 2 > sources:
        return Hold(calendar_id, calendar, removed_sources, sources)
    return None


@dataclass(frozen=True)
class Pending:
    """Alerts of the guard still in play, read once at the start of a cycle."""

    open: frozenset[int] = frozenset()  # calendars with an unacknowledged hold alert
    held: frozenset[int] = frozenset()  # calendars with any hold alert
    confirmed: frozenset[int] = frozenset()  # calendars whose deletions the user confirmed


def pending(conn: Any) -> Pending:
    rows = conn.execute(
        select(_ALERT.c.calendar_id, _ALERT.c.kind, _ALERT.c.acknowledged).where(
            _ALERT.c.kind.in_((HELD, CONFIRMED)), _ALERT.c.calendar_id.is_not(None)
        )
    ).all()
    return Pending(
        frozenset(int(c) for c, k, a in rows if k == HELD and not a),
        frozenset(int(c) for c, k, _ in rows if k == HELD),
        frozenset(int(c) for c, k, _ in rows if k == CONFIRMED),
    )


def record(
    store: Any, holds: Iterable[Hold], applied: Collection[int], state: Pending, now: datetime
) -> None:
    """Raise an alert per new hold (one open alert per calendar); for calendars whose
    listing was applied this cycle, confirmed holds become applied and holds the listing
    no longer justifies are cleared."""
    holds = [h for h in holds if h.calendar_id not in state.open]
    done = sorted(set(applied) & (state.held | state.confirmed))
    if not holds and not done:
        return
    with store.engine.begin() as conn:
        for h in holds:
            conn.execute(
                insert(_ALERT).values(
                    created_at=now,
                    level="warning",
                    kind=HELD,
                    message=h.message(),
                    calendar_id=h.calendar_id,
                    acknowledged=False,
                )
            )
        if done:
            conn.execute(
                update(_ALERT)
                .where(_ALERT.c.kind == CONFIRMED, _ALERT.c.calendar_id.in_(done))
                .values(kind=APPLIED)
            )
            conn.execute(
                update(_ALERT)
                .where(_ALERT.c.kind == HELD, _ALERT.c.calendar_id.in_(done))
                .values(kind=CLEARED, acknowledged=True)
            )


def confirm_deletions(store: Any, calendar_ids: Collection[int] | None = None) -> int:
    """The user's go-ahead for held deletions (all, or these local calendar ids): the
    next cycle applies them. Returns how many holds were confirmed."""
    with store.engine.begin() as conn:
        stmt = update(_ALERT).where(_ALERT.c.kind == HELD)
        if calendar_ids is not None:
            stmt = stmt.where(_ALERT.c.calendar_id.in_(sorted(calendar_ids)))
        res = conn.execute(stmt.values(kind=CONFIRMED, acknowledged=True))
        return int(res.rowcount or 0)


def held(store: Any) -> list[tuple[int, str]]:
    """Open holds: (local calendar id, message), for `status` and the console."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(_ALERT.c.calendar_id, _ALERT.c.message)
            .where(_ALERT.c.kind == HELD)
            .order_by(_ALERT.c.id)
        ).all()
    return [(int(c), str(m)) for c, m in rows if c is not None]
