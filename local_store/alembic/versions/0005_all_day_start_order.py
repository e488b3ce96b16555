"""All-day rows start at midnight in their calendar's zone, not at UTC midnight.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:10:00

Since the defect-12 fix the engine stores an all-day event's `start_utc` as the instant
its date begins in the calendar's time zone (`calsync_tui.engine.fields.start_key`), so
lists ordered by start put an all-day 11-26 after 11-25 21:45 in Europe/Berlin, as a
person sees them. Rows written before keep UTC midnight until Google lists their event
again, which for an unchanged event may be never (incremental listings skip it). This
revision rewrites those rows once. Downgrade gives back UTC midnight. Pure data: the
index `ix_eventstate_calendar_start` keeps serving the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# How SQLAlchemy's SQLite DateTime stores a (UTC) datetime.
_STORED = "%Y-%m-%d %H:%M:%S.%f"


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _rewrite(in_calendar_zone: bool) -> None:
    """Set `start_utc` of every all-day row from its `start` date: midnight in the
    calendar's zone (upgrade) or UTC midnight (downgrade). Rows whose date does not
    parse keep what they have (the engine stored them as it could)."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT e.rowid, e.start, c.time_zone FROM eventstate e "
            "JOIN calendar c ON c.id = e.calendar_id WHERE e.all_day = 1"
        )
    ).all()
    for row_id, start, zone in rows:
        try:
            day = date.fromisoformat(str(start)[:10])
        except ValueError:
            continue
        tz = _zone(zone) if in_calendar_zone else UTC
        instant = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        conn.execute(
            sa.text("UPDATE eventstate SET start_utc = :s WHERE rowid = :i"),
            {"s": instant.strftime(_STORED), "i": row_id},
        )


def upgrade() -> None:
    _rewrite(in_calendar_zone=True)


def downgrade() -> None:
    _rewrite(in_calendar_zone=False)
