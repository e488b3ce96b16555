"""Calendar list refresh and enable/disable: what `calendars` and the TUI call.

Enabling resets the sync token (a full listing follows: nothing was tracked while it was
off). Disabling can remove the calendar's busy blocks through a journaled plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calsync_tui import clock
from calsync_tui.engine.execute import ExecuteReport, execute_plan
from calsync_tui.engine.model import EventClass, EventType, Op, Status
from calsync_tui.engine.plan import Plan, PlannedMutation
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway
from local_store.models import Account, Calendar, EventState

_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]
WRITABLE = ("owner", "writer")


@dataclass(frozen=True)
class CalendarRow:
    google_id: str
    summary: str
    account: str
    access_role: str
    enabled: bool
    engine_mode: str
    primary: bool
    last_synced_at: datetime | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "google_id": self.google_id,
            "summary": self.summary,
            "account": self.account,
            "access_role": self.access_role,
            "enabled": self.enabled,
            "engine_mode": self.engine_mode,
            "primary": self.primary,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
            "last_error": self.last_error,
        }


def refresh_calendars(
    store: Any, gateway_for: Callable[[str], Gateway], *, now: datetime | None = None
) -> list[str]:
    """Fetch each account's calendar list into the store; returns per-account errors."""
    when = now or clock.now()
    with store.engine.connect() as conn:
        accounts = conn.execute(select(_ACC.c.id, _ACC.c.email).order_by(_ACC.c.id)).all()
    errors: list[str] = []
    for acc_id, email in accounts:
        try:
            infos = gateway_for(email).list_calendars()
        except CalsyncError as exc:
            errors.append(str(exc))
            continue
        rows = [
            {
                "account_id": acc_id,
                "google_id": i.google_id,
                "summary": i.summary,
                "time_zone": i.time_zone,
                "access_role": i.access_role,
                "primary": i.primary,
                "enabled": False,
                "engine_mode": "uuid",
                "created_at": when,
                "updated_at": when,
            }
            for i in infos
        ]
        if not rows:
            continue
        stmt = sqlite_insert(_CAL)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_id", "google_id"],
            set_={
                "summary": stmt.excluded.summary,
                "time_zone": stmt.excluded.time_zone,
                "access_role": stmt.excluded.access_role,
                "primary": stmt.excluded.primary,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        with store.engine.begin() as conn:
            conn.execute(stmt, rows)
    return errors


def list_calendars(store: Any) -> list[CalendarRow]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(_CAL, _ACC.c.email)
            .join(_ACC, _ACC.c.id == _CAL.c.account_id)
            .order_by(_ACC.c.email, _CAL.c.google_id)
        ).mappings()
        return [
            CalendarRow(
                r["google_id"],
                r["summary"],
                r["email"],
                r["access_role"],
                bool(r["enabled"]),
                r["engine_mode"],
                bool(r["primary"]),
                r["last_synced_at"],
                r["last_error"],
            )
            for r in rows
        ]


def set_enabled(store: Any, google_ids: Sequence[str], enabled: bool) -> list[str]:
    """Enable or disable calendars by Google id (every account's row of it).

    Unknown ids, or enabling a calendar we cannot read events of, raise CalsyncError and
    change nothing.
    """
    wanted = list(dict.fromkeys(g.strip() for g in google_ids))
    readable = ("owner", "writer", "reader")
    now = clock.now()
    with store.engine.begin() as conn:
        known: dict[str, set[str]] = {}
        query = select(_CAL.c.google_id, _CAL.c.access_role).where(_CAL.c.google_id.in_(wanted))
        for gid, role in conn.execute(query):
            known.setdefault(gid, set()).add(role)
        missing = [g for g in wanted if g not in known]
        if missing:
            raise CalsyncError(
                f"unknown calendar id {missing[0]!r}; see `calsync-tui calendars list`"
            )
        if not enabled:
            conn.execute(
                update(_CAL)
                .where(_CAL.c.google_id.in_(wanted))
                .values(enabled=False, updated_at=now)
            )
            return wanted
        bad = [g for g in wanted if not known[g] & set(readable)]
        if bad:
            raise CalsyncError(f"calendar {bad[0]!r} only shows free/busy: it cannot be mirrored")
        # Only the rows whose account can read events. Nothing was tracked while off, so
        # the sync token goes: the next cycle does a full listing.
        conn.execute(
            update(_CAL)
            .where(_CAL.c.google_id.in_(wanted), _CAL.c.access_role.in_(readable))
            .values(enabled=True, sync_token=None, updated_at=now)
        )
    return wanted


def remove_blocks_plan(store: Any, google_id: str) -> Plan:
    """Delete every busy block of ours that lives on this calendar (journaled)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(_ES, _CAL.c.google_id.label("cal_google_id"), _ACC.c.email)
            .join(_CAL, _CAL.c.id == _ES.c.calendar_id)
            .join(_ACC, _ACC.c.id == _CAL.c.account_id)
            .where(_CAL.c.google_id == google_id)
            .where(_CAL.c.access_role.in_(WRITABLE))
            .where(_ES.c.event_type == str(EventType.BUSY_BLOCK))
            .where(
                _ES.c.event_class.in_([str(EventClass.BUSY_BLOCK), str(EventClass.ORPHANED_BLOCK)])
            )
            .where(
                _ES.c.status.in_([str(Status.CREATED), str(Status.SYNCED), str(Status.CREATING)])
            )
        ).mappings()
        muts = [
            PlannedMutation(
                Op.DELETE,
                r["cal_google_id"],
                r["calendar_id"],
                r["email"],
                r["google_event_id"],
                r["correlation_id"],
                r["source_correlation_id"],
                None,
                {"id": r["google_event_id"], "summary": r["summary"]},
                "calendar disabled: remove its busy blocks",
            )
            for r in rows
        ]
    return Plan.of(muts)


def remove_blocks(
    store: Any, google_id: str, gateway_for: Callable[[str], Gateway], *, batch_size: int
) -> ExecuteReport:
    plan = remove_blocks_plan(store, google_id)
    accounts = {m.account for m in plan.mutations}
    gateways = {a: gateway_for(a) for a in accounts}
    return execute_plan(
        store,
        plan.mutations,
        gateways,
        plan_id=plan.plan_id,
        batch_size=batch_size,
        now=clock.now,
    )
