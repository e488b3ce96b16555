"""The migration's operations, one function per command, shared by the CLI and the TUI.

Each returns a typed result (`migration.results`: frozen dataclasses with `to_json()`
for the CLI's `--json`), so both faces read the same fields. Google is read through the
gateway; every write goes through `journal`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, overload

from sqlmodel import Session, col, func, select

from calsync_tui import clock
from calsync_tui.engine.model import EngineMode, EventClass, MutationStatus
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.migration import gates, journal
from calsync_tui.migration.env import (
    CalendarRef,
    MigrationEnv,
    Snapshot,
    enabled_calendars,
    read_snapshot,
    require_calendars,
)
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.phases import (
    GateResult,
    Phase,
    advance,
    history,
    load_state,
    phase_name,
    record_event,
    record_gate,
    require_phase,
)
from calsync_tui.migration.plan_file import MigrationPlan, read_plan, write_plan
from calsync_tui.migration.planner import build_backfill, retitle_writes
from calsync_tui.migration.results import (
    CalendarCounts,
    CalendarMode,
    CutoverPreview,
    InventoryReport,
    JournalCounts,
    NothingToResume,
    PauseResult,
    PhaseOverview,
    PlanCounts,
    RolloutResult,
    RunResult,
    UnfinishedPlan,
)
from calsync_tui.writes import refusals
from local_store.models import Alert, Calendar, EventState, MigrationState, Mutation, SyncRun

ORIGIN_BACKFILL = "migration"
ORIGIN_CUTOVER = "cutover"
ORIGIN_ROLLBACK = "rollback"
# `adopt` (engine.adopt): taking another installation's markers over is undone by level 2 too
ORIGIN_ADOPT = "adopt"
MIGRATION_ORIGINS = (ORIGIN_BACKFILL, ORIGIN_CUTOVER, ORIGIN_ADOPT)


# --- discover / prepare -----------------------------------------------------------------


def discover_report(snap: Snapshot) -> InventoryReport:
    """Per calendar counts per class and the legacy findings, plus the lists themselves."""
    inv = snap.inventory
    per_cal = inv.counts()
    names = {c.google_id: c.summary for c in snap.calendars}
    totals: dict[str, int] = {}
    for counts in per_cal.values():
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return InventoryReport(
        calendars=[
            CalendarCounts(cal, names.get(cal, ""), counts) for cal, counts in per_cal.items()
        ],
        totals=totals,
        events_seen=len(inv.items),
        fingerprint=inv.fingerprint(),
        api_calls=snap.api_calls,
        links=inv.links,
    )


def discover(env: MigrationEnv) -> InventoryReport:
    """Read-only inventory. Records that an inventory exists (the discover gate)."""
    started = clock.now()
    with env.store.session() as session:
        cals = require_calendars(session)
    snap = read_snapshot(env, cals)
    report = replace(discover_report(snap), foreign=_foreign(snap, env))  # adoption notice
    with env.store.session() as session:
        state = load_state(session)
        record_gate(state, gates.discover_gate(True, report.events_seen))
        record_event(state, "discover", totals=_short_totals(report.totals))
        session.add(state)
        _sync_run(session, "discover", started, snap, report.totals)
        session.commit()
    return report


def _foreign(snap: Snapshot, env: MigrationEnv) -> list[dict[str, Any]]:
    """Other installations' stamps and blocks among the listed events (engine.foreign)."""
    from calsync_tui.engine.foreign import summarize_events

    local = {c.google_id: c.local_id for c in snap.calendars}
    return [
        f.to_json()
        for f in summarize_events(
            (
                (local.get(i.calendar, 0), i.calendar, i.event, i.info)
                for i in snap.inventory.items
                if i.info is not None
            ),
            interval_seconds=env.settings.sync_interval_seconds,
            now=env.now(),
        )
    ]


def _short_totals(totals: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in totals.items() if v}


def _sync_run(
    session: Session,
    kind: str,
    started: datetime,
    snap: Snapshot | None,
    classes: Mapping[str, int],
) -> None:
    now = clock.now()
    session.add(
        SyncRun(
            kind=kind,
            started_at=started,
            finished_at=now,
            duration_ms=(now - started).total_seconds() * 1000,
            events_seen=len(snap.inventory.items) if snap else 0,
            classes_json=json.dumps(dict(classes)),
            api_calls=snap.api_calls if snap else 0,
        )
    )


def prepare(env: MigrationEnv) -> InventoryReport:
    """Enter phase 1: link legacy blocks locally and check the prepare gate.

    The store was already backed up and upgraded by `open_store`. Every enabled calendar
    is put in `legacy` mode (today's behaviour) until rollout picks it.
    """
    with env.store.session() as session:
        state = load_state(session)
        g = json.loads(state.gates_json or "{}").get("discover", {})
        advance(
            state,
            Phase.PREPARE,
            gates.discover_gate(bool(g.get("passed")), g.get("details", {}).get("events_seen", 0)),
        )
        session.add(state)
        session.commit()
        cals = require_calendars(session)
    snap = read_snapshot(env, cals)
    report = discover_report(snap)
    inv = snap.inventory
    legacy = report.totals.get(EventClass.LEGACY_BUSY_BLOCK.value, 0)
    gate = gates.prepare_gate(
        legacy, len(inv.links.links), len(inv.links.unlinked), len(inv.links.ambiguous)
    )
    with env.store.session() as session:
        state = load_state(session)
        if state.phase <= Phase.PREPARE:
            for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True))):
                c.engine_mode = EngineMode.LEGACY
                session.add(c)
        _store_links(session, snap)
        record_gate(state, gate)
        record_event(state, "prepare", linked=len(inv.links.links), passed=gate.passed)
        session.add(state)
        session.commit()
    return replace(report, gate=gate)


