"""Google's usage limit (403 quotaExceeded): the account's writes pause, visibly.

The limit is sticky (the account is read-only for hours), so retrying inside it only
wastes calls. On the first quotaExceeded of a batch the account's writes stop: nothing
more of that batch is sent, no new batch, the unsent rows stay `pending`. A pause-until
time is stored on the account: an hour, doubling with each trip in a row, capped at a
day. Until then no write goes out for that account; after it, the first batch is a
single probe write, and the first write Google accepts clears the lockout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlmodel import Session

from local_store.models import Account

QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
NOT_SENT = "notSent"
FIRST_PAUSE = timedelta(hours=1)
MAX_PAUSE = timedelta(days=1)
_ACC = Account.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Lockout:
    account: str
    until: datetime
    level: int

    def active(self, now: datetime) -> bool:
        return now < self.until


def lockout_of(conn: Connection, account: str) -> Lockout | None:
    row = conn.execute(
        select(_ACC.c.writes_paused_until, _ACC.c.lockout_level).where(_ACC.c.email == account)
    ).first()
    if row is None or row[0] is None:
        return None
    until = row[0] if row[0].tzinfo else row[0].replace(tzinfo=UTC)
    return Lockout(account, until, int(row[1] or 0))


def paused_accounts(session: Session) -> list[Lockout]:
    """Every account with a lockout on record (paused, or waiting for its probe)."""
    rows = (
        session.connection()
        .execute(
            select(_ACC.c.email, _ACC.c.writes_paused_until, _ACC.c.lockout_level)
            .where(_ACC.c.writes_paused_until.is_not(None))
            .order_by(_ACC.c.email)
        )
        .all()
    )
    return [
        Lockout(r[0], r[1] if r[1].tzinfo else r[1].replace(tzinfo=UTC), int(r[2] or 0))
        for r in rows
    ]


def pause_for(level: int) -> timedelta:
    """An hour for the first trip, doubling with each one in a row, at most a day."""
    pause: timedelta = FIRST_PAUSE * (2 ** max(level - 1, 0))
    return min(pause, MAX_PAUSE)


def trip(conn: Connection, account: str, now: datetime) -> Lockout:
    """One more trip in a row: store the new pause-until time."""
    current = lockout_of(conn, account)
    level = (current.level if current else 0) + 1
    until = now + pause_for(level)
    conn.execute(
        update(_ACC)
        .where(_ACC.c.email == account)
        .values(writes_paused_until=until, lockout_level=level, updated_at=now)
    )
    return Lockout(account, until, level)


def clear(conn: Connection, account: str, now: datetime) -> None:
    conn.execute(
        update(_ACC)
        .where(_ACC.c.email == account)
        .values(writes_paused_until=None, lockout_level=0, updated_at=now)
    )


def pause_line(account: str, until: datetime, now: datetime) -> str:
    """The one line the user sees."""
    local = until.astimezone()
    when = local.strftime("%H:%M")
    if local.date() != now.astimezone().date():
        when = f"{local:%b} {local.day} {local:%H:%M}"  # Dec 2 00:10 (not "Dec 2 0:10")
    return (
        f"Google's usage limit for {account} reached: writes paused until {when}; "
        "nothing lost; run again later"
    )
