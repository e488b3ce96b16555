"""Console work in a child process: the CLI with `--progress-jsonl`, typed lines back.

The console runs nothing CPU-bound in its own process (Python's GIL would let it take
the UI's time). Its sync cycles (`service.engineproc`) and its migration tasks
(`service.migrateproc`) start the CLI, `python -m calsync_tui ... --progress-jsonl`,
which runs the same service functions as every other face and writes one JSON object a
line to stdout: typed events (dataclasses, `{"type": name, **fields}`) as they happen,
then one final item. This module is the one way to do that, both sides:

- the child: `serve` sets the signals (SIGTERM, SIGINT, SIGHUP: stop after the current
  batch; SIGUSR1: the console left it running on its own, see below) and writes lines;
  a child whose console went away (its stdout pipe broke) stops after its batch too.
- the parent: `Child` spawns, decodes, stops (SIGTERM, once it is ready; killed after
  `KILL_AFTER_S`, safe because every write is journaled `pending` first) and turns a
  child that ended without its final line into one clear error.

The writer lock: the console holds the home's lock for as long as it runs; its children
run under it (`writer_lock`: the lock's holder is the child's parent, says so in
`ENV_PARENT`, and the child inherited the lock's descriptor, `ENV_LOCK_FD`). A child
the console leaves running as it quits (`Child.detach`, "keep running in the background")
keeps the lock: the console hands the lock over (`locking.HeldLock.hand_over`: the
holder record names the child, and the console's exit does not unlock it); the child
holds it through the descriptor it inherited until it exits, so no other console or CLI
writes meanwhile. Any other `sync` or `migrate` takes the lock itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from calsync_tui import clock
from calsync_tui.errors import CalsyncError
from calsync_tui.home import FILE_MODE, AppHome

ENV_PARENT = "CALSYNC_ENGINE_PARENT"  # the pid of the console that holds the lock for us
ENV_LOCK_FD = "CALSYNC_LOCK_FD"  # the descriptor of that lock, inherited from it
KILL_AFTER_S = 20.0  # after SIGTERM: a batch with its retries is done well within this
POLL_S = 0.1
# The console's children (the engine, the migration, the demo's sandbox) yield the CPU
# to the console: on a busy machine a key is answered first and the work takes longer.
CHILD_NICE = 10
DETACH_SIGNAL = signal.SIGUSR1  # "the console is leaving: go on without it"

T = TypeVar("T")


def lower_priority(pid: int) -> None:
    """Give a child process of the console a lower CPU priority (its threads, started
    after this, inherit it); where that is not allowed, nothing changes."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, CHILD_NICE)


