"""One sync cycle over every enabled calendar: reconcile, read, classify, plan, execute.

Reads are incremental (`Calendar.sync_token`); a full listing over the window happens on
the first run and after 410. The plan is computed from the *whole* stored state (not only
this cycle's changes), so a crash between saving state and writing to Google is healed by
the next cycle. An idle cycle costs one `events.list` per enabled calendar and no writes.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from calsync_tui import clock
from calsync_tui.engine import scope
from calsync_tui.engine.classify import ClassifyContext, classify, legacy_suffix
from calsync_tui.engine.events import (
    AlertRaised,
    CalendarRead,
    CycleDone,
    CycleStarted,
    EventSink,
    PlanReady,
    emit,
)
from calsync_tui.engine.execute import ExecuteReport, execute_plan, without_held
from calsync_tui.engine.fields import (
    BadEventData,
    mirror_digest,
    original_start_key,
    same_event_key,
    time_columns,
    title_digest,
    title_of,
)
from calsync_tui.engine.model import (
    CALSYNC_NAMESPACE,
    EngineMode,
    EventClass,
    EventType,
    MutationStatus,
    Op,
    Status,
    instance_correlation_id,
    unstamped_correlation_id,
)
from calsync_tui.engine.plan import BlockItem, CalendarRef, Plan, SourceItem, build_plan
from calsync_tui.engine.reconcile import reconcile
from calsync_tui.engine.state import Row, all_correlation_ids, as_datetime, load_rows, upsert_rows
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import EventPage, Gateway, GoogleEvent
from calsync_tui.settings import Settings
from calsync_tui.writes.journal import load as load_journal
from local_store.models import Account, Alert, Calendar, EventState, Mutation, SyncRun

_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]
_MUT = Mutation.__table__  # type: ignore[attr-defined]
_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_ALERT = Alert.__table__  # type: ignore[attr-defined]
_ROLE_RANK = {"owner": 0, "writer": 1, "reader": 2}
DELETED_BY_HAND = "deleted by hand"
OUTSIDE_WINDOW = "ignored: outside the window"


class EngineContext(Protocol):
    """What a cycle needs (AppContext satisfies it)."""

    settings: Settings

    @property
    def installation_id(self) -> str: ...

    @property
    def store(self) -> Any: ...

    def gateway_for(self, account_email: str) -> Gateway: ...


@dataclass
class CycleReport:
    """Metrics of one cycle; also written as a SyncRun row."""

    dry_run: bool
    started_at: datetime
    duration_ms: float = 0.0
    calendars: int = 0
    events_listed: int = 0
    events_seen: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    planned: dict[str, int] = field(default_factory=dict)
    mutations: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    api_calls: int = 0
    api_round_trips: int = 0
    cascades: int = 0
    stuck: int = 0
    success_rate: float = 1.0
    latency_ms: float | None = None
    latency_p50_ms: float | None = None
    needs_signin: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    plan: Plan | None = None
    run_id: int | None = None
    reconciled: int = 0
    # google calendar id -> {"cascades", "writes", "failed"} (auto-rollback per calendar)
    per_calendar: dict[str, dict[str, int]] = field(default_factory=dict)
    # "full" (planned over the whole store) or "scoped" (changed families only; see scope.py)
    scope: str = scope.FULL
    scope_reason: str = ""

    def to_json(self, *, with_plan: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
            "calendars": self.calendars,
            "events_listed": self.events_listed,
            "events_seen": self.events_seen,
            "classes": self.classes,
            "planned": self.planned,
            "mutations": self.mutations,
            "failed": self.failed,
            "api_calls": self.api_calls,
            "api_round_trips": self.api_round_trips,
            "cascades": self.cascades,
            "stuck": self.stuck,
            "success_rate": self.success_rate,
            "latency_ms": self.latency_ms,
            "latency_p50_ms": self.latency_p50_ms,
            "needs_signin": self.needs_signin,
            "errors": self.errors,
            "alerts": self.alerts,
            "reconciled": self.reconciled,
            "run_id": self.run_id,
            "per_calendar": self.per_calendar,
            "scope": self.scope,
            "scope_reason": self.scope_reason,
            "plan_id": self.plan.plan_id if self.plan else None,
        }
        if with_plan and self.plan is not None:
            out["plan"] = self.plan.to_json()
        return out

    def summary(self) -> str:
        """One line for people."""
        verb = "would write" if self.dry_run else "wrote"
        count = sum(self.planned.values()) if self.dry_run else sum(self.mutations.values())
        ops = self.planned if self.dry_run else self.mutations
        detail = ", ".join(f"{k} {v}" for k, v in sorted(ops.items())) or "nothing"
        return (
            f"{self.calendars} calendars, {self.events_seen} events; {verb} {count} ({detail}); "
            f"failed {self.failed}, cascades {self.cascades}, stuck {self.stuck}, "
            f"{self.api_calls} API calls in {self.api_round_trips} round trips, {self.duration_ms:.0f} ms"
        )


@dataclass
class _Cal:
    row: dict[str, Any]
    email: str
    ref: CalendarRef
    first_run: bool


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _surrogate_id(calendar_id: int, google_event_id: str) -> str:
    """Row id for events that have no correlation id of their own (legacy, external...)."""
    return str(uuid.uuid5(CALSYNC_NAMESPACE, f"row|{calendar_id}|{google_event_id}"))


def enabled_calendars(conn: Any) -> list[_Cal]:
    """Enabled calendars, one per Google id (the best access role wins across accounts)."""
    rows = conn.execute(
        select(_CAL, _ACC.c.email, _ACC.c.needs_signin.label("acc_needs_signin"))
        .join(_ACC, _ACC.c.id == _CAL.c.account_id)
        .where(_CAL.c.enabled.is_(True))
        .order_by(_CAL.c.id)
    ).mappings()
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["access_role"] not in _ROLE_RANK:
            continue
        cur = best.get(r["google_id"])
        if cur is None or _ROLE_RANK[r["access_role"]] < _ROLE_RANK[cur["access_role"]]:
            best[r["google_id"]] = dict(r)
    out = []
    for r in best.values():
        try:
            mode = EngineMode(r["engine_mode"])
        except ValueError:
            mode = EngineMode.LEGACY
        ref = CalendarRef(r["id"], r["google_id"], r["access_role"], r["email"], mode)
        out.append(_Cal(r, r["email"], ref, r["last_synced_at"] is None))
    return out


def _when_dict(raw: str, all_day: bool, tz: str | None) -> dict[str, str]:
    if all_day:
        return {"date": raw}
    return {"dateTime": raw, **({"timeZone": tz} if tz else {})}


def _has_legacy_blocks(events: list[GoogleEvent], markers: tuple[str, ...]) -> bool:
    for e in events:
        if e.get("status") == "cancelled":
            continue
        ext = e.get("extendedProperties")
        priv = ext.get("private") if isinstance(ext, dict) else None
        if isinstance(priv, dict) and any(str(k).startswith("calsync_") for k in priv):
            continue
        if legacy_suffix(title_of(e), markers) is not None:
            return True
    return False


class _Cycle:
    def __init__(
        self,
        ctx: EngineContext,
        *,
        dry_run: bool,
        on_event: EventSink | None,
        cancel: Callable[[], bool] | None,
        now: Callable[[], datetime],
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.installation_id = ctx.installation_id
        self.dry_run = dry_run
        self.on_event = on_event
        self.cancel = cancel
        self.now = now
        self.report = CycleReport(dry_run=dry_run, started_at=now())
        self.gateways: dict[str, Gateway] = {}
        self.counters_before: dict[str, tuple[int, int]] = {}
        self.unavailable_accounts: dict[str, str] = {}
        # Full dicts of blocks listed this cycle: the journal's `before` for their writes.
        self.listed: dict[tuple[int, str], GoogleEvent] = {}
        # Scoped cycle (scope.py): rows as loaded from the DB, before this cycle's changes.
        self.scoped = False
        self.fingerprint = ""
        self.loaded: dict[tuple[int, str], Row] = {}

    # --- gateways --------------------------------------------------------------------

    def gateway(self, email: str) -> Gateway | None:
        if email in self.unavailable_accounts:
            return None
        if email not in self.gateways:
            try:
                gw = self.ctx.gateway_for(email)
            except CalsyncError as exc:
                self._account_failed(email, exc)
                return None
            self.gateways[email] = gw
            self.counters_before[email] = (gw.counter.units, gw.counter.round_trips)
        return self.gateways[email]

    def _account_failed(self, email: str, exc: CalsyncError) -> None:
        from calsync_tui.google.errors import NeedsSignIn

        self.unavailable_accounts[email] = str(exc)
        if isinstance(exc, NeedsSignIn):
            self.report.needs_signin.append(email)
            if not self.dry_run:
                with self.store.engine.begin() as conn:
                    conn.execute(
                        update(_ACC)
                        .where(_ACC.c.email == email)
                        .values(needs_signin=True, signin_error=exc.reason, updated_at=self.now())
                    )
        self.report.errors.append(str(exc))

    # --- the cycle -------------------------------------------------------------------

    def run(self) -> CycleReport:
        t0 = time.perf_counter()
        s = self.settings
        with self.store.engine.connect() as conn:
            cals = enabled_calendars(conn)
        self.report.calendars = len(cals)
        emit(self.on_event, CycleStarted(self.dry_run, len(cals)))
        if not self.dry_run:
            rec = reconcile(self.store, self.gateway, batch_size=s.batch_size, now=self.now)
            self.report.reconciled = rec.resent + rec.creating_resolved + rec.gave_up
            self.report.alerts.extend(rec.alerts)
        now = self.now()
        window_start = now - timedelta(days=s.window_days_back)
        window_end = now + timedelta(days=s.window_days_ahead)
        pages: dict[int, EventPage] = {}
        for cal in cals:
            cal.row["last_error"] = None  # this cycle's read decides
            gw = self.gateway(cal.email)
            if gw is None:
                cal.row["last_error"] = self.unavailable_accounts.get(cal.email)
                continue
            try:
                page = gw.list_events(
                    cal.ref.google_id,
                    sync_token=cal.row["sync_token"],
                    time_min=_iso(window_start),
                    time_max=_iso(window_end),
                )
            except CalsyncError as exc:
                from calsync_tui.google.errors import NeedsSignIn

                if isinstance(exc, NeedsSignIn):
                    self._account_failed(cal.email, exc)
                else:
                    self.report.errors.append(f"{cal.ref.google_id}: {exc}")
                    cal.row["last_error"] = str(exc)
                emit(self.on_event, CalendarRead(cal.ref.google_id, 0, False, str(exc)))
                continue
            pages[cal.ref.local_id] = page
            self.report.events_listed += len(page.events)
            emit(self.on_event, CalendarRead(cal.ref.google_id, len(page.events), page.full))
        # Engine mode of a calendar's first cycle: legacy while legacy blocks exist.
        for cal in cals:
            first = pages.get(cal.ref.local_id)
            if (
                cal.first_run
                and first is not None
                and cal.ref.mode == EngineMode.UUID
                and _has_legacy_blocks(first.events, s.legacy_markers)
            ):
                cal.ref = CalendarRef(
                    cal.ref.local_id,
                    cal.ref.google_id,
                    cal.ref.access_role,
                    cal.ref.account,
                    EngineMode.LEGACY,
                )
                cal.row["engine_mode"] = str(EngineMode.LEGACY)
        rows, used_ids = self._load(cals, pages, window_start, window_end, now)
        changed: dict[tuple[int, str], Row] = {}
        for cal in cals:
            listed = pages.get(cal.ref.local_id)
            if listed is not None:
                self._apply_removals(cal, listed, rows, changed)
        for cal in cals:
            listed = pages.get(cal.ref.local_id)
            if listed is None:
                continue
            cctx = self._classify_context(cal, window_start, window_end)
            self._apply_page(cal, listed, cctx, rows, used_ids, changed, now)
        self._rewindow(cals, rows, changed, window_start, window_end)
        if self.scoped:
            self._load_families(cals, rows)
        unavailable = frozenset(
            c.ref.google_id
            for c in cals
            if c.email in self.unavailable_accounts or c.row.get("last_error")
        )
        sources, blocks, classes = self._items(cals, rows, changed)
        if self.scoped:
            classes = self._scoped_classes(cals, classes)
        self.report.classes = dict(classes)
        self.report.events_seen = sum(classes.values())
        plan = build_plan(
            [c.ref for c in cals],
            sources,
            blocks,
            installation_id=self.installation_id,
            settings=s,
            unavailable=unavailable,
        )
        plan = self._fill_befores(plan)
        self.report.plan = plan
        self.report.planned = plan.by_op
        cascades = self._cascades(blocks)
        self.report.cascades = sum(cascades.values())
        for c in cals:
            self.report.per_calendar[c.ref.google_id] = {
                "cascades": cascades.get(c.ref.google_id, 0),
                "writes": 0,
                "failed": 0,
            }
        for m in plan.mutations:  # orphans get their class for display
            if m.op == Op.DELETE and m.reason.startswith("orphan"):
                row = rows.get((m.calendar_id, m.google_event_id))
                if row is not None and row.get("event_class") == str(EventClass.BUSY_BLOCK):
                    row["event_class"] = str(EventClass.ORPHANED_BLOCK)
                    changed[(m.calendar_id, m.google_event_id)] = row
        emit(self.on_event, PlanReady(plan.plan_id, len(plan), plan.by_op))
        exec_report = ExecuteReport()
        if not self.dry_run:
            self._save_state(cals, pages, changed, now)
            # writes a standing refusal holds are not planned (read after the state
            # above has this cycle's event versions: a changed event is tried again)
            plan = without_held(self.store, plan)
            self.report.plan, self.report.planned = plan, plan.by_op
            exec_report = execute_plan(
                self.store,
                plan.mutations,
                {e: g for e, g in self.gateways.items() if e not in self.unavailable_accounts},
                plan_id=plan.plan_id,
                batch_size=s.batch_size,
                now=self.now,
                on_event=self.on_event,
                cancel=self.cancel,
            )
        self._finish(exec_report, sources, t0)
        self._leave_marker(cals, pages, exec_report, unavailable)
        return self.report

    # --- scope (full store, or only the changed families) -----------------------------

    def _classify_context(
        self, cal: _Cal, window_start: datetime, window_end: datetime
    ) -> ClassifyContext:
        s = self.settings
        return ClassifyContext(
            installation_id=self.installation_id,
            calendar_google_id=cal.ref.google_id,
            mode=cal.ref.mode,
            legacy_markers=s.legacy_markers,
            ignored_event_types=s.ignored_event_types,
            owner_emails=frozenset({cal.email.lower(), cal.ref.google_id.lower()}),
            window_start=window_start,
            window_end=window_end,
        )

    def _load(
        self,
        cals: list[_Cal],
        pages: dict[int, EventPage],
        window_start: datetime,
        window_end: datetime,
        now: datetime,
    ) -> tuple[dict[tuple[int, str], Row], dict[str, tuple[int, str]]]:
        """Rows and used correlation ids: the whole store, or (when provably
        equivalent, see scope.py) the changed events and their id owners only."""
        ids = [c.ref.local_id for c in cals]
        with self.store.engine.connect() as conn:
            self.fingerprint = scope.fingerprint(
                conn,
                [
                    (c.ref.local_id, c.ref.google_id, c.ref.access_role, c.email, str(c.ref.mode))
                    for c in cals
                ],
                self.settings,
                self.installation_id,
                now,
            )
            read_all = all(
                c.ref.local_id in pages and not pages[c.ref.local_id].full for c in cals
            ) and not (self.unavailable_accounts or self.report.errors)
            reason = scope.blocker(
                scope.get_marker(self.store),
                fp=self.fingerprint,
                water=scope.high_water(conn),
                unfinished_rows=scope.unfinished(conn) + self.report.reconciled,
                modes=[c.ref.mode for c in cals],
                all_read_incrementally=read_all,
                changed_events=sum(len(p.events) for p in pages.values()),
                dry_run=self.dry_run,
            )
            if reason is not None:
                self.report.scope, self.report.scope_reason = scope.FULL, reason
                return load_rows(conn, ids), all_correlation_ids(conn)
            self.scoped = True
            self.report.scope = scope.SCOPED
            return self._scoped_rows(conn, cals, pages, window_start, window_end)

    def _keep(self, rows: dict[tuple[int, str], Row], found: list[Row]) -> list[Row]:
        """Add DB rows not loaded yet (a loaded row may already carry this cycle's
        changes); returns the new ones."""
        new = []
        for r in found:
            key = (r["calendar_id"], r["google_event_id"])
            if key not in rows:
                rows[key] = r
                self.loaded[key] = r
                new.append(r)
        return new

    def _scoped_rows(
        self,
        conn: Any,
        cals: list[_Cal],
        pages: dict[int, EventPage],
        window_start: datetime,
        window_end: datetime,
    ) -> tuple[dict[tuple[int, str], Row], dict[str, tuple[int, str]]]:
        """The listed events' rows, their series' instances, the rows owning any id a
        listed event may take, and parked rows the window now reaches."""
        ids = [c.ref.local_id for c in cals]
        rows: dict[tuple[int, str], Row] = {}
        keys: list[tuple[int, str]] = []
        candidates: set[str] = set()
        for cal in cals:
            page = pages[cal.ref.local_id]
            cctx = self._classify_context(cal, window_start, window_end)
            masters = []
            for event in page.events:
                gid = str(event.get("id") or "")
                if not gid:
                    continue
                keys.append((cal.ref.local_id, gid))
                if event.get("status") == "cancelled":
                    if not event.get("recurringEventId"):
                        masters.append(gid)
                    continue
                cls = classify(event, cctx)
                if cls.correlation_id:
                    candidates.add(cls.correlation_id)
                if cls.is_source:
                    fresh = self._fresh_source_id(cal, event)
                    if fresh:
                        candidates.add(fresh)
            if masters:
                self._keep(rows, scope.series_rows(conn, cal.ref.local_id, masters))
        self._keep(rows, scope.rows_by_key(conn, keys))
        # Id owners anywhere (a disabled calendar's row keeps its id unique too).
        owners = scope.rows_by_correlation(conn, candidates, None)
        used_ids = {r["correlation_id"]: (r["calendar_id"], r["google_event_id"]) for r in owners}
        self._keep(rows, [r for r in owners if r["calendar_id"] in ids])
        for r in scope.outside_window_rows(conn, ids, OUTSIDE_WINDOW):
            start_utc = as_datetime(r.get("start_utc"))
            if start_utc is not None and window_start <= start_utc < window_end:
                self._keep(rows, [r])
        for key, r in rows.items():
            used_ids[r["correlation_id"]] = key
        return rows, used_ids

    def _load_families(self, cals: list[_Cal], rows: dict[tuple[int, str], Row]) -> None:
        """Close the loaded set over lineage: a source's blocks, a block's source (and so
        its sibling blocks), by the old and the new ids of every loaded row."""
        ids = [c.ref.local_id for c in cals]
        frontier: set[str] = set()
        # Copies of the same meeting on other calendars decide each other's blocks.
        ical_frontier: set[str] = set()
        for r in [*rows.values(), *self.loaded.values()]:
            frontier.update(v for v in (r["correlation_id"], r.get("source_correlation_id")) if v)
            if r.get("ical_key"):
                ical_frontier.add(r["ical_key"])
        queried: set[str] = set()
        ical_queried: set[str] = set()
        with self.store.engine.connect() as conn:
            while frontier - queried or ical_frontier - ical_queried:
                batch = frontier - queried
                ical_batch = ical_frontier - ical_queried
                queried |= batch
                ical_queried |= ical_batch
                found = scope.rows_by_correlation(conn, batch, ids)
                found += scope.rows_by_source(conn, batch, ids)
                found += scope.rows_by_ical_key(conn, ical_batch, ids)
                frontier = set()
                ical_frontier = set()
                for r in self._keep(rows, found):
                    frontier.update(
                        v for v in (r["correlation_id"], r.get("source_correlation_id")) if v
                    )
                    if r.get("ical_key"):
                        ical_frontier.add(r["ical_key"])

    def _scoped_classes(self, cals: list[_Cal], loaded_classes: Counter[str]) -> Counter[str]:
        """Whole-store class counts: the DB's GROUP BY, with the loaded rows' stored
        classes swapped for this cycle's."""
        with self.store.engine.connect() as conn:
            out = Counter(scope.class_counts(conn, [c.ref.local_id for c in cals]))
        for r in self.loaded.values():
            if r.get("status") != str(Status.DELETED):
                out[str(r.get("event_class"))] -= 1
        out.update(loaded_classes)
        return Counter({k: v for k, v in out.items() if v > 0})

    def _leave_marker(
        self,
        cals: list[_Cal],
        pages: dict[int, EventPage],
        exec_report: ExecuteReport,
        unavailable: frozenset[str],
    ) -> None:
        """After a clean non-dry cycle the store is converged: the next cycle may be
        scoped. Anything less (failure, skip, error, cascade, stuck) forces a full one."""
        if self.dry_run:
            return  # writes no state; high_water ignores dry runs
        r = self.report
        clean = (
            not r.errors
            and not unavailable
            and r.failed == 0
            and exec_report.skipped == 0
            and r.cascades == 0
            and r.stuck == 0
            and all(c.ref.local_id in pages for c in cals)
        )
        if not clean:
            scope.forget(self.store)
            return
        with self.store.engine.connect() as conn:
            water = scope.high_water(conn)
        prior = scope.get_marker(self.store)
        scoped = r.scope == scope.SCOPED and prior is not None
        scope.remember(
            self.store,
            scope.Marker(
                fingerprint=self.fingerprint,
                water=water,
                cycles_since_full=prior.cycles_since_full + 1 if scoped and prior else 0,
                full_at=prior.full_at if scoped and prior else clock.now().timestamp(),
            ),
        )

    # --- reading ---------------------------------------------------------------------

    def _apply_page(
        self,
        cal: _Cal,
        page: EventPage,
        cctx: ClassifyContext,
        rows: dict[tuple[int, str], Row],
        used_ids: dict[str, tuple[int, str]],
        changed: dict[tuple[int, str], Row],
        now: datetime,
    ) -> None:
        cal_id = cal.ref.local_id
        for event in page.events:
            gid = str(event.get("id") or "")
            if not gid or event.get("status") == "cancelled":
                continue
            key = (cal_id, gid)
            old = rows.get(key)
            cls = classify(event, cctx)
            if cls.event_type == EventType.BUSY_BLOCK:
                self.listed[key] = event
            cid = cls.correlation_id
            if cls.event_class in (
                EventClass.LEGACY_BUSY_BLOCK,
                EventClass.EXTERNAL_CALSYNC,
                EventClass.ERROR,
            ):
                cid = None
            reason = cls.reason
            event_class = cls.event_class
            stamped = cls.stamped
            if cid is not None:
                self._release(cid, key, rows, used_ids, changed)
            if cid is not None and self._taken(cid, key, rows, used_ids):
                if cls.is_source:
                    # A copy of a stamped event (same calsync_id): a new source of its
                    # own, re-stamped with its deterministic id.
                    cid = self._fresh_source_id(cal, event)
                    stamped = False
                    event_class = EventClass.NEW_USER_EVENT
                    if cid is None or self._taken(cid, key, rows, used_ids):
                        event_class = EventClass.ERROR
                        reason = "duplicate calsync_id"
                        cid = None
                else:  # a copied block or other: its own row id; the plan drops extras
                    cid = None
            if cid is None:
                cid = _surrogate_id(cal_id, gid)
            if old is not None and old["correlation_id"] != cid:
                used_ids.pop(old["correlation_id"], None)
            used_ids[cid] = key
            is_block = cls.event_type == EventType.BUSY_BLOCK
            row: Row = dict(old) if old else {"created_at": now}
            row.update(
                {
                    "correlation_id": cid,
                    "calendar_id": cal_id,
                    "google_event_id": gid,
                    "event_type": str(cls.event_type),
                    "event_class": str(event_class),
                    "created_by_us": bool(old and old.get("created_by_us"))
                    or event_class == EventClass.BUSY_BLOCK,
                    "stamped": stamped
                    or bool(old and old.get("stamped") and old["correlation_id"] == cid),
                    "source_correlation_id": cls.source_correlation_id,
                    "status": str(Status.SYNCED),
                    "recurring_event_id": cls.recurring_event_id,
                    "ical_key": same_event_key(event),
                    "summary": title_of(event),
                    "title_hash": mirror_digest(event)
                    if is_block
                    else title_digest(title_of(event)),
                    "etag": event.get("etag"),
                    "google_updated": event.get("updated"),
                    "error": (
                        reason
                        if event_class == EventClass.ERROR
                        else OUTSIDE_WINDOW
                        if reason == "outside the window"
                        else None
                    ),
                    "last_seen": now,
                    **time_columns(event),
                }
            )
            rows[key] = row
            changed[key] = row

    def _taken(
        self,
        cid: str,
        key: tuple[int, str],
        rows: dict[tuple[int, str], Row],
        used_ids: dict[str, tuple[int, str]],
    ) -> bool:
        """Is `cid` the id of another live row (correlation ids are unique)?"""
        owner = used_ids.get(cid)
        if owner is None or owner == key:
            return False
        other = rows.get(owner)
        if other is None:
            return True  # a row of a calendar not in this cycle (disabled): keep it unique
        return other.get("status") != str(Status.DELETED)

    def _release(
        self,
        cid: str,
        key: tuple[int, str],
        rows: dict[tuple[int, str], Row],
        used_ids: dict[str, tuple[int, str]],
        changed: dict[tuple[int, str], Row],
    ) -> None:
        """A deleted row holding `cid` (the event moved to another calendar) hands it over
        and keeps a row id of its own."""
        owner = used_ids.get(cid)
        if owner is None or owner == key:
            return
        other = rows.get(owner)
        if other is None or other.get("status") != str(Status.DELETED):
            return
        other = dict(other)
        other["correlation_id"] = _surrogate_id(owner[0], owner[1])
        rows[owner] = other
        changed[owner] = other
        used_ids[other["correlation_id"]] = owner
        del used_ids[cid]

    def _fresh_source_id(self, cal: _Cal, event: GoogleEvent) -> str | None:
        master = event.get("recurringEventId")
        if not master:
            return unstamped_correlation_id(cal.ref.google_id, str(event["id"]))
        ost = original_start_key(event)
        if ost is None:
            return None
        return instance_correlation_id(
            unstamped_correlation_id(cal.ref.google_id, str(master)), ost
        )

    def _apply_removals(
        self,
        cal: _Cal,
        page: EventPage,
        rows: dict[tuple[int, str], Row],
        changed: dict[tuple[int, str], Row],
    ) -> None:
        """Cancelled events, and (full listing) events no longer listed, before any
        classification, so an event moved between calendars keeps its correlation id."""
        cal_id = cal.ref.local_id
        masters: set[str] = set()
        for event in page.events:
            gid = str(event.get("id") or "")
            if gid and event.get("status") == "cancelled":
                self._gone(rows, changed, (cal_id, gid), by_hand=True)
                if not event.get("recurringEventId"):
                    masters.add(gid)  # a whole series went away
        if masters:
            for k, r in list(rows.items()):
                if k[0] == cal_id and r.get("recurring_event_id") in masters:
                    self._gone(rows, changed, k, by_hand=True)
        if page.full:
            seen = {str(e.get("id")) for e in page.events if e.get("status") != "cancelled"}
            for k in list(rows):
                if k[0] == cal_id and k[1] not in seen:
                    self._gone(rows, changed, k, by_hand=False)

    def _gone(
        self,
        rows: dict[tuple[int, str], Row],
        changed: dict[tuple[int, str], Row],
        key: tuple[int, str],
        *,
        by_hand: bool,
    ) -> None:
        row = rows.get(key)
        if row is None or row.get("status") == str(Status.DELETED):
            return
        if row.get("status") == str(Status.CREATING):
            return  # our own write in flight (reconcile decides)
        row = dict(row)
        row["status"] = str(Status.DELETED)
        if row.get("event_type") == str(EventType.BUSY_BLOCK):
            row["error"] = DELETED_BY_HAND if by_hand else "missing from full listing"
        rows[key] = row
        changed[key] = row

    def _rewindow(
        self,
        cals: list[_Cal],
        rows: dict[tuple[int, str], Row],
        changed: dict[tuple[int, str], Row],
        start: datetime,
        end: datetime,
    ) -> None:
        """Sources ignored as outside the window come in as the window slides."""
        for key, row in rows.items():
            if row.get("error") != OUTSIDE_WINDOW or row.get("status") == str(Status.DELETED):
                continue
            start_utc = as_datetime(row.get("start_utc"))
            if start_utc is None:
                continue
            if start <= start_utc < end:
                row = dict(row)
                row["event_class"] = str(
                    EventClass.TRACKED_USER_EVENT
                    if row.get("stamped")
                    else EventClass.NEW_USER_EVENT
                )
                row["error"] = None
                rows[key] = row
                changed[key] = row

    # --- planning inputs -------------------------------------------------------------

    def _items(
        self,
        cals: list[_Cal],
        rows: dict[tuple[int, str], Row],
        changed: dict[tuple[int, str], Row],
    ) -> tuple[list[SourceItem], list[BlockItem], Counter[str]]:
        by_id = {c.ref.local_id: c for c in cals}
        markers = self.settings.legacy_markers
        sources: list[SourceItem] = []
        blocks: list[BlockItem] = []
        classes: Counter[str] = Counter()
        for key, row in rows.items():
            cal = by_id.get(row["calendar_id"])
            if cal is None:
                continue
            status = row.get("status")
            cls = row.get("event_class")
            suffix = legacy_suffix(row.get("summary") or "", markers)
            # Mode may have changed since the row was classified (rollout/rollback).
            if cls == str(EventClass.LEGACY_BUSY_BLOCK) and cal.ref.mode == EngineMode.UUID:
                cls = str(EventClass.IGNORED)
            elif (
                cls == str(EventClass.IGNORED)
                and suffix is not None
                and not row.get("stamped")
                and cal.ref.mode != EngineMode.UUID
                and row.get("error") is None
                and row.get("event_type") == str(EventType.USER_EVENT)
            ):
                cls = str(EventClass.LEGACY_BUSY_BLOCK)
            if cls != row.get("event_class"):
                row = dict(row)
                row["event_class"] = cls
                row["event_type"] = str(
                    EventType.BUSY_BLOCK
                    if cls == str(EventClass.LEGACY_BUSY_BLOCK)
                    else EventType.USER_EVENT
                )
                rows[key] = row
                changed[key] = row
            if status != str(Status.DELETED):
                classes[str(cls)] += 1
            start = _when_dict(
                row.get("start") or "", bool(row.get("all_day")), row.get("time_zone")
            )
            end = _when_dict(row.get("end") or "", bool(row.get("all_day")), row.get("time_zone"))
            if cls in (str(EventClass.NEW_USER_EVENT), str(EventClass.TRACKED_USER_EVENT)):
                if status == str(Status.DELETED):
                    continue
                stamp_event_id = row.get("recurring_event_id") or row["google_event_id"]
                sources.append(
                    SourceItem(
                        cal.ref,
                        row["google_event_id"],
                        row["correlation_id"],
                        row.get("summary") or "",
                        start,
                        end,
                        stamped=bool(row.get("stamped")),
                        stamp_event_id=stamp_event_id,
                        stamp_id=self._stamp_id(cal, row),
                        updated=row.get("google_updated"),
                        same_event=row.get("ical_key") or "",
                    )
                )
            elif cls in (
                str(EventClass.BUSY_BLOCK),
                str(EventClass.ORPHANED_BLOCK),
                str(EventClass.LEGACY_BUSY_BLOCK),
            ):
                legacy = cls == str(EventClass.LEGACY_BUSY_BLOCK)
                live = status in (str(Status.CREATED), str(Status.SYNCED))
                blocks.append(
                    BlockItem(
                        cal.ref,
                        row["google_event_id"],
                        None if legacy else row["correlation_id"],
                        row.get("source_correlation_id"),
                        digest=row.get("title_hash") or "",
                        live=live,
                        deleted_by_hand=status == str(Status.DELETED)
                        and row.get("error") == DELETED_BY_HAND,
                        legacy=legacy,
                        legacy_suffix=suffix,
                        cascade=legacy
                        and suffix is not None
                        and legacy_suffix(suffix, markers) is not None,
                        legacy_title=not legacy and suffix is not None,
                        start_key=_key(start),
                        end_key=_key(end),
                        before=self.listed.get(key)
                        or {
                            "id": row["google_event_id"],
                            "summary": row.get("summary") or "",
                            "start": start,
                            "end": end,
                            "etag": row.get("etag"),
                        },
                    )
                )
        return sources, blocks, classes

    def _fill_befores(self, plan: Plan) -> Plan:
        """Blocks not listed this cycle: their prior state is what the journal says we
        last wrote (insert body folded with later patches), so a rollback can restore
        them completely. One query for all of them."""
        need = {
            (m.calendar_id, m.google_event_id)
            for m in plan.mutations
            if m.op in (Op.PATCH, Op.DELETE)
            and (m.calendar_id, m.google_event_id) not in self.listed
        }
        if not need:
            return plan
        folded: dict[tuple[int, str], GoogleEvent] = {}
        with self.store.engine.connect() as conn:
            records = load_journal(
                conn, statuses=[MutationStatus.DONE], event_ids=[g for _, g in need]
            )
        for rec in records:  # the one record shape: `body` is what was sent, any origin
            key = (rec.calendar_id, rec.google_event_id)
            body = rec.body
            if key not in need or body is None:
                continue
            if rec.op == Op.INSERT:
                folded[key] = body
            elif rec.op in (Op.PATCH, Op.STAMP, Op.RETITLE) and key in folded:
                folded[key] = {**folded[key], **body}
            elif rec.op == Op.DELETE:
                folded.pop(key, None)
        if not folded:
            return plan
        out = []
        for m in plan.mutations:
            prior = folded.get((m.calendar_id, m.google_event_id))
            if prior is not None and m.op in (Op.PATCH, Op.DELETE):
                known = m.before or {}
                merged = {**prior, **{k: v for k, v in known.items() if v is not None}}
                merged.pop("status", None)
                m = replace(m, before=merged)
            out.append(m)
        return Plan.of(out)

    def _stamp_id(self, cal: _Cal, row: Row) -> str:
        if row.get("stamped"):
            return ""  # nothing to stamp
        master = row.get("recurring_event_id")
        if master:
            return unstamped_correlation_id(cal.ref.google_id, master)
        return str(row["correlation_id"])

    def _cascades(self, blocks: list[BlockItem]) -> Counter[str]:
        """Blocks of blocks per calendar: legacy cascade titles, or our block whose source
        is itself a block."""
        block_ids = {b.correlation_id for b in blocks if b.correlation_id and b.live}
        out: Counter[str] = Counter()
        for b in blocks:
            if b.live and (b.cascade or (not b.legacy and b.source_correlation_id in block_ids)):
                out[b.calendar.google_id] += 1
        return out

    # --- writing ---------------------------------------------------------------------

    def _save_state(
        self,
        cals: list[_Cal],
        pages: dict[int, EventPage],
        changed: dict[tuple[int, str], Row],
        now: datetime,
    ) -> None:
        with self.store.engine.begin() as conn:
            upsert_rows(conn, list(changed.values()), now)
            for cal in cals:
                page = pages.get(cal.ref.local_id)
                values: dict[str, Any] = {
                    "last_error": cal.row.get("last_error"),
                    "updated_at": now,
                }
                if page is not None:
                    values.update(
                        sync_token=page.next_sync_token,
                        last_synced_at=now,
                        last_error=None,
                        engine_mode=str(cal.ref.mode),
                    )
                conn.execute(update(_CAL).where(_CAL.c.id == cal.ref.local_id).values(**values))

    def _finish(self, exec_report: ExecuteReport, sources: list[SourceItem], t0: float) -> None:
        r = self.report
        r.mutations = dict(exec_report.done)
        r.failed = exec_report.failed_total
        attempted = exec_report.done_total + exec_report.failed_total
        r.success_rate = 1.0 if attempted == 0 else exec_report.done_total / attempted
        r.errors.extend(exec_report.errors[:20])
        for cal_id, info in r.per_calendar.items():
            info["writes"] = exec_report.writes_by_calendar.get(cal_id, 0)
            info["failed"] = exec_report.failed_by_calendar.get(cal_id, 0)
        now = self.now()
        lat = []
        for src in sources:
            if src.correlation_id in exec_report.touched_sources and src.updated:
                try:
                    upd = datetime.fromisoformat(src.updated.replace("Z", "+00:00"))
                except ValueError:
                    continue
                lat.append(max(0.0, (now - upd).total_seconds() * 1000))
        if lat:
            r.latency_ms = max(lat)
            r.latency_p50_ms = statistics.median(lat)
        for email, gw in self.gateways.items():
            units, trips = self.counters_before.get(email, (0, 0))
            r.api_calls += gw.counter.units - units
            r.api_round_trips += gw.counter.round_trips - trips
        with self.store.engine.connect() as conn:
            r.stuck = len(
                conn.execute(
                    select(_ES.c.correlation_id).where(_ES.c.status == str(Status.CREATING))
                ).all()
            ) + len(
                conn.execute(
                    select(_MUT.c.id).where(
                        _MUT.c.status == str(MutationStatus.PENDING), _MUT.c.origin == "sync"
                    )
                ).all()
            )
        r.duration_ms = (time.perf_counter() - t0) * 1000
        alerts: list[tuple[str, str, str]] = []
        if r.cascades:
            alerts.append(
                ("cascade", "error", f"{r.cascades} cascade block(s) detected (a block of a block)")
            )
        for email in r.needs_signin:
            alerts.append(
                (
                    "needs_signin",
                    "warning",
                    f"{email} needs to sign in again: calsync-tui auth login",
                )
            )
        with self.store.engine.begin() as conn:
            res = conn.execute(
                insert(_RUN).values(
                    kind="dry_run" if self.dry_run else "sync",
                    started_at=r.started_at,
                    finished_at=now,
                    duration_ms=r.duration_ms,
                    events_seen=r.events_seen,
                    classes_json=json.dumps(r.classes, sort_keys=True),
                    mutations_json=json.dumps(
                        r.planned if self.dry_run else r.mutations, sort_keys=True
                    ),
                    api_calls=r.api_calls,
                    api_round_trips=r.api_round_trips,
                    cascades=r.cascades,
                    stuck=r.stuck,
                    failed=r.failed,
                    success_rate=r.success_rate,
                    latency_ms=r.latency_ms,
                    error="; ".join(r.errors[:3]) or None,
                )
            )
            r.run_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
            if not self.dry_run:
                for kind, level, message in alerts:
                    conn.execute(
                        insert(_ALERT).values(
                            created_at=now,
                            level=level,
                            kind=kind,
                            message=message,
                            acknowledged=False,
                        )
                    )
        for kind, level, message in alerts:
            r.alerts.append(message)
            emit(self.on_event, AlertRaised(kind, message, level))
        emit(self.on_event, CycleDone(r))


def _key(value: dict[str, str]) -> str:
    from calsync_tui.engine.fields import parse_when

    try:
        return parse_when(value, "t").key()
    except BadEventData:
        return ""


def run_cycle(
    ctx: EngineContext,
    *,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    cancel: Callable[[], bool] | None = None,
    now: Callable[[], datetime] | None = None,
) -> CycleReport:
    """Run one cycle over all enabled calendars. Dry-run plans and writes nothing
    (no Google write, no EventState, no sync token); it records a `dry_run` SyncRun."""
    return _Cycle(
        ctx, dry_run=dry_run, on_event=on_event, cancel=cancel, now=now or clock.now
    ).run()
