"""The one clock for domain time: the sync window, "last sync" ages, lockout expiry,
journal timestamps and when the next cycle is due all read `now()` from here.

A mirroring tool's bugs live in week six, so time must be an input: tests move the
whole product forward by days with `advance()` (or pin it with `set_now()`), and a child
process (a CLI run under test, the demo's engine) starts at the instant given by the
environment variable `CALSYNC_NOW` (RFC 3339, e.g. `2027-01-15T09:00:00Z`) and then runs
on at wall-clock speed. Nothing else in `calsync_tui` or `local_store` may call
`datetime.now()`/`time.time()` for domain time (tests/test_clock_seam.py checks it).

Durations (latency figures, backoff sleeps, the pacer's token bucket) are not domain
time and use `time.monotonic()`/`time.perf_counter()` where they are measured.
The sandbox keeps a clock of its own: it plays Google, whose clock is not ours.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

ENV_NOW = "CALSYNC_NOW"

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None


def _wall() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 (`Z` or an offset); ValueError otherwise."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return dt.astimezone(UTC)


def now() -> datetime:
    """Domain 'now', aware, in UTC."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return _wall() + _offset


def set_now(when: datetime, *, frozen: bool = False) -> None:
    """Make `now()` answer `when` from here on: pinned there (`frozen`) or running on."""
    global _offset, _frozen
    when = when.astimezone(UTC)
    with _lock:
        if frozen:
            _frozen = when
        else:
            _frozen = None
            _offset = when - _wall()


def advance(delta: timedelta) -> datetime:
    """Move domain time forward (or back) by `delta`; returns the new now()."""
    global _offset, _frozen
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta
    return now()


def reset() -> None:
    """Back to wall-clock time (then `CALSYNC_NOW`, if set, applies again)."""
    global _offset, _frozen
    with _lock:
        _offset, _frozen = timedelta(0), None
    _apply_env()


@contextmanager
def moved_to(when: datetime, *, frozen: bool = False) -> Iterator[None]:
    """Run a block at another domain time, then restore the previous clock."""
    global _offset, _frozen
    with _lock:
        saved = (_offset, _frozen)
    set_now(when, frozen=frozen)
    try:
        yield
    finally:
        with _lock:
            _offset, _frozen = saved


def _apply_env() -> None:
    text = os.environ.get(ENV_NOW)
    if not text:
        return
    try:
        set_now(parse_instant(text))
    except ValueError:
        raise SystemExit(f"calsync-tui: {ENV_NOW}={text!r} is not an RFC 3339 instant") from None


_apply_env()
