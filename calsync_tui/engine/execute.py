"""Write-ahead execution of a plan: journal first, then Google, then the outcome.

For each batch: the `Mutation` rows (`pending`, with before/after JSON) and the
EventState rows of inserts (`creating`) are committed in one transaction *before* the
batch goes to Google; the results are recorded in one more transaction. A crash at any
point leaves `pending` rows that `reconcile` resolves; deterministic block ids make a
re-sent insert a 409 that the gateway adopts, never a duplicate.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update

from calsync_tui.engine.events import EventSink, MutationsProgress, emit
from calsync_tui.engine.fields import mirror_digest, time_columns, title_of
from calsync_tui.engine.model import EventClass, EventType, MutationStatus, Op, Status
from calsync_tui.engine.plan import PlannedMutation, patch_body
from calsync_tui.engine.state import update_rows, upsert_rows
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway, WriteResult
from local_store.models import EventState, Mutation

_MUT = Mutation.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]


@dataclass
class ExecuteReport:
    """What happened to a plan's mutations (counts per op, failures, sources touched)."""

    total: int = 0
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    touched_sources: set[str] = field(default_factory=set)
    writes_by_calendar: Counter[str] = field(default_factory=Counter)
    failed_by_calendar: Counter[str] = field(default_factory=Counter)

    @property
    def done_total(self) -> int:
        return sum(self.done.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def merge(self, other: ExecuteReport) -> None:
        self.total += other.total
        self.done.update(other.done)
        self.failed.update(other.failed)
        self.skipped += other.skipped
        self.errors.extend(other.errors)
        self.touched_sources |= other.touched_sources
        self.writes_by_calendar.update(other.writes_by_calendar)
        self.failed_by_calendar.update(other.failed_by_calendar)


@dataclass(frozen=True)
class Journaled:
    """A planned mutation with its journal row id and attempts so far."""

    mutation_id: int
    mutation: PlannedMutation
    attempts: int = 0


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def journal(
    store: Any,
    plan_id: str,
    mutations: Sequence[PlannedMutation],
    *,
    origin: str,
    now: datetime,
    seq_start: int = 0,
) -> list[Journaled]:
    """Commit `pending` journal rows and `creating` states for one batch; return their ids."""
    if not mutations:
        return []
    rows = [
        {
            "plan_id": plan_id,
            "seq": seq_start + i,
            "origin": origin,
            "op": str(m.op),
            "calendar_id": m.calendar_id,
            "google_event_id": m.google_event_id,
            "correlation_id": m.correlation_id,
            "reason": m.reason,
            "before_json": _dumps(m.before),
            "after_json": _dumps(m.body),
            "status": str(MutationStatus.PENDING),
            "attempts": 0,
            "error": None,
            "created_at": now,
            "updated_at": now,
        }
        for i, m in enumerate(mutations)
    ]
    creating = []
    for m in mutations:
        if m.op != Op.INSERT or m.body is None:
            continue
        creating.append(
            {
                "correlation_id": m.correlation_id,
                "calendar_id": m.calendar_id,
                "google_event_id": m.google_event_id,
                "event_type": str(EventType.BUSY_BLOCK),
                "event_class": str(EventClass.BUSY_BLOCK),
                "created_by_us": True,
                "stamped": True,
                "source_correlation_id": m.source_correlation_id,
                "status": str(Status.CREATING),
                "summary": title_of(m.body),
                "title_hash": "",
                **time_columns(m.body),
            }
        )
    with store.engine.begin() as conn:
        result = conn.execute(insert(_MUT).returning(_MUT.c.id, sort_by_parameter_order=True), rows)
        ids = [r[0] for r in result]
        upsert_rows(conn, creating, now)
    return [Journaled(i, m) for i, m in zip(ids, mutations, strict=True)]


def send_and_record(
    store: Any,
    gateway: Gateway,
    items: Sequence[Journaled],
    *,
    batch_size: int,
    now: datetime,
) -> tuple[ExecuteReport, list[PlannedMutation]]:
    """Send journaled mutations (one account) and record every outcome in one transaction.

    Returns the report and follow-up patches for adopted inserts whose existing event
    differs from the wanted block (a crash-recovered or hand-edited block).
    """
    report = ExecuteReport(total=len(items))
    if not items:
        return report, []
    calls = [j.mutation.write_call(str(j.mutation_id)) for j in items]
    try:
        results = gateway.execute(calls, batch_size=batch_size)
    except CalsyncError as exc:
        results = [WriteResult(c.key, False, 0, reason="error", message=str(exc)) for c in calls]
    by_key = {r.key: r for r in results}
    mut_updates: list[dict[str, Any]] = []
    state_changes: list[dict[str, Any]] = []
    followups: list[PlannedMutation] = []
    for j in items:
        m = j.mutation
        res = by_key.get(str(j.mutation_id))
        ok = res is not None and res.ok
        error = None if ok else _describe(res)
        mut_updates.append(
            {
                "k_id": j.mutation_id,
                "v_status": str(MutationStatus.DONE if ok else MutationStatus.FAILED),
                "v_attempts": j.attempts + 1,
                "v_error": error,
                "v_updated_at": now,
            }
        )
        report.writes_by_calendar[m.calendar_google_id] += 1
        if ok:
            report.done[str(m.op)] += 1
            if m.op in (Op.INSERT, Op.PATCH) and m.source_correlation_id:
                report.touched_sources.add(m.source_correlation_id)
        else:
            report.failed[str(m.op)] += 1
            report.failed_by_calendar[m.calendar_google_id] += 1
            report.errors.append(f"{m.op} {m.calendar_google_id}/{m.google_event_id}: {error}")
        state_changes.extend(_state_after(m, res if ok else None, error, followups))
    with store.engine.begin() as conn:
        stmt = (
            update(_MUT)
            .where(_MUT.c.id == bindparam("k_id"))
            .values(
                status=bindparam("v_status"),
                attempts=bindparam("v_attempts"),
                error=bindparam("v_error"),
                updated_at=bindparam("v_updated_at"),
            )
        )
        conn.execute(stmt, mut_updates)
        update_rows(conn, state_changes, now)
        # A stamped series master: its instances (the rows we track) are stamped too.
        stamped = [
            {"k_cal": j.mutation.calendar_id, "k_master": j.mutation.google_event_id}
            for j in items
            if j.mutation.op == Op.STAMP
            and by_key.get(str(j.mutation_id)) is not None
            and by_key[str(j.mutation_id)].ok
        ]
        if stamped:
            conn.execute(
                update(_ES)
                .where(_ES.c.calendar_id == bindparam("k_cal"))
                .where(_ES.c.recurring_event_id == bindparam("k_master"))
                .values(stamped=True),
                stamped,
            )
            conn.execute(
                update(_ES)
                .where(_ES.c.calendar_id == bindparam("k_cal"))
                .where(_ES.c.recurring_event_id == bindparam("k_master"))
                .where(_ES.c.event_class == str(EventClass.NEW_USER_EVENT))
                .values(event_class=str(EventClass.TRACKED_USER_EVENT)),
                stamped,
            )
    return report, followups


def _describe(res: WriteResult | None) -> str:
    if res is None:
        return "no result"
    return f"{res.status} {res.reason or ''} {res.message or ''}".strip()


def _state_after(
    m: PlannedMutation,
    res: WriteResult | None,
    error: str | None,
    followups: list[PlannedMutation],
) -> list[dict[str, Any]]:
    """EventState changes that follow from one mutation's outcome."""
    key = {"calendar_id": m.calendar_id, "google_event_id": m.google_event_id}
    if m.op == Op.STAMP:
        if res is None:
            return [{**key, "error": error}]
        return [
            {
                **key,
                "stamped": True,
                "error": None,
                "event_class": str(EventClass.TRACKED_USER_EVENT),
            }
        ]
    if m.op == Op.DELETE:
        if res is None:
            return [{**key, "error": error}]
        return [{**key, "status": str(Status.DELETED), "error": None}]
    if m.op in (Op.INSERT, Op.PATCH):
        if res is None:
            status = Status.FAILED if m.op == Op.INSERT else Status.SYNCED
            return [{**key, "status": str(status), "error": error}]
        event = res.event or {}
        want = m.body or {}
        if (
            m.op == Op.INSERT
            and res.already
            and event
            and mirror_digest(event) != mirror_digest(want)
        ):
            followups.append(
                PlannedMutation(
                    Op.PATCH,
                    m.calendar_google_id,
                    m.calendar_id,
                    m.account,
                    m.google_event_id,
                    m.correlation_id,
                    m.source_correlation_id,
                    patch_body(want),
                    event,
                    "adopted existing block differs",
                )
            )
        seen = event if event.get("start") else {**want, "status": "confirmed"}
        digest = mirror_digest(seen)
        return [
            {
                **key,
                "status": str(Status.CREATED if m.op == Op.INSERT else Status.SYNCED),
                "etag": event.get("etag"),
                "title_hash": digest,
                "summary": title_of(seen),
                "error": None,
                "event_class": str(EventClass.BUSY_BLOCK),
                **time_columns(seen),
            }
        ]
    return []


def execute_plan(
    store: Any,
    mutations: Sequence[PlannedMutation],
    gateways: Mapping[str, Gateway],
    *,
    plan_id: str,
    batch_size: int,
    now: Callable[[], datetime],
    origin: str = "sync",
    on_event: EventSink | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExecuteReport:
    """Journal, send and record `mutations` batch by batch, per account.

    `cancel` is checked between batches: the rest is not journaled and not sent.
    """
    report = ExecuteReport()
    by_account: dict[str, list[PlannedMutation]] = {}
    for m in mutations:
        by_account.setdefault(m.account, []).append(m)
    total = len(mutations)
    done = 0
    seq = 0
    for account, items in by_account.items():
        gateway = gateways.get(account)
        if gateway is None:
            report.skipped += len(items)
            continue
        queue = list(items)
        while queue:
            chunk, queue = queue[:batch_size], queue[batch_size:]
            if cancel is not None and cancel():
                report.skipped += len(chunk) + len(queue)
                return report
            journaled = journal(store, plan_id, chunk, origin=origin, now=now(), seq_start=seq)
            seq += len(chunk)
            part, followups = send_and_record(
                store, gateway, journaled, batch_size=batch_size, now=now()
            )
            report.merge(part)
            done += len(chunk)
            if followups:  # patches: they never produce follow-ups of their own
                queue.extend(followups)
                total += len(followups)
            emit(on_event, MutationsProgress(done, total))
    report.total = total
    return report
