"""One writer per home: an exclusive, non-blocking `flock` on `home.lock_path`.

Writers (sync, migrate, the TUI's engine) take it; readers (status, lineage, doctor)
don't. The lock dies with the process (kill -9 included), so a stale file never blocks.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from calsync_tui.errors import CalsyncError
from calsync_tui.home import FILE_MODE, AppHome


def lock_holder(home: AppHome) -> dict[str, Any] | None:
    """Who holds the lock (pid, purpose), or None when it is free. Never takes it."""
    path = home.lock_path
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        value = json.loads(raw.decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        value = {}
    return value if isinstance(value, dict) else {}


class HeldLock:
    """The writer lock while it is held: its descriptor (a child process may inherit it)
    and `hand_over`, for a child that goes on writing after this process leaves."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.handed_to: int | None = None

    def hand_over(self, pid: int, purpose: str) -> None:
        """The process `pid`, which inherited this descriptor, keeps the lock after this
        one leaves: the holder record names it, and leaving closes without unlocking
        (the lock lives until the last process with the descriptor exits)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps({"pid": pid, "purpose": purpose}).encode(), 0)
        self.handed_to = pid


@contextmanager
def home_lock(home: AppHome, purpose: str) -> Iterator[HeldLock]:
    """Hold the home's writer lock for the block, or fail at once if someone else has it."""
    home.ensure()
    fd = os.open(home.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise CalsyncError(
                f"another calsync-tui (pid {holder.get('pid', '?')}, "
                f"{holder.get('purpose', 'unknown')}) is using {home.root}; wait for it or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "purpose": purpose}).encode(), 0)
        held = HeldLock(fd)
        try:
            yield held
        finally:
            if held.handed_to is None:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
