"""The console's migration tasks in a child process: the CLI's own steps, typed lines back.

As with its sync cycles (`service.engineproc`), the console runs no migration step in its
own process: a CPU-bound backfill would take the UI's time (Python's GIL). Its task
worker starts the CLI with `--progress-jsonl` (`migrate discover`, `backfill --plan P
--yes`, `resume`, `rollout --percent N`, `cutover --yes`, `rollback --level N --yes`),
which runs the same service functions as the CLI's text mode and writes one JSON line
for each batch's `migration.journal.Progress`, then one `TaskOutcome`. The parent
decodes them back into the same `Progress` dataclass, so the cockpit's bar, rate, ETA
and status line are as before. Spawning, reading, stopping and the writer lock are
`service.childproc`'s.

Stopping: "stop after this batch" is the migration's pause flag, in the store, wherever
it is set (the console's space/x/quit, `migrate pause` in another terminal); the child
reads it between batches. SIGTERM (the console stopping it, or its pipe broken because
the console went away) sets that flag after the current batch, so the plan is paused
and resumable, never half-known. A child the console detached ("keep running in the
background") goes on after the console exits, under the writer lock it inherited, and
writes its last line to its log (`TASK_LOG` in the home).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.results import RollbackResult, RunResult
from calsync_tui.service import childproc
from calsync_tui.service.outcomes import Outcome, outcome_line

TASK_LOG = "migration-task.log"  # in the home: the child's stderr, kept after it ends


@dataclass(frozen=True)
class TaskStarted:
    """The child's first line: its signal handlers are set (it can be stopped or detached)."""

    task: str
    pid: int


@dataclass(frozen=True)
class TaskOutcome:
    """What the console shows of one migration task run in a child (its last line)."""

    task: str
    summary: str  # `service.outcomes.outcome_line` of the result: `done 760/760, gate passed`
    exit_code: int = 0
    paused: bool = False
    result: dict[str, Any] = field(default_factory=dict)  # the result's `to_json()`


CODEC = childproc.Codec(
    {"TaskStarted": TaskStarted, "Progress": Progress, "TaskOutcome": TaskOutcome},
    "the migration process",
)


def exit_code(result: Outcome) -> int:
    """The CLI's exit code for a step's result: 1 when writes failed, Google's usage
    limit stopped it, or a rollback/cutover did not complete."""
    run = result.run if isinstance(result, RollbackResult) else result
    if isinstance(run, RunResult):
        return int(bool(run.progress.note or run.journal.failed or run.complete is False))
    return 0


# --- the child side (`migrate <step> --progress-jsonl`) --------------------------------------


def serve_task(
    env: MigrationEnv,
    task: str,
    work: Callable[[ProgressCallback], Outcome],
    out: Any = None,
) -> int:
    """Run one step, `work(progress)`, writing each `Progress` and then its `TaskOutcome`
    as JSON lines to `out` (stdout). SIGTERM, SIGINT, SIGHUP or a broken pipe pause the
    migration after the current batch (unless the console detached this process)."""

    def run(link: childproc.Link) -> int:
        link.write(TaskStarted(task, os.getpid()))
        paused_here = False

        def progress(p: Progress) -> None:
            nonlocal paused_here
            link.write(p)
            if link.stopping() and not paused_here:
                # between batches (the journal runner calls this after each): the pause
                # flag stops the run before its next batch, resumable from the journal
                paused_here = True
                service.set_paused(env, True)

        result = work(progress)
        paused = isinstance(result, RunResult) and result.progress.paused
        if isinstance(result, RollbackResult) and result.run is not None:
            paused = result.run.progress.paused
        outcome = TaskOutcome(
            task,
            outcome_line(result),
            exit_code(result),
            paused,
            _json_of(result),
        )
        link.write(outcome)
        if link.detached:  # no console reads the lines: the log says how it ended
            print(f"calsync-tui: {task}: {outcome.summary}", file=sys.stderr, flush=True)
        return outcome.exit_code

    return childproc.serve(CODEC, run, out)


def _json_of(result: Outcome) -> dict[str, Any]:
    to_json = getattr(result, "to_json", None)
    value = to_json() if callable(to_json) else None
    return value if isinstance(value, dict) else {}


# --- the parent side (the cockpit's task worker) ---------------------------------------------


class TaskChild(childproc.Child):
    """A running `migrate <step> ... --progress-jsonl` child."""

    def __init__(
        self,
        home: Path,
        api_endpoint: str | None,
        task: str,
        command: list[str],
        *,
        lock_fd: int | None = None,
    ) -> None:
        self.task = task
        super().__init__(
            home,
            api_endpoint,
            ["migrate", *command, "--progress-jsonl"],
            CODEC,
            TaskOutcome,
            lock_fd=lock_fd,
            log=home / TASK_LOG,
        )


def run_task(
    home: Path,
    api_endpoint: str | None,
    task: str,
    command: list[str],
    *,
    progress: ProgressCallback,
    cancel: Callable[[], bool],
    started: Callable[[childproc.Child], None] | None = None,
    lock_fd: int | None = None,
) -> TaskOutcome | None:
    """One migration step in a child; blocks until it ends. Its outcome, or None when
    the console detached it (it goes on in the background)."""
    child = TaskChild(home, api_endpoint, task, command, lock_fd=lock_fd)

    def on_item(item: object) -> None:
        if isinstance(item, Progress):
            progress(item)

    outcome: TaskOutcome | None = childproc.run_child(child, on_item, cancel, started)
    return outcome
