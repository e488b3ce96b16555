"""The console's one door to the store, the engine and the migration core.

Screens call these blocking functions from thread workers only: every method here is a
direct, typed call into `engine.cycle`, `migration.service`, `migration.rollback` or
`google.accounts`, with their results turned into what the screens draw.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from calsync_tui.context import AppContext
from calsync_tui.engine.cycle import CycleReport
from calsync_tui.engine.cycle import run_cycle as engine_run_cycle
from calsync_tui.engine.events import EventSink
from calsync_tui.errors import CalsyncError
from calsync_tui.google import accounts
from calsync_tui.home import AppHome
from calsync_tui.migration import rollback as mig_rollback
from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.phases import Phase
from calsync_tui.migration.plan_file import MigrationPlan, write_plan
from calsync_tui.migration.rollback import RollbackPreview
from calsync_tui.settings import load_settings
from local_store import queries
from local_store.db import Store
from local_store.models import Calendar

ProgressFn = Callable[[int, int, int], None]  # done, total, failed
CancelFn = Callable[[], bool]
MAX_STEPS = 12


@dataclass(frozen=True)
class PlanLine:
    """One planned write, as the plan review shows it."""

    seq: int
    calendar: str
    op: str
    google_event_id: str
    correlation_id: str | None
    reason: str
    title: str


@dataclass
class PlanView:
    """A plan reduced to what the reviewer needs: totals per calendar and every write."""

    plan_id: str
    lines: list[PlanLine]
    api_calls: int
    round_trips: int
    path: Path | None = None  # the saved plan file the backfill executes
    totals: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.totals:
            for line in self.lines:
                self.totals.setdefault(line.calendar, Counter())[line.op] += 1


def plan_view(plan: MigrationPlan, names: dict[str, str] | None = None) -> PlanView:
    """A `MigrationPlan` as the reviewer reads it; `names` maps Google calendar ids to the
    summaries the person knows them by."""
    names = names or {}
    lines = [
        PlanLine(
            seq=w.seq,
            calendar=names.get(w.calendar, w.calendar),
            op=w.op,
            google_event_id=w.event_id,
            correlation_id=w.correlation_id,
            reason=w.reason,
            title=str((w.body or {}).get("summary") or (w.before or {}).get("summary") or ""),
        )
        for w in plan.writes
    ]
    est = plan.estimate
    return PlanView(plan.plan_id, lines, est["units"], est["round_trips"])


class Backend:
    """Owns the context (store, gateways) of one home; every method blocks (run it in a worker)."""

    def __init__(self, home: AppHome, api_endpoint: str | None) -> None:
        self.home = home
        self.api_endpoint = api_endpoint
        self._ctx: AppContext | None = None
        self._store: Store | None = None
        # googleapiclient/httplib2 are not thread-safe: one Google-using job at a time.
        self.google = threading.RLock()
        # email -> static token the console may sign back in with (the demo's accounts).
        self.static_tokens: dict[str, str] = {}

    # --- store ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open (create/upgrade) the store; raises a one-line error if it cannot be used."""
        self._store = self.context().store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self._store is None:
            raise CalsyncError("the local store is not open")
        with self._store.session() as s:
            yield s

    def close(self) -> None:
        if self._ctx is not None:
            with contextlib.suppress(Exception):
                self._ctx.close()
        self._ctx = None
        self._store = None

    def context(self) -> AppContext:
        """The `AppContext` the engine and migration core take (built once, lazily)."""
        if self._ctx is None:
            self.home.ensure()
            self._ctx = AppContext(self.home, load_settings(self.home, self.api_endpoint))
        return self._ctx

    # --- engine ----------------------------------------------------------------------------

    def run_cycle(self, *, dry_run: bool, on_event: EventSink, cancel: CancelFn) -> CycleReport:
        with self.google:
            return engine_run_cycle(
                self.context(), dry_run=dry_run, on_event=on_event, cancel=cancel
            )

    def after_cycle(self, report: CycleReport) -> list[str]:
        """Auto-rollback (level 1) after a bad cycle during rollout; returns what it did."""
        if report.dry_run:
            return []
        limit = self.context().settings.auto_rollback_error_rate
        with self.session() as s:
            return mig_rollback.check_auto_rollback(s, report, limit)

    # --- migration ----------------------------------------------------------------------------

    def migration_env(self) -> MigrationEnv:
        ctx = self.context()
        return MigrationEnv(ctx.home, ctx.store, ctx.settings, ctx.installation_id, ctx.gateway_for)

    def names(self) -> dict[str, str]:
        """Google calendar id -> summary, for plan and preview lines."""
        with self.session() as s:
            return {c.google_id: c.summary for c in s.exec(select(Calendar))}

    def discover(self, progress: ProgressFn, cancel: CancelFn) -> str:
        with self.google:
            report = service.discover(self.migration_env())
        totals: dict[str, int] = {k: v for k, v in report["totals"].items() if v}
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(totals.items()))
        return f"inventory: {report['events_seen']} events ({parts})"

    def plan(self) -> PlanView:
        """Dry-run: compute the backfill plan (after `prepare` if still in phase 0), save it."""
        env = self.migration_env()
        with self.session() as s:
            phase = queries.peek_migration_state(s).phase
        with self.google:
            if phase == Phase.DISCOVER:
                service.prepare(env)
            plan, _ = service.make_plan(env)
        view = plan_view(plan, self.names())
        view.path = write_plan(plan, service.default_plan_path(env, plan))
        return view

    def backfill(self, plan: PlanView, progress: ProgressFn, cancel: CancelFn) -> dict[str, Any]:
        if plan.path is None:
            raise CalsyncError("this plan was not saved: press p for a new dry-run")
        with self.google:
            return service.backfill(self.migration_env(), plan.path, progress=_adapt(progress))

    def set_paused(self, paused: bool) -> None:
        service.set_paused(self.migration_env(), paused)

    def resume(self, progress: ProgressFn, cancel: CancelFn) -> dict[str, Any]:
        with self.google:
            return service.resume(self.migration_env(), progress=_adapt(progress))

    def rollout(self, percent: int) -> dict[str, Any]:
        return service.rollout(self.migration_env(), percent)

    def cutover_preview(self) -> list[str]:
        with self.google:
            result = service.cutover(self.migration_env(), dry_run=True)
        return cutover_lines(result, self.names())

    def cutover(self, progress: ProgressFn, cancel: CancelFn) -> dict[str, Any]:
        with self.google:
            return service.cutover(self.migration_env(), dry_run=False, progress=_adapt(progress))

    # --- accounts -----------------------------------------------------------------------

    def sign_in(self, client_secrets: str | None, email: str | None = None) -> str:
        """Run the browser OAuth flow (blocking until the user finishes); returns the email.
        An account with a known static token (the demo's) signs back in with it."""
        ctx = self.context()
        if email is not None and email in self.static_tokens:
            accounts.register_static_token(ctx.home, ctx.store, email, self.static_tokens[email])
            ctx.forget_gateway(email)
            return email
        path = Path(client_secrets) if client_secrets else None
        return accounts.sign_in(ctx.home, ctx.store, ctx.settings, path)

    def sign_out(self, email: str) -> None:
        """Forget the account's token; waits for a running cycle, so none reads after it."""
        ctx = self.context()
        with self.google:
            accounts.logout(ctx.home, ctx.store, email, settings=ctx.settings)
            ctx.forget_gateway(email)

    # --- rollback ----------------------------------------------------------------------------

    def rollback_preview(self, level: int) -> list[str]:
        """What rollback `level` would do, as lines for the confirmation modal (a dry-run)."""
        with self.google:
            preview = mig_rollback.rollback_preview(self.migration_env(), level)
        return preview_lines(preview, self.names())

    def rollback(self, level: int, progress: ProgressFn, cancel: CancelFn) -> str | dict[str, Any]:
        if level == 1:
            with self.session() as s:
                changed = mig_rollback.level1(s, None, "rollback level 1 from the console")
                s.commit()
            return f"{len(changed)} calendar(s) back to legacy mode"
        if level == 2:
            with self.google:
                return mig_rollback.level2(self.migration_env(), None, progress=_adapt(progress))
        return mig_rollback.level3(self.migration_env(), None)


