"""Read models shared by `status`, the TUI and others: plain functions over a sync Session.

They return dataclasses (or the table rows themselves for pages) so callers never build
their own SQL for display. Event and journal pages use indexed ORDER BY + LIMIT/OFFSET:
at 50,000 events a page costs milliseconds (see tests/store/test_queries.py).

The vocabulary is repeated here as strings on purpose: the store sits below the engine
and must not import it (`calsync_tui.engine.model` holds the same names).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, func, or_, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from local_store.models import (
    Account,
    Alert,
    Calendar,
    EventState,
    MigrationState,
    Mutation,
    SyncRun,
)

SOURCE_CLASSES = ("tracked_user_event", "new_user_event")
WRITABLE_ROLES = ("owner", "writer")
# A block counts toward coverage only once Google's copy is confirmed up to date.
COVERED_STATUSES = ("created", "synced")  # created: Google confirmed the insert
GONE_STATUS = "deleted"


@dataclass
class CalendarSummary:
    """One calendar as the dashboard shows it."""

    id: int
    google_id: str
    summary: str
    account_email: str
    access_role: str
    enabled: bool
    engine_mode: str
    counts: dict[str, int] = field(default_factory=dict)  # event_class -> live events
    sources: int = 0
    covered_sources: int = 0
    coverage: float = 100.0  # percent; 100 when there is nothing to cover
    last_synced_at: datetime | None = None
    last_error: str | None = None
    time_zone: str = "UTC"  # the calendar's own zone, for showing its events' times

    @property
    def writable(self) -> bool:
        return self.access_role in WRITABLE_ROLES


@dataclass
class AccountSummary:
    email: str
    auth_kind: str
    needs_signin: bool
    signin_error: str | None
    calendars: int
    enabled_calendars: int


def _live() -> ColumnElement[bool]:
    return col(EventState.status) != GONE_STATUS


def _contains(text: str, *columns: Any) -> ColumnElement[bool]:
    """Any of `columns` contains `text` literally (LIKE with %, _ and \\ escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(col(c).like(pattern, escape="\\") for c in columns))


# One aggregate in SQLite (the Python thread does not hold the GIL while it runs, so a
# console read in a worker does not slow the UI): each live source looks its blocks up
# through the source index (`INDEXED BY`: never the low-selectivity status index, which
# once made a self-join quadratic at 50k rows) and counts the target calendars, other
# than its own, that hold one.
_COVERAGE_SQL = text(
    """
    WITH targets AS (
        SELECT id FROM calendar WHERE enabled = 1 AND access_role IN :writable
    )
    SELECT s.calendar_id, COUNT(*) AS sources, SUM(
        (SELECT COUNT(DISTINCT b.calendar_id)
         FROM eventstate AS b INDEXED BY ix_eventstate_source
         WHERE b.source_correlation_id = s.correlation_id
           AND b.event_type = 'busy_block' AND b.status IN :covered
           AND b.calendar_id != s.calendar_id
           AND b.calendar_id IN (SELECT id FROM targets))
        = (SELECT COUNT(*) FROM targets WHERE id != s.calendar_id)
    ) AS covered
    FROM eventstate AS s
    WHERE s.event_class IN :sources AND s.status != :gone
    GROUP BY s.calendar_id
    """
).bindparams(
    bindparam("writable", expanding=True),
    bindparam("covered", expanding=True),
    bindparam("sources", expanding=True),
)


def coverage_by_calendar(session: Session) -> dict[int, tuple[int, int]]:
    """calendar id -> (sources, covered sources).

    A source is covered when every enabled writable calendar other than its own holds a
    synced busy block for it (one SQL aggregate, `_COVERAGE_SQL`).
    """
    rows = session.execute(
        _COVERAGE_SQL,
        {
            "writable": list(WRITABLE_ROLES),
            "covered": list(COVERED_STATUSES),
            "sources": list(SOURCE_CLASSES),
            "gone": GONE_STATUS,
        },
    )
    return {int(cal): (int(n), int(covered or 0)) for cal, n, covered in rows}


def _percent(part: int, whole: int) -> float:
    return 100.0 if whole == 0 else round(100.0 * part / whole, 2)


