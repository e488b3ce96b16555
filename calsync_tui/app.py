"""The Textual console: screens per mode, keys, palette, and the background engine loop.

The engine is synchronous; each cycle runs in a child process (the CLI's
`sync --once --progress-jsonl`, `service/engineproc.py`) so that a CPU-bound cycle never
takes the UI's time under Python's GIL; so does each migration task of the cockpit (the
CLI's `migrate <step> --progress-jsonl`, `service/migrateproc.py`). A thread worker (`group="engine"`, exclusive)
reads the child's typed lines and talks to the UI only through `post_message`. After each cycle the loop reschedules
itself with `set_timer` (Dolphie), so cycles never overlap. While another process holds
the home's writer lock the console opens read-only and says so.

Launch rule: the console never writes to Google before the person has seen what it
would write. On a home with no completed sync cycle yet, the first cycle is a dry run
and the loop waits for `s`; a home that has synced before resumes its loop at once.
The demo (`auto_sync=True`) starts writing straight away: its Google is a local sandbox.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from textual import on, work
from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from calsync_tui import clock as _clock
from calsync_tui.engine.events import MutationsProgress, PlanReady
from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome, resolve_home
from calsync_tui.messages import CycleFinished, DataChanged, EngineEvent
from calsync_tui.palette import ConsoleCommands
from calsync_tui.screens.accounts import AccountsScreen
from calsync_tui.screens.activity import ActivityScreen
from calsync_tui.screens.alerts import AlertsScreen
from calsync_tui.screens.base import ConsoleScreen, fill
from calsync_tui.screens.dashboard import DashboardScreen
from calsync_tui.screens.events import EventsScreen
from calsync_tui.screens.help import HelpScreen
from calsync_tui.screens.lineage import LineageScreen
from calsync_tui.screens.migration import PAUSABLE, MigrationScreen
from calsync_tui.screens.quit import QuitChoice, QuitScreen
from calsync_tui.service.backend import Backend
from calsync_tui.service.engineproc import CycleOutcome
from calsync_tui.widgets.tone import tone

Clock = Callable[[], datetime]

# What a running cycle pushes to the visible screen (instead of it re-reading everything):
# its writes done/total go to the status line and the dashboard's bar (no store read);
# once the plan is ready (the cycle's listing is stored) or an alert was raised the screen
# re-reads; while the writes go out, at most once a second `refresh_live()` (the Events
# list re-reads its count and page, other screens wait for the end of the cycle).
REREAD_EVENTS = frozenset({"PlanReady", "AlertRaised"})
LIVE_EVERY_S = 1.0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return msg if isinstance(exc, CalsyncError) else f"{exc.__class__.__name__}: {msg}"


class CalsyncApp(App[None]):
    """`CalsyncApp(home, api_endpoint, clock=..., start_engine=...)`; tests pass a fixed clock."""

    CSS_PATH = "app.tcss"
    TITLE = "calsync-tui"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    MODES: ClassVar[dict[str, Any]] = {
        "dashboard": DashboardScreen,
        "events": EventsScreen,
        "migration": MigrationScreen,
        "activity": ActivityScreen,
        "alerts": AlertsScreen,
        "accounts": AccountsScreen,
    }
    MODE_TITLES: ClassVar[dict[str, str]] = {
        "dashboard": "Dashboard",
        "events": "Events",
        "migration": "Migration",
        "activity": "Journal",
        "alerts": "Alerts",
        "accounts": "Accounts",
    }
    DEFAULT_MODE = "dashboard"
    # `-narrow` below 100 columns: the tcss gives the metric tiles room to wrap their labels.
    HORIZONTAL_BREAKPOINTS = [  # type: ignore[misc]  # App declares it `ClassVar[...] | None`
        (0, "-narrow"),
        (100, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "switch_mode('dashboard')",
            "Dashboard",
            id="go.dashboard",
            tooltip="Calendars, counts, coverage, health",
        ),
        Binding(
            "e",
            "switch_mode('events')",
            "Events",
            id="go.events",
            tooltip="Every event of a calendar",
        ),
        Binding(
            "m",
            "switch_mode('migration')",
            "Migration",
            id="go.migration",
            tooltip="Phases, plan review, backfill, rollout, rollback",
        ),
        Binding(
            "j",
            "switch_mode('activity')",
            "Journal",
            id="go.activity",
            tooltip="Every Google write, newest first",
        ),
        Binding(
            "a",
            "switch_mode('alerts')",
            "Alerts",
            id="go.alerts",
            tooltip="Cascades, auto-rollbacks, sign-in needed",
        ),
        Binding(
            "u",
            "switch_mode('accounts')",
            "Accounts",
            id="go.accounts",
            tooltip="Who is signed in; sign in and out",
        ),
        Binding(
            "s",
            "sync_now",
            "Sync",
            id="engine.sync",
            tooltip="Run a sync cycle now (first launch: start syncing)",
        ),
        Binding(
            "question_mark,f1",
            "help",
            "Help",
            key_display="?",
            id="app.help",
            tooltip="Every key of this screen",
        ),
        Binding(
            "t",
            "toggle_theme",
            "Theme",
            show=False,
            id="app.theme",
            tooltip="Switch between the dark and light themes",
        ),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the console"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            show=False,
            id="app.palette",
            tooltip="Every action by name (e.g. rollback level 2)",
        ),
        Binding(  # issue 17: screens/adopt.py (dry run, confirmation, adoption)
            "A",
            "adopt",
            "Adopt",
            show=False,
            id="engine.adopt",
            tooltip="Take another installation's blocks over (shows the dry run first)",
        ),
    ]

    def __init__(
        self,
        home: str | os.PathLike[str] | AppHome | None = None,
        api_endpoint: str | None = None,
        *,
        clock: Clock | None = None,
        start_engine: bool = True,
        auto_sync: bool | None = None,
        background_reason: str | None = None,
    ) -> None:
        super().__init__()
        self.home = home if isinstance(home, AppHome) else AppHome(resolve_home(home))
        self.api_endpoint = api_endpoint
        self.clock: Clock = clock or _clock.now
        self.start_engine = start_engine
        # None: decided at mount from the store (synced before → loop on; never → dry run).
        self.auto_sync = auto_sync
        self.cycle_progress: tuple[int, int] | None = None  # writes done/total of this cycle
        self.backend = Backend(self.home, api_endpoint)
        self.can_write = False
        self.readonly_reason: str | None = None
        self.open_error: str | None = None
        self.engine_state = "off"
        self.last_cycle: str | None = None  # plain text
        self.last_cycle_failed = False
        self.next_cycle_at: float | None = None
        self.pending_calendar: int | None = None
        self.cycle_interval = 60.0
        self._lock: contextlib.ExitStack | None = None
        self._timer: Timer | None = None
        self._last_live_refresh = 0.0
        self.theme = "textual-dark"
        # The migration task running in the cockpit's worker, and its last progress.
        self.migration_task: str | None = None
        self.migration_progress: tuple[int, int, int] | None = None  # done, total, failed
        # Why "keep running in the background" cannot be offered at quit (the demo: its
        # Google lives in this process), or None.
        self.background_reason = background_reason
        self.quitting: str | None = None  # "stop" once the person chose to stop, then quit
        self.exit_note: str | None = None  # what the console said as it exited
        self.background_pid: int | None = None
        self.legacy_blocks = 0  # legacy blocks seen by a first launch's dry run
        # Reads several screens make (screens.base.read_shared), per store generation.
        self.data_generation = 0
        self.shared_reads: dict[str, tuple[int, float, object]] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def tone(self, name: str) -> str:
        """A named colour readable on the current theme (see `screens.base.tone`)."""
        return tone(name, self.current_theme.dark)

    def on_mount(self) -> None:
        try:
            self.backend.open()
            self.cycle_interval = float(self.backend.context().settings.sync_interval_seconds)
        except Exception as exc:  # corrupt/locked/newer DB: say so, keep the console alive
            self.open_error = _one_line(exc)
            self.notify(f"store: {self.open_error}", severity="error", timeout=15)
        self._take_lock()
        if self.start_engine and self.can_write and self.backend.is_open:
            if self.auto_sync is None:
                self.auto_sync = self._has_synced()
            if self.auto_sync:
                self.engine_state = "idle"
                self.schedule_cycle(0.2)
            else:
                self.engine_state = "previewing"
                self.engine_cycle(dry_run=True)
        self._refresh_current()
        self.set_interval(1.0, self._update_status)

    def _has_synced(self) -> bool:
        """Whether this home ever completed a real (writing) sync cycle."""
        from local_store.queries import latest_runs

        try:
            with self.backend.session() as s:
                return bool(latest_runs(s, 1, kind="sync"))
        except Exception:
            return False

    def _take_lock(self) -> None:
        from calsync_tui.locking import home_lock

        stack = contextlib.ExitStack()
        try:
            # its children inherit the lock's descriptor (service.childproc)
            self.backend.held_lock = stack.enter_context(home_lock(self.home, "tui"))
        except CalsyncError as exc:
            self.readonly_reason = str(exc)
            self.notify(f"read-only: {exc}", severity="warning", timeout=10)
            return
        except OSError as exc:
            self.readonly_reason = f"cannot lock {self.home.root}: {exc.strerror}"
            return
        self._lock = stack
        self.can_write = True

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "engine")
        self.backend.stop_engine()  # after its batch, before the writer lock goes
        if self._lock is not None:
            self._lock.close()  # a lock handed to a background task stays with it
            self._lock = None
            self.backend.held_lock = None
        self.backend.close()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications carry calendar names, titles and Google's errors: never markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # --- status ---------------------------------------------------------------------------------

    def status_content(self) -> Content:
        """The status line: store, engine state and the last cycle (dynamic text as is)."""
        parts: list[Content] = []
        warn, info = self.tone("yellow"), self.tone("cyan")
        if self.open_error:
            parts.append(fill("[$c]store: $e[/]", c=self.tone("red"), e=self.open_error))
        if self.readonly_reason:
            parts.append(fill("[$c]read-only[/] ($r)", c=warn, r=self.readonly_reason))
        elif self.engine_state == "running":
            parts.append(fill("[$c]engine: $p[/]", c=info, p=self.cycle_phase()))
        elif self.engine_state == "previewing":
            parts.append(fill("[$c]engine: first look, a dry run (nothing is written)…[/]", c=info))
        elif self.engine_state == "review":
            # Only the sync loop is waiting: a migration task may be writing meanwhile.
            legacy = (
                f"{self.legacy_blocks:,} legacy blocks: [b]m[/b] migrates them first · "
                if self.legacy_blocks
                else ""
            )
            parts.append(
                fill(
                    "[b $c]sync not started[/]: the first cycle was a dry run · "
                    + legacy
                    + "[b]s[/b] starts syncing",
                    c=warn,
                )
            )
        elif self.engine_state == "idle":
            nxt = ""
            if self.next_cycle_at is not None:
                nxt = f" · next cycle in {max(0, int(self.next_cycle_at - time.monotonic()))}s"
            parts.append(Content(f"engine: idle{nxt}"))
        else:
            parts.append(Content("engine: off"))
        if self.migration_task is not None:
            done, total, failed = self.migration_progress or (0, 0, 0)
            where = f" {done + failed:,}/{total:,}" if total else "…"
            stop = " (stopping after this batch)" if self.quitting else ""
            parts.insert(0, fill("[b $c]$t$w[/]$s", c=info, t=self.migration_task, w=where, s=stop))
        if self.last_cycle:
            style = self.tone("red") if self.last_cycle_failed else ""
            parts.append(Content("last: ") + Content.styled(self.last_cycle, style))
        return Content("  ·  ").join(parts)

    def status_text(self) -> str:
        """The status line as plain text."""
        return self.status_content().plain

    def cycle_phase(self) -> str:
        """What the running cycle is doing, e.g. `writing 120/444`."""
        if self.cycle_progress is None:
            return "reading calendars…"
        done, total = self.cycle_progress
        return f"writing {done:,}/{total:,}"

    # --- engine loop ------------------------------------------------------------------------

    def schedule_cycle(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.next_cycle_at = time.monotonic() + delay
        self._timer = self.set_timer(delay, self._start_cycle)

    def _start_cycle(self) -> None:
        self._timer = None
        self.next_cycle_at = None
        self.engine_state = "running"
        self.cycle_progress = None
        self._update_status()
        self.engine_cycle(dry_run=False)

    @work(thread=True, group="engine", exclusive=True, exit_on_error=False)
    def engine_cycle(self, dry_run: bool) -> CycleOutcome:
        """One cycle in a child process (`Backend.run_cycle_child`), read from a thread;
        progress crosses to the UI only as messages. Cancelling the worker stops the
        child after its current batch."""
        worker = get_current_worker()

        def on_event(ev: object) -> None:
            self.post_message(EngineEvent(ev))

        outcome = self.backend.run_cycle_child(
            dry_run=dry_run,
            on_event=on_event,
            cancel=lambda: worker.is_cancelled,
        )
        summary = outcome.summary
        if outcome.rolled_back:
            summary += " · auto-rollback: " + "; ".join(outcome.rolled_back)
        self.post_message(
            CycleFinished(summary, dry_run=dry_run, detail=outcome.detail, classes=outcome.classes)
        )
        return outcome

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "engine":
            if event.state == WorkerState.ERROR and worker.error is not None:
                self.notify(_one_line(worker.error), severity="error", timeout=10)
            return
        if event.state == WorkerState.ERROR and worker.error is not None:
            self.last_cycle = f"failed: {_one_line(worker.error)}"
            self.last_cycle_failed = True
            self.notify(f"sync: {_one_line(worker.error)}", severity="error", timeout=10)
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.cycle_progress = None
            looping = self.start_engine and self.can_write and bool(self.auto_sync)
            if self.engine_state in ("previewing", "review"):
                self.engine_state = "review"
            else:
                self.engine_state = "idle" if looping else "off"
            if looping and event.state != WorkerState.CANCELLED:
                self.schedule_cycle(self.cycle_interval)
            self._refresh_current()

    def on_cycle_finished(self, msg: CycleFinished) -> None:
        when = self.now().strftime("%H:%M:%S")
        self.last_cycle = f"{'dry-run' if msg.dry_run else 'cycle'} {when}: {msg.summary}"
        self.last_cycle_failed = False
        if msg.dry_run:
            self.notify(f"dry-run: {msg.detail or msg.summary}", timeout=10)
            if self.engine_state in ("previewing", "review"):
                self.legacy_blocks = msg.classes.get("legacy_busy_block", 0)
                if self.legacy_blocks:
                    self.notify(
                        f"{self.legacy_blocks:,} busy blocks of the old emoji/title system "
                        "are on your calendars: m opens the migration, which links them "
                        "before anything is written; s syncs in legacy mode as they are.",
                        severity="warning",
                        timeout=20,
                    )

    def on_engine_event(self, msg: EngineEvent) -> None:
        kind = msg.event.__class__.__name__
        if isinstance(msg.event, MutationsProgress):
            self.cycle_progress = (msg.event.done, msg.event.total)
            self._update_status()
        elif isinstance(msg.event, PlanReady) and msg.event.mutations:
            self.cycle_progress = (0, msg.event.mutations)
            self._update_status()
        if kind == "AlertRaised":
            text = getattr(msg.event, "message", str(msg.event))
            self.notify(f"alert: {text}", severity="warning", timeout=10)
        if kind in REREAD_EVENTS:
            self._refresh_current()
        elif (
            isinstance(msg.event, MutationsProgress)
            and time.monotonic() - self._last_live_refresh > LIVE_EVERY_S
        ):
            self._last_live_refresh = time.monotonic()
            screen = self._live_screen()
            if screen is not None:
                screen.refresh_live()  # read in the screen's worker, coalesced

    def on_data_changed(self, _: DataChanged) -> None:
        self._refresh_current()

    def _live_screen(self) -> ConsoleScreen | None:
        """The console screen to redraw: the visible one, or the one under the help modal
        (help is a look-up: the screen behind keeps living). A confirmation on top defers
        the redraw until it closes, so what it describes does not shift under it."""
        try:
            screen = self.screen
        except ScreenStackError:  # shutting down: nothing to redraw
            return None
        if isinstance(screen, HelpScreen) and len(self.screen_stack) > 1:
            screen = self.screen_stack[-2]
        if isinstance(screen, ModalScreen):
            return None
        if isinstance(screen, ConsoleScreen) and screen.is_mounted:
            return screen
        return None

    def views_settled(self) -> bool:
        """No console screen has a store read running or asked for."""
        return not any(
            isinstance(screen, ConsoleScreen) and screen.view_pending
            for stack in self._screen_stacks.values()
            for screen in stack
        )

    async def wait_for_views(self, limit_s: float = 10.0) -> None:
        """Wait until every screen drew the reads asked for so far (at most `limit_s`
        seconds: a running cycle keeps asking). Tests and snapshots see what a person
        sees once the console caught up, whatever the machine's load."""
        import asyncio

        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            reads = [w for w in self.workers if w.group.startswith(("view-", "event-list"))]
            if reads:  # (an empty list would mean every worker, a backfill's included)
                await self.workers.wait_for_complete(reads)
            await asyncio.sleep(0)
            if self.views_settled():
                return
            await asyncio.sleep(0.005)

    async def _press_keys(self, keys: Iterable[str]) -> None:
        """Pilot's key presses (tests, snapshots) wait for the reads the keys asked for:
        the screens read in workers, which Pilot's CPU-time idle check cannot see."""
        await super()._press_keys(keys)
        await self.wait_for_views()

    def _refresh_current(self) -> None:
        screen = self._live_screen()
        if screen is not None:
            screen.refresh_data()

    def _update_status(self) -> None:
        screen = self._live_screen()
        if screen is not None:
            screen.update_status()

    # --- navigation ---------------------------------------------------------------------------

    def show_events(self, calendar_id: int) -> None:
        self.pending_calendar = calendar_id
        self.switch_mode("events")

        def apply() -> None:
            screen = self.screen
            if isinstance(screen, EventsScreen) and self.pending_calendar is not None:
                screen.show_calendar(self.pending_calendar)
                self.pending_calendar = None

        self.call_after_refresh(apply)

    def show_lineage(self, ident: str) -> None:
        self.push_screen(LineageScreen(ident))

    def run_migration_action(self, action: str) -> None:
        """Palette entry point: open the cockpit, then run one of its key actions."""
        self.switch_mode("migration")

        async def run() -> None:
            screen = self.screen
            if isinstance(screen, MigrationScreen):
                await screen.run_action(action)

        self.call_after_refresh(run)

    # --- actions ---------------------------------------------------------------------------------

    def action_sync_now(self) -> None:
        if not self.can_write or not self.backend.is_open:
            self.notify(self.readonly_reason or "the store is not open", severity="warning")
            return
        if self.engine_state in ("running", "previewing"):
            self.notify("a cycle is already running")
            return
        if not self.auto_sync:
            self.auto_sync = True  # the person asked for it: keep the loop running from now on
            self.notify("syncing: a cycle now, then every " + f"{self.cycle_interval:.0f}s")
        self._start_cycle()

    def action_dry_run(self) -> None:
        if not self.backend.is_open:
            self.notify("the store is not open", severity="warning")
            return
        self.engine_cycle(dry_run=True)

    async def action_quit(self) -> None:
        """Quit; while a migration task writes to Google, ask what to do with it first."""
        task = self.migration_task
        if task is None:
            self.exit()
            return
        if self.quitting is not None:
            self.notify(f"quitting: waiting for the {task} to finish its batch…")
            return
        if task not in PAUSABLE:
            self.quitting = "stop"
            self.notify(f"quitting when the {task} finishes (it writes nothing)…")
            return
        done, total, failed = self.migration_progress or (0, 0, 0)
        progress = f"{done + failed:,}/{total:,} written" if total else "starting"

        def chosen(choice: QuitChoice | None) -> None:
            if choice == "background":
                self._keep_running_then_exit(task)
            elif choice == "stop":
                self._stop_then_exit(task, choice)
            else:
                self.notify(f"not quitting: the {task} keeps running")

        self.push_screen(
            QuitScreen(task, progress, background_reason=self.background_reason), chosen
        )

    def _stop_then_exit(self, task: str, how: str) -> None:
        try:
            self.backend.set_paused(True)  # the task stops between batches
        except CalsyncError as exc:
            self.notify(f"cannot stop the {task}: {exc}", severity="error")
            return
        self.quitting = how
        self.notify(f"stopping the {task} after this batch, then quitting…")

    def _keep_running_then_exit(self, task: str) -> None:
        """Quit now; the task's child process goes on alone and keeps this home's writer
        lock until it ends (`Backend.keep_task_running`)."""
        pid = self.backend.keep_task_running(task)
        if pid is None:
            self.notify(
                f"cannot keep the {task} running: it is starting or ending; "
                "s stops it after this batch",
                severity="warning",
            )
            return
        done, total, failed = self.migration_progress or (0, 0, 0)
        at = f" from {done + failed:,}/{total:,}" if total else ""
        self.background_pid = pid
        note = (
            f"calsync-tui: the {task} continues in the background{at} (pid {pid}, log "
            f"{self.backend.task_log}); it holds this home until it ends, so no other "
            "console or CLI writes meanwhile. `calsync-tui migrate status` shows its "
            "progress, `calsync-tui migrate pause` stops it after its batch."
        )
        self.exit_note = note
        self.exit(message=note)

    def migration_task_finished(self, task: str, summary: str) -> None:
        """Called by the cockpit when its task ends; finishes a quit that was waiting."""
        self.migration_task = None
        if self.quitting is None:
            return
        self.quitting = None
        done, total, failed = self.migration_progress or (0, 0, 0)
        at = f" at {done + failed:,}/{total:,}" if total else ""
        if task in PAUSABLE:
            note = (
                f"calsync-tui: the {task} stopped after its batch{at} (paused): press space "
                "in the migration screen, or run `calsync-tui migrate resume`, to continue."
            )
        else:
            note = f"calsync-tui: the {task} finished ({summary})."
        self.exit_note = note
        self.exit(message=note)

    def action_adopt(self) -> None:
        from calsync_tui.screens.adopt import start_adoption

        start_adoption(self)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        self._refresh_current()  # markup colours are picked per theme


def default_home_path() -> Path:
    return resolve_home(None)
