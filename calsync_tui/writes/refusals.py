"""Writes Google refuses for good, remembered against the event they were refused for.

A refusal is any 4xx answer except the ones handled elsewhere: rate limits (403/429
rateLimitExceeded, userRateLimitExceeded: backed off and retried), the usage limit (403
quotaExceeded: the account pauses), 401 (sign in again), 409 on insert (a lost id gets a
new generation), 412 (re-read and re-applied by the gateway), 404/410 on delete (done).
Examples: an invitation whose organizer is outside the account (403
forbiddenForNonOrganizer), a birthday event (400: no private properties allowed).

The refusal (Google's reason) is stored on the event's EventState row — for a series
master, on its instances' rows — with the version it applies to (Google's `updated`,
else the etag). Until that event changes on Google's side the same write is not sent
again; refusals are not failures (no error rate, no auto-rollback). Inserts are never
held: a block's insert is the write path's own business (lost ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update
from sqlmodel import Session

from calsync_tui.google.types import WriteResult
from local_store.models import Calendar, EventState

RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_ES = EventState.__table__  # type: ignore[attr-defined]
_CAL = Calendar.__table__  # type: ignore[attr-defined]

ADVICE = {
    "forbiddenForNonOrganizer": (
        "the organizer is outside your account, so Google lets only them change it; "
        "it is still mirrored, nothing to do (or ask the organizer to let guests modify it)"
    ),
    "forbidden": ("you may not change this event on Google; it is still mirrored, nothing to do"),
    "requiredAccessLevel": (
        "this calendar is read-only for the account; its events are still mirrored"
    ),
    "invalid": (
        "Google does not accept this change for this kind of event; it is still mirrored, "
        "nothing to do"
    ),
}
DEFAULT_ADVICE = (
    "Google refused this change; it is tried again when the event changes on Google "
    "(edit the event to retry now)"
)


def is_refusal(call: str, res: WriteResult) -> bool:
    """Whether Google refused this write for good (see the module docstring)."""
    if res.ok or not 400 <= res.status < 500:
        return False
    if res.status == 401 or res.reason in RATE_REASONS | QUOTA_REASONS or res.status == 429:
        return False
    if res.reason in ("idLost", "notSent"):
        return False
    if call == "insert":  # 409 and every other insert answer: the lost-id path or a failure
        return False
    return res.status not in (409, 412)


def _version(row: Any) -> str | None:
    value = row.google_updated or row.etag
    return None if value is None else str(value)


def remember(
    conn: Connection, refused: Sequence[tuple[int, str, WriteResult]], now: datetime
) -> None:
    """Store each refusal (calendar_id, event id, answer) on the event's row, or on the
    rows of its instances when the event is a series master with no row of its own."""
    for cal_id, event_id, res in refused:
        reason = res.reason or f"http{res.status}"
        rows = conn.execute(
            select(_ES.c.correlation_id, _ES.c.google_updated, _ES.c.etag).where(
                _ES.c.calendar_id == cal_id, _ES.c.google_event_id == event_id
            )
        ).all()
        if not rows:
            rows = conn.execute(
                select(_ES.c.correlation_id, _ES.c.google_updated, _ES.c.etag).where(
                    _ES.c.calendar_id == cal_id, _ES.c.recurring_event_id == event_id
                )
            ).all()
        if not rows:
            continue
        conn.execute(
            update(_ES)
            .where(_ES.c.correlation_id == bindparam("k"))
            .values(refusal_reason=reason, refusal_version=bindparam("v"), refused_at=now),
            [{"k": r.correlation_id, "v": _version(r)} for r in rows],
        )


def forget(conn: Connection, accepted: Sequence[tuple[int, str]]) -> None:
    """A write to these events was accepted: their refusals no longer stand."""
    if not accepted:
        return
    conds = [
        and_(
            _ES.c.calendar_id == cal_id,
            or_(_ES.c.google_event_id == event_id, _ES.c.recurring_event_id == event_id),
        )
        for cal_id, event_id in accepted
    ]
    conn.execute(
        update(_ES)
        .where(_ES.c.refusal_reason.is_not(None))
        .where(or_(*conds))
        .values(refusal_reason=None, refusal_version=None, refused_at=None)
    )


def recorded(conn: Connection) -> set[tuple[int, str]]:
    """(calendar_id, event id) pairs with any refusal on record, standing or lapsed (and
    their series masters): the writes whose acceptance must clear it."""
    rows = conn.execute(
        select(_ES.c.calendar_id, _ES.c.google_event_id, _ES.c.recurring_event_id).where(
            _ES.c.refusal_reason.is_not(None)
        )
    ).all()
    out = {(r[0], r[1]) for r in rows}
    out |= {(r[0], r[2]) for r in rows if r[2]}
    return out


def standing(conn: Connection) -> set[tuple[int, str]]:
    """(calendar_id, event id) pairs whose writes are held: a refusal recorded for the
    version of the event we still see. A master is held while any of its instances is."""
    rows = conn.execute(
        select(
            _ES.c.calendar_id,
            _ES.c.google_event_id,
            _ES.c.recurring_event_id,
            _ES.c.refusal_version,
            _ES.c.google_updated,
            _ES.c.etag,
        ).where(_ES.c.refusal_reason.is_not(None))
    ).all()
    out: set[tuple[int, str]] = set()
    for r in rows:
        if r.refusal_version != (r.google_updated or r.etag):
            continue  # the event changed on Google since: try again
        out.add((r.calendar_id, r.google_event_id))
        if r.recurring_event_id:
            out.add((r.calendar_id, r.recurring_event_id))
    return out


@dataclass(frozen=True)
class Refusal:
    """One standing refusal, for `status` and the console."""

    calendar: str  # the calendar's name (its Google id when it has none)
    calendar_id: str  # Google id
    event_title: str
    event_id: str
    reason: str  # Google's reason, e.g. forbiddenForNonOrganizer
    advice: str  # what the user can do
    refused_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "calendar_id": self.calendar_id,
            "event_title": self.event_title,
            "event_id": self.event_id,
            "reason": self.reason,
            "advice": self.advice,
            "refused_at": self.refused_at.isoformat() if self.refused_at else None,
        }


def refusals(session: Session) -> list[Refusal]:
    """Every standing refusal, one per event (a series once), by calendar and title."""
    rows = (
        session.connection()
        .execute(
            select(
                _ES.c.google_event_id,
                _ES.c.recurring_event_id,
                _ES.c.summary,
                _ES.c.refusal_reason,
                _ES.c.refusal_version,
                _ES.c.google_updated,
                _ES.c.etag,
                _ES.c.refused_at,
                _CAL.c.google_id,
                _CAL.c.summary.label("calendar_summary"),
            )
            .join(_CAL, _CAL.c.id == _ES.c.calendar_id)
            .where(_ES.c.refusal_reason.is_not(None))
        )
        .all()
    )
    seen: set[tuple[str, str]] = set()
    out: list[Refusal] = []
    for r in rows:
        if r.refusal_version != (r.google_updated or r.etag):
            continue
        event = r.recurring_event_id or r.google_event_id
        if (r.google_id, event) in seen:
            continue
        seen.add((r.google_id, event))
        out.append(
            Refusal(
                calendar=r.calendar_summary or r.google_id,
                calendar_id=r.google_id,
                event_title=r.summary or "(no title)",
                event_id=event,
                reason=r.refusal_reason,
                advice=ADVICE.get(r.refusal_reason, DEFAULT_ADVICE),
                refused_at=r.refused_at,
            )
        )
    return sorted(out, key=lambda x: (x.calendar, x.event_title, x.event_id))