def calendar_summaries(session: Session) -> list[CalendarSummary]:
    """Every known calendar with its class counts and coverage, enabled ones first."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    count_stmt = (
        select(EventState.calendar_id, EventState.event_class, func.count())
        .where(_live())
        .group_by(col(EventState.calendar_id), col(EventState.event_class))
    )
    for calendar_id, event_class, n in session.execute(count_stmt):
        counts[calendar_id][event_class] = n
    coverage = coverage_by_calendar(session)
    rows = session.execute(
        select(Calendar, Account.email)
        .join(Account, col(Account.id) == col(Calendar.account_id))
        .order_by(col(Calendar.enabled).desc(), col(Account.email), col(Calendar.summary))
    ).all()
    out: list[CalendarSummary] = []
    for cal, email in rows:
        assert cal.id is not None
        sources, covered = coverage.get(cal.id, (0, 0))
        out.append(
            CalendarSummary(
                id=cal.id,
                google_id=cal.google_id,
                summary=cal.summary,
                account_email=email,
                access_role=cal.access_role,
                enabled=cal.enabled,
                engine_mode=cal.engine_mode,
                counts=counts.get(cal.id, {}),
                sources=sources,
                covered_sources=covered,
                coverage=_percent(covered, sources),
                last_synced_at=cal.last_synced_at,
                last_error=cal.last_error,
                time_zone=cal.time_zone or "UTC",
            )
        )
    return out


def class_totals(session: Session, calendar_ids: list[int] | None = None) -> dict[str, int]:
    """Live events per class over all (or the given) calendars."""
    stmt = select(EventState.event_class, func.count()).where(_live())
    if calendar_ids is not None:
        stmt = stmt.where(col(EventState.calendar_id).in_(calendar_ids))
    stmt = stmt.group_by(col(EventState.event_class))
    return {event_class: n for event_class, n in session.execute(stmt)}


def overall_coverage(session: Session) -> tuple[int, int, float]:
    """(sources, covered, percent) over every enabled calendar."""
    enabled = set(session.exec(select(Calendar.id).where(col(Calendar.enabled).is_(True))).all())
    sources = covered = 0
    for calendar_id, (s, c) in coverage_by_calendar(session).items():
        if calendar_id in enabled:
            sources += s
            covered += c
    return sources, covered, _percent(covered, sources)


def migration_state(session: Session) -> MigrationState:
    """The singleton MigrationState row, created (phase 0) and committed if absent."""
    state = session.get(MigrationState, 1)
    if state is None:
        state = MigrationState(id=1)
        session.add(state)
        session.commit()
        session.refresh(state)
    return state


def peek_migration_state(session: Session) -> MigrationState:
    """The MigrationState row, or an unsaved default: for readers that must not write."""
    return session.get(MigrationState, 1) or MigrationState(id=1)


def latest_runs(session: Session, n: int = 10, kind: str | None = None) -> list[SyncRun]:
    """The newest `n` runs (optionally of one kind), newest first."""
    stmt = select(SyncRun)
    if kind is not None:
        stmt = stmt.where(SyncRun.kind == kind)
    stmt = stmt.order_by(col(SyncRun.started_at).desc(), col(SyncRun.id).desc()).limit(n)
    return list(session.exec(stmt).all())


def open_alerts(session: Session) -> list[Alert]:
    """Unacknowledged alerts, newest first."""
    stmt = (
        select(Alert)
        .where(col(Alert.acknowledged).is_(False))
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
    )
    return list(session.exec(stmt).all())


def account_summaries(session: Session) -> list[AccountSummary]:
    """Accounts with their sign-in state and calendar counts."""
    cal_counts: dict[int, tuple[int, int]] = {}
    stmt = select(
        Calendar.account_id,
        func.count(),
        func.sum(case((col(Calendar.enabled).is_(True), 1), else_=0)),
    ).group_by(col(Calendar.account_id))
    for account_id, total, enabled in session.execute(stmt):
        cal_counts[account_id] = (total, int(enabled or 0))
    out = []
    for acc in session.exec(select(Account).order_by(col(Account.email))).all():
        total, enabled = cal_counts.get(acc.id or -1, (0, 0))
        out.append(
            AccountSummary(
                email=acc.email,
                auth_kind=acc.auth_kind,
                needs_signin=acc.needs_signin,
                signin_error=acc.signin_error,
                calendars=total,
                enabled_calendars=enabled,
            )
        )
    return out


def _journal_filter(
    status: str | None, plan_id: str | None, text: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(col(Mutation.status) == status)
    if plan_id is not None:
        where.append(col(Mutation.plan_id) == plan_id)
    if text:
        where.append(
            _contains(
                text,
                Mutation.google_event_id,
                Mutation.correlation_id,
                Mutation.reason,
                Mutation.op,
                Mutation.error,
                Mutation.status,
                Mutation.origin,
                Mutation.plan_id,
            )
        )
    return where


def count_journal(
    session: Session,
    *,
    status: str | None = None,
    plan_id: str | None = None,
    text: str | None = None,
) -> int:
    stmt = select(func.count()).select_from(Mutation)
    for clause in _journal_filter(status, plan_id, text):
        stmt = stmt.where(clause)
    return int(session.exec(stmt).one())


def journal_page(
    session: Session,
    *,
    status: str | None = None,
    plan_id: str | None = None,
    text: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[Mutation]:
    """Journal rows: one plan in execution order (seq), otherwise newest first."""
    stmt = select(Mutation)
    for clause in _journal_filter(status, plan_id, text):
        stmt = stmt.where(clause)
    if plan_id is not None:
        stmt = stmt.order_by(col(Mutation.seq), col(Mutation.id))
    else:
        stmt = stmt.order_by(col(Mutation.id).desc())
    return list(session.exec(stmt.offset(offset).limit(limit)).all())


def _event_filter(calendar_id: int | None, text: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if calendar_id is not None:
        where.append(col(EventState.calendar_id) == calendar_id)
    if text:
        where.append(
            _contains(
                text,
                EventState.summary,
                EventState.google_event_id,
                EventState.correlation_id,
                EventState.event_class,
                EventState.status,
            )
        )
    return where


def count_events(session: Session, calendar_id: int | None, text: str | None = None) -> int:
    """How many events (any status) a calendar holds, optionally matching `text`."""
    stmt = select(func.count()).select_from(EventState)
    for clause in _event_filter(calendar_id, text):
        stmt = stmt.where(clause)
    return int(session.exec(stmt).one())


def events_page(
    session: Session,
    calendar_id: int | None,
    *,
    text: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[EventState]:
    """A page of a calendar's events ordered by start (index ix_eventstate_calendar_start).

    `text` matches title, Google event id, correlation id, class or status (case-insensitive
    for ASCII). `calendar_id=None` pages over every calendar.
    """
    return list(session.exec(events_statement(calendar_id, text, offset, limit)).all())


def events_statement(
    calendar_id: int | None, text: str | None = None, offset: int = 0, limit: int = 100
) -> SelectOfScalar[EventState]:
    """The SELECT behind `events_page` (exposed so tests can check its query plan)."""
    stmt = select(EventState)
    for clause in _event_filter(calendar_id, text):
        stmt = stmt.where(clause)
    stmt = stmt.order_by(col(EventState.start_utc), col(EventState.correlation_id))
    return stmt.offset(offset).limit(limit)


def calendar_names(session: Session) -> dict[int, str]:
    """calendar id -> summary (its Google id when it has none), for labelling rows."""
    rows = session.exec(select(Calendar.id, Calendar.summary, Calendar.google_id)).all()
    return {int(cid): (summary or gid) for cid, summary, gid in rows if cid is not None}


def calendar_zones(db: Session | Connection) -> dict[int, str]:
    """calendar id -> its time zone: an all-day event's `start_utc` is the midnight of
    its date there, so every list ordered by `start_utc` shows the order a person sees."""
    cal = Calendar.__table__  # type: ignore[attr-defined]
    rows = db.execute(sa_select(cal.c.id, cal.c.time_zone)).all()
    return {int(cid): (tz or "UTC") for cid, tz in rows}


def summaries_by_google_id(session: Session) -> dict[str, str]:
    """Google calendar id -> summary, for plan, preview and lineage lines."""
    rows = session.exec(select(Calendar.google_id, Calendar.summary)).all()
    return {gid: summary for gid, summary in rows}


def count_stuck(db: Session | Connection) -> int:
    """The one definition of "stuck": blocks whose insert never came back (EventState
    `creating`) plus the sync's journal rows still `pending` (written ahead, no answer
    recorded). Reconcile resolves both at the start of every cycle; after a cycle this is
    0, and the cycle's SyncRun records it (the rollout gate reads it there)."""
    es = EventState.__table__  # type: ignore[attr-defined]
    mut = Mutation.__table__  # type: ignore[attr-defined]
    creating = db.execute(
        sa_select(func.count()).select_from(es).where(es.c.status == "creating")
    ).scalar()
    pending = db.execute(
        sa_select(func.count())
        .select_from(mut)
        .where(mut.c.status == "pending", mut.c.origin == "sync")
    ).scalar()
    return int(creating or 0) + int(pending or 0)


