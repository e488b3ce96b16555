"""A sandbox in its own process, seeded with a benchmark world, so the measured client's
time and peak RSS are its own (the server's threads and event store are not counted).

Not a benchmark script by itself: `benchmarks.run` uses it. The parent reads counters
through the sandbox's admin endpoints and changes events through the real API.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from calsync_tui.sandbox.client import admin

ANN, BOB = "ann@example.com", "bob@example.com"
TOKENS = {ANN: "bench-token-ann", BOB: "bench-token-bob"}


def slot(i: int, now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """Start/end of the i-th event: spread over 85 days, 14 hours a day, 30 minutes."""
    base = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = base + timedelta(days=1 + i % 85, hours=6 + (i // 85) % 14, minutes=(i * 7) % 60)
    end = start + timedelta(minutes=30)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"dateTime": start.strftime(fmt)}, {"dateTime": end.strftime(fmt)}


def _seed(srv: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Build the world named by spec["kind"]; returns the calendar ids the client uses."""
    now = datetime.now(UTC)
    for email, token in TOKENS.items():
        srv.add_user(email, token)
    kind, n = spec["kind"], int(spec["n"])
    if kind == "reader":
        # n events on bob's calendar that ann can only read: ann's inventory of them is a
        # full read + classify + store with nothing to write (no writable target enabled).
        cal = srv.create_calendar(BOB, "Team", "UTC", BOB)
        srv.share(cal, ANN, "reader")
        for i in range(n):
            s, e = slot(i, now)
            srv.put_event(cal, {"summary": f"Team meeting {i}", "start": s, "end": e})
        return {"enable": [cal], "source": cal}
    a = srv.create_calendar(ANN, "Work", "UTC", ANN)
    b = srv.create_calendar(ANN, "Personal", "UTC", None)
    for i in range(n):
        s, e = slot(i, now)
        srv.put_event(a, {"summary": f"Meeting {i}", "start": s, "end": e})
        if kind == "legacy":
            srv.put_event(b, {"summary": f"🔒 Busy - Meeting {i}", "start": s, "end": e})
    return {"enable": [a, b], "source": a}


def _serve(conn: Connection, spec: dict[str, Any]) -> None:
    from calsync_tui.sandbox.server import SandboxServer

    # Cost rows count calls and time the engine's own work, so the limits on how fast or
    # how much one user writes are off: the per-user quota (the client is unpaced,
    # benchmarks/run.py), the per-calendar burst (1,000 writes per 60 s) and the sticky
    # usage limit (3,000 writes per user in 10 minutes lock writes for 3 hours): the
    # 10,000-event rows write 5,000 to one calendar and 10,000 in a backfill, which paced
    # takes minutes of waiting (and, past 3,000, hours) and says nothing about cost. What
    # the waiting costs a user is measured on its own: benchmarks/first_cycle.py. Every
    # other strict behaviour stays on (ids never freed, shuffled batches, failed
    # envelopes, windowless sync tokens, ...).
    with SandboxServer(
        quota_per_user=None, quota_per_project=None, lenient=["calendar_burst", "usage_limit"]
    ) as srv:
        info = _seed(srv, spec)
        conn.send({"url": srv.url, **info})
        conn.recv()  # any message: stop


class RemoteSandbox:
    """Context manager: a seeded sandbox in a spawned process; `url`, `stats()`."""

    def __init__(self, spec: dict[str, Any]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, spec), daemon=True)
        self.info: dict[str, Any] = {}

    def __enter__(self) -> RemoteSandbox:
        self._proc.start()
        self.info = self._conn.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send("stop")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def _admin(self, path: str, method: str = "GET") -> dict[str, Any]:
        return admin(self.url, path, method)

    def stats(self) -> dict[str, Any]:
        return self._admin("stats")

    def reset_stats(self) -> None:
        self._admin("reset_stats", "POST")
