"""Issue 16 defect 14: the demo's throwaway home is removed when its terminal closes."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_closing_the_terminal_removes_the_demo_home(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    env.update(TMPDIR=str(tmp), TERM="xterm-256color", TEXTUAL_ANIMATIONS="none")
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "calsync_tui", "demo", "--events", "20"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tmp.glob("calsync-demo-*/home/*.db")):
            time.sleep(0.2)
            _drain(main)
        assert list(tmp.glob("calsync-demo-*")), "the demo never made its home"
        time.sleep(1.0)
        _drain(main)
        proc.send_signal(signal.SIGHUP)  # what closing the terminal window does
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            _drain(main)
            time.sleep(0.1)
        assert proc.poll() is not None, "the demo kept running after SIGHUP"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert list(tmp.iterdir()) == []


def _drain(fd: int) -> None:
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return
