"""What the screens show, read straight from the store tables in small, indexed queries.

The console never holds more than a page of events in memory: `events_page` reads one
window with LIMIT/OFFSET over the `(calendar_id, ...)` index, so a 50,000-event calendar
costs the same to display as a 50-event one. Every function takes a sync SQLAlchemy
session so it can run in a thread worker or, for one page, on the UI thread.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from calsync_tui.engine.model import EventClass
from local_store.models import (
    Account,
    Alert,
    Calendar,
    EventState,
    MigrationState,
    Mutation,
    SyncRun,
)

CLASS_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user", (EventClass.NEW_USER_EVENT.value,)),
    ("tracked", (EventClass.TRACKED_USER_EVENT.value,)),
    ("blocks", (EventClass.BUSY_BLOCK.value,)),
    ("legacy", (EventClass.LEGACY_BUSY_BLOCK.value,)),
    ("external", (EventClass.EXTERNAL_CALSYNC.value,)),
    ("orphaned", (EventClass.ORPHANED_BLOCK.value,)),
    ("ignored", (EventClass.IGNORED.value,)),
    ("error", (EventClass.ERROR.value,)),
)

PHASE_NAMES = ("discover", "prepare", "backfill", "rollout", "cutover")


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
    counts: dict[str, int]
    total: int
    coverage: float | None  # share of sources + blocks that carry our properties
    last_synced_at: datetime | None
    last_error: str | None

    @property
    def health(self) -> str:
        if self.last_error:
            return "error"
        if self.counts.get("error", 0) or self.counts.get("orphaned", 0):
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

    @property
    def phase_name(self) -> str:
        return PHASE_NAMES[self.phase] if 0 <= self.phase < len(PHASE_NAMES) else str(self.phase)


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


@dataclass(frozen=True)
class AccountRow:
    id: int
    email: str
    auth_kind: str
    needs_signin: bool
    signin_error: str | None
    calendars: int
    enabled: int


@dataclass
class LineageNode:
    """One event in a lineage tree, with the journal rows that touched it."""

    event: EventRow
    calendar: str
    journal: list[JournalRow] = field(default_factory=list)


@dataclass
class LineageView:
    source: LineageNode | None
    blocks: list[LineageNode]
    asked: str


def _calendar_names(session: Session) -> dict[int, str]:
    rows = session.exec(select(Calendar.id, Calendar.summary, Calendar.google_id)).all()
    return {int(cid): (summary or gid) for cid, summary, gid in rows if cid is not None}


def calendar_rows(session: Session) -> list[CalendarRow]:
    """Every known calendar with per-class counts (one grouped query) and coverage."""
    counts: dict[int, Counter[str]] = {}
    stamped: Counter[int] = Counter()
    q = select(EventState.calendar_id, EventState.event_class, func.count()).group_by(
        col(EventState.calendar_id), col(EventState.event_class)
    )
    for cal_id, klass, n in session.exec(q).all():
        counts.setdefault(int(cal_id), Counter())[str(klass)] += int(n)
    cov_classes = (
        EventClass.NEW_USER_EVENT.value,
        EventClass.TRACKED_USER_EVENT.value,
        EventClass.BUSY_BLOCK.value,
        EventClass.LEGACY_BUSY_BLOCK.value,
    )
    qs = (
        select(EventState.calendar_id, func.count())
        .where(col(EventState.stamped).is_(True))
        .where(col(EventState.event_class).in_(cov_classes))
        .group_by(col(EventState.calendar_id))
    )
    for cal_id, n in session.exec(qs).all():
        stamped[int(cal_id)] = int(n)
    emails = {a.id: a.email for a in session.exec(select(Account)).all()}
    rows: list[CalendarRow] = []
    cals = session.exec(select(Calendar).order_by(col(Calendar.account_id), col(Calendar.summary)))
    for cal in cals.all():
        assert cal.id is not None
        raw = counts.get(cal.id, Counter())
        per = {name: sum(raw.get(k, 0) for k in keys) for name, keys in CLASS_COLUMNS}
        relevant = sum(raw.get(k, 0) for k in cov_classes)
        coverage = (stamped[cal.id] / relevant) if relevant else None
        rows.append(
            CalendarRow(
                id=cal.id,
                account=emails.get(cal.account_id, "?"),
                google_id=cal.google_id,
                summary=cal.summary or cal.google_id,
                access_role=cal.access_role,
                enabled=cal.enabled,
                engine_mode=cal.engine_mode,
                counts=per,
                total=sum(raw.values()),
                coverage=coverage,
                last_synced_at=cal.last_synced_at,
                last_error=cal.last_error,
            )
        )
    return rows


def headline(session: Session, now: datetime, window: int = 10) -> Headline:
    """Aggregate the latest `window` runs; API calls of the last hour for the quota gauge."""
    runs = session.exec(select(SyncRun).order_by(col(SyncRun.id).desc()).limit(window)).all()
    latest = runs[0] if runs else None
    rates = [r.success_rate for r in runs]
    lats = [r.latency_ms for r in runs if r.latency_ms is not None]
    hour_ago = now.timestamp() - 3600
    last_hour = 0
    for r in runs:
        if r.started_at is not None and _ts(r.started_at) >= hour_ago:
            last_hour += r.api_calls
    open_alerts = session.exec(
        select(func.count()).select_from(Alert).where(col(Alert.acknowledged).is_(False))
    ).one()
    stuck = session.exec(
        select(func.count()).select_from(EventState).where(col(EventState.status) == "creating")
    ).one()
    return Headline(
        cascades=sum(r.cascades for r in runs),
        success_rate=(sum(rates) / len(rates)) if rates else None,
        latency_ms=(sum(lats) / len(lats)) if lats else None,
        stuck=int(stuck),
        failed=sum(r.failed for r in runs),
        api_calls=sum(r.api_calls for r in runs),
        api_calls_last_hour=last_hour,
        cycles=len(runs),
        last_cycle_at=(latest.finished_at or latest.started_at) if latest else None,
        last_cycle_kind=latest.kind if latest else None,
        last_error=latest.error if latest else None,
        open_alerts=int(open_alerts),
    )


def _ts(value: datetime) -> float:
    from datetime import UTC

    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def migration_view(session: Session) -> MigrationView:
    state = session.get(MigrationState, 1) or MigrationState()
    modes: Counter[str] = Counter()
    for mode, n in session.exec(
        select(Calendar.engine_mode, func.count())
        .where(col(Calendar.enabled).is_(True))
        .group_by(col(Calendar.engine_mode))
    ).all():
        modes[str(mode)] = int(n)
    return MigrationView(
        phase=state.phase,
        gates=_json(state.gates_json, {}),
        history=_json(state.history_json, []),
        rollout_percent=state.rollout_percent,
        legacy_detection=state.legacy_detection,
        paused=state.paused,
        active_plan_id=state.active_plan_id,
        approved_plan_id=state.approved_plan_id,
        modes=dict(modes),
    )


def _json(raw: str | None, default: Any) -> Any:
    try:
        return json.loads(raw) if raw else default
    except ValueError:
        return default


def _event_filter(calendar_id: int, text: str) -> Any:
    cond: Any = col(EventState.calendar_id) == calendar_id
    text = text.strip()
    if text:
        like = f"%{text}%"
        cond = cond & or_(
            col(EventState.summary).ilike(like),
            col(EventState.event_class).ilike(like),
            col(EventState.status).ilike(like),
            col(EventState.google_event_id).ilike(like),
            col(EventState.correlation_id).ilike(like),
        )
    return cond


def count_events(session: Session, calendar_id: int, text: str = "") -> int:
    q = select(func.count()).select_from(EventState).where(_event_filter(calendar_id, text))
    return int(session.exec(q).one())


def _event_row(e: EventState) -> EventRow:
    return EventRow(
        correlation_id=e.correlation_id,
        calendar_id=e.calendar_id,
        google_event_id=e.google_event_id,
        event_class=e.event_class,
        status=e.status,
        stamped=e.stamped,
        summary=e.summary,
        start=e.start,
        end=e.end,
        source_correlation_id=e.source_correlation_id,
        error=e.error,
    )


def events_page(
    session: Session, calendar_id: int, text: str, offset: int, limit: int
) -> list[EventRow]:
    """One window of a calendar's events, ordered by start then id (stable across pages)."""
    q = (
        select(EventState)
        .where(_event_filter(calendar_id, text))
        .order_by(col(EventState.start_utc), col(EventState.correlation_id))
        .offset(offset)
        .limit(limit)
    )
    return [_event_row(e) for e in session.exec(q).all()]


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
    q = select(Mutation).order_by(col(Mutation.id).desc()).limit(limit)
    text = text.strip()
    if text:
        like = f"%{text}%"
        q = q.where(
            or_(
                col(Mutation.op).ilike(like),
                col(Mutation.status).ilike(like),
                col(Mutation.origin).ilike(like),
                col(Mutation.reason).ilike(like),
                col(Mutation.google_event_id).ilike(like),
                col(Mutation.correlation_id).ilike(like),
                col(Mutation.plan_id).ilike(like),
            )
        )
    names = _calendar_names(session)
    return [_journal_row(m, names) for m in session.exec(q).all()]


