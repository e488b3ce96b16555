"""Phase 2, the backfill: the plan (made from a fresh read, saved 0600), its run through
the write path (journaled whole before the first batch, resumable), its gate, and a new
plan superseding an interrupted one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from calsync_tui import clock
from calsync_tui.engine.model import MutationStatus
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.migration import gates, journal
from calsync_tui.migration.env import (
    CalendarRef,
    MigrationEnv,
    enabled_calendars,
    read_snapshot,
    require_calendars,
)
from calsync_tui.migration.inventory import discover_report, short_totals
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.origins import (
    ORIGIN_BACKFILL,
    SUPERSEDABLE,
)
from calsync_tui.migration.phases import (
    GateResult,
    Phase,
    advance,
    load_state,
    record_event,
    record_gate,
    require_phase,
)
from calsync_tui.migration.plan_file import MigrationPlan, read_plan, write_plan
from calsync_tui.migration.planner import build_backfill
from calsync_tui.migration.results import (
    JournalCounts,
    RunResult,
)
from calsync_tui.writes import refusals
from local_store.models import MigrationState, SyncRun


def make_plan(
    env: MigrationEnv,
    scope: str | None = None,
    out: Path | None = None,
    batch_size: int | None = None,
    *,
    save: bool = False,
) -> tuple[MigrationPlan, Path | None]:
    """Compute the backfill plan from a fresh read; save it (0600) to `out`, or with
    `save` to `<home>/plans/plan-<id>.json`."""
    size = checked_batch_size(env, batch_size)
    with env.store.session() as session:
        state = load_state(session)
        require_phase(state, Phase.PREPARE, "plan")
        cals = require_calendars(session, scope)
    snap = read_snapshot(env, cals, with_masters=True)
    with env.store.engine.connect() as conn:
        held = refusals.standing(conn)
    google_of = {c.local_id: c.google_id for c in cals}
    writes = build_backfill(
        snap.inventory,
        env.options(),
        scope=scope,
        held={(google_of[c], e) for c, e in held if c in google_of},
    )
    report = discover_report(snap)
    plan = MigrationPlan.new(
        "backfill",
        scope,
        snap.inventory.fingerprint(),
        writes,
        size,
        {"totals": short_totals(report.totals), "read_api_calls": snap.api_calls},
    )
    if out is None and save:
        out = default_plan_path(env, plan)
    path = write_plan(plan, out) if out is not None else None
    with env.store.session() as session:
        state = load_state(session)
        record_event(
            state,
            "plan",
            plan_id=plan.plan_id,
            writes=len(writes),
            file=str(path) if path else None,
        )
        session.add(state)
        session.commit()
    return plan, path


def default_plan_path(env: MigrationEnv, plan: MigrationPlan) -> Path:
    return env.home.plans_dir / f"plan-{plan.plan_id}.json"


def checked_batch_size(env: MigrationEnv, batch_size: int | None) -> int:
    size = batch_size or env.settings.batch_size
    if not 1 <= size <= 1000:
        raise UsageError("--batch-size must be between 1 and 1000 (Google's batch limit)")
    return size


def cal_ids(cals: Sequence[CalendarRef]) -> dict[str, int]:
    return {c.google_id: c.local_id for c in cals}


def backfill(
    env: MigrationEnv,
    plan_path: Path,
    *,
    batch_size: int | None = None,
    scope: str | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Execute exactly the approved plan, journaled; resume it if it was started before."""
    plan = read_plan(plan_path)
    if plan.kind != "backfill":
        raise CalsyncError(f"{plan_path} is a {plan.kind} plan, not a backfill plan")
    if scope is not None and plan.scope not in (None, scope):
        raise CalsyncError(f"plan {plan.plan_id} covers {plan.scope}, not {scope}")
    size = checked_batch_size(env, batch_size or plan.batch_size)
    with env.store.session() as session:
        state = load_state(session)
        cals = require_calendars(session, scope)
        started = bool(journal.plan_rows(session, plan.plan_id))
        if state.paused:
            raise CalsyncError("the migration is paused: run `migrate resume` first")
        if not started:
            if state.phase < Phase.PREPARE:
                raise CalsyncError(
                    "the migration is at phase 0 discover: run `migrate prepare` (links legacy "
                    "blocks and checks its gate) before a backfill"
                )
            prep = json.loads(state.gates_json or "{}").get("prepare")
            gate = GateResult(**prep) if prep else gates.prepare_gate(1, 0, 0, 0)
            advance(state, Phase.BACKFILL, gate)
            if state.phase > Phase.BACKFILL:
                raise CalsyncError("backfill is over: the migration is past phase 2")
            session.add(state)
            session.commit()
    if not started:
        snap = read_snapshot(env, cals, with_masters=True)
        now_fp = snap.inventory.fingerprint()
        if now_fp != plan.fingerprint:
            raise CalsyncError(
                f"plan {plan.plan_id} is stale: Google changed since it was made; "
                "run `migrate plan` again and review the new plan"
            )
        missing = {w.calendar for w in plan.writes} - set(cal_ids(cals))
        if missing:
            raise CalsyncError(
                f"plan writes to calendars that are not enabled: {', '.join(sorted(missing))}"
            )
        with env.store.session() as session:
            old_plan = load_state(session).active_plan_id
        if old_plan and old_plan != plan.plan_id:
            # what of the old plan reached Google before it stopped is recorded done first
            journal.settle_pending(env, old_plan, SUPERSEDABLE, batch_size=size)
        with env.store.session() as session:
            # One transaction: the old plan's unsent rows superseded, the new plan's rows
            # journaled and made the active plan (a crash in between leaves neither).
            state = load_state(session)
            supersede_unfinished(session, state, plan.plan_id)
            state.active_plan_id = plan.plan_id
            state.approved_plan_id = plan.plan_id
            record_event(state, "backfill_started", plan_id=plan.plan_id, writes=len(plan.writes))
            session.add(state)
            journal.keep_rows(session, snap.inventory, cals, plan.writes)
            journal.journal_plan(session, plan.plan_id, ORIGIN_BACKFILL, plan.writes, cal_ids(cals))
    began = clock.now()
    result = journal.run_rows(
        env,
        plan.plan_id,
        enabled_calendars_all(env),
        batch_size=size,
        progress=progress,
        scope=scope,
    )
    return finish_backfill(env, plan.plan_id, result, began)