class Codec:
    """The line format of one kind of child: dataclasses by their class name."""

    def __init__(self, types: Mapping[str, type[Any]], what: str) -> None:
        self.types = dict(types)
        self.what = what  # "the engine process", in error lines

    def encode(self, item: object) -> str | None:
        """One JSON line for an item of a known type; None for what is not sent."""
        name = type(item).__name__
        if name not in self.types or not is_dataclass(item) or isinstance(item, type):
            return None
        return json.dumps({"type": name, **asdict(item)}, default=str)

    def decode(self, line: str) -> object:
        """The item a line stands for; CalsyncError for a line that is none."""
        try:
            data = json.loads(line)
            kind = data.pop("type")
            return self.types[kind](**data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CalsyncError(f"{self.what} wrote an unreadable line: {line[:80]!r}") from exc


# --- the child side -------------------------------------------------------------------------


def _inherited_lock_fd() -> int | None:
    text = os.environ.get(ENV_LOCK_FD, "")
    return int(text) if text.isdigit() else None


def _holds(fd: int) -> bool:
    """Whether the lock on this (inherited) descriptor is ours: taking it again on the
    same open file succeeds, and fails while another process holds the lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def writer_lock(home: AppHome, purpose: str) -> Iterator[None]:
    """The home's writer lock for a child's work: already held by the console that
    started this process (its pid in `ENV_PARENT`, its lock's descriptor inherited as
    `ENV_LOCK_FD` when it passed one), else taken here."""
    from calsync_tui.locking import home_lock, lock_holder

    parent = os.environ.get(ENV_PARENT)
    if parent and parent == str(os.getppid()):
        holder = lock_holder(home)
        fd = _inherited_lock_fd()
        if holder and str(holder.get("pid")) == parent and (fd is None or _holds(fd)):
            yield
            return
    with home_lock(home, purpose):
        yield


class Link:
    """The child's end: `write` a line, `stopping()` asked to stop after this batch,
    `detached` the console left (lines go nowhere, the work goes on)."""

    def __init__(self, codec: Codec, out: IO[str]) -> None:
        self.codec = codec
        self.out = out
        self._stopping = False
        self.detached = False

    def stopping(self) -> bool:
        return self._stopping

    def stop(self, _sig: int = 0, _frame: object = None) -> None:
        self._stopping = True

    def detach(self, _sig: int = 0, _frame: object = None) -> None:
        self.detached = True

    def write(self, item: object) -> None:
        line = self.codec.encode(item)
        if line is None or self.out.closed:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):
            if not self.detached:
                self._stopping = True  # the console went away: stop after this batch
            self._silence()

    def _silence(self) -> None:
        """No reader any more: the rest of the lines (and Python's flush at exit) go
        to /dev/null instead of failing."""
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)


def serve(codec: Codec, work: Callable[[Link], T], out: IO[str] | None = None) -> T:
    """Run `work` with a `Link` to the parent on `out` (stdout), the stop and detach
    signals set for as long as it runs."""
    link = Link(codec, out if out is not None else sys.stdout)
    handlers: dict[signal.Signals, Callable[[int, Any], None]] = {
        signal.SIGTERM: link.stop,
        signal.SIGINT: link.stop,
        signal.SIGHUP: link.stop,
        DETACH_SIGNAL: link.detach,
    }
    saved = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        return work(link)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        # a detach that arrives as the work ends must not kill the process on its way out
        signal.signal(DETACH_SIGNAL, signal.SIG_IGN)


# --- the parent side ------------------------------------------------------------------------


class Child:
    """A running `python -m calsync_tui ... --progress-jsonl`; `run()` reads it to the end.

    `lock_fd`: the console's writer-lock descriptor, inherited by the child (so the lock
    outlives the console if it leaves the child running). `log`: where the child's stderr
    goes (a file the person can read), else a temporary file. Either way the child's
    error line becomes the `CalsyncError` of a child that ended without its last line.
    """

    def __init__(
        self,
        home: Path,
        api_endpoint: str | None,
        command: list[str],
        codec: Codec,
        final: type[Any],
        *,
        lock_fd: int | None = None,
        log: Path | None = None,
    ) -> None:
        self.codec = codec
        self.final = final
        self.lock_fd = lock_fd
        argv = [sys.executable, "-m", "calsync_tui", "--home", str(home)]
        if api_endpoint:
            argv += ["--api-endpoint", api_endpoint]
        argv += command
        env = dict(os.environ)
        env[ENV_PARENT] = str(os.getpid())
        env.pop(ENV_LOCK_FD, None)
        if lock_fd is not None:
            env[ENV_LOCK_FD] = str(lock_fd)
        # The child's domain time starts where ours is (tests move the clock).
        env[clock.ENV_NOW] = clock.now().isoformat().replace("+00:00", "Z")
        self.log = log
        # Lives as long as the child (closed by `close`): its error line, if it fails.
        if log is not None:
            # 0600 like every file of the home (README "Where data lives"), not the umask's
            fd = os.open(log, os.O_RDWR | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            os.fchmod(fd, FILE_MODE)  # an older log keeps its old mode otherwise
            self._stderr: IO[bytes] = os.fdopen(fd, "w+b")
        else:
            self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            pass_fds=(lock_fd,) if lock_fd is not None else (),
            # Its own session: a terminal that closes under the console does not signal
            # it; it stops when the console goes away (its pipe breaks), unless detached.
            start_new_session=True,
        )
        lower_priority(self.proc.pid)
        self._stop_sent: float | None = None
        self._error: str | None = None  # the child's stderr, once it exited
        self._ready = False  # the child wrote its first line: its signal handlers are set
        self._stop_wanted = False
        self.detached = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ready(self) -> bool:
        return self._ready

    def stop(self) -> None:
        """Ask the child to stop after its current batch (SIGTERM), once. Before its
        first line the child may not have its handler yet: the signal waits for it."""
        self._stop_wanted = True
        if not self._ready or self.detached:
            return
        if self._stop_sent is None and self.proc.poll() is None:
            self._stop_sent = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def detach(self) -> bool:
        """Let the child go on after the console leaves (it ignores its broken pipe from
        now on); `run()` returns None at once. False when that cannot be done: the child
        has no handler yet (not ready), already ends, or was asked to stop."""
        if not self._ready or self._stop_wanted or self.proc.poll() is not None:
            return False
        try:
            self.proc.send_signal(DETACH_SIGNAL)
        except ProcessLookupError:
            return False
        self.detached = True
        return True

    def _kill_if_late(self) -> None:
        if self._stop_sent is not None and time.monotonic() - self._stop_sent > KILL_AFTER_S:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def run(self, on_item: Callable[[object], None], cancel: Callable[[], bool]) -> Any:
        """Hand each item to `on_item` until the child exits; its final item, None when
        it was detached, or a one-line CalsyncError. `cancel()` true: stop the child
        (after its batch)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        final: Any = None
        pending = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not self.detached:
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
                    item = self.codec.decode(raw.decode("utf-8", "replace"))
                    if isinstance(item, self.final):
                        final = item
                    else:
                        on_item(item)
        if self.detached:
            self.close()
            return None
        self.wait()
        self.close()
        if final is None:
            raise CalsyncError(self._failure())
        return final

    def wait(self, timeout: float = KILL_AFTER_S) -> int | None:
        """Wait for the child to exit (killed after `timeout`); its exit code. A detached
        child is not waited for (None)."""
        if self.detached:
            return None
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
        """Our ends closed (the child's stderr kept for `_failure` once it exited)."""
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if self._error is None and not self._stderr.closed:
            if not self.detached:
                self._stderr.seek(0)
                self._error = self._stderr.read().decode("utf-8", "replace")
            self._stderr.close()

    def _failure(self) -> str:
        """One line for a child that ended without its last line (its error, or its signal)."""
        text = (self._error or "").strip().splitlines()
        code = self.proc.returncode
        for line in reversed(text):
            if line.startswith("calsync-tui: error: "):
                return line.removeprefix("calsync-tui: error: ")
        if code is not None and code < 0:
            return f"{self.codec.what} stopped ({signal.Signals(-code).name})"
        last = text[-1] if text else f"exit {code}"
        return f"{self.codec.what} failed: {last}"


def run_child(
    child: Child,
    on_item: Callable[[object], None],
    cancel: Callable[[], bool],
    started: Callable[[Child], None] | None = None,
) -> Any:
    """Read `child` to its end (`Child.run`); an error in the parent stops it (after its
    batch) rather than leave it behind."""
    if started is not None:
        started(child)
    try:
        return child.run(on_item, cancel)
    finally:
        if not child.detached and child.proc.poll() is None:
            child.stop()
            child.wait()
        child.close()
