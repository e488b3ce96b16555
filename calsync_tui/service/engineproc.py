"""The sync cycle in a child process, for the console: the CLI's own cycle, typed lines back.

The console's engine worker does not run the cycle in its own process (Python's GIL
would let a CPU-bound cycle take the UI's time). It starts the CLI,
`python -m calsync_tui sync --once --progress-jsonl`, which runs the same
`service.cycle.run_cycle` as every other face and writes one JSON object a line to
stdout: each engine event (`engine.events`: `CycleStarted`, `CalendarRead`, `PlanReady`,
`MutationsProgress`, `AlertRaised`) as it happens, then one `CycleOutcome`. The parent
decodes them back into the same dataclasses, so the console handles them as before.

Spawning, reading, stopping and the writer lock are `service.childproc`'s (the same for
the console's migration tasks, `service.migrateproc`): SIGTERM stops the cycle after its
current batch (the engine checks `cancel` between batches) and it still reports; a child
that does not stop within `KILL_AFTER_S` is killed (every write is journaled `pending`
first and `writes/recovery.py` settles the leftovers at the next cycle); a child whose
console went away (its stdout pipe broke) stops after its batch too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from calsync_tui.context import AppContext
from calsync_tui.engine import events as ev
from calsync_tui.engine.report import CycleReport
from calsync_tui.home import AppHome
from calsync_tui.service import childproc
from calsync_tui.service.childproc import ENV_PARENT, KILL_AFTER_S, lower_priority

__all__ = ["ENV_PARENT", "KILL_AFTER_S", "CycleOutcome", "EngineChild", "lower_priority"]


# The events a child reports, by name (CycleDone is replaced by the outcome line).
EVENT_TYPES: dict[str, type[Any]] = {
    "CycleStarted": ev.CycleStarted,
    "CalendarRead": ev.CalendarRead,
    "PlanReady": ev.PlanReady,
    "MutationsProgress": ev.MutationsProgress,
    "AlertRaised": ev.AlertRaised,
}


@dataclass(frozen=True)
class CycleOutcome:
    """What the console shows of one cycle run in a child (the last line it writes)."""

    dry_run: bool
    summary: str  # the status-line form: `wrote 12, failed 0, 0.4s`
    detail: str  # `CycleReport.summary()`
    classes: dict[str, int] = field(default_factory=dict)
    rolled_back: list[str] = field(default_factory=list)  # auto-rollback lines
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    report: dict[str, Any] = field(default_factory=dict)  # `CycleReport.to_json()`


def short_summary(report: CycleReport) -> str:
    """The status-line form of a cycle: what it wrote (or would), failures, time."""
    ops = report.planned if report.dry_run else report.mutations
    verb = "would write" if report.dry_run else "wrote"
    text = f"{verb} {sum(ops.values())}, failed {report.failed}, {report.duration_ms / 1000:.1f}s"
    return text + (f", cascades {report.cascades}" if report.cascades else "")


def outcome_of(report: CycleReport, rolled_back: list[str]) -> CycleOutcome:
    code = 1 if report.failed or report.errors or report.held else 0
    return CycleOutcome(
        dry_run=report.dry_run,
        summary=short_summary(report),
        detail=report.summary(),
        classes=dict(report.classes),
        rolled_back=list(rolled_back),
        failed=report.failed,
        errors=list(report.errors),
        held=dict(report.held),
        exit_code=code,
        report=report.to_json(),
    )


# --- lines ----------------------------------------------------------------------------------

CODEC = childproc.Codec({**EVENT_TYPES, "CycleOutcome": CycleOutcome}, "the engine process")


def encode(item: object) -> str | None:
    """One JSON line for an engine event or the outcome; None for what is not sent."""
    return CODEC.encode(item)


def decode(line: str) -> object:
    """The event or outcome a line stands for; CalsyncError for a line that is none."""
    return CODEC.decode(line)


# --- the child side (`sync --once --progress-jsonl`) -----------------------------------------


@contextmanager
def writer_lock(home: AppHome) -> Iterator[None]:
    """The home's writer lock for a `sync`: taken, or already held by the console that
    started this process to run its cycle (`childproc.writer_lock`)."""
    with childproc.writer_lock(home, "sync"):
        yield


def serve_cycle(
    ctx: AppContext,
    *,
    dry_run: bool,
    confirm_deletions: bool = False,
    out: IO[str] | None = None,
) -> int:
    """Run one cycle (`service.cycle.run_cycle`), writing its events and outcome as JSON
    lines to `out` (stdout). SIGTERM, SIGINT and SIGHUP (the terminal closed) stop it
    after the current batch."""
    from calsync_tui.service.cycle import run_cycle

    def work(link: childproc.Link) -> int:
        report, rolled_back = run_cycle(
            ctx,
            dry_run=dry_run,
            on_event=link.write,
            cancel=link.stopping,
            confirm_deletions=confirm_deletions,
        )
        outcome = outcome_of(report, rolled_back)
        link.write(outcome)
        return outcome.exit_code

    return childproc.serve(CODEC, work, out)


# --- the parent side (the console's engine worker) -------------------------------------------


class EngineChild(childproc.Child):
    """A running `sync --once --progress-jsonl` child; `run()` reads it to the end."""

    def __init__(
        self,
        home: Path,
        api_endpoint: str | None,
        *,
        dry_run: bool,
        confirm_deletions: bool,
        lock_fd: int | None = None,
    ) -> None:
        command = ["sync", "--once", "--progress-jsonl"]
        if dry_run:
            command.append("--dry-run")
        if confirm_deletions:
            command.append("--confirm-deletions")
        super().__init__(home, api_endpoint, command, CODEC, CycleOutcome, lock_fd=lock_fd)


def run_in_child(
    home: Path,
    api_endpoint: str | None,
    *,
    dry_run: bool,
    on_event: ev.EventSink,
    cancel: Callable[[], bool],
    confirm_deletions: bool = False,
    started: Callable[[childproc.Child], None] | None = None,
    lock_fd: int | None = None,
) -> CycleOutcome:
    """One cycle in a `sync --once --progress-jsonl` child; blocks until it ends."""
    child = EngineChild(
        home, api_endpoint, dry_run=dry_run, confirm_deletions=confirm_deletions, lock_fd=lock_fd
    )

    def on_item(item: object) -> None:
        ev.emit(on_event, item)

    outcome: CycleOutcome = childproc.run_child(child, on_item, cancel, started)
    return outcome
