"""Resolve what a crash left behind: `pending` journal rows and `creating` states.

The journal's leftovers are settled by the write path (`calsync_tui.writes.recovery`):
inserts and deletes re-sent (409 adopted, 404/410 done), patches in flight read back
first, rows tried `max_attempts` times failed with an Alert. Here the engine adds its own
rows: an EventState still `creating` with no pending write is looked up on Google
(exists: created; absent: forgotten, so the next plan inserts it again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from calsync_tui.engine.execute import ENGINE_HOOKS, ExecuteReport
from calsync_tui.engine.model import MutationStatus, Status
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway
from calsync_tui.writes.executor import gateway_of
from calsync_tui.writes.recovery import MAX_ATTEMPTS, recover
from local_store.models import Account, Calendar, EventState, Mutation

_MUT = Mutation.__table__  # type: ignore[attr-defined]
_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]


@dataclass
class ReconcileReport:
    resent: int = 0
    gave_up: int = 0
    creating_resolved: int = 0
    execute: ExecuteReport = field(default_factory=ExecuteReport)
    alerts: list[str] = field(default_factory=list)


def reconcile(
    store: Any,
    gateway_for: Callable[[str], Gateway | None],
    *,
    batch_size: int,
    now: Callable[[], datetime],
    max_attempts: int = MAX_ATTEMPTS,
    origin: str = "sync",
) -> ReconcileReport:
    """Finish or fail every pending `origin` journal row, then every orphan `creating` row."""
    rec = recover(
        store,
        gateway_for,
        origin=origin,
        batch_size=batch_size,
        now=now,
        max_attempts=max_attempts,
        hooks=ENGINE_HOOKS,
    )
    report = ReconcileReport(
        resent=rec.resent + rec.settled, gave_up=rec.gave_up, execute=rec.writes, alerts=rec.alerts
    )
    report.creating_resolved = _resolve_creating(store, gateway_for, now())
    return report


def _resolve_creating(
    store: Any, gateway_for: Callable[[str], Gateway | None], now: datetime
) -> int:
    """`creating` rows with no pending journal row: look the id up, adopt or forget."""
    with store.engine.connect() as conn:
        pending_keys = {
            (r[0], r[1])
            for r in conn.execute(
                select(_MUT.c.calendar_id, _MUT.c.google_event_id).where(
                    _MUT.c.status == str(MutationStatus.PENDING)
                )
            )
        }
        rows = conn.execute(
            select(_ES.c.calendar_id, _ES.c.google_event_id, _CAL.c.google_id, _ACC.c.email)
            .join(_CAL, _CAL.c.id == _ES.c.calendar_id)
            .join(_ACC, _ACC.c.id == _CAL.c.account_id)
            .where(_ES.c.status == str(Status.CREATING))
        ).all()
    resolved = 0
    for cal_id, gid, google_id, email in rows:
        if (cal_id, gid) in pending_keys:
            continue
        gateway = gateway_of(gateway_for, email)
        if gateway is None:
            continue
        try:
            event = gateway.get_event(google_id, gid)
        except CalsyncError:
            continue
        with store.engine.begin() as conn:
            where = (_ES.c.calendar_id == cal_id, _ES.c.google_event_id == gid)
            if event is not None and event.get("status") != "cancelled":
                conn.execute(
                    update(_ES).where(*where).values(status=str(Status.CREATED), updated_at=now)
                )
            else:  # never written: forget it, the next plan inserts it again
                conn.execute(delete(_ES).where(*where))
        resolved += 1
    return resolved
