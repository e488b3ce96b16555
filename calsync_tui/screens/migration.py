"""Migration cockpit: phases and gates, inventory, plan review, progress, rollout, rollback.

Every write to Google starts from a dry-run the user has seen: `p` computes the plan,
the review lists per-calendar totals and each write, `y` approves (after a confirmation
that repeats the totals) and the backfill runs in a child process (the CLI's
`migrate backfill --progress-jsonl`, `service.migrateproc`), read by a thread worker that
posts its progress: a CPU-bound backfill never takes the UI's time. So do discover,
resume, rollout, cutover and rollback; the plan and the previews run in the worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, ProgressBar, Static
from textual.worker import get_current_worker

from calsync_tui.errors import CalsyncError
from calsync_tui.messages import DataChanged, PlanReady, TaskFinished, TaskProgress
from calsync_tui.rate import MovingRate
from calsync_tui.screens.base import ConsoleScreen, ago, fill, plain, set_content
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.service import readmodel as rm
from calsync_tui.service.labels import CLASS_LABELS
from calsync_tui.service.migrateproc import TaskOutcome
from calsync_tui.service.outcomes import outcome_line
from calsync_tui.service.plans import PlanView, Review
from calsync_tui.widgets.phase_stepper import PhaseStepper
from calsync_tui.widgets.plan_table import PlanTable
from local_store import queries

OPS = ("insert", "stamp", "adopt", "patch", "delete", "retitle", "restore")

ROLLBACK_TEXT = {
    1: "Rollback level 1: every calendar's engine mode goes back to legacy. No Google writes.",
    2: "Rollback level 2: undo the migration's Google writes from the journal, newest first.",
    3: "Rollback level 3: write a backup of the local store, then drop local correlation state.",
}


# The migration core words its refusals for the CLI; the cockpit says the key instead.
KEY_FOR_STEP = {
    "discover": "press v",
    "prepare": "press p (a plan prepares first)",
    "plan": "press p",
    "backfill": "press y on a reviewed plan",
    "resume": "press space",
    "pause": "press space",
    "rollout": "set a target with + or - and press o",
    "cutover": "press c",
}
_RUN_STEP = re.compile(r"run `(?:calsync-tui )?migrate (\w+)[^`]*`")
_STEP = re.compile(r"`(?:calsync-tui )?migrate (\w+)[^`]*`")


def console_terms(text: str) -> str:
    """A core message with its CLI instructions turned into the cockpit's keys."""

    def run_step(m: re.Match[str]) -> str:
        return KEY_FOR_STEP.get(m.group(1), m.group(0))

    def step(m: re.Match[str]) -> str:
        return m.group(1) if m.group(1) in KEY_FOR_STEP else m.group(0)

    return _STEP.sub(step, _RUN_STEP.sub(run_step, text))


def read_migration_view(screen: ConsoleScreen) -> rm.MigrationView | None:
    """The migration as it stands, its gates checked with this home's settings (the
    dashboard's and the cockpit's stepper)."""
    cycles = rm.DEFAULT_CLEAN_CYCLES
    backend = screen.capp.backend
    if backend.is_open:
        cycles = backend.context().settings.rollout_clean_cycles
    return screen.read(lambda s: rm.migration_view(s, cycles), None)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class ProgressTracker:
    """Rate and ETA of a task from (done, total) samples; posts `TaskProgress` messages."""

    def __init__(self, task: str, post: Callable[[TaskProgress], Any]) -> None:
        self.task = task
        self.post = post
        # The one moving rate (calsync_tui.rate, as the CLI's progress lines): the first
        # sample is the baseline (a resumed run starts at its earlier writes).
        self.meter: MovingRate | None = None

    def __call__(self, done: int, total: int, failed: int = 0) -> None:
        if self.meter is None:
            self.meter = MovingRate()
            self.meter.start_at(done + failed)
        rate = self.meter.update(done + failed)
        eta = self.meter.eta(total - done - failed)
        self.post(TaskProgress(self.task, done, total, rate, eta, failed))


