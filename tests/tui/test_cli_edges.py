"""Issue 16 defects 13 and 15: the CLI's edges (closed pipes, unreachable Google, bad tokens)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from calsync_tui.cli import main
from calsync_tui.home import AppHome
from local_store.db import open_store
from local_store.models import EventState


class _ClosedPipe(io.StringIO):
    """stdout whose reader has gone (`| head` after its lines)."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def _main(argv: list[str], stdout: io.StringIO) -> tuple[int, str]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CALSYNC_")}
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.environ.update(saved)
    return code, err.getvalue()


def _a_correlation_id(home: AppHome) -> str:
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            e = s.exec(select(EventState).where(EventState.event_class == "tracked_user_event"))
            return str(e.first().correlation_id)  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_closed_pipe_ends_quietly(data_home: AppHome) -> None:
    home = ["--home", str(data_home.root)]
    for argv in (
        ["status"],
        ["status", "--json"],
        ["lineage", "--json", _a_correlation_id(data_home)],
    ):
        code, err = _main([*home, *argv], _ClosedPipe())
        assert code == 141, argv
        assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_closed_pipe_on_the_real_entry_point(data_home: AppHome) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "calsync_tui", "--home", str(data_home.root), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def _free_port_endpoint() -> str:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_calendars_list_when_no_account_answers_is_one_line_and_exit_1(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    code, err = _main(
        [*home, "auth", "token", "--no-verify", "--email", "me@example.com", "--token", "t"],
        io.StringIO(),
    )
    assert code == 0, err
    out = io.StringIO()
    code, err = _main([*home, "--api-endpoint", _free_port_endpoint(), "calendars", "list"], out)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calsync-tui: error: could not read any")
    assert out.getvalue() == ""  # no empty table that looks like the truth


def test_auth_token_is_checked_with_google(tmp_path: Path) -> None:
    from calsync_tui.sandbox.server import SandboxServer

    srv = SandboxServer(port=0)
    srv.start()
    try:
        srv.add_user("me@example.com", "good-token")
        srv.create_calendar("me@example.com", "Me", calendar_id="me@example.com")
        base = ["--home", str(tmp_path / "home"), "--api-endpoint", srv.url, "auth", "token"]
        code, err = _main([*base, "--email", "me@example.com", "--token", "bad"], io.StringIO())
        assert code == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "did not accept the token for me@example.com" in lines[0]
        assert "bad" not in lines[0].replace("--no-verify", "")
        out = io.StringIO()
        status = ["--home", str(tmp_path / "home"), "auth", "status", "--json"]
        assert _main(status, out)[0] == 0
        assert '"accounts": []' in out.getvalue()  # nothing stored

        out = io.StringIO()
        code, err = _main([*base, "--email", "me@example.com", "--token", "good-token"], out)
        assert code == 0, err
        assert "stored for me@example.com" in out.getvalue()
        code, err = _main(
            [*base, "--no-verify", "--email", "me@example.com", "--token", "x"], io.StringIO()
        )
        assert code == 0, err
    finally:
        srv.stop()