def plan_rows(session: Session, plan_id: str) -> list[JournalRow]:
    """The journal rows of one plan, in execution order (for drilling into writes)."""
    names = _calendar_names(session)
    q = select(Mutation).where(col(Mutation.plan_id) == plan_id).order_by(col(Mutation.seq))
    return [_journal_row(m, names) for m in session.exec(q).all()]


def alerts(session: Session, limit: int = 200) -> list[AlertRow]:
    names = _calendar_names(session)
    q = select(Alert).order_by(col(Alert.acknowledged), col(Alert.id).desc()).limit(limit)
    out: list[AlertRow] = []
    for a in session.exec(q).all():
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


def acknowledge_alert(session: Session, alert_id: int) -> bool:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.acknowledged:
        return False
    alert.acknowledged = True
    session.add(alert)
    session.commit()
    return True


def accounts(session: Session) -> list[AccountRow]:
    per: dict[int, tuple[int, int]] = {}
    for acc_id, enabled, n in session.exec(
        select(Calendar.account_id, Calendar.enabled, func.count()).group_by(
            col(Calendar.account_id), col(Calendar.enabled)
        )
    ).all():
        total, on = per.get(int(acc_id), (0, 0))
        per[int(acc_id)] = (total + int(n), on + (int(n) if enabled else 0))
    out: list[AccountRow] = []
    for a in session.exec(select(Account).order_by(col(Account.email))).all():
        assert a.id is not None
        total, on = per.get(a.id, (0, 0))
        out.append(
            AccountRow(
                id=a.id,
                email=a.email,
                auth_kind=a.auth_kind,
                needs_signin=a.needs_signin,
                signin_error=a.signin_error,
                calendars=total,
                enabled=on,
            )
        )
    return out


