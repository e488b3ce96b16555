"""What the console's screens show: rows shaped for display over `local_store.queries`.

The SQL lives in `local_store.queries` (one read model, shared with `status` and
`lineage`); this module only turns its results into the frozen rows the screens draw
(calendar names instead of ids, times in the calendar's zone, health words). Labels come
from `service.labels`. The console never holds more than a page of events:
`events_page` reads one window over the `(calendar_id, start)` index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from calsync_tui.engine.model import EventClass
from calsync_tui.migration.gates import standing
from calsync_tui.migration.phases import GateResult
from calsync_tui.migration.results import UnfinishedPlan
from calsync_tui.migration.service import current_gate, unfinished_plan
from calsync_tui.service.labels import CLASS_LABELS, phase_name
from calsync_tui.settings import Settings
from calsync_tui.writes import lockout
from calsync_tui.writes import refusals as refusals_
from calsync_tui.writes.refusals import Refusal
from local_store import queries
from local_store.models import EventState, Mutation

DEFAULT_CLEAN_CYCLES = Settings().rollout_clean_cycles


@dataclass(frozen=True)
class CalendarRow:
    """One dashboard row: a calendar with its class counts and health."""

    id: int
    account: str
    google_id: str
    summary: str
    access_role: str
    enabled: bool
    engine_mode: str
    counts: dict[str, int]  # event class (every one of `CLASS_LABELS`) -> live events
    total: int
    coverage: float | None  # share of sources + blocks that carry our properties
    last_synced_at: datetime | None
    last_error: str | None
    time_zone: str = "UTC"

    @property
    def health(self) -> str:
        if self.last_error:
            return "error"
        if self.counts.get(EventClass.ERROR, 0) or self.counts.get(EventClass.ORPHANED_BLOCK, 0):
            return "attention"
        if not self.enabled:
            return "off"
        return "ok"


@dataclass(frozen=True)
class Headline:
    """The metrics of the latest cycles that say whether mirroring is healthy."""

    cascades: int
    success_rate: float | None
    latency_ms: float | None
    stuck: int
    failed: int
    api_calls: int
    api_calls_last_hour: int
    cycles: int
    last_cycle_at: datetime | None
    last_cycle_kind: str | None
    last_error: str | None
    open_alerts: int


@dataclass(frozen=True)
class MigrationView:
    phase: int
    gates: dict[str, Any]
    history: list[Any]
    rollout_percent: int
    legacy_detection: bool
    paused: bool
    active_plan_id: str | None
    approved_plan_id: str | None
    modes: dict[str, int]
    # the active plan while it has writes left (paused, or interrupted by a crash)
    interrupted: UnfinishedPlan | None = None
    # the current phase's gate checked now (`gates` holds the recorded ones that stand)
    current_gate: GateResult | None = None

    @property
    def phase_name(self) -> str:
        return phase_name(self.phase)


@dataclass(frozen=True)
class EventRow:
    correlation_id: str
    calendar_id: int
    google_event_id: str
    event_class: str
    status: str
    stamped: bool
    summary: str
    start: str
    end: str
    source_correlation_id: str | None
    error: str | None


@dataclass(frozen=True)
class JournalRow:
    id: int
    created_at: datetime
    plan_id: str
    origin: str
    op: str
    calendar: str
    google_event_id: str
    correlation_id: str | None
    status: str
    reason: str
    error: str | None


@dataclass(frozen=True)
class AlertRow:
    id: int
    created_at: datetime
    level: str
    kind: str
    message: str
    calendar: str | None
    acknowledged: bool


def calendar_rows(session: Session) -> list[CalendarRow]:
    """Every known calendar with its class counts and coverage (`queries.calendar_summaries`)."""
    rows: list[CalendarRow] = []
    for c in queries.calendar_summaries(session):
        per = {item.key: c.counts.get(item.key, 0) for item in CLASS_LABELS}
        rows.append(
            CalendarRow(
                id=c.id,
                account=c.account_email,
                google_id=c.google_id,
                summary=c.summary or c.google_id,
                access_role=c.access_role,
                enabled=c.enabled,
                engine_mode=c.engine_mode,
                counts=per,
                total=sum(c.counts.values()),
                coverage=(c.coverage / 100) if c.sources else None,
                last_synced_at=c.last_synced_at,
                last_error=c.last_error,
                time_zone=c.time_zone,
            )
        )
    return rows


def headline(session: Session, now: datetime, window: int = 10) -> Headline:
    """Aggregate the latest `window` runs; API calls of the last hour for the quota gauge."""
    runs = queries.latest_runs(session, window)
    latest = runs[0] if runs else None
    # Success rate: writes that succeeded / writes attempted, over the window's runs (a
    # paused run that attempted 13 writes weighs 13, not one run in ten).
    done = sum(_writes(r.mutations_json) for r in runs)
    attempted = done + sum(r.failed for r in runs)
    lats = [r.latency_ms for r in runs if r.latency_ms is not None]
    hour_ago = now.timestamp() - 3600
    # API calls/hour: every run of the last hour (sync, backfill, cutover, rollback), not
    # only those among the window's latest runs.
    recent = queries.latest_runs(session, 1000)
    last_hour = sum(r.api_calls for r in recent if _ts(r.started_at) >= hour_ago)
    return Headline(
        cascades=sum(r.cascades for r in runs),
        success_rate=(done / attempted) if attempted else (1.0 if runs else None),
        latency_ms=(sum(lats) / len(lats)) if lats else None,
        stuck=queries.count_stuck(session),
        failed=sum(r.failed for r in runs),
        api_calls=sum(r.api_calls for r in runs),
        api_calls_last_hour=last_hour,
        cycles=len(runs),
        last_cycle_at=(latest.finished_at or latest.started_at) if latest else None,
        last_cycle_kind=latest.kind if latest else None,
        last_error=latest.error if latest else None,
        open_alerts=len(queries.open_alerts(session)),
    )


def _writes(raw: str | None) -> int:
    """The sum of a run's per-op write counts (`SyncRun.mutations_json`)."""
    counts = _json(raw, {})
    return (
        sum(int(v) for v in counts.values() if isinstance(v, int))
        if isinstance(counts, dict)
        else 0
    )


