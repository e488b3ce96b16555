"""The sync cycle in a child process, for the console: the CLI's own cycle, typed lines back.

The console's engine worker does not run the cycle in its own process (Python's GIL
would let a CPU-bound cycle take the UI's time). It starts the CLI,
`python -m calsync_tui sync --once --progress-jsonl`, which runs the same
`service.cycle.run_cycle` as every other face and writes one JSON object a line to
stdout: each engine event (`engine.events`: `CycleStarted`, `CalendarRead`, `PlanReady`,
`MutationsProgress`, `AlertRaised`) as it happens, then one `CycleOutcome`. The parent
decodes them back into the same dataclasses, so the console handles them as before.

Stopping: the parent sends SIGTERM; the child's cycle stops after its current batch
(the engine checks `cancel` between batches) and still reports. A child that does not
stop within `KILL_AFTER_S` is killed: every write is journaled `pending` first and
`writes/recovery.py` settles the leftovers at the next cycle. A child whose parent went
away (its stdout pipe broke) stops after its batch too.

The writer lock: the console holds the home's lock for as long as it runs; the child it
spawned runs under it (`writer_lock`: the lock's holder must be the child's parent and
say so in `ENV_PARENT`). Any other `sync` takes the lock itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from calsync_tui import clock
from calsync_tui.context import AppContext
from calsync_tui.engine import events as ev
from calsync_tui.engine.report import CycleReport
from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome

ENV_PARENT = "CALSYNC_ENGINE_PARENT"  # the pid of the console that holds the lock for us
KILL_AFTER_S = 20.0  # after SIGTERM: a batch with its retries is done well within this
POLL_S = 0.1

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


def encode(item: object) -> str | None:
    """One JSON line for an engine event or the outcome; None for what is not sent."""
    name = type(item).__name__
    if isinstance(item, CycleOutcome) or name in EVENT_TYPES:
        return json.dumps({"type": name, **asdict(item)}, default=str)  # type: ignore[call-overload]
    return None


def decode(line: str) -> object:
    """The event or outcome a line stands for; CalsyncError for a line that is none."""
    try:
        data = json.loads(line)
        kind = data.pop("type")
        if kind == "CycleOutcome":
            return CycleOutcome(**data)
        return EVENT_TYPES[kind](**data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalsyncError(f"the engine process wrote an unreadable line: {line[:80]!r}") from exc


# --- the child side (`sync --once --progress-jsonl`) -----------------------------------------


@contextlib.contextmanager
def writer_lock(home: AppHome) -> Iterator[None]:
    """The home's writer lock for a `sync`: taken, or already held by the console that
    started this process to run its cycle."""
    from calsync_tui.locking import home_lock, lock_holder

    parent = os.environ.get(ENV_PARENT)
    holder = lock_holder(home) if parent else None
    if parent and holder and str(holder.get("pid")) == parent == str(os.getppid()):
        yield
        return
    with home_lock(home, "sync"):
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

    stream = out if out is not None else sys.stdout
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    def write(item: object) -> None:
        nonlocal stopping
        line = encode(item)
        if line is None:
            return
        try:
            stream.write(line + "\n")
            stream.flush()
        except (BrokenPipeError, OSError):
            stopping = True  # the console went away: stop after this batch

    saved = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    try:
        report, rolled_back = run_cycle(
            ctx,
            dry_run=dry_run,
            on_event=write,
            cancel=lambda: stopping,
            confirm_deletions=confirm_deletions,
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    outcome = outcome_of(report, rolled_back)
    write(outcome)
    return outcome.exit_code


# --- the parent side (the console's engine worker) -------------------------------------------


class EngineChild:
    """A running `sync --once --progress-jsonl` child; `run()` reads it to the end."""

    def __init__(
        self, home: Path, api_endpoint: str | None, *, dry_run: bool, confirm_deletions: bool
    ) -> None:
        argv = [sys.executable, "-m", "calsync_tui", "--home", str(home)]
        if api_endpoint:
            argv += ["--api-endpoint", api_endpoint]
        argv += ["sync", "--once", "--progress-jsonl"]
        if dry_run:
            argv.append("--dry-run")
        if confirm_deletions:
            argv.append("--confirm-deletions")
        env = dict(os.environ)
        env[ENV_PARENT] = str(os.getpid())
        # The child's domain time starts where ours is (tests move the clock).
        env[clock.ENV_NOW] = clock.now().isoformat().replace("+00:00", "Z")
        # Lives as long as the child (closed by `wait`): its error line, if it fails.
        self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._stop_sent: float | None = None
        self._error: str | None = None  # the child's stderr, once it exited
        self._ready = False  # the child wrote its first line: its SIGTERM handler is set
        self._stop_wanted = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """Ask the child to stop after its current batch (SIGTERM), once. Before its
        first line the child may not have its handler yet: the signal waits for it."""
        self._stop_wanted = True
        if not self._ready:
            return
        if self._stop_sent is None and self.proc.poll() is None:
            self._stop_sent = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def _kill_if_late(self) -> None:
        if self._stop_sent is not None and time.monotonic() - self._stop_sent > KILL_AFTER_S:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def run(self, on_event: ev.EventSink, cancel: Callable[[], bool]) -> CycleOutcome:
        """Hand each event to `on_event` until the child exits; its outcome, or a
        one-line CalsyncError. `cancel()` true: stop the child (after its batch)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        outcome: CycleOutcome | None = None
        pending = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if cancel():
                    self.stop()
                self._kill_if_late()
                if not sel.select(POLL_S):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if lines and not self._ready:
                    self._ready = True
                    if self._stop_wanted:
                        self.stop()
                for raw in lines:
                    if not raw.strip():
                        continue
                    item = decode(raw.decode("utf-8", "replace"))
                    if isinstance(item, CycleOutcome):
                        outcome = item
                    else:
                        ev.emit(on_event, item)
        self.wait()
        self.close()
        if outcome is None:
            raise CalsyncError(self._failure())
        return outcome

    def wait(self, timeout: float = KILL_AFTER_S) -> int:
        """Wait for the child to exit (killed after `timeout`); its exit code."""
        if self._stop_wanted and not self._ready and self.proc.poll() is None:
            # Leaving before its first line: it writes nothing yet, a SIGTERM is safe.
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        """After the child exited: its pipes closed, its stderr kept for `_failure`."""
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._error is None:
            self._stderr.seek(0)
            self._error = self._stderr.read().decode("utf-8", "replace")
            self._stderr.close()

    def _failure(self) -> str:
        """One line for a child that ended without an outcome (its error, or its signal)."""
        text = (self._error or "").strip().splitlines()
        code = self.proc.returncode
        for line in reversed(text):
            if line.startswith("calsync-tui: error: "):
                return line.removeprefix("calsync-tui: error: ")
        if code is not None and code < 0:
            return f"the engine process stopped ({signal.Signals(-code).name})"
        last = text[-1] if text else f"exit {code}"
        return f"the engine process failed: {last}"


def run_in_child(
    home: Path,
    api_endpoint: str | None,
    *,
    dry_run: bool,
    on_event: ev.EventSink,
    cancel: Callable[[], bool],
    confirm_deletions: bool = False,
    started: Callable[[EngineChild], None] | None = None,
) -> CycleOutcome:
    """One cycle in a `sync --once --progress-jsonl` child; blocks until it ends."""
    child = EngineChild(home, api_endpoint, dry_run=dry_run, confirm_deletions=confirm_deletions)
    if started is not None:
        started(child)
    try:
        return child.run(on_event, cancel)
    finally:
        if child.proc.poll() is None:  # an error in the parent: do not leave it behind
            child.stop()
            child.wait()
        child.close()
