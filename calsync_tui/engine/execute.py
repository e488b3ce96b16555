"""The engine's side of the one write path (`calsync_tui.writes`).

A plan's `PlannedMutation`s become `Write`s; the write path journals, sends and records
them. What an answer means for the engine's own rows is added here, in the write path's
transactions (`ENGINE_HOOKS`): an insert's EventState is `creating` from the moment it is
journaled; after the answer a block is `created`/`synced` with what Google returned, a
stamped user event is tracked (with the instances of a stamped series), a deleted block
is `deleted`. An insert adopted from an existing block that differs from the wanted one
(a crash-recovered or hand-edited block) gets a follow-up patch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update

from calsync_tui.engine.events import EventSink, MutationsProgress, emit
from calsync_tui.engine.fields import mirror_digest, time_columns, title_of
from calsync_tui.engine.model import EventClass, EventType, Op, Status
from calsync_tui.engine.plan import Plan, PlannedMutation, patch_body
from calsync_tui.engine.state import update_rows, upsert_rows
from calsync_tui.google.types import Gateway
from calsync_tui.writes import executor
from calsync_tui.writes.executor import Answer, Hooks
from calsync_tui.writes.journal import journal as journal_rows
from calsync_tui.writes.record import Record, Write
from calsync_tui.writes.refusals import standing
from calsync_tui.writes.report import WriteReport
from local_store.models import EventState
from local_store.queries import calendar_zones

_ES = EventState.__table__  # type: ignore[attr-defined]

ExecuteReport = WriteReport  # the engine's name for what a run of the write path did


def write_of(m: PlannedMutation) -> Write:
    return Write(
        op=m.op,
        calendar_id=m.calendar_id,
        google_event_id=m.google_event_id,
        body=m.body,
        before=m.before,
        reason=m.reason,
        correlation_id=m.correlation_id,
        source_correlation_id=m.source_correlation_id,
    )


def _creating(conn: Connection, records: Sequence[Record], now: datetime) -> None:
    """Each journaled insert's EventState, `creating`, in the journal's transaction."""
    rows = []
    zones = calendar_zones(conn) if records else {}
    for r in records:
        w = r.write
        if w.op != Op.INSERT or w.body is None:
            continue
        rows.append(
            {
                "correlation_id": w.correlation_id,
                "calendar_id": w.calendar_id,
                "google_event_id": w.google_event_id,
                "event_type": str(EventType.BUSY_BLOCK),
                "event_class": str(EventClass.BUSY_BLOCK),
                "created_by_us": True,
                "stamped": True,
                "source_correlation_id": w.source_correlation_id,
                "status": str(Status.CREATING),
                "summary": title_of(w.body),
                "title_hash": "",
                **time_columns(w.body, zones.get(w.calendar_id)),
            }
        )
    if rows:
        upsert_rows(conn, rows, now)


def _answered(conn: Connection, answers: Sequence[Answer], now: datetime) -> list[Write]:
    """EventState changes that follow from the answers; follow-up patches."""
    followups: list[Write] = []
    changes: list[dict[str, Any]] = []
    zones = calendar_zones(conn) if answers else {}
    for a in answers:
        changes.extend(_state_after(a, followups, zones.get(a.record.calendar_id)))
    if changes:
        update_rows(conn, changes, now)
    # A stamped series master: its instances (the rows we track) are stamped too.
    stamped = [
        {"k_cal": a.record.calendar_id, "k_master": a.record.google_event_id}
        for a in answers
        if a.record.op == Op.STAMP and a.ok
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
    return followups


def _state_after(a: Answer, followups: list[Write], zone: str | None) -> list[dict[str, Any]]:
    """EventState changes that follow from one write's answer (`zone`: its calendar's)."""
    w = a.record.write
    key = {"calendar_id": w.calendar_id, "google_event_id": w.google_event_id}
    if w.op == Op.STAMP:
        if not a.ok:
            return [{**key, "error": a.error}]
        return [
            {
                **key,
                "stamped": True,
                "error": None,
                "event_class": str(EventClass.TRACKED_USER_EVENT),
            }
        ]
    if w.op == Op.DELETE:
        if not a.ok:
            return [{**key, "error": a.error}]
        return [{**key, "status": str(Status.DELETED), "error": None}]
    if w.op in (Op.INSERT, Op.PATCH):
        if not a.ok:
            status = Status.FAILED if w.op == Op.INSERT else Status.SYNCED
            return [{**key, "status": str(status), "error": a.error}]
        event = a.result.event or {}
        want = w.body or {}
        if (
            w.op == Op.INSERT
            and a.result.already
            and event
            and mirror_digest(event) != mirror_digest(want)
        ):
            followups.append(
                Write(
                    op=Op.PATCH,
                    calendar_id=w.calendar_id,
                    google_event_id=w.google_event_id,
                    body=patch_body(want),
                    before=event,
                    reason="adopted existing block differs",
                    correlation_id=w.correlation_id,
                    source_correlation_id=w.source_correlation_id,
                )
            )
        seen = event if event.get("start") else {**want, "status": "confirmed"}
        return [
            {
                **key,
                "status": str(Status.CREATED if w.op == Op.INSERT else Status.SYNCED),
                "etag": event.get("etag"),
                "title_hash": mirror_digest(seen),
                "summary": title_of(seen),
                "error": None,
                "event_class": str(EventClass.BUSY_BLOCK),
                **time_columns(seen, zone),
            }
        ]
    return []


ENGINE_HOOKS = Hooks(on_journal=_creating, on_answers=_answered)


def without_held(store: Any, plan: Plan) -> Plan:
    """The plan less the writes a standing refusal holds (Google refused them for this
    version of their event; they are not sent until it changes), so a cycle whose only
    remaining writes are held plans nothing. Inserts are never held."""
    if all(m.op == Op.INSERT for m in plan.mutations):
        return plan
    with store.engine.connect() as conn:
        held = standing(conn)
    if not held:
        return plan
    kept = [
        m
        for m in plan.mutations
        if m.op == Op.INSERT or (m.calendar_id, m.google_event_id) not in held
    ]
    return plan if len(kept) == len(plan.mutations) else Plan.of(kept)


def journal(
    store: Any,
    plan_id: str,
    mutations: Sequence[PlannedMutation],
    *,
    origin: str,
    now: datetime,
    seq_start: int = 0,
) -> list[Record]:
    """Commit `pending` journal rows and `creating` states for `mutations` (not sent)."""
    with store.engine.begin() as conn:
        return journal_rows(
            conn,
            [write_of(m) for m in mutations],
            plan_id=plan_id,
            origin=origin,
            now=now,
            seq_start=seq_start,
            on_journal=ENGINE_HOOKS.on_journal,
        )


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
    """Journal, send and record `mutations` batch by batch, per account, through the
    write path. `cancel` is checked between batches: the rest is not journaled or sent."""
    return executor.journal_and_send(
        store,
        [write_of(m) for m in mutations],
        gateways.get,
        plan_id=plan_id,
        origin=origin,
        batch_size=batch_size,
        now=now,
        hooks=ENGINE_HOOKS,
        cancel=cancel,
        on_progress=lambda done, total: emit(on_event, MutationsProgress(done, total)),
    )
