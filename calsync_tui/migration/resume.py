"""Pause, resume and the interrupted plan: the active plan continued from the journal
(a backfill, or a cutover that finishes as a cutover)."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from calsync_tui import clock
from calsync_tui.engine.model import MutationStatus
from calsync_tui.migration import journal
from calsync_tui.migration.backfill import (
    checked_batch_size,
    enabled_calendars_all,
    finish_backfill,
)
from calsync_tui.migration.cutover import cutover, unfinished_of
from calsync_tui.migration.env import (
    MigrationEnv,
)
from calsync_tui.migration.journal import ProgressCallback
from calsync_tui.migration.origins import (
    ORIGIN_CUTOVER,
    ORIGIN_ROLLBACK,
)
from calsync_tui.migration.phases import (
    load_state,
    record_event,
)
from calsync_tui.migration.results import (
    JournalCounts,
    NothingToResume,
    PauseResult,
    RunResult,
    UnfinishedPlan,
)
from local_store.models import MigrationState


def unfinished_plan(session: Session) -> UnfinishedPlan | None:
    """The active plan if it still has rows to send (pending, or failed and retried by
    resume): a backfill, cutover or rollback interrupted by a pause, a crash or kill -9."""
    state = session.get(MigrationState, 1)  # a reader: never creates the row
    plan_id = state.active_plan_id if state is not None else None
    if state is None or not plan_id:
        return None
    rows = journal.plan_rows(session, plan_id)
    c = journal.counts(session, plan_id)
    if not rows or not (c[MutationStatus.PENDING] or c[MutationStatus.FAILED]):
        return None
    kind = {ORIGIN_CUTOVER: "cutover", ORIGIN_ROLLBACK: "rollback"}.get(rows[0].origin, "backfill")
    return UnfinishedPlan(plan_id, kind, JournalCounts(c), bool(state.paused))


def set_paused(env: MigrationEnv, paused: bool) -> PauseResult:
    with env.store.session() as session:
        state = load_state(session)
        state.paused = paused
        record_event(state, "pause" if paused else "resume")
        session.add(state)
        session.commit()
        return PauseResult(paused, state.active_plan_id)


def resume(
    env: MigrationEnv, *, batch_size: int | None = None, progress: ProgressCallback | None = None
) -> RunResult | NothingToResume:
    """Clear the pause flag and continue the active plan from the journal: a backfill or an
    interrupted cutover (it finishes as a cutover)."""
    plan_id = set_paused(env, False).active_plan_id
    if not plan_id:
        return NothingToResume()
    with env.store.session() as session:
        c = journal.counts(session, plan_id)
        cutting_over = unfinished_of(session, plan_id, ORIGIN_CUTOVER)
    if not (c[MutationStatus.PENDING] or c[MutationStatus.FAILED]):
        return NothingToResume()
    if cutting_over:  # an interrupted cutover finishes as a cutover (modes, detection off)
        out = cutover(env, dry_run=False, batch_size=batch_size, progress=progress)
        return replace(out, continued=plan_id)
    if plan_id.startswith("rollback-"):
        return NothingToResume()  # rollbacks resume via `rollback.resume_rollback`
    began = clock.now()
    result = journal.run_rows(
        env,
        plan_id,
        enabled_calendars_all(env),
        batch_size=checked_batch_size(env, batch_size),
        progress=progress,
    )
    return finish_backfill(env, plan_id, result, began, continued=True)