def _ts(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def migration_view(session: Session, clean_cycles: int = DEFAULT_CLEAN_CYCLES) -> MigrationView:
    """The phase, its gates as they stand now, modes and the unfinished plan.
    `clean_cycles`: the rollout gate's setting (`Settings.rollout_clean_cycles`)."""
    state = queries.peek_migration_state(session)
    recorded = _json(state.gates_json, {})
    return MigrationView(
        phase=state.phase,
        gates=standing(recorded, state.phase) if isinstance(recorded, dict) else {},
        current_gate=current_gate(session, clean_cycles),
        history=_json(state.history_json, []),
        rollout_percent=state.rollout_percent,
        legacy_detection=state.legacy_detection,
        paused=state.paused,
        active_plan_id=state.active_plan_id,
        approved_plan_id=state.approved_plan_id,
        modes=queries.enabled_mode_counts(session),
        interrupted=unfinished_plan(session),
    )


def migration_stamp(session: Session) -> tuple[Any, ...]:
    """What changes when the migration state or the active plan's journal does (a pause
    from another terminal, a run in another process): the screens poll this cheap value
    and redraw only when it moves."""
    state = queries.peek_migration_state(session)
    left = (
        queries.count_journal(session, status="pending", plan_id=state.active_plan_id)
        if state.active_plan_id
        else 0
    )
    return (
        state.phase,
        state.paused,
        state.rollout_percent,
        state.legacy_detection,
        state.active_plan_id,
        state.approved_plan_id,
        state.updated_at,
        len(state.history_json or ""),
        left,
    )


def _json(raw: str | None, default: Any) -> Any:
    try:
        return json.loads(raw) if raw else default
    except ValueError:
        return default


def count_events(session: Session, calendar_id: int, text: str = "") -> int:
    return queries.count_events(session, calendar_id, text.strip() or None)


def in_zone(when: str, tz: str | None) -> str:
    """A timed ISO start/end shown in `tz` (events of one calendar carry the offsets of
    whoever made them, so raw strings look unsorted); dates and bad input stay as they are."""
    if tz is None or "T" not in when:
        return when
    try:
        return datetime.fromisoformat(when).astimezone(ZoneInfo(tz)).isoformat()
    except (ValueError, ZoneInfoNotFoundError):
        return when


R = TypeVar("R", bound=EventRow)


@overload
def event_row(e: EventState, tz: str | None = None) -> EventRow: ...
@overload
def event_row(e: EventState, tz: str | None = None, *, cls: type[R], **more: Any) -> R: ...
def event_row(
    e: EventState, tz: str | None = None, *, cls: type[EventRow] = EventRow, **more: Any
) -> EventRow:
    """The one builder of an event as the console and the CLI show it: the events list's
    rows and lineage's nodes (`service.lineage.EventNode`, an `EventRow` with `more`: its
    calendar and journal). Times are shown in `tz` (the calendar's zone), None: as stored."""
    return cls(
        correlation_id=e.correlation_id,
        calendar_id=e.calendar_id,
        google_event_id=e.google_event_id,
        event_class=e.event_class,
        status=e.status,
        stamped=e.stamped,
        summary=e.summary,
        start=in_zone(e.start, tz),
        end=in_zone(e.end, tz),
        source_correlation_id=e.source_correlation_id,
        error=e.error,
        **more,
    )


def events_page(
    session: Session, calendar_id: int, text: str, offset: int, limit: int, tz: str | None = None
) -> list[EventRow]:
    """One window of a calendar's events, ordered by start then id (stable across pages),
    times shown in `tz` (the calendar's zone)."""
    page = queries.events_page(
        session, calendar_id, text=text.strip() or None, offset=offset, limit=limit
    )
    return [event_row(e, tz) for e in page]


def _journal_row(m: Mutation, names: dict[int, str]) -> JournalRow:
    assert m.id is not None
    return JournalRow(
        id=m.id,
        created_at=m.created_at,
        plan_id=m.plan_id,
        origin=m.origin,
        op=m.op,
        calendar=names.get(m.calendar_id, str(m.calendar_id)),
        google_event_id=m.google_event_id,
        correlation_id=m.correlation_id,
        status=m.status,
        reason=m.reason,
        error=m.error,
    )


def journal_page(session: Session, text: str = "", limit: int = 500) -> list[JournalRow]:
    """Newest journal rows first, filtered by op/status/origin/reason/ids."""
    names = queries.calendar_names(session)
    rows = queries.journal_page(session, text=text.strip() or None, limit=limit)
    return [_journal_row(m, names) for m in rows]


def alerts(session: Session, limit: int = 200) -> list[AlertRow]:
    names = queries.calendar_names(session)
    out: list[AlertRow] = []
    for a in queries.all_alerts(session, limit):
        assert a.id is not None
        out.append(
            AlertRow(
                id=a.id,
                created_at=a.created_at,
                level=a.level,
                kind=a.kind,
                message=a.message,
                calendar=names.get(a.calendar_id) if a.calendar_id is not None else None,
                acknowledged=a.acknowledged,
            )
        )
    return out


def latest_discover(session: Session) -> tuple[datetime, dict[str, int]] | None:
    """When the last discover ran and its totals (legacy, linked, duplicates, cascades…)."""
    runs = queries.latest_runs(session, 1, kind="discover")
    if not runs:
        return None
    totals = _json(runs[0].classes_json, {})
    if not isinstance(totals, dict):
        return None
    return runs[0].finished_at or runs[0].started_at, {
        str(k): int(v) for k, v in totals.items() if v
    }


@dataclass(frozen=True)
class PausedAccount:
    """An account whose writes Google's usage limit paused (`writes.lockout`)."""

    account: str
    until: datetime
    active: bool  # still inside the pause; else the next cycle sends one probe write
    at: str  # `until` as the person reads it: 14:20 (local time), or Mar 11 14:20

    def line(self) -> str:
        if self.active:
            return (
                f"{self.account}: writes paused until {self.at} (Google's usage limit); "
                f"nothing is lost: the writes wait in the journal, and after {self.at} one "
                "probe write goes out first"
            )
        return (
            f"{self.account}: writes paused by Google's usage limit until {self.at}; the "
            "next cycle sends one probe write, and the rest follow once Google takes it"
        )


def clock_time(when: datetime, now: datetime) -> str:
    """`14:20` in local time, with the day when it is not today (as `writes.lockout`)."""
    local = when.astimezone()
    if local.date() != now.astimezone().date():
        return f"{local:%b} {local.day} {local:%H:%M}"  # Dec 2 00:10
    return local.strftime("%H:%M")


def paused_accounts(session: Session, now: datetime) -> list[PausedAccount]:
    """Accounts whose writes are paused by Google's usage limit, or wait for the probe."""
    return [
        PausedAccount(p.account, p.until, p.active(now), clock_time(p.until, now))
        for p in lockout.paused_accounts(session)
    ]


def refusals(session: Session) -> list[Refusal]:
    """Writes Google refused for good, remembered against their event (one per event),
    with Google's reason and what the user can do (`writes.refusals`)."""
    return refusals_.refusals(session)