def _store_links(session: Session, snap: Snapshot) -> None:
    """Keep each legacy block's link locally (EventState of the block, source id)."""
    from calsync_tui.engine.fields import time_columns
    from calsync_tui.engine.model import block_correlation_id

    local = {c.google_id: c.local_id for c in snap.calendars}
    zones = {c.google_id: c.time_zone for c in snap.calendars}
    by_ref = {i.ref: i for i in snap.inventory.items}
    for lk in snap.inventory.links.links:
        src = by_ref[lk.source]
        key = src.correlation_id
        cid = block_correlation_id(key, lk.block.calendar)
        block = by_ref[lk.block].event
        existing = session.get(EventState, cid)
        row = existing or EventState(
            correlation_id=cid,
            calendar_id=local[lk.block.calendar],
            google_event_id=lk.block.event_id,
        )
        row.google_event_id = lk.block.event_id
        row.calendar_id = local[lk.block.calendar]
        row.event_type = "busy_block"
        row.event_class = EventClass.LEGACY_BUSY_BLOCK
        row.source_correlation_id = key
        row.summary = str(block.get("summary") or "")
        row.etag = block.get("etag")
        row.recurring_event_id = block.get("recurringEventId")
        # the engine reads all-day-ness and zone from the row: keep its form exactly
        times = time_columns(block, zones.get(lk.block.calendar)) or {
            "start": _raw_when(block.get("start")),
            "end": _raw_when(block.get("end")),
        }
        for column, value in times.items():
            setattr(row, column, value)
        row.last_seen = clock.now()
        clash = session.exec(
            select(EventState).where(
                EventState.calendar_id == row.calendar_id,
                EventState.google_event_id == row.google_event_id,
                EventState.correlation_id != cid,
            )
        ).first()
        if clash is not None:
            session.delete(clash)
            session.flush()
        session.add(row)


def _raw_when(value: Any) -> str:
    when = value if isinstance(value, dict) else {}
    return str(when.get("dateTime") or when.get("date") or "")


# --- plan / backfill ----------------------------------------------------------------------


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
    size = _batch(env, batch_size)
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
        {"totals": _short_totals(report.totals), "read_api_calls": snap.api_calls},
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


def _batch(env: MigrationEnv, batch_size: int | None) -> int:
    size = batch_size or env.settings.batch_size
    if not 1 <= size <= 1000:
        raise UsageError("--batch-size must be between 1 and 1000 (Google's batch limit)")
    return size


def _cal_ids(cals: Sequence[CalendarRef]) -> dict[str, int]:
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
    size = _batch(env, batch_size or plan.batch_size)
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
        missing = {w.calendar for w in plan.writes} - set(_cal_ids(cals))
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
            journal.journal_plan(
                session, plan.plan_id, ORIGIN_BACKFILL, plan.writes, _cal_ids(cals)
            )
    began = clock.now()
    result = journal.run_rows(
        env,
        plan.plan_id,
        enabled_calendars_all(env),
        batch_size=size,
        progress=progress,
        scope=scope,
    )
    return _finish_backfill(env, plan.plan_id, result, began)


def enabled_calendars_all(env: MigrationEnv) -> list[CalendarRef]:
    with env.store.session() as session:
        return enabled_calendars(session)


def _finish_backfill(
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


SUPERSEDABLE = (ORIGIN_BACKFILL, ORIGIN_CUTOVER)


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
        cutting_over = _unfinished(session, plan_id, ORIGIN_CUTOVER)
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
        batch_size=_batch(env, batch_size),
        progress=progress,
    )
    return _finish_backfill(env, plan_id, result, began, continued=True)


# --- rollout ------------------------------------------------------------------------------


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


# --- cutover ------------------------------------------------------------------------------


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
    size = _batch(env, batch_size)
    with env.store.session() as session:
        state = load_state(session)
        require_phase(state, Phase.ROLLOUT, "cutover")
        gate = rollout_gate_now(session, env)
        resuming = _unfinished(session, state.active_plan_id, ORIGIN_CUTOVER)
        if not gate.passed and not force_gate and not dry_run and not resuming:
            record_gate(state, gate)
            session.add(state)
            session.commit()
            raise CalsyncError("rollout gate not passed: " + "; ".join(gate.reasons))
        cals = require_calendars(session)
        resume_id = (
            state.active_plan_id
            if _unfinished(session, state.active_plan_id, ORIGIN_CUTOVER)
            else None
        )
    if resume_id is None:
        snap = read_snapshot(env, cals)
        writes = retitle_writes(snap.inventory, env.options())
        plan = MigrationPlan.new("cutover", None, snap.inventory.fingerprint(), writes, size)
        if dry_run:
            return CutoverPreview(plan=plan, gate=gate)
        with env.store.session() as session:
            journal.journal_plan(session, plan.plan_id, ORIGIN_CUTOVER, writes, _cal_ids(cals))
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


def _unfinished(session: Session, plan_id: str | None, origin: str) -> bool:
    if not plan_id:
        return False
    rows = journal.plan_rows(session, plan_id)
    return (
        bool(rows)
        and rows[0].origin == origin
        and any(m.status in (MutationStatus.PENDING, MutationStatus.FAILED) for m in rows)
    )


# --- overview / alerts --------------------------------------------------------------------


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
