"""The Textual console: screens per mode, keys, palette, and the background engine loop.

The engine is synchronous; it runs in a thread worker (`group="engine"`, exclusive) and
talks to the UI only through `post_message`. After each cycle the loop reschedules
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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from calsync_tui import clock as _clock
from calsync_tui.engine.cycle import CycleReport
from calsync_tui.engine.events import MutationsProgress, PlanReady
from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome, resolve_home
from calsync_tui.messages import CycleFinished, DataChanged, EngineEvent
from calsync_tui.palette import ConsoleCommands
from calsync_tui.screens.accounts import AccountsScreen
from calsync_tui.screens.activity import ActivityScreen
from calsync_tui.screens.alerts import AlertsScreen
from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.screens.dashboard import DashboardScreen
from calsync_tui.screens.events import EventsScreen
from calsync_tui.screens.help import HelpScreen
from calsync_tui.screens.lineage import LineageScreen
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.service.backend import Backend
from calsync_tui.widgets.tone import tone

Clock = Callable[[], datetime]

LIVE_EVENTS = frozenset(
    {"CalendarRead", "CycleDone", "PlanReady", "MutationsProgress", "AlertRaised"}
)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return msg if isinstance(exc, CalsyncError) else f"{exc.__class__.__name__}: {msg}"


def _short_summary(report: CycleReport) -> str:
    """The status-line form of a cycle: what it wrote (or would), failures, time."""
    ops = report.planned if report.dry_run else report.mutations
    verb = "would write" if report.dry_run else "wrote"
    text = f"{verb} {sum(ops.values())}, failed {report.failed}, {report.duration_ms / 1000:.1f}s"
    return text + (f", cascades {report.cascades}" if report.cascades else "")


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
        "activity": "Activity",
        "alerts": "Alerts",
        "accounts": "Accounts",
    }
    DEFAULT_MODE = "dashboard"
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
        Binding("a", "switch_mode('alerts')", "Alerts", id="go.alerts"),
        Binding("u", "switch_mode('accounts')", "Accounts", id="go.accounts"),
        Binding(
            "s",
            "sync_now",
            "Sync",
            id="engine.sync",
            tooltip="Run a sync cycle now (first launch: start syncing)",
        ),
        Binding(  # issue 17: screens/adopt.py (dry run, confirmation, adoption)
            "A",
            "adopt",
            "Adopt",
            show=False,
            id="engine.adopt",
            tooltip="Take another installation's blocks over (shows the dry run first)",
        ),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="app.help"),
        Binding("t", "toggle_theme", "Theme", show=False, id="app.theme"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        home: str | os.PathLike[str] | AppHome | None = None,
        api_endpoint: str | None = None,
        *,
        clock: Clock | None = None,
        start_engine: bool = True,
        auto_sync: bool | None = None,
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
        self.last_cycle: str | None = None
        self.next_cycle_at: float | None = None
        self.pending_calendar: int | None = None
        self.cycle_interval = 60.0
        self._lock: contextlib.ExitStack | None = None
        self._timer: Timer | None = None
        self._last_live_refresh = 0.0
        self.theme = "textual-dark"

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
            stack.enter_context(home_lock(self.home, "tui"))
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
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.backend.close()

    # --- status ---------------------------------------------------------------------------------

    def status_text(self) -> str:
        parts: list[str] = []
        warn, info = self.tone("yellow"), self.tone("cyan")
        if self.open_error:
            parts.append(f"[red]store: {self.open_error}[/]")
        if self.readonly_reason:
            parts.append(f"[{warn}]read-only[/] ({self.readonly_reason})")
        elif self.engine_state == "running":
            parts.append(f"[{info}]engine: {self.cycle_phase()}[/]")
        elif self.engine_state == "previewing":
            parts.append(f"[{info}]engine: first look, a dry run (nothing is written)…[/]")
        elif self.engine_state == "review":
            parts.append(
                f"[b {warn}]nothing written yet[/] · this was a dry run · [b]s[/b] starts syncing"
            )
        elif self.engine_state == "idle":
            nxt = ""
            if self.next_cycle_at is not None:
                nxt = f" · next cycle in {max(0, int(self.next_cycle_at - time.monotonic()))}s"
            parts.append(f"engine: idle{nxt}")
        else:
            parts.append("engine: off")
        if self.last_cycle:
            parts.append(f"last: {self.last_cycle}")
        return "  ·  ".join(parts)

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
    def engine_cycle(self, dry_run: bool) -> CycleReport:
        """One cycle in a thread; progress crosses to the UI only as messages."""
        worker = get_current_worker()

        def on_event(ev: object) -> None:
            self.post_message(EngineEvent(ev))

        report, done = self.backend.run_cycle(
            dry_run=dry_run,
            on_event=on_event,
            cancel=lambda: worker.is_cancelled,
        )
        summary = _short_summary(report)
        if done:
            summary += " · auto-rollback: " + "; ".join(done)
        self.post_message(CycleFinished(summary, dry_run=dry_run, detail=report.summary()))
        return report

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "engine":
            if event.state == WorkerState.ERROR and worker.error is not None:
                self.notify(_one_line(worker.error), severity="error", timeout=10)
            return
        if event.state == WorkerState.ERROR and worker.error is not None:
            self.last_cycle = f"[red]failed[/]: {_one_line(worker.error)}"
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
        if msg.dry_run:
            self.notify(f"dry-run: {msg.detail or msg.summary}", timeout=10)

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
        if kind in LIVE_EVENTS and time.monotonic() - self._last_live_refresh > 0.5:
            self._last_live_refresh = time.monotonic()
            self._refresh_current()

    def on_data_changed(self, _: DataChanged) -> None:
        self._refresh_current()

    def _refresh_current(self) -> None:
        """Redraw the visible screen; a modal on top defers it until it closes."""
        screen = self.screen
        if isinstance(screen, ModalScreen):
            return
        if isinstance(screen, ConsoleScreen) and screen.is_mounted:
            screen.refresh_data()

    def _update_status(self) -> None:
        screen = self.screen
        if isinstance(screen, ConsoleScreen) and screen.is_mounted:
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

    def action_adopt(self) -> None:
        from calsync_tui.screens.adopt import start_adoption

        start_adoption(self)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(list(self.BINDINGS), self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        self._refresh_current()  # markup colours are picked per theme


def default_home_path() -> Path:
    return resolve_home(None)