def lineage(session: Session, ident: str) -> LineageView:
    """Source → blocks for an event given by correlation id or Google event id."""
    ident = ident.strip()
    found = session.get(EventState, ident)
    if found is None:
        found = session.exec(
            select(EventState).where(col(EventState.google_event_id) == ident).limit(1)
        ).first()
    names = _calendar_names(session)
    if found is None:
        return LineageView(source=None, blocks=[], asked=ident)
    source: EventState | None = found
    if found.source_correlation_id:
        source = session.get(EventState, found.source_correlation_id.split(":")[0])
    if source is None:
        # A block whose source is gone (an orphan): show it under a missing source.
        return LineageView(source=None, blocks=[_node(session, found, names)], asked=ident)
    blocks = session.exec(
        select(EventState)
        .where(
            or_(
                col(EventState.source_correlation_id) == source.correlation_id,
                col(EventState.source_correlation_id).startswith(source.correlation_id + ":"),
            )
        )
        .order_by(col(EventState.calendar_id), col(EventState.start))
    ).all()
    return LineageView(
        source=_node(session, source, names),
        blocks=[_node(session, b, names) for b in blocks],
        asked=ident,
    )


def _node(session: Session, e: EventState, names: dict[int, str]) -> LineageNode:
    q = (
        select(Mutation)
        .where(
            or_(
                col(Mutation.correlation_id) == e.correlation_id,
                (col(Mutation.google_event_id) == e.google_event_id)
                & (col(Mutation.calendar_id) == e.calendar_id),
            )
        )
        .order_by(col(Mutation.id))
    )
    return LineageNode(
        event=_event_row(e),
        calendar=names.get(e.calendar_id, str(e.calendar_id)),
        journal=[_journal_row(m, names) for m in session.exec(q).all()],
    )


def rollout_calendars(session: Session) -> list[tuple[str, str, bool]]:
    """(summary, engine mode, enabled) of every calendar, for the rollout panel."""
    rows = session.exec(select(Calendar).order_by(col(Calendar.summary))).all()
    return [(c.summary or c.google_id, c.engine_mode, c.enabled) for c in rows]


def set_all_modes(session: Session, mode: str) -> int:
    """Rollback level 1 fallback when the migration core is absent: every calendar → mode."""
    n = 0
    for cal in session.exec(select(Calendar)).all():
        if cal.engine_mode != mode:
            cal.engine_mode = mode
            session.add(cal)
            n += 1
    session.commit()
    return n


def latest_discover(session: Session) -> tuple[datetime, dict[str, int]] | None:
    """When the last discover ran and its totals (legacy, linked, duplicates, cascades…)."""
    run = session.exec(
        select(SyncRun).where(col(SyncRun.kind) == "discover").order_by(col(SyncRun.id).desc())
    ).first()
    if run is None:
        return None
    totals = _json(run.classes_json, {})
    if not isinstance(totals, dict):
        return None
    return run.finished_at or run.started_at, {str(k): int(v) for k, v in totals.items() if v}