def enabled_calendars_all(env: MigrationEnv) -> list[CalendarRef]:
    with env.store.session() as session:
        return enabled_calendars(session)


def finish_backfill(
    env: MigrationEnv, plan_id: str, result: Progress, began: datetime, continued: bool = False
) -> RunResult:
    with env.store.session() as session:
        c = journal.counts(session, plan_id)
        gate = backfill_gate_now(session)
        state = load_state(session)
        record_gate(state, gate)
        if result.paused:
            record_event(state, "backfill_paused", plan_id=plan_id, done=c[MutationStatus.DONE])
        else:
            record_event(
                state,
                "backfill_run",
                plan_id=plan_id,
                done=c[MutationStatus.DONE],
                failed=c[MutationStatus.FAILED],
            )
        session.add(state)
        now = clock.now()
        session.add(
            SyncRun(
                kind="backfill",
                started_at=began,
                finished_at=now,
                duration_ms=(now - began).total_seconds() * 1000,
                mutations_json=json.dumps(c),
                failed=c[MutationStatus.FAILED],
                success_rate=(c[MutationStatus.DONE] / c["total"]) if c["total"] else 1.0,
            )
        )
        session.commit()
    return RunResult(
        plan_id, result, JournalCounts(c), gate=gate, continued=plan_id if continued else None
    )


def backfill_gate_now(session: Session) -> GateResult:
    """Coverage on the approved plan's scope: every write done, none failed or pending."""
    state = session.get(MigrationState, 1)  # a reader: never creates the row
    if state is None or not state.approved_plan_id:
        return gates.backfill_gate(1, 0, 0, 0)
    c = journal.counts(session, state.approved_plan_id)
    done = c[MutationStatus.DONE] + c[MutationStatus.UNDONE] + c[MutationStatus.SKIPPED]
    # settled too: refused for good (remembered on the event), replaced by a new id
    done += c[MutationStatus.REFUSED] + c[MutationStatus.REPLACED]
    return gates.backfill_gate(
        c["total"], done, c[MutationStatus.FAILED], c[MutationStatus.PENDING], state.paused
    )


def supersede_unfinished(session: Session, state: MigrationState, by_plan: str) -> int:
    """A new plan replaces the active one's unanswered rows: each `pending` row becomes
    `skipped` saying `superseded by plan X`, and the history records it (`plan_superseded`
    with the count). What Google already accepted stays `done`, so rollback level 2 still
    undoes it: rows in flight when the old plan stopped were read back first
    (`journal.settle_pending`). Returns the number of rows superseded."""
    old = state.active_plan_id
    if not old or old == by_plan:
        return 0
    rows = [
        m
        for m in journal.plan_rows(session, old)
        if m.status == MutationStatus.PENDING and m.origin in SUPERSEDABLE
    ]
    if not rows:
        return 0
    note = f"superseded by plan {by_plan}"
    for m in rows:
        m.status = MutationStatus.SKIPPED
        m.error = note
        m.updated_at = clock.now()
        session.add(m)
    record_event(state, "plan_superseded", plan_id=old, by=by_plan, rows=len(rows))
    return len(rows)
