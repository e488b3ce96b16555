"""One sync cycle over every enabled calendar, as stages:

    reconcile -> read -> classify -> persist -> plan -> execute -> report

Each stage is its own module with typed values between them: `read.Listing` (Google's
pages), `classify.Seen` (each listed event with its one class), `persist.RowSet` (the
EventState rows the cycle plans over), `inputs.PlanInputs` (`SourceItem`/`BlockItem`),
`plan.Plan`, `execute.ExecuteReport`, `report.CycleReport`. This module only wires them.

Reads are incremental (`Calendar.sync_token`); a full listing over the window happens on
the first run and after 410. The plan is computed from the *whole* stored state (not only
this cycle's changes), so a crash between saving state and writing to Google is healed by
the next cycle. An idle cycle costs one `events.list` per enabled calendar and no writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from calsync_tui import clock
from calsync_tui.engine import guard, scope
from calsync_tui.engine.calendar_ref import CalendarRef, enabled_calendar_rows
from calsync_tui.engine.classify import ClassifyContext, Seen, classify_page
from calsync_tui.engine.events import AlertRaised, CycleStarted, EventSink, PlanReady, emit
from calsync_tui.engine.execute import ExecuteReport, execute_plan, without_held
from calsync_tui.engine.foreign import read_foreign, summarize_rows
from calsync_tui.engine.inputs import cascades, plan_inputs
from calsync_tui.engine.load import decide, load, load_families, scoped_classes
from calsync_tui.engine.model import MutationStatus, Op
from calsync_tui.engine.outcome import finish, leave_marker
from calsync_tui.engine.persist import DELETED_BY_HAND, OUTSIDE_WINDOW, RowSet, save
from calsync_tui.engine.plan import Plan, build_plan
from calsync_tui.engine.read import Gateways, Listing, read_calendars
from calsync_tui.engine.reconcile import reconcile
from calsync_tui.engine.report import CycleReport
from calsync_tui.engine.window import Window
from calsync_tui.google.types import Gateway, GoogleEvent
from calsync_tui.settings import Settings
from calsync_tui.writes.journal import load as load_journal
from local_store.models import Mutation

_MUT = Mutation.__table__  # type: ignore[attr-defined]

__all__ = [
    "DELETED_BY_HAND",
    "OUTSIDE_WINDOW",
    "CycleReport",
    "EngineContext",
    "run_cycle",
]


class EngineContext(Protocol):
    """What a cycle needs (AppContext satisfies it)."""

    settings: Settings

    @property
    def installation_id(self) -> str: ...

    @property
    def store(self) -> Any: ...

    def gateway_for(self, account_email: str) -> Gateway: ...


def classify_context(
    cal: CalendarRef, settings: Settings, installation_id: str, window: Window
) -> ClassifyContext:
    """What classifying one calendar's events depends on this cycle (its mode included)."""
    return ClassifyContext(
        installation_id=installation_id,
        calendar_google_id=cal.google_id,
        mode=cal.mode,
        legacy_markers=settings.legacy_markers,
        ignored_event_types=settings.ignored_event_types,
        owner_emails=frozenset({cal.account.lower(), cal.google_id.lower()}),
        window_start=window.start,
        window_end=window.end,
    )


