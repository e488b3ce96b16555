"""The console's handle on one home: its context, the Google lock, the service calls.

Screens call these blocking methods from thread workers only. Each is a call into the
same service functions the CLI commands use (`service.cycle`, `migration.service`,
`migration.rollback`, `google.accounts`), with results shaped by `service.plans`. The
sync cycle and the migration tasks that write (discover, backfill, resume, rollout,
cutover, rollback) run in a child process, the CLI with `--progress-jsonl`
(`service.engineproc`, `service.migrateproc`, both on `service.childproc`), under this
console's writer lock (`held_lock`, which the app sets): a CPU-bound task never takes
the UI's time.
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
from calsync_tui.locking import HeldLock
from calsync_tui.migration import rollback as mig_rollback
from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.phases import Phase
from calsync_tui.service import childproc, cycle, engineproc, migrateproc
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
        self.engine_child: childproc.Child | None = None  # a cycle running now
        self.task_child: childproc.Child | None = None  # a migration task running now
        self.held_lock: HeldLock | None = None  # the console's writer lock (the app's)
        self.closing = False  # the console is leaving: no new child starts

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
            self._may_start()
            try:
                return engineproc.run_in_child(
                    self.home.root,
                    self.api_endpoint,
                    dry_run=dry_run,
                    on_event=on_event,
                    cancel=cancel,
                    started=self._child_started,
                    lock_fd=self._lock_fd(),
                )
            finally:
                self.engine_child = None

    def _child_started(self, child: childproc.Child) -> None:
        self.engine_child = child

    def _task_started(self, child: childproc.Child) -> None:
        self.task_child = child

    def _may_start(self) -> None:
        if self.closing:
            raise CalsyncError("the console is closing: nothing new starts")

    def _lock_fd(self) -> int | None:
        """The writer lock's descriptor for a child to inherit (None: not held here)."""
        held = self.held_lock
        return held.fd if held is not None and held.handed_to is None else None

    def stop_engine(self) -> None:
        """Stop a running engine or migration child after its batch and wait for it (the
        console is leaving and its writer lock goes with it); a detached one goes on."""
        for child in (self.engine_child, self.task_child):
            if child is not None and not child.detached:
                child.stop()
                child.wait()

    def keep_task_running(self, task: str) -> int | None:
        """Leave the running migration child on its own as the console quits: it goes on
        after the console exits and keeps the writer lock until it ends (the lock is
        handed over to it: its pid in the holder record, so `migrate status` names it and
        no other console or CLI writes meanwhile). Its pid, or None when it cannot be
        done (no child, not started yet, already ending, or it has no lock to keep)."""
        child, held = self.task_child, self.held_lock
        if child is None or held is None or child.lock_fd != held.fd:
            return None
        self.closing = True
        if not child.detach():
            self.closing = False
            return None
        held.hand_over(child.pid, f"migrate {task} (continued from the console)")
        return child.pid

    @property
    def task_log(self) -> Path:
        """Where a migration child's stderr goes (it stays after the child ends)."""
        return self.home.root / migrateproc.TASK_LOG

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

    def run_task(
        self,
        task: str,
        command: list[str],
        progress: ProgressFn,
        cancel: CancelFn,
        *,
        google: bool = True,
    ) -> migrateproc.TaskOutcome | None:
        """One migration step in a child (`service.migrateproc`: the CLI's
        `migrate <command> --progress-jsonl` under this console's writer lock); each
        batch's progress reaches `progress` as it happens. None: the console detached it
        (`keep_task_running`). `google`: hold the Google lock (it calls Google)."""
        with self.google if google else contextlib.nullcontext():
            self._may_start()
            try:
                return migrateproc.run_task(
                    self.home.root,
                    self.api_endpoint,
                    task,
                    command,
                    progress=_adapt(progress),
                    cancel=cancel,
                    started=self._task_started,
                    lock_fd=self._lock_fd(),
                )
            finally:
                self.task_child = None

    def discover(self, progress: ProgressFn, cancel: CancelFn) -> migrateproc.TaskOutcome | None:
        return self.run_task("discover", ["discover"], progress, cancel)

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

    def backfill(
        self, plan: PlanView, progress: ProgressFn, cancel: CancelFn
    ) -> migrateproc.TaskOutcome | None:
        if plan.path is None:
            raise CalsyncError("this plan was not saved: press p for a new dry-run")
        command = ["backfill", "--plan", str(plan.path), "--yes"]
        return self.run_task("backfill", command, progress, cancel)

    def set_paused(self, paused: bool) -> None:
        service.set_paused(self.migration_env(), paused)

    def resume(self, progress: ProgressFn, cancel: CancelFn) -> migrateproc.TaskOutcome | None:
        return self.run_task("resume", ["resume"], progress, cancel)

    def rollout(
        self,
        percent: int,
        progress: ProgressFn = lambda _d, _t, _f: None,
        cancel: CancelFn = lambda: False,
    ) -> migrateproc.TaskOutcome | None:
        # no Google call: it never waits for a running cycle's Google lock
        command = ["rollout", "--percent", str(percent)]
        return self.run_task("rollout", command, progress, cancel, google=False)

    def cutover_preview(self) -> list[str]:
        with self.google:
            result = service.cutover(self.migration_env(), dry_run=True)
        return cutover_lines(result, self.names())

    def cutover(self, progress: ProgressFn, cancel: CancelFn) -> migrateproc.TaskOutcome | None:
        return self.run_task("cutover", ["cutover", "--yes"], progress, cancel)

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

    def rollback(
        self, level: int, progress: ProgressFn, cancel: CancelFn
    ) -> migrateproc.TaskOutcome | None:
        command = ["rollback", "--level", str(level), "--yes"]
        command += ["--why", "rollback level 1 from the console"]
        # levels 1 and 3 write only the store: they never wait for a cycle's Google lock
        return self.run_task(f"rollback L{level}", command, progress, cancel, google=level == 2)


def _adapt(progress: ProgressFn) -> ProgressCallback:
    """The migration core reports `Progress`; the cockpit takes (done, total, failed)."""

    def cb(p: Progress) -> None:
        progress(p.done, p.total, p.failed)

    return cb