@dataclass
class MigrationData:
    """One read of the cockpit."""

    stamp: tuple[object, ...] | None
    view: rm.MigrationView | None
    cals: list[rm.CalendarRow]
    overall: tuple[int, int, float] | None
    found: tuple[datetime, dict[str, int]] | None


# Tasks that stop between batches when paused (`space`, `x`, quit) and resume later.
POLL_SECONDS = 1.0  # how soon a change made by another terminal shows
PAUSABLE = frozenset({"backfill", "resume", "cutover", "rollback L2"})
ROLLOUT_GROUP = Binding.Group("Rollout")
ROLLBACK_GROUP = Binding.Group("Rollback")


class MigrationScreen(ConsoleScreen):
    TITLE_TEXT = "Migration"
    SKIP_EQUAL_VIEWS = False  # what it draws depends on the task and the plan as well
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "v",
            "discover",
            "Discover",
            id="migration.discover",
            tooltip="Read-only inventory of every enabled calendar",
        ),
        Binding(
            "p",
            "plan",
            "Plan",
            id="migration.plan",
            tooltip="Compute the backfill plan; nothing is written",
        ),
        Binding(
            "y",
            "approve",
            "Approve",
            id="migration.approve",
            tooltip="Approve the plan under review and run the backfill",
        ),
        Binding(
            "n",
            "reject",
            "Reject",
            id="migration.reject",
            tooltip="Discard the plan under review; nothing is written",
            show=False,  # the plan title says "y approve · n reject"
        ),
        Binding(
            "space",
            "pause",
            "Pause",
            id="migration.pause",
            tooltip="Pause the running backfill after its batch, or resume a paused one",
        ),
        Binding(
            "x",
            "cancel",
            "Stop",
            id="migration.cancel",
            tooltip="Stop the running task after its current batch (resumable)",
        ),
        Binding(
            "plus,equals_sign",
            "rollout_step(10)",
            "Rollout +10%",
            id="migration.rollout_up",
            tooltip="Raise the rollout target by 10% (o applies it)",
            group=ROLLOUT_GROUP,
        ),
        Binding(
            "minus",
            "rollout_step(-10)",
            "Rollout -10%",
            id="migration.rollout_down",
            tooltip="Lower the rollout target by 10% (o applies it)",
            group=ROLLOUT_GROUP,
        ),
        Binding(
            "o",
            "rollout_apply",
            "Apply",
            id="migration.rollout",
            tooltip="Apply the rollout target (hybrid mode on that share of calendars)",
        ),
        Binding(
            "c",
            "cutover",
            "Cutover",
            id="migration.cutover",
            tooltip="UUID mode everywhere, legacy titles rewritten (after the rollout gate)",
        ),
        Binding(
            "1",
            "rollback(1)",
            "Rollback L1",
            id="migration.rollback1",
            tooltip="Rollback level 1: engine back to legacy mode, no Google writes",
            group=ROLLBACK_GROUP,
        ),
        Binding(
            "2",
            "rollback(2)",
            "Rollback L2",
            id="migration.rollback2",
            tooltip="Rollback level 2: undo the migration's Google writes from the journal",
            group=ROLLBACK_GROUP,
        ),
        Binding(
            "3",
            "rollback(3)",
            "Rollback L3",
            id="migration.rollback3",
            tooltip="Rollback level 3: back up the store, then drop local correlation state",
            group=ROLLBACK_GROUP,
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: PlanView | None = None
        self.rollout_target: int | None = None
        self.last_inventory: dict[str, int] = {}
        self.view: rm.MigrationView | None = None  # as of the last redraw
        self._stamp: tuple[object, ...] | None = None  # rm.migration_stamp of that redraw
        self._last_task: str | None = None  # the task whose outcome the task line shows

    @property
    def task_name(self) -> str | None:
        """The task running in this screen's worker (kept by the app: quitting asks)."""
        return self.capp.migration_task

    @task_name.setter
    def task_name(self, name: str | None) -> None:
        self.capp.migration_task = name
        if name is not None:
            self.capp.migration_progress = None

    def body(self) -> ComposeResult:
        stepper = PhaseStepper(id="mig-phase")
        stepper.border_title = "Migration phases"
        yield stepper
        with Horizontal(id="mig-main"):
            with Vertical(id="mig-left"):
                with Vertical(id="mig-inventory-box") as inventory:
                    inventory.border_title = "Inventory"
                    yield Static("", id="mig-inventory")
                with Vertical(id="mig-rollout-box") as rollout:
                    rollout.border_title = "Rollout"
                    yield Static("", id="mig-rollout")
            with Vertical(id="mig-right"):
                yield Static("", id="plan-title")
                totals: DataTable[str | Text] = DataTable(id="plan-totals", cursor_type="row")
                totals.border_title = "Plan: writes per calendar"
                yield totals
                writes = PlanTable(id="plan-writes")
                writes.border_title = "Writes of the selected calendar"
                yield writes
        with Horizontal(id="mig-progress"):
            yield Label("idle", id="task-label")
            bar = ProgressBar(total=100, show_eta=False, id="task-bar")
            bar.display = False
            yield bar
            yield Static("", id="task-rate")

    def on_mount(self) -> None:
        t: DataTable[str | Text] = self.query_one("#plan-totals", DataTable)
        t.add_columns("calendar", *OPS, "total")
        super().on_mount()
        self._draw_plan()
        # Another terminal may pause, resume or run the migration: notice it on the next
        # poll (one small read), not at the next sync cycle.
        self._stamp = self.read(rm.migration_stamp, None)
        self.set_interval(POLL_SECONDS, self._poll)

    def _poll(self) -> None:
        if self.app.screen is not self:
            return
        stamp = self.read(rm.migration_stamp, None)
        if stamp != self._stamp:
            self._stamp = stamp
            self.refresh_data()

    # --- drawing --------------------------------------------------------------------------

    def read_view(self) -> rm.MigrationView | None:
        """The migration as it stands, its gates checked with this home's settings."""
        return read_migration_view(self)

    def load_view(self, params: object) -> MigrationData:
        """Every read of the cockpit (in the screen's worker, `screens.base`)."""
        return MigrationData(
            stamp=self.read(rm.migration_stamp, None),
            view=self.read_view(),
            cals=self.read_shared("calendar_rows", rm.calendar_rows, []),
            overall=self.read_shared("overall_coverage", queries.overall_coverage, None),
            found=self.read(rm.latest_discover, None),
        )

    def show_view(self, data: object) -> None:
        assert isinstance(data, MigrationData)
        self._stamp = data.stamp
        self.view = view = data.view
        self.query_one(PhaseStepper).show(view, running=self.task_name in PAUSABLE)
        self._draw_inventory(data)
        self._draw_rollout(view)
        self._draw_plan_title()
        if self.task_name is None and self._last_task == "rollout" and view is not None:
            # the rollout's own line said "0 of 3 cycles" once: say how the gate stands now
            gate = view.current_gate
            if gate is not None:
                self.query_one("#task-rate", Static).update(
                    plain(
                        "rollout gate passed: c cuts over"
                        if gate.passed
                        else "rollout gate: " + "; ".join(gate.reasons)
                    )
                )
        # The plan under review changes only with show_plan: redrawing it on every cycle
        # reset the drill-in to the first calendar.

    def _draw_inventory(self, data: MigrationData) -> None:
        enabled = [c for c in data.cals if c.enabled]
        if not enabled:
            set_content(
                self.query_one("#mig-inventory", Static),
                "[dim]No enabled calendars yet. Enable calendars, then press v.[/]",
            )
            return
        lines = []
        for item in CLASS_LABELS:
            n = sum(c.counts[item.key] for c in enabled)
            lines.append(f"{item.label:<10}{n:>8,}")
        # Coverage: one definition, the store's (queries.overall_coverage), as `status` shows.
        overall = data.overall
        cov = "-" if overall is None or not overall[0] else f"{overall[2]:.1f}%"
        lines.append(f"{'coverage':<10}{cov:>8}")
        lines.append(f"[dim]{len(enabled)} enabled calendar(s)[/]")
        found = data.found
        if found is not None:
            when, totals = found
            lines.append("")
            lines.append(f"[b]Discover[/b] [dim]{ago(when, self.now())}[/]")
            for key, n in sorted(totals.items(), key=lambda kv: -kv[1])[:10]:
                lines.append(f"{key.replace('_', ' ')[:20]:<20}{n:>6,}")
        set_content(self.query_one("#mig-inventory", Static), "\n".join(lines))

    def _draw_rollout(self, view: rm.MigrationView | None) -> None:
        if view is None:
            set_content(self.query_one("#mig-rollout", Static), "[dim]no store[/]")
            return
        target = self.rollout_target if self.rollout_target is not None else view.rollout_percent
        bar = "█" * (target // 10) + "░" * (10 - target // 10)
        pending = (
            ""
            if target == view.rollout_percent
            else f"  [{self.capp.tone('yellow')}]o to apply {target}%[/]"
        )
        modes = "  ".join(f"{m} {n}" for m, n in sorted(view.modes.items()))
        if view.phase >= 4:  # cut over: the rollout is history, uuid mode everywhere
            set_content(
                self.query_one("#mig-rollout", Static),
                f"cut over: uuid mode on every calendar\n{modes}\n[dim]rollback 1/2/3 undoes it[/]",
            )
            return
        hybrid = sum(n for m, n in view.modes.items() if m != "legacy")
        total = sum(view.modes.values())
        set_content(
            self.query_one("#mig-rollout", Static),
            f"target {view.rollout_percent}%: hybrid on {hybrid} of {total} calendar(s)\n"
            f"{bar} {target}%{pending}\n{modes}",
        )

    def _draw_plan(self) -> None:
        t: DataTable[str | Text] = self.query_one("#plan-totals", DataTable)
        w = self.query_one("#plan-writes", PlanTable)
        with self.app.batch_update():
            t.clear()
            w.show([])
            self._draw_plan_title()
            if self.plan is None:
                return
            p = self.plan
            for cal, counter in sorted(p.totals.items()):
                t.add_row(
                    plain(cal[:22]),
                    *(str(counter.get(op, 0)) for op in OPS),
                    str(sum(counter.values())),
                    key=cal,
                )
        self._draw_writes()

    def _draw_plan_title(self) -> None:
        """The plan under review; else an unfinished plan (paused, or interrupted by a
        crash or kill -9) with its progress and the key that resumes it."""
        title = self.query_one("#plan-title", Static)
        left = self.view.interrupted if self.view is not None else None
        if self.plan is not None:
            p = self.plan
            head = (
                f"[b]Plan {p.plan_id[:8]}[/b]  {len(p.lines):,} writes, {p.api_calls:,} API "
                f"calls, {p.round_trips:,} round trip(s)  [dim]y approve · n reject[/]"
            )
            if left is not None and self.task_name is None and left.plan_id != p.plan_id:
                # our words only (a plan id, counts): no person's text in this markup
                head += (
                    f"\n[{self.capp.tone('yellow')}]approving supersedes {left.kind} plan "
                    f"{left.plan_id[:8]} ({left.journal.pending:,} unsent)[/]"
                )
            set_content(title, head)
        elif left is not None and self.task_name is None:
            set_content(
                title,
                fill(
                    "[b]Plan review[/b]  [$c]$line[/]  [dim]space resumes · p plans anew "
                    "(approving it supersedes the rest)[/]",
                    c=self.capp.tone("yellow"),
                    line=left.line(),
                ),
            )
        elif left is not None:
            set_content(title, fill("[b]Plan review[/b]  $line", line=left.line(running=True)))
        else:
            set_content(title, "[b]Plan review[/b]  [dim]no plan: press p for a dry-run[/]")

    def _draw_writes(self) -> None:
        w = self.query_one("#plan-writes", PlanTable)
        t: DataTable[str | Text] = self.query_one("#plan-totals", DataTable)
        if self.plan is None or t.row_count == 0:
            w.show([])
            return
        cal = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        w.show([ln for ln in self.plan.lines if ln.calendar == cal])

    @on(DataTable.RowHighlighted, "#plan-totals")
    def _totals_moved(self) -> None:
        self._draw_writes()

    @on(DataTable.RowSelected, "#plan-totals")
    def _drill(self) -> None:
        self.query_one("#plan-writes", DataTable).focus()

    def show_plan(self, plan: PlanView | None) -> None:
        self.plan = plan
        # Below 100 columns a plan under review takes the whole width (see app.tcss).
        self.set_class(plan is not None, "-reviewing")
        self._draw_plan()
        if plan is not None:
            self.query_one("#plan-totals", DataTable).focus()

    def show_progress(self, msg: TaskProgress) -> None:
        bar = self.query_one("#task-bar", ProgressBar)
        bar.display = True
        bar.update(total=max(1, msg.total), progress=msg.done + msg.failed)
        # No store read here: progress arrives every batch; the pause flag is the one the
        # last redraw (or the pause key) saw.
        paused = " [$c](paused)[/]" if self.view is not None and self.view.paused else ""
        self.query_one("#task-label", Label).update(
            fill("$t" + paused, t=msg.task, c=self.capp.tone("yellow"))
        )
        self.query_one("#task-rate", Static).update(
            f"{msg.done:,}/{msg.total:,}"
            + (f" [red]{msg.failed} failed[/]" if msg.failed else "")
            + f"  {msg.rate:,.1f} writes/s  ETA {format_eta(msg.eta_s)}"
        )

    def _paused(self) -> bool:
        view = self.read_view()
        return bool(view and view.paused)

    # --- messages from workers --------------------------------------------------------------

    def on_task_progress(self, msg: TaskProgress) -> None:
        self.capp.migration_progress = (msg.done, msg.total, msg.failed)
        self.show_progress(msg)
        self.update_status()  # the status line leads with the task's progress

    def on_task_finished(self, msg: TaskFinished) -> None:
        self.capp.migration_task_finished(msg.task, msg.summary)
        self._last_task = msg.task
        if msg.ok and msg.task in ("backfill", "resume") and "paused" not in msg.summary:
            self.show_plan(None)  # executed: nothing left to review (tables cleared too)
        elif not msg.ok and msg.task == "backfill" and self.plan is not None:
            # its process died mid-plan (kill -9): the plan is journaled, so the screen
            # shows it interrupted with the key that resumes it, not as a fresh review
            view = self.read_view()
            left = view.interrupted if view is not None else None
            if left is not None and left.plan_id == self.plan.plan_id:
                self.show_plan(None)
        state = ("paused" if "paused" in msg.summary else "done") if msg.ok else "failed"
        self.query_one("#task-label", Label).update(plain(f"{msg.task}: {state}"))
        if msg.task in ("plan", "discover", "rollout"):  # no writes counted: no bar
            self.query_one("#task-bar", ProgressBar).display = False
        self.query_one("#task-rate", Static).update(plain(msg.summary))
        if msg.ok:
            self.notify(f"{msg.task}: {msg.summary}")
        else:
            self.notify(f"{msg.task} failed: {msg.summary}", severity="error", timeout=10)
        self.refresh_data()

    def on_plan_ready(self, msg: PlanReady) -> None:
        assert isinstance(msg.plan, PlanView)
        self.show_plan(msg.plan)
        self.notify(f"plan ready: {len(msg.plan.lines):,} writes — review, then y to approve")

    # --- actions ---------------------------------------------------------------------------

    def _busy(self) -> bool:
        if self.task_name is not None:
            self.notify(
                f"the {self.task_name} is running: wait for it, or x stops it after its batch",
                severity="warning",
            )
            return True
        if not self.capp.can_write:
            self.notify("read-only: another calsync-tui holds this home", severity="warning")
            return True
        return False

    def _run(
        self, name: str, fn: Callable[[Callable[[int, int, int], None], Callable[[], bool]], Any]
    ) -> None:
        self.task_name = name
        self.query_one("#task-label", Label).update(name)
        bar = self.query_one("#task-bar", ProgressBar)
        bar.update(total=100, progress=0)
        bar.display = True
        self._run_task(name, fn)

    @work(thread=True, group="migration", exclusive=True)
    def _run_task(
        self, name: str, fn: Callable[[Callable[[int, int, int], None], Callable[[], bool]], Any]
    ) -> None:
        worker = get_current_worker()
        tracker = ProgressTracker(name, self.post_message)
        try:
            result = fn(tracker, lambda: worker.is_cancelled)
        except CalsyncError as exc:
            self.post_message(TaskFinished(name, console_terms(str(exc)), ok=False))
            return
        except Exception as exc:  # never a traceback in the UI
            self.post_message(TaskFinished(name, f"{exc.__class__.__name__}: {exc}", ok=False))
            return
        if result is None:  # detached: it goes on in the background as the console quits
            return
        summary = result.summary if isinstance(result, TaskOutcome) else outcome_line(result)
        self.post_message(TaskFinished(name, summary))
        self.capp.post_message(DataChanged())

    def action_discover(self) -> None:
        if self._busy():
            return
        backend = self.capp.backend
        self._run("discover", lambda progress, cancel: backend.discover(progress, cancel))

    def action_plan(self) -> None:
        if self._busy():
            return
        self.task_name = "plan"
        self.query_one("#task-label", Label).update("plan (dry-run)")
        self._plan_worker()

    @work(thread=True, group="migration", exclusive=True)
    def _plan_worker(self) -> None:
        try:
            plan = self.capp.backend.plan()
        except Exception as exc:
            self.post_message(TaskFinished("plan", console_terms(str(exc)), ok=False))
            return
        self.post_message(PlanReady(plan))
        self.post_message(TaskFinished("plan", f"{len(plan.lines):,} writes to review"))

    def action_approve(self) -> None:
        if self.plan is None:
            self.notify("no plan to approve: press p for a dry-run first", severity="warning")
            return
        if self._busy():
            return
        if self._paused():
            left = self.view.interrupted if self.view is not None else None
            self.notify(
                "the migration is paused: space resumes the interrupted backfill first"
                + (f" ({left.line()})" if left is not None else ""),
                severity="warning",
            )
            return
        plan = self.plan
        lines = [
            f"Plan {plan.plan_id}",
            f"{len(plan.lines):,} Google writes, {plan.api_calls:,} API calls in "
            f"{plan.round_trips:,} round trip(s).",
            "",
        ]
        for cal, counter in sorted(plan.totals.items()):
            ops = ", ".join(f"{op} {n}" for op, n in sorted(counter.items()))
            lines.append(f"  {cal}: {ops}")
        lines += ["", "Every write is journaled with the event's prior state (rollback level 2)."]
        left = self.view.interrupted if self.view is not None else None
        if left is not None and left.plan_id != plan.plan_id and left.journal.pending:
            lines += [
                "",
                f"This supersedes {left.line()}:",
                f"its {left.journal.pending:,} unsent write(s) are journaled as superseded by "
                f"plan {plan.plan_id[:8]}, never sent. (n, then space, resumes it instead.)",
            ]

        def done(yes: bool | None) -> None:
            if yes:
                backend = self.capp.backend
                self._run(
                    "backfill", lambda progress, cancel: backend.backfill(plan, progress, cancel)
                )

        self.app.push_screen(ConfirmScreen("Approve and run this backfill?", lines), done)

    def action_reject(self) -> None:
        if self.plan is None:
            self.notify("no plan under review: p computes one (nothing is written)")
            return
        self.show_plan(None)
        self.notify("plan rejected: nothing was written")

    def action_pause(self) -> None:
        """Pause stops the backfill after its current batch; resume continues from the journal."""
        backend = self.capp.backend
        view = self.read_view()
        self.view = view
        interrupted = self.task_name is None and view is not None and view.interrupted
        if (view is not None and view.paused) or interrupted:
            if self._busy():
                return
            self._run("resume", lambda progress, cancel: backend.resume(progress, cancel))
            return
        if self.task_name not in PAUSABLE:
            running = f"the {self.task_name} cannot pause" if self.task_name else "nothing runs"
            self.notify(f"{running}: space pauses a running backfill, cutover or rollback")
            return
        try:
            backend.set_paused(True)
        except CalsyncError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify("paused: the backfill stops after this batch; space resumes")
        self.refresh_data()

    def action_cancel(self) -> None:
        """Thread workers cannot be killed: pause the migration so it stops between batches."""
        if self.task_name is None:
            self.notify("nothing is running to stop")
            return
        self.workers.cancel_group(self, "migration")
        if self.task_name in PAUSABLE:
            try:
                self.capp.backend.set_paused(True)
            except CalsyncError as exc:
                self.notify(str(exc), severity="error")
        self.notify(f"stopping {self.task_name} after the current batch (space resumes)…")

    def action_rollout_step(self, step: int) -> None:
        view = self.read_view()
        base = (
            self.rollout_target
            if self.rollout_target is not None
            else (view.rollout_percent if view else 0)
        )
        self.rollout_target = max(0, min(100, base + step))
        self._draw_rollout(view)

    def action_rollout_apply(self) -> None:
        view = self.view
        if self.rollout_target is None or (view and self.rollout_target == view.rollout_percent):
            self.notify("no new rollout target: + or - sets one, then o applies it")
            return
        if self._busy():
            return
        pct = self.rollout_target
        backend = self.capp.backend

        def done(yes: bool | None) -> None:
            if yes:
                self.rollout_target = None
                self._run(
                    "rollout", lambda progress, cancel: backend.rollout(pct, progress, cancel)
                )

        self.app.push_screen(
            ConfirmScreen(
                f"Roll out hybrid mode to {pct}% of calendars?",
                [
                    f"Calendars whose stable hash falls under {pct}% switch to hybrid detection",
                    "(properties first, legacy titles as fallback). No Google writes.",
                    "Rollback level 1 returns them to legacy at any time.",
                ],
            ),
            done,
        )

    def action_cutover(self) -> None:
        if self._busy():
            return
        self._confirm_with_preview(
            "cutover",
            "Cut over to UUID mode everywhere?",
            lambda: [
                "Engine mode uuid on every calendar; legacy detection off.",
                "Legacy titles are rewritten to the block template (journaled with prior state).",
                "",
                *self.capp.backend.cutover_preview(),
            ],
            lambda progress, cancel: self.capp.backend.cutover(progress, cancel),
        )

    def action_rollback(self, level: int) -> None:
        if self._busy():
            return
        backend = self.capp.backend
        self._confirm_with_preview(
            f"rollback L{level}",
            f"Roll back to level {level}?",
            lambda: _with_text([ROLLBACK_TEXT[level], ""], backend.rollback_preview(level)),
            lambda progress, cancel: backend.rollback(level, progress, cancel),
        )

    def _confirm_with_preview(
        self,
        name: str,
        title: str,
        preview: Callable[[], list[str] | Review],
        run: Callable[[Callable[[int, int, int], None], Callable[[], bool]], Any],
    ) -> None:
        """Dry-run first (in a worker), then a modal stating exactly that, then the action."""
        self._preview_worker(name, title, preview, run)

    @work(thread=True, group="preview", exclusive=True)
    def _preview_worker(
        self,
        name: str,
        title: str,
        preview: Callable[[], list[str] | Review],
        run: Callable[[Callable[[int, int, int], None], Callable[[], bool]], Any],
    ) -> None:
        try:
            review = preview()
            lines, writes = (
                (review.lines, review.writes) if isinstance(review, Review) else (review, [])
            )
        except Exception as exc:
            self.app.call_from_thread(
                self.notify, console_terms(f"{name}: {exc}"), severity="error"
            )
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._run(name, run)

        lines = [console_terms(line) for line in lines]
        refusal = _refusal(lines)
        self.app.call_from_thread(
            self.app.push_screen, ConfirmScreen(title, lines, refusal=refusal, writes=writes), done
        )


def _with_text(head: list[str], review: Review) -> Review:
    """A preview's review with `head` lines before its own."""
    return Review([*head, *review.lines], review.writes)


def _refusal(lines: list[str]) -> str | None:
    """Why the core will refuse this action (its preview says so), or None: the dialog
    then offers no yes."""
    if any(line.startswith("Yes will be refused") for line in lines):
        reasons = [ln.strip() for ln in lines if ln.startswith("  ") and ln.strip()]
        why = reasons[-1] if reasons else "the rollout gate has not passed"
        return f"refused until the rollout gate passes ({why})"
    return None