class _Cycle:
    def __init__(
        self,
        ctx: EngineContext,
        *,
        dry_run: bool,
        on_event: EventSink | None,
        cancel: Callable[[], bool] | None,
        now: Callable[[], datetime],
        confirm_deletions: bool = False,
    ) -> None:
        self.settings = ctx.settings
        self.confirm_deletions = confirm_deletions
        self.guard_state = guard.Pending()
        self.store = ctx.store
        self.installation_id = ctx.installation_id
        self.dry_run = dry_run
        self.on_event = on_event
        self.cancel = cancel
        self.now = now
        self.report = CycleReport(dry_run=dry_run, started_at=now())
        self.gateways = Gateways(ctx.gateway_for, ctx.store, dry_run=dry_run, now=now)
        self.rows = RowSet({}, {})

    def run(self) -> CycleReport:
        t0 = time.perf_counter()
        s, r = self.settings, self.report
        with self.store.engine.connect() as conn:
            enabled = enabled_calendar_rows(conn)
        r.calendars = len(enabled)
        emit(self.on_event, CycleStarted(self.dry_run, len(enabled)))
        if not self.dry_run:
            rec = reconcile(self.store, self.gateways, batch_size=s.batch_size, now=self.now)
            r.reconciled = rec.resent + rec.creating_resolved + rec.gave_up
            r.alerts.extend(rec.alerts)
        now = self.now()
        window = Window(
            now - timedelta(days=s.window_days_back), now + timedelta(days=s.window_days_ahead)
        )
        # 1. read
        read = read_calendars(
            enabled, self.gateways, window, legacy_markers=s.legacy_markers, on_event=self.on_event
        )
        r.events_listed = read.events_listed
        r.errors.extend(self.gateways.errors)
        r.needs_signin.extend(self.gateways.needs_signin)
        cals = [x.cal.ref for x in read.listings]
        by_id = {c.local_id: c for c in cals}
        # 2. classify: every listed event once, with its calendar's mode
        seen: dict[int, list[Seen]] = {
            x.cal.ref.local_id: classify_page(
                x.events, classify_context(x.cal.ref, s, self.installation_id, window)
            )
            for x in read.read()
        }
        # 3. persist: fold the listings into the stored rows
        with self.store.engine.connect() as conn:
            decision, fingerprint = decide(
                conn,
                self.store,
                cals,
                settings=s,
                installation_id=self.installation_id,
                now=now,
                all_incremental=read.all_incremental
                and not (self.gateways.unavailable or r.errors),
                changed_events=read.events_listed,
                unfinished_extra=r.reconciled,
                dry_run=self.dry_run,
            )
            r.scope = scope.SCOPED if decision.scoped else scope.FULL
            r.scope_reason = decision.reason
            self.rows = rows = load(conn, cals, seen, window, decision)
        listing_of = {x.cal.ref.local_id: x for x in read.read()}
        listed_span = (window.start, window.horizon)  # a full listing's timeMin, timeMax
        holds = self._guard(rows, seen, listing_of, listed_span)
        for cal_id, items in seen.items():
            x = listing_of[cal_id]
            rows.apply_removals(
                rows.removals(cal_id, items, x.full, listed_span, x.slice_span, x.cal.ref.time_zone)
            )
        for cal_id, items in seen.items():
            x = listing_of[cal_id]
            keep = (window.start, x.cursor.listed_until or window.horizon)
            rows.apply_listing(by_id[cal_id], items, now, keep)
        rows.rewindow(window)
        if decision.scoped:
            with self.store.engine.connect() as conn:
                load_families(conn, cals, rows)
        rows.classify_stored(by_id, s.legacy_markers)
        # 4. plan
        unavailable = frozenset(
            x.cal.ref.google_id
            for x in read.listings
            if x.cal.ref.account in self.gateways.unavailable or x.error or x.held
        )
        r.slices = read.slices
        inputs = plan_inputs(by_id, rows, s.legacy_markers, window)
        classes = inputs.classes
        if decision.scoped:
            with self.store.engine.connect() as conn:
                classes = scoped_classes(conn, cals, rows, classes)
        r.classes = dict(classes)
        r.events_seen = sum(classes.values())
        plan = build_plan(
            cals,
            inputs.sources,
            inputs.blocks,
            installation_id=self.installation_id,
            settings=s,
            unavailable=unavailable,
        )
        plan = self._fill_befores(plan)
        r.plan = plan
        r.planned = plan.by_op
        per_cal = cascades(inputs.blocks)
        r.cascades = sum(per_cal.values())
        for c in cals:
            r.per_calendar[c.google_id] = {
                "cascades": per_cal.get(c.google_id, 0),
                "writes": 0,
                "failed": 0,
            }
        rows.mark_orphans(
            (m.calendar_id, m.google_event_id)
            for m in plan.mutations
            if m.op == Op.DELETE and m.reason.startswith("orphan")
        )
        # adoption notice: another installation's markers among this cycle's rows (a
        # scoped cycle holds only the changed families: read the store after saving)
        if not decision.scoped:
            r.foreign = summarize_rows(
                rows.rows.values(),
                {c.local_id: c.google_id for c in cals},
                interval_seconds=s.sync_interval_seconds,
                now=now,
            )
        emit(self.on_event, PlanReady(plan.plan_id, len(plan), plan.by_op))
        # 5. execute
        exec_report = ExecuteReport()
        if not self.dry_run:
            save(self.store, rows, read.listings, now)
            # writes a standing refusal holds are not planned (read after the state
            # above has this cycle's event versions: a changed event is tried again)
            plan = without_held(self.store, plan)
            r.plan, r.planned = plan, plan.by_op
            exec_report = execute_plan(
                self.store,
                plan.mutations,
                self.gateways.usable(),
                plan_id=plan.plan_id,
                batch_size=s.batch_size,
                now=self.now,
                on_event=self.on_event,
                cancel=self.cancel,
            )
        if decision.scoped and not self.dry_run:  # adoption notice over the whole store
            r.foreign = read_foreign(self.store, interval_seconds=s.sync_interval_seconds, now=now)
        # 6. report
        for h in holds:
            r.held[h.calendar] = h.message()
            r.alerts.append(h.message())
            emit(self.on_event, AlertRaised(guard.HELD, h.message(), "warning"))
        if not self.dry_run:
            guard.record(self.store, holds, seen.keys(), self.guard_state, self.now())
        finish(
            self.store,
            r,
            exec_report,
            inputs.sources,
            self.gateways,
            t0=t0,
            now=self.now,
            on_event=self.on_event,
        )
        leave_marker(
            self.store,
            r,
            exec_report,
            fingerprint=fingerprint,
            clean_reads=not unavailable and all(x.page is not None for x in read.listings),
        )
        return r

    def _guard(
        self,
        rows: RowSet,
        seen: dict[int, list[Seen]],
        listing_of: dict[int, Listing],
        span: tuple[datetime, datetime],
    ) -> list[guard.Hold]:
        """Listings that would remove too much are held back (guard.py): dropped from
        `seen`, marked on their listing, returned."""
        holds: list[guard.Hold] = []
        with self.store.engine.connect() as conn:
            self.guard_state = guard.pending(conn)
            for cal_id, items in list(seen.items()):
                if self.confirm_deletions or cal_id in self.guard_state.confirmed:
                    continue
                x = listing_of[cal_id]
                hold = guard.check(
                    conn,
                    cal_id,
                    x.cal.ref.google_id,
                    removed_sources=rows.removed_sources(
                        rows.removals(
                            cal_id, items, x.full, span, x.slice_span, x.cal.ref.time_zone
                        )
                    ),
                    full=x.full,
                    span=span,
                    zone=x.cal.ref.time_zone,
                    listed_live=sum(1 for i in items if not i.cancelled),
                )
                if hold is not None:
                    x.held = hold.message()
                    holds.append(hold)
                    del seen[cal_id]
        return holds

    def _fill_befores(self, plan: Plan) -> Plan:
        """Blocks not listed this cycle: their prior state is what the journal says we
        last wrote (insert body folded with later patches), so a rollback can restore
        them completely. One query for all of them."""
        need = {
            (m.calendar_id, m.google_event_id)
            for m in plan.mutations
            if m.op in (Op.PATCH, Op.DELETE)
            and (m.calendar_id, m.google_event_id) not in self.rows.listed
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


def run_cycle(
    ctx: EngineContext,
    *,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    cancel: Callable[[], bool] | None = None,
    now: Callable[[], datetime] | None = None,
    confirm_deletions: bool = False,
) -> CycleReport:
    """Run one cycle over all enabled calendars. Dry-run plans and writes nothing
    (no Google write, no EventState, no sync token); it records a `dry_run` SyncRun.
    `confirm_deletions` lets listings through that the mass-deletion guard would hold."""
    return _Cycle(
        ctx,
        dry_run=dry_run,
        on_event=on_event,
        cancel=cancel,
        now=now or clock.now,
        confirm_deletions=confirm_deletions,
    ).run()
