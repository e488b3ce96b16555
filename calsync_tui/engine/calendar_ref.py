"""The one calendar reference and the one enabled-calendar rule (engine and migration).

An enabled calendar is read once per cycle, through one account, even when several
accounts see it: the row with the best access role wins (owner > writer > reader; ties:
the lowest local id). `freeBusyReader` calendars are never enabled calendars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from calsync_tui.engine.model import EngineMode
from local_store.models import Account, Calendar

WRITABLE_ROLES = frozenset({"owner", "writer"})
SOURCE_ROLES = frozenset({"owner", "writer", "reader"})
ROLE_RANK = {"owner": 0, "writer": 1, "reader": 2}

_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CalendarRef:
    """An enabled calendar: local row id, Google id, role, the account that reads it and
    its engine mode (what the planner, the cycle and the migration all work with)."""

    local_id: int
    google_id: str
    access_role: str
    account: str
    mode: EngineMode = EngineMode.UUID
    summary: str = ""
    time_zone: str = "UTC"  # the calendar's zone (all-day events begin at its midnight)

    @property
    def writable(self) -> bool:
        return self.access_role in WRITABLE_ROLES

    @property
    def email(self) -> str:
        """The account's email (the migration's name for `account`)."""
        return self.account

    @property
    def engine_mode(self) -> str:
        return str(self.mode)


def engine_mode_of(value: Any) -> EngineMode:
    """A stored engine mode; anything unknown reads as legacy (the safe mode)."""
    try:
        return EngineMode(value)
    except ValueError:
        return EngineMode.LEGACY


@dataclass(frozen=True)
class EnabledCalendar:
    """An enabled calendar with the read state the cycle needs besides its reference."""

    ref: CalendarRef
    sync_token: str | None
    first_run: bool  # never listed yet (no last_synced_at)
    needs_signin: bool


def enabled_calendar_rows(conn: Any) -> list[EnabledCalendar]:
    """Enabled calendars, one per Google id, the best access role winning across
    accounts; in local id order. `conn` is a Connection or a Session."""
    rows = conn.execute(
        select(_CAL, _ACC.c.email, _ACC.c.needs_signin.label("acc_needs_signin"))
        .join(_ACC, _ACC.c.id == _CAL.c.account_id)
        .where(_CAL.c.enabled.is_(True))
        .order_by(_CAL.c.id)
    ).mappings()
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["access_role"] not in ROLE_RANK:
            continue
        cur = best.get(r["google_id"])
        if cur is None or ROLE_RANK[r["access_role"]] < ROLE_RANK[cur["access_role"]]:
            best[r["google_id"]] = dict(r)
    out = []
    for r in best.values():
        ref = CalendarRef(
            r["id"],
            r["google_id"],
            r["access_role"],
            r["email"],
            engine_mode_of(r["engine_mode"]),
            r["summary"] or "",
            r["time_zone"] or "UTC",
        )
        out.append(
            EnabledCalendar(
                ref, r["sync_token"], r["last_synced_at"] is None, bool(r["acc_needs_signin"])
            )
        )
    return out


def enabled_calendars(conn: Any) -> list[CalendarRef]:
    """The references of `enabled_calendar_rows` (same rule, same order)."""
    return [c.ref for c in enabled_calendar_rows(conn)]
