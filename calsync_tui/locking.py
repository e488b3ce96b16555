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


@contextmanager
def home_lock(home: AppHome, purpose: str) -> Iterator[None]:
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
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
