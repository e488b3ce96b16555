"""The console's handle on one home: its context, the Google lock, the service calls.

Screens call these blocking methods from thread workers only. Each is a call into the
same service functions the CLI commands use (`service.cycle`, `migration.service`,
`migration.rollback`, `google.accounts`), with results shaped by `service.plans`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlmodel import Session

from calsync_tui.context import AppContext
from calsync_tui.engine import guard
from calsync_tui.engine.events import EventSink
from calsync_tui.engine.report import CycleReport
from calsync_tui.errors import CalsyncError
from calsync_tui.google import accounts
from calsync_tui.home import AppHome
from calsync_tui.migration import rollback as mig_rollback
from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.phases import Phase
from calsync_tui.migration.results import (
    InventoryReport,
    NothingToResume,
    RollbackResult,
    RolloutResult,
    RunResult,
)
from calsync_tui.service import cycle, engineproc, migrate
from calsync_tui.service.env import migration_env
from calsync_tui.service.plans import PlanView, Review, cutover_lines, plan_view, rollback_review
from calsync_tui.settings import load_settings
from local_store import queries
from local_store.db import Store

ProgressFn = Callable[[int, int, int], None]  # done, total, failed
CancelFn = Callable[[], bool]


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
        self.engine_child: engineproc.EngineChild | None = None  # a cycle running now

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

    def run_cycle(
        self, *, dry_run: bool, on_event: EventSink, cancel: CancelFn
    ) -> tuple[CycleReport, list[str]]:
        """One cycle and its auto-rollback check (`service.cycle.run_cycle`), in this
        process (tests that need the report itself; the console uses `run_cycle_child`)."""
        with self.google:
            return cycle.run_cycle(
                self.context(), dry_run=dry_run, on_event=on_event, cancel=cancel
            )

    def run_cycle_child(
        self, *, dry_run: bool, on_event: EventSink, cancel: CancelFn
    ) -> engineproc.CycleOutcome:
        """The same cycle in a child process (`service.engineproc`: the CLI's
        `sync --once --progress-jsonl` under this console's writer lock), so a CPU-bound
        cycle never takes the UI's time; its events reach `on_event` as they happen."""
        with self.google:  # one Google-using job at a time, in this process or the child
            try:
                return engineproc.run_in_child(
                    self.home.root,
                    self.api_endpoint,
                    dry_run=dry_run,
                    on_event=on_event,
                    cancel=cancel,
                    started=self._child_started,
                )
            finally:
                self.engine_child = None

    def _child_started(self, child: engineproc.EngineChild) -> None:
        self.engine_child = child

    def stop_engine(self) -> None:
        """Stop a running engine child after its batch and wait for it (the console is
        leaving and its writer lock goes with it)."""
        child = self.engine_child
        if child is not None:
            child.stop()
            child.wait()

    def confirm_deletions(self) -> int:
        """The user's go-ahead for deletions the mass-deletion guard held back
        (`engine.guard`); the next cycle applies them. Returns how many holds."""
        return guard.confirm_deletions(self.context().store)

    def held_deletions(self) -> list[str]:
        """Why deletions are held, one line per calendar (empty: nothing held)."""
        return [message for _cal, message in guard.held(self.context().store)]

    # --- migration ----------------------------------------------------------------------------

    def migration_env(self) -> MigrationEnv:
        return migration_env(self.context())

    def names(self) -> dict[str, str]:
        """Google calendar id -> summary, for plan and preview lines."""
        with self.session() as s:
            return queries.summaries_by_google_id(s)

    def discover(self, progress: ProgressFn, cancel: CancelFn) -> InventoryReport:
        with self.google:
            return service.discover(self.migration_env())

    def plan(self) -> PlanView:
        """Dry-run: compute the backfill plan (after `prepare` if still in phase 0), save it."""
        env = self.migration_env()
        with self.session() as s:
            phase = queries.peek_migration_state(s).phase
        with self.google:
            if phase == Phase.DISCOVER:
                service.prepare(env)
            plan, path = service.make_plan(env, save=True)
        view = plan_view(plan, self.names())
        view.path = path
        return view

    def backfill(self, plan: PlanView, progress: ProgressFn, cancel: CancelFn) -> RunResult:
        if plan.path is None:
            raise CalsyncError("this plan was not saved: press p for a new dry-run")
        with self.google:
            return service.backfill(self.migration_env(), plan.path, progress=_adapt(progress))

    def set_paused(self, paused: bool) -> None:
        service.set_paused(self.migration_env(), paused)

    def resume(self, progress: ProgressFn, cancel: CancelFn) -> RunResult | NothingToResume:
        with self.google:
            return migrate.resume(self.migration_env(), progress=_adapt(progress))

    def rollout(self, percent: int) -> RolloutResult:
        return service.rollout(self.migration_env(), percent)

    def cutover_preview(self) -> list[str]:
        with self.google:
            result = service.cutover(self.migration_env(), dry_run=True)
        return cutover_lines(result, self.names())

    def cutover(self, progress: ProgressFn, cancel: CancelFn) -> RunResult:
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

    def rollback_preview(self, level: int) -> Review:
        """What rollback `level` would do: the confirmation's lines and writes (a dry-run)."""
        with self.google:
            preview = mig_rollback.rollback_preview(self.migration_env(), level)
        return rollback_review(preview, self.names())

    def rollback(self, level: int, progress: ProgressFn, cancel: CancelFn) -> RollbackResult:
        # level 1 writes only the store: it never waits for a running cycle's Google lock
        with self.google if level == 2 else contextlib.nullcontext():
            return migrate.rollback(
                self.migration_env(),
                level,
                None,
                progress=_adapt(progress),
                why="rollback level 1 from the console",
            )


def _adapt(progress: ProgressFn) -> ProgressCallback:
    """The migration core reports `Progress`; the cockpit takes (done, total, failed)."""

    def cb(p: Progress) -> None:
        progress(p.done, p.total, p.failed)

    return cb
