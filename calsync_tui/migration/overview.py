"""What the migration looks like now, for both faces: the current phase's gate checked
from the store, the standing gates and the phase overview."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, func, select

from calsync_tui.migration import gates, journal
from calsync_tui.migration.backfill import (
    backfill_gate_now,
)
from calsync_tui.migration.phases import (
    GateResult,
    Phase,
    history,
    load_state,
    phase_name,
)
from calsync_tui.migration.results import (
    CalendarMode,
    JournalCounts,
    PhaseOverview,
    PlanCounts,
)
from calsync_tui.migration.resume import unfinished_plan
from calsync_tui.migration.rollout import rollout_bucket, rollout_gate_for
from local_store.models import Alert, Calendar, MigrationState, Mutation


def current_gate(session: Session, clean_cycles: int) -> GateResult | None:
    """The gate of the phase the migration is in, checked now from the store (backfill:
    the approved plan's journal; rollout: the cycles run since the rollout), not as it was
    recorded when a command last ran. None in phases whose gate needs Google (discover,
    prepare: their recorded result stands), before a backfill plan is approved, and after
    cutover."""
    state = session.get(MigrationState, 1)
    phase = state.phase if state is not None else Phase.DISCOVER
    if phase == Phase.BACKFILL:  # no plan approved yet: nothing to check
        return backfill_gate_now(session) if state and state.approved_plan_id else None
    if phase == Phase.ROLLOUT:
        return rollout_gate_for(session, clean_cycles)
    return None


def standing_gates(session: Session) -> dict[str, Any]:
    """The recorded gates that still stand at the current phase (`gates.standing`)."""
    state = session.get(MigrationState, 1)
    if state is None:
        return {}
    return gates.standing(json.loads(state.gates_json or "{}"), state.phase)


def phase_overview(session: Session, clean_cycles: int | None = None) -> PhaseOverview:
    """Everything the migration screen and `status` show, from the store only.
    `clean_cycles`: the rollout gate's setting (`rollout_clean_cycles`)."""
    from calsync_tui.settings import Settings

    required = Settings().rollout_clean_cycles if clean_cycles is None else clean_cycles
    state = load_state(session)
    cals = [
        CalendarMode(c.google_id, c.summary, c.engine_mode, rollout_bucket(c.google_id))
        for c in session.exec(
            select(Calendar).where(col(Calendar.enabled).is_(True)).order_by(Calendar.google_id)
        )
    ]
    plan = None
    if state.active_plan_id:
        plan = PlanCounts(
            state.active_plan_id, JournalCounts(journal.counts(session, state.active_plan_id))
        )
    alerts = [
        {"at": a.created_at, "kind": a.kind, "message": a.message}
        for a in session.exec(
            select(Alert).where(
                col(Alert.kind).startswith("auto_rollback"), col(Alert.acknowledged).is_(False)
            )
        )
    ]
    return PhaseOverview(
        phase=state.phase,
        phase_name=phase_name(state.phase),
        paused=state.paused,
        rollout_percent=state.rollout_percent,
        legacy_detection=state.legacy_detection,
        active_plan=plan,
        approved_plan_id=state.approved_plan_id,
        gates=standing_gates(session),
        current_gate=current_gate(session, required),
        history=history(state)[-20:],
        calendars=cals,
        alerts=alerts,
        journal=_journal_totals(session),
        interrupted=unfinished_plan(session),
    )


def _journal_totals(session: Session) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    rows = session.exec(
        select(Mutation.origin, Mutation.status, func.count()).group_by(
            Mutation.origin, Mutation.status
        )
    )
    for origin, status, n in rows:
        out.setdefault(origin, {})[status] = int(n)
    return out
