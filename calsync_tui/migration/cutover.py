"""Phase 4, cutover: `uuid` everywhere, legacy detection off, every legacy-titled block
of ours retitled in one journaled patch each (dry-runnable, resumable)."""

from __future__ import annotations

from typing import Literal, overload

from sqlmodel import Session, col, select

from calsync_tui.engine.model import EngineMode, MutationStatus
from calsync_tui.errors import CalsyncError
from calsync_tui.migration import journal
from calsync_tui.migration.backfill import (
    cal_ids,
    checked_batch_size,
)
from calsync_tui.migration.env import (
    MigrationEnv,
    read_snapshot,
    require_calendars,
)
from calsync_tui.migration.journal import ProgressCallback
from calsync_tui.migration.origins import (
    ORIGIN_CUTOVER,
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
from calsync_tui.migration.plan_file import MigrationPlan
from calsync_tui.migration.planner import retitle_writes
from calsync_tui.migration.results import (
    CutoverPreview,
    JournalCounts,
    RunResult,
)
from calsync_tui.migration.rollout import rollout_gate_now
from local_store.models import Calendar


@overload
def cutover(
    env: MigrationEnv,
    *,
    dry_run: Literal[True],
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    force_gate: bool = False,
) -> CutoverPreview: ...


@overload
def cutover(
    env: MigrationEnv,
    *,
    dry_run: Literal[False],
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    force_gate: bool = False,
) -> RunResult: ...


def cutover(
    env: MigrationEnv,
    *,
    dry_run: bool,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    force_gate: bool = False,
) -> RunResult | CutoverPreview:
    """uuid mode everywhere, detection off; every legacy-titled block of ours gets the
    template title and the rest of the engine's content in one journaled patch (see
    `planner.retitle_writes`), so the first uuid cycle after it has nothing to write."""
    size = checked_batch_size(env, batch_size)
    with env.store.session() as session:
        state = load_state(session)
        require_phase(state, Phase.ROLLOUT, "cutover")
        gate = rollout_gate_now(session, env)
        resuming = unfinished_of(session, state.active_plan_id, ORIGIN_CUTOVER)
        if not gate.passed and not force_gate and not dry_run and not resuming:
            record_gate(state, gate)
            session.add(state)
            session.commit()
            raise CalsyncError("rollout gate not passed: " + "; ".join(gate.reasons))
        cals = require_calendars(session)
        resume_id = (
            state.active_plan_id
            if unfinished_of(session, state.active_plan_id, ORIGIN_CUTOVER)
            else None
        )
    if resume_id is None:
        snap = read_snapshot(env, cals)
        writes = retitle_writes(snap.inventory, env.options())
        plan = MigrationPlan.new("cutover", None, snap.inventory.fingerprint(), writes, size)
        if dry_run:
            return CutoverPreview(plan=plan, gate=gate)
        with env.store.session() as session:
            journal.journal_plan(session, plan.plan_id, ORIGIN_CUTOVER, writes, cal_ids(cals))
            state = load_state(session)
            state.active_plan_id = plan.plan_id
            record_event(state, "cutover_started", plan_id=plan.plan_id, writes=len(writes))
            session.add(state)
            session.commit()
        resume_id = plan.plan_id
    elif dry_run:
        return CutoverPreview(resume_plan_id=resume_id)
    result = journal.run_rows(env, resume_id, cals, batch_size=size, progress=progress)
    with env.store.session() as session:
        c = journal.counts(session, resume_id)
        state = load_state(session)
        if result.paused or c[MutationStatus.FAILED] or c[MutationStatus.PENDING]:
            record_event(state, "cutover_incomplete", plan_id=resume_id, journal=c)
            session.add(state)
            session.commit()
            return RunResult(resume_id, result, JournalCounts(c), complete=False)
        for row in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True))):
            row.engine_mode = EngineMode.UUID
            session.add(row)
        state.legacy_detection = False
        advance(
            state,
            Phase.CUTOVER,
            gate
            if gate.passed
            else GateResult(Phase.ROLLOUT, True, ["gate overridden"], gate.details),
        )
        session.add(state)
        session.commit()
    return RunResult(resume_id, result, JournalCounts(c), complete=True)


def unfinished_of(session: Session, plan_id: str | None, origin: str) -> bool:
    if not plan_id:
        return False
    rows = journal.plan_rows(session, plan_id)
    return (
        bool(rows)
        and rows[0].origin == origin
        and any(m.status in (MutationStatus.PENDING, MutationStatus.FAILED) for m in rows)
    )
