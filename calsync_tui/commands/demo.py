"""`calsync-tui demo`: the sandbox with its demo world, a throwaway home, the console.

A new user sees a living system in seconds without a Google account: the sandbox runs
on 127.0.0.1 in a child process (`calsync-tui sandbox serve`, so serving its HTTP never
takes the console's time under Python's GIL), its accounts are registered with their
static sandbox tokens, their calendars are listed and enabled, and the home is removed
at exit. Tests build the same world with the sandbox in their own process
(`demo_world(..., in_process=True)`, the default) to read its counters directly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from calsync_tui import clock
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.home import AppHome, write_private
from local_store.models import Account, Calendar

MIRRORABLE_ROLES = ("owner", "writer", "reader")
# The sandbox is local: pace at the settings maximum so the first cycle (~450 writes)
# takes seconds, not the ~50 s Google's 500 requests/min would. Later cycles every 20 s.
DEMO_SETTINGS = {"requests_per_minute": 10_000, "sync_interval_seconds": 20}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo", parents=[common], help="sandbox + demo data + TUI (no Google account needed)"
    )
    p.add_argument("--seed", type=int, default=7, help="demo world seed (default 7)")
    p.add_argument("--events", type=int, default=400, help="events in the demo world (default 400)")
    p.set_defaults(func=run)


@dataclass
class Demo:
    """A running sandbox and a home wired to it."""

    server: Any
    home: AppHome
    api_endpoint: str
    calendars: int


def enable_calendars(ctx: Any) -> int:
    """List every account's calendars into the store and enable the mirrorable ones."""
    from calsync_tui.google.accounts import account_emails

    store = ctx.store
    n = 0
    for email in account_emails(store):
        infos = ctx.gateway_for(email).list_calendars()
        with store.session() as s:
            account = s.exec(select(Account).where(Account.email == email)).one()
            for info in infos:
                row = s.exec(
                    select(Calendar)
                    .where(Calendar.account_id == account.id)
                    .where(Calendar.google_id == info.google_id)
                ).first()
                if row is None:
                    row = Calendar(account_id=account.id or 0, google_id=info.google_id)
                row.summary = info.summary
                row.time_zone = info.time_zone
                row.access_role = info.access_role
                row.primary = info.primary
                row.enabled = info.access_role in MIRRORABLE_ROLES
                # The demo world is the legacy system's world: migration starts from there.
                row.engine_mode = "legacy"
                row.updated_at = clock.now()
                s.add(row)
                n += int(row.enabled)
            s.commit()
    return n


class SandboxProcess:
    """`calsync-tui sandbox serve` in a child process: `url`, `stats()`, `stop()`."""

    def __init__(self, *, seed: int, events: int) -> None:
        import subprocess
        import sys

        # No quota model (as in-process): the demo is paced at 10,000 requests/min.
        argv = [sys.executable, "-m", "calsync_tui", "sandbox", "serve", "--port", "0"]
        argv += ["--seed", str(seed), "--events", str(events), "--no-quota"]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        from calsync_tui.service.engineproc import lower_priority

        lower_priority(self.proc.pid)  # the console answers keys first
        assert self.proc.stdout is not None
        try:  # building a large world takes seconds; a hang-up meanwhile stops it too
            first = self.proc.stdout.readline().decode("utf-8", "replace")
        except BaseException:
            self.stop()
            raise
        if not first.startswith("sandbox serving at "):
            self.stop()
            err = self.proc.stderr.read().decode("utf-8", "replace") if self.proc.stderr else ""
            raise CalsyncError(f"the demo's sandbox did not start: {(err or first).strip()}")
        self.url = first.removeprefix("sandbox serving at ").split(" ", 1)[0]

    def _admin(self, path: str, method: str = "GET") -> dict[str, Any]:
        from calsync_tui.sandbox.client import admin

        return admin(self.url, path, method)

    def stats(self) -> dict[str, Any]:
        return self._admin("stats")

    def reset_stats(self) -> None:
        self._admin("reset_stats", "POST")

    def stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def demo_world(
    root: Path,
    *,
    seed: int = 7,
    events: int = 400,
    now: datetime | None = None,
    in_process: bool = True,
) -> Iterator[Demo]:
    """Start the sandbox with the demo world and prepare a home at `root` for it: in this
    process (tests), or in a child process (`in_process=False`: the demo command)."""
    from calsync_tui.context import AppContext
    from calsync_tui.google.accounts import register_static_token
    from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, build_demo
    from calsync_tui.sandbox.server import SandboxServer
    from calsync_tui.settings import load_settings

    if events < 0:
        raise UsageError("--events must be >= 0")
    srv: Any
    if in_process:
        # No quota model here: the demo is paced at 10,000 requests/min to start in
        # seconds, and a larger --events world would otherwise spend minutes in backoff.
        srv = SandboxServer(port=0, quota_per_user=None, quota_per_project=None)
        srv.start()
    else:
        if now is not None:
            raise UsageError("a demo sandbox in its own process builds its world at its now")
        srv = SandboxProcess(seed=seed, events=events)
    try:
        if in_process:
            build_demo(srv, seed=seed, events=events, now=now)
        home = AppHome(root).ensure()
        write_private(home.config_path, json.dumps(DEMO_SETTINGS))
        settings = load_settings(home, srv.url)
        with AppContext(home, settings) as ctx:
            for email, token in DEMO_ACCOUNTS:
                register_static_token(home, ctx.store, email, token)
            n = enable_calendars(ctx)
        yield Demo(server=srv, home=home, api_endpoint=srv.url, calendars=n)
    finally:
        srv.stop()


def run(args: argparse.Namespace) -> int:
    from calsync_tui.app import CalsyncApp
    from calsync_tui.commands.tui import run_app
    from calsync_tui.sandbox.demo import DEMO_ACCOUNTS

    running: list[Any] = []  # the console, once it runs
    tmp = Path(tempfile.mkdtemp(prefix="calsync-demo-"))
    with _exit_on_hangup(running):
        try:
            with demo_world(
                tmp / "home", seed=args.seed, events=args.events, in_process=False
            ) as demo:
                # A sandbox, not a real account: the loop may write at once (app.py's rule).
                app = CalsyncApp(
                    home=demo.home.root,
                    api_endpoint=demo.api_endpoint,
                    auto_sync=True,
                    background_reason="the demo's Google sandbox stops when the demo exits",
                )
                app.backend.static_tokens = dict(DEMO_ACCOUNTS)  # sign back in after sign-out
                running.append(app)
                return run_app(app)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _exit_on_hangup(running: list[Any]) -> Iterator[None]:
    """Closing the terminal (SIGHUP) or a kill (SIGTERM) ends the demo normally, so its
    throwaway home is removed instead of left behind (it was 21 MB): the console exits,
    or, while the demo world is still being built, the build stops with SystemExit."""
    import signal

    def stop(signum: int, frame: object) -> None:
        if running:
            running[0].exit(return_code=128 + signum)
        else:
            raise SystemExit(128 + signum)

    saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