def _adapt(progress: ProgressFn) -> ProgressCallback:
    """The migration core reports `Progress`; the cockpit takes (done, total, failed)."""

    def cb(p: Progress) -> None:
        progress(p.done, p.total, p.failed)

    return cb


def preview_lines(preview: RollbackPreview, names: dict[str, str] | None = None) -> list[str]:
    """A rollback preview as modal lines: the summary, the calendars, the first undo steps."""
    names = names or {}
    out = preview.summary.splitlines()
    for cal in preview.calendars:
        out.append(f"  {names[cal]} ({cal})" if cal in names else f"  {cal}")
    for step in preview.steps[:MAX_STEPS]:
        conflict = f"  [conflict: {step.conflict}]" if step.conflict else ""
        cal = names.get(step.calendar, step.calendar)
        out.append(f"  {step.action} {cal} {step.event_id}{conflict}")
    if len(preview.steps) > MAX_STEPS:
        out.append(f"  … and {len(preview.steps) - MAX_STEPS} more")
    return out


def cutover_lines(result: dict[str, Any], names: dict[str, str] | None = None) -> list[str]:
    """`service.cutover(dry_run=True)` as modal lines: block writes per calendar and the gate."""
    names = names or {}
    if "resume_plan_id" in result:
        return [f"Continues the interrupted cutover {result['resume_plan_id']}."]
    per_cal: Counter[str] = Counter(str(w["calendar"]) for w in result.get("writes", []))
    total = sum(per_cal.values())
    out = [f"{total} block(s) get the template content (one patch each)."]
    out += [f"  {names.get(cal, cal)}: {n}" for cal, n in sorted(per_cal.items())]
    gate = result.get("gate") or {}
    if gate:
        out.append("")
        out.append("Rollout gate: " + ("passed" if gate.get("passed") else "NOT passed"))
        out += [f"  {r}" for r in gate.get("reasons", [])[:3]]
        if not gate.get("passed"):
            out.append("Yes will be refused until the gate passes (nothing is written).")
    return out