def enabled_mode_counts(session: Session) -> dict[str, int]:
    """Engine mode -> number of enabled calendars in it (the rollout picture)."""
    stmt = (
        select(Calendar.engine_mode, func.count())
        .where(col(Calendar.enabled).is_(True))
        .group_by(col(Calendar.engine_mode))
    )
    return {str(mode): int(n) for mode, n in session.exec(stmt).all()}


def all_alerts(session: Session, limit: int = 200) -> list[Alert]:
    """Alerts, open ones first, newest first within each."""
    stmt = select(Alert).order_by(col(Alert.acknowledged), col(Alert.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


def acknowledge_alert(session: Session, alert_id: int) -> bool:
    """Mark one alert seen; False when it does not exist or already was."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.acknowledged:
        return False
    alert.acknowledged = True
    session.add(alert)
    session.commit()
    return True


# --- lineage (read by `calsync_tui.service.lineage`, the one lineage reader) -------------


def events_by_google_id(session: Session, google_event_id: str) -> list[EventState]:
    """Every row carrying one Google event id (it can be on several calendars)."""
    stmt = (
        select(EventState)
        .where(col(EventState.google_event_id) == google_event_id)
        .order_by(col(EventState.calendar_id), col(EventState.correlation_id))
    )
    return list(session.exec(stmt).all())


def series_instances(session: Session, master_event_id: str) -> list[EventState]:
    """The instances known of one recurring series (by its master's Google id), by start."""
    stmt = (
        select(EventState)
        .where(col(EventState.recurring_event_id) == master_event_id)
        .order_by(col(EventState.start_utc), col(EventState.correlation_id))
    )
    return list(session.exec(stmt).all())


def blocks_of(session: Session, source_correlation_id: str) -> list[EventState]:
    """The busy blocks mirroring one source, by calendar then start. An instance of a
    series is a source of its own: its blocks carry the instance's correlation id."""
    stmt = (
        select(EventState)
        .where(col(EventState.source_correlation_id) == source_correlation_id)
        .order_by(
            col(EventState.calendar_id), col(EventState.start_utc), col(EventState.correlation_id)
        )
    )
    return list(session.exec(stmt).all())


def journal_of(session: Session, events: Sequence[EventState]) -> list[Mutation]:
    """Every journal row that touched any of `events` (by correlation id, or by calendar
    and Google event id), oldest first."""
    if not events:
        return []
    by_place = [
        (col(Mutation.calendar_id) == e.calendar_id)
        & (col(Mutation.google_event_id) == e.google_event_id)
        for e in events
    ]
    cids = [e.correlation_id for e in events]
    stmt = (
        select(Mutation)
        .where(or_(col(Mutation.correlation_id).in_(cids), *by_place))
        .order_by(col(Mutation.id))
    )
    return list(session.exec(stmt).all())


def calendar_google_ids(session: Session) -> dict[int, str]:
    """calendar id -> Google calendar id."""
    rows = session.exec(select(Calendar.id, Calendar.google_id)).all()
    return {int(cid): gid for cid, gid in rows if cid is not None}


def as_dict(value: Any) -> dict[str, Any]:
    """A row or summary as a JSON-ready dict (datetimes left for `print_json`)."""
    if hasattr(value, "model_dump"):
        return dict(value.model_dump())
    return asdict(value)
