"""Phase 3, rollout: `hybrid` for a growing share of calendars (stable buckets) and the
rollout gate over the cycles run since."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from calsync_tui.engine.model import EngineMode, EventClass
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.migration import gates
from calsync_tui.migration.backfill import (
    backfill_gate_now,
)
from calsync_tui.migration.env import (
    MigrationEnv,
    require_calendars,
)
from calsync_tui.migration.phases import (
    GateResult,
    Phase,
    advance,
    history,
    load_state,
    record_event,
    require_phase,
)
from calsync_tui.migration.results import (
    RolloutResult,
)
from local_store.models import Calendar, EventState, MigrationState, SyncRun


def rollout_bucket(google_id: str) -> int:
    """Stable 0..99 bucket of a calendar: sha256 of its Google id mod 100."""
    return int(hashlib.sha256(google_id.encode()).hexdigest(), 16) % 100


def rollout(
    env: MigrationEnv, percent: int | None, calendar_ids: Sequence[str] = ()
) -> RolloutResult:
    """Hybrid mode for a stable hash-selected `percent` of calendars (plus explicit ones)."""
    if percent is not None and not 0 <= percent <= 100:
        raise UsageError("--percent must be between 0 and 100")
    with env.store.session() as session:
        state = load_state(session)
        if state.phase < Phase.ROLLOUT:
            require_phase(state, Phase.BACKFILL, "rollout")
            advance(state, Phase.ROLLOUT, backfill_gate_now(session))
        elif state.phase > Phase.ROLLOUT:
            raise CalsyncError("the migration is past rollout (cutover done); roll back first")
        cals = require_calendars(session)
        known = {c.google_id for c in cals}
        for cid in calendar_ids:
            if cid not in known:
                raise CalsyncError(f"calendar {cid!r} is not an enabled calendar")
        pct = state.rollout_percent if percent is None else percent
        chosen: list[str] = []
        for row in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True))):
            pick = rollout_bucket(row.google_id) < pct or row.google_id in calendar_ids
            row.engine_mode = EngineMode.HYBRID if pick else EngineMode.LEGACY
            if pick:
                chosen.append(row.google_id)
            session.add(row)
        state.rollout_percent = pct
        record_event(state, "rollout", percent=pct, calendars=sorted(set(chosen)))
        session.add(state)
        session.commit()
        return RolloutResult(pct, sorted(set(chosen)), rollout_gate_now(session, env))


def rollout_gate_now(session: Session, env: MigrationEnv) -> GateResult:
    """Clean cycles (SyncRun) since the last rollout change, coverage of hybrid calendars."""
    return rollout_gate_for(session, env.settings.rollout_clean_cycles)


def rollout_gate_for(session: Session, required: int) -> GateResult:
    """The rollout gate as it stands: the last `required` sync cycles since the last
    rollout change, and coverage of the rolled-out calendars. Reads the store only."""
    state = session.get(MigrationState, 1) or MigrationState(id=1)
    since = None
    for h in history(state):
        if h.get("event") == "rollout":
            since = h.get("at")
    # Only the newest `required` cycles count (gates.rollout_gate looks at those), and
    # those since the rollout are the newest: read no more than that.
    newest = (
        select(SyncRun)
        .where(SyncRun.kind == "sync")
        .order_by(col(SyncRun.id).desc())
        .limit(max(required, 1))
    )
    runs = list(reversed(session.exec(newest).all()))
    if since:
        cutoff = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        runs = [r for r in runs if _aware(r.started_at) >= cutoff]
    cycles = [gates.CycleMetrics(r.cascades, r.stuck, r.success_rate, r.failed) for r in runs]
    hybrid = [
        c.id
        for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True)))
        if c.engine_mode in (EngineMode.HYBRID, EngineMode.UUID)
    ]
    writable = [
        c.id
        for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True)))
        if c.id in hybrid and c.access_role in ("owner", "writer")
    ]
    coverage = _coverage(session, writable)  # a reader calendar's events cannot be stamped
    return gates.rollout_gate(cycles, required, coverage, len(hybrid))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _coverage(session: Session, calendar_ids: Sequence[int | None]) -> float:
    """Share of relevant EventState rows on those calendars that carry our properties."""
    ids = [i for i in calendar_ids if i is not None]
    if not ids:
        return 1.0
    relevant = (
        EventClass.TRACKED_USER_EVENT,
        EventClass.NEW_USER_EVENT,
        EventClass.BUSY_BLOCK,
        EventClass.LEGACY_BUSY_BLOCK,
    )
    base = (
        select(func.count())
        .select_from(EventState)
        .where(col(EventState.calendar_id).in_(ids), col(EventState.event_class).in_(relevant))
        .where(EventState.status != "deleted")
    )
    total = session.exec(base).one()
    if not total:
        return 1.0
    stamped = session.exec(
        base.where(
            col(EventState.event_class).in_((EventClass.TRACKED_USER_EVENT, EventClass.BUSY_BLOCK))
        )
    ).one()
    return float(stamped) / float(total)
