"""Resolve what a crash left behind: `pending` journal rows and `creating` states.

Each pending write is re-sent exactly as journaled (the journal holds the body): an
insert whose block already exists answers 409 and is adopted, a delete of a gone event
answers 404/410 and is done, a patch is idempotent. So one call per leftover both looks
the deterministic id up and finishes the job. After `max_attempts` a row becomes
`failed` with its reason and an Alert; nothing stays stuck.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from calsync_tui.engine.execute import ExecuteReport, Journaled, send_and_record
from calsync_tui.engine.model import MutationStatus, Op, Status
from calsync_tui.engine.plan import PlannedMutation
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway
from local_store.models import Account, Alert, Calendar, EventState, Mutation

MAX_ATTEMPTS = 3
_MUT = Mutation.__table__  # type: ignore[attr-defined]
_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]
_ALERT = Alert.__table__  # type: ignore[attr-defined]


@dataclass
class ReconcileReport:
    resent: int = 0
    gave_up: int = 0
    creating_resolved: int = 0
    execute: ExecuteReport = field(default_factory=ExecuteReport)
    alerts: list[str] = field(default_factory=list)


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


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
    report = ReconcileReport()
    with store.engine.connect() as conn:
        rows = (
            conn.execute(
                select(_MUT, _CAL.c.google_id, _ACC.c.email)
                .join(_CAL, _CAL.c.id == _MUT.c.calendar_id)
                .join(_ACC, _ACC.c.id == _CAL.c.account_id)
                .where(_MUT.c.status == str(MutationStatus.PENDING), _MUT.c.origin == origin)
                .order_by(_MUT.c.id)
            )
            .mappings()
            .all()
        )
    give_up: list[dict[str, Any]] = []
    by_account: dict[str, list[Journaled]] = {}
    for r in rows:
        if r["attempts"] >= max_attempts:
            give_up.append(dict(r))
            continue
        body = _loads(r["after_json"])
        m = PlannedMutation(
            Op(r["op"]),
            r["google_id"],
            r["calendar_id"],
            r["email"],
            r["google_event_id"],
            r["correlation_id"],
            (body or {}).get("extendedProperties", {}).get("private", {}).get("calsync_source")
            if isinstance(body, dict)
            else None,
            body,
            _loads(r["before_json"]),
            r["reason"],
        )
        by_account.setdefault(r["email"], []).append(Journaled(r["id"], m, r["attempts"]))
    for email, items in by_account.items():
        gateway = _safe_gateway(gateway_for, email)
        if gateway is None:
            continue  # account needs sign-in: left pending, attempts unchanged
        # Count the attempt before sending: a write that kills the process every time
        # still reaches max_attempts and becomes `failed` instead of looping forever.
        with store.engine.begin() as conn:
            conn.execute(
                update(_MUT)
                .where(_MUT.c.id.in_([j.mutation_id for j in items]))
                .values(attempts=_MUT.c.attempts + 1, updated_at=now())
            )
        part, followups = send_and_record(store, gateway, items, batch_size=batch_size, now=now())
        report.execute.merge(part)
        report.resent += len(items)
        if followups:
            from calsync_tui.engine.execute import journal

            again = journal(store, "reconcile", followups, origin=origin, now=now())
            extra, _ = send_and_record(store, gateway, again, batch_size=batch_size, now=now())
            report.execute.merge(extra)
    if give_up:
        _fail(store, give_up, now(), report)
    report.creating_resolved = _resolve_creating(store, gateway_for, now())
    return report


def _safe_gateway(gateway_for: Callable[[str], Gateway | None], email: str) -> Gateway | None:
    try:
        return gateway_for(email)
    except CalsyncError:
        return None


def _fail(store: Any, rows: list[dict[str, Any]], now: datetime, report: ReconcileReport) -> None:
    with store.engine.begin() as conn:
        for r in rows:
            reason = f"gave up after {r['attempts']} attempts: {r['error'] or 'no answer'}"
            conn.execute(
                update(_MUT)
                .where(_MUT.c.id == r["id"])
                .values(status=str(MutationStatus.FAILED), error=reason, updated_at=now)
            )
            if r["op"] == str(Op.INSERT):
                conn.execute(
                    update(_ES)
                    .where(
                        _ES.c.calendar_id == r["calendar_id"],
                        _ES.c.google_event_id == r["google_event_id"],
                    )
                    .where(_ES.c.status == str(Status.CREATING))
                    .values(status=str(Status.FAILED), error=reason, updated_at=now)
                )
            message = f"{r['op']} of {r['google_id']}/{r['google_event_id']} {reason}"
            conn.execute(
                insert(_ALERT).values(
                    created_at=now,
                    level="error",
                    kind="stuck_mutation",
                    message=message,
                    calendar_id=r["calendar_id"],
                    acknowledged=False,
                )
            )
            report.alerts.append(message)
            report.gave_up += 1


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
        gateway = _safe_gateway(gateway_for, email)
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
