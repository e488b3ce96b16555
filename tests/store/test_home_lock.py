"""home_lock: one writer per home, across processes; the lock dies with its holder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome
from calsync_tui.locking import home_lock, lock_holder

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from calsync_tui.home import AppHome
    from calsync_tui.locking import home_lock
    with home_lock(AppHome(Path(sys.argv[1])), "sync"):
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_second_writer_is_refused_with_holder_pid(tmp_path: Path) -> None:
    home = AppHome(tmp_path / "home").ensure()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        assert lock_holder(home) == {"pid": proc.pid, "purpose": "sync"}
        with pytest.raises(CalsyncError) as err, home_lock(home, "migrate"):
            pass
        assert str(err.value) == (
            f"another calsync-tui (pid {proc.pid}, sync) is using {home.root}; "
            "wait for it or stop it"
        )
    finally:
        proc.kill()  # like kill -9: no clean-up runs in the holder
        proc.wait()
    assert lock_holder(home) is None
    with home_lock(home, "migrate"):
        assert lock_holder(home) == {"pid": os.getpid(), "purpose": "migrate"}
        assert stat.S_IMODE(home.lock_path.stat().st_mode) == 0o600
    assert lock_holder(home) is None


def test_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    home = AppHome(tmp_path / "home")
    with (
        home_lock(home, "tui"),
        pytest.raises(CalsyncError, match=r"\(pid \d+, tui\)"),
        home_lock(home, "sync"),
    ):
        pass
    with home_lock(home, "sync"):  # released after the block
        pass
