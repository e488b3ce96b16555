"""Bad-input matrix: one row per input, the CLI run as a real subprocess.

Every row states the exact behaviour: exit code (DESIGN: 1 failed, 2 usage), the one
line on stderr (no traceback), zero writes on Google (sandbox counter), and the store's
bytes unchanged where nothing should be recorded. Rows start from `synced` (two calendars
mirrored once), so a command that wrongly wrote would have something to write.

Owners test some rows in more depth: client-secrets variants in
tests/google/test_auth_cli.py, corrupt/newer/locked DB in tests/store/test_db.py and
tests/test_cli_basics.py, classification of malformed events in
tests/engine/test_classify.py, plan tampering in tests/migration/test_core.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from calsync_tui.google.accounts import register_static_token, save_account
from calsync_tui.google.tokens import StoredToken, open_token_store
from calsync_tui.home import AppHome
from local_store.db import open_store
from tests.engine.world import when
from tests.google.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuthServer
from tests.proof.conftest import ANN, Synced

EXE = [sys.executable, "-m", "calsync_tui"]


@dataclass
class Row:
    """What to run and what must happen."""

    argv: list[str]
    code: int
    says: str  # a substring of each stderr line ("" for success rows)
    lines: int = 1  # sync reports one line per calendar it could not read
    store_unchanged: bool = True
    endpoint: str | None = None  # default: the sandbox
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[subprocess.CompletedProcess[str]], None] | None = None


def run_cli(
    home: Path, endpoint: str, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    clean.update({"CALSYNC_TOKEN_STORE": "file", **(env or {})})
    return subprocess.run(
        [*EXE, "--home", str(home), "--api-endpoint", endpoint, *argv],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
    )


def store_digest(home: AppHome) -> str:
    """Hash of the DB and its WAL: any committed change shows here."""
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        p = home.db_path.with_name(home.db_path.name + suffix)
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _secrets(s: Synced, tmp: Path, content: str | None) -> Row:
    path = tmp / "client_secret.json"
    if content is not None:
        path.write_text(content)
    return Row(["auth", "login", "--no-browser", "--client-secrets", str(path)], 1, "")


def _inject(s: Synced, cal: str, change: Callable[[dict[str, Any]], None], title: str) -> None:
    """Put an event, then change its stored form behind the API's validation (data Google
    could hand back from another client or an old bug)."""
    start, end = when(2, hours=15)
    ev = s.world.put(cal, title, start=start, end=end)
    stored = s.world.sandbox.world.calendars[cal]
    raw = dict(stored.events[ev["id"]])
    change(raw)
    stored.events[ev["id"]] = raw


def _oauth_token(oauth: FakeOAuthServer) -> StoredToken:
    return StoredToken(
        email=ANN,
        kind="oauth",
        token="expired-access-token-abc",
        refresh_token="refresh-token-xyz",
        expiry="2000-01-01T00:00:00+00:00",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_uri=f"{oauth.url}/token",
        scopes=["https://www.googleapis.com/auth/calendar.events"],
    )


def _as_oauth(s: Synced, oauth: FakeOAuthServer) -> None:
    home = s.world.home
    open_token_store(home).put(_oauth_token(oauth))
    with open_store(home.db_path, home.backups_dir) as store:
        save_account(store, ANN, kind="oauth", scopes=[])


def _malformed(change: Callable[[dict[str, Any]], None], says: str = "") -> Callable[..., Row]:
    def setup(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
        _inject(s, s.a, change, "Odd event")

        def check(proc: subprocess.CompletedProcess[str]) -> None:
            out = json.loads(proc.stdout)
            assert out["mutations"] == {} and out["failed"] == 0, out
            if says:
                assert out["classes"].get(says, 0) >= 1, out["classes"]

        return Row(["sync", "--once", "--json"], 0, "", store_unchanged=False, check=check)

    return setup


def _props(**private: str) -> Callable[[dict[str, Any]], None]:
    def change(ev: dict[str, Any]) -> None:
        ev["extendedProperties"] = {"private": private}

    return change


def _no_start(ev: dict[str, Any]) -> None:
    ev.pop("start", None)


def _end_before_start(ev: dict[str, Any]) -> None:
    ev["start"], ev["end"] = ev["end"], ev["start"]


def _garbage_props(ev: dict[str, Any]) -> None:
    ev["extendedProperties"] = {"private": ["not", "a", "map"], "shared": 7}


def _revoked(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    oauth.refuse_refresh = True
    _as_oauth(s, oauth)
    return Row(["sync", "--once"], 1, "sign in again", store_unchanged=False)


def _expired_access(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    _as_oauth(s, oauth)
    oauth.refresh_tokens.add("refresh-token-xyz")
    for i in range(1, 4):  # what the fake OAuth server will issue, known to the API
        s.world.sandbox.add_user(ANN, f"fresh-access-{i}")

    def check(proc: subprocess.CompletedProcess[str]) -> None:
        stored = open_token_store(s.world.home).get(ANN)
        assert stored is not None and stored.token != "expired-access-token-abc"
        assert oauth.token_requests[-1]["grant_type"] == "refresh_token"

    return Row(["sync", "--once"], 0, "", store_unchanged=False, check=check)


def _api_401(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    home = s.world.home
    with open_store(home.db_path, home.backups_dir) as store:
        register_static_token(home, store, ANN, "a-token-the-api-refuses")
    return Row(["sync", "--once"], 1, "static token was rejected (401)", store_unchanged=False)


def _unreachable(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    url = f"http://127.0.0.1:{free_port()}/"
    return Row(["sync", "--once"], 1, "cannot reach", store_unchanged=False, endpoint=url, lines=2)


def _corrupt_db(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    for p in s.world.home.root.glob("calsync.db*"):
        p.unlink()
    s.world.home.db_path.write_bytes(b"definitely not sqlite " * 500)
    return Row(["sync", "--once"], 1, "is corrupt")


def _newer_schema(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    conn = sqlite3.connect(s.world.home.db_path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()
    return Row(["sync", "--once"], 1, "newer than this calsync-tui knows")


def _plan_edited(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    from calsync_tui.cli import main as cli_main  # setup in-process; the row runs apart

    plan = tmp / "plan.json"
    common = ["--home", str(s.world.home.root), "--api-endpoint", s.world.sandbox.url]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        for step in (["discover"], ["prepare"], ["plan", "--out", str(plan)]):
            assert cli_main(["migrate", *step, *common]) == 0, step
    body = json.loads(plan.read_text())
    body["batch_size"] = 1 if body.get("batch_size") != 1 else 2
    plan.write_text(json.dumps(body))
    return Row(["migrate", "backfill", "--plan", str(plan), "--yes"], 1, "plan")


def _unknown_flag(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    return Row(["sync", "--once", "--frobnicate"], 2, "unrecognized arguments: --frobnicate")


def _unknown_command(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    return Row(["frobnicate"], 2, "invalid choice: 'frobnicate'")


def _bad_value(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
    return Row(["migrate", "rollback", "--level", "7", "--yes"], 2, "invalid choice")


def _secrets_row(content: str | None, says: str) -> Callable[..., Row]:
    def setup(s: Synced, tmp: Path, oauth: FakeOAuthServer) -> Row:
        row = _secrets(s, tmp, content)
        row.says = says
        return row

    return setup


# input -> setup returning the expected behaviour (locked DB and read-only home: below)
MATRIX: dict[str, Callable[[Synced, Path, FakeOAuthServer], Row]] = {
    "client secrets missing": _secrets_row(None, "not found"),
    "client secrets malformed": _secrets_row("{oops", "not valid JSON"),
    "client secrets web-type": _secrets_row(
        json.dumps({"web": {"client_id": "x"}}), "Web application client"
    ),
    "revoked token (invalid_grant)": _revoked,
    "expired access token (refreshed, exit 0)": _expired_access,
    "401 from the API": _api_401,
    "endpoint unreachable": _unreachable,
    "corrupt DB file": _corrupt_db,
    "DB from a newer schema": _newer_schema,
    "event without start (classified error)": _malformed(_no_start, "error"),
    "event ending before it starts (error)": _malformed(_end_before_start, "error"),
    "garbage extendedProperties (error)": _malformed(_garbage_props, "error"),
    "calsync_id not a UUID (error)": _malformed(
        _props(calsync_id="not-a-uuid", calsync_type="user_event", calsync_v="1"), "error"
    ),
    "foreign calsync_instance (external)": _malformed(
        _props(
            calsync_id="0b0e7f0e-7a4c-4b7e-9a53-0d3e1c2b4a5f",
            calsync_type="user_event",
            calsync_v="1",
            calsync_instance="11111111-2222-4333-8444-555555555555",
        ),
        "external_calsync",
    ),
    "plan file edited by hand": _plan_edited,
    "unknown CLI flag": _unknown_flag,
    "unknown command": _unknown_command,
    "bad option value": _bad_value,
}


@pytest.fixture
def oauth() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer(access_tokens=lambda i: f"fresh-access-{i}").start()
    yield server
    server.stop()


def check_row(s: Synced, row: Row) -> subprocess.CompletedProcess[str]:
    """Run the row's command and check the common contract."""
    home = s.world.home
    sandbox = s.world.sandbox
    before = store_digest(home)
    sandbox.reset_stats()
    proc = run_cli(home.root, row.endpoint or sandbox.url, row.argv, row.env)
    assert proc.returncode == row.code, (proc.returncode, proc.stderr, proc.stdout)
    assert "Traceback" not in proc.stderr + proc.stdout
    if row.code == 2:  # argparse: usage line, then the error line
        lines = proc.stderr.strip().splitlines()
        assert lines[0].startswith("usage:") and row.says in lines[-1], proc.stderr
    elif row.code == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == row.lines, proc.stderr
        assert all(row.says in line for line in lines), lines
    assert sandbox.stats()["writes"] == 0
    if row.store_unchanged:
        assert store_digest(home) == before, "the store changed"
    if row.check is not None:
        row.check(proc)
    return proc


@pytest.mark.parametrize("case", list(MATRIX))
def test_bad_input(case: str, synced: Synced, tmp_path: Path, oauth: FakeOAuthServer) -> None:
    row = MATRIX[case](synced, tmp_path, oauth)
    check_row(synced, row)


def test_locked_db(synced: Synced) -> None:
    """Another program holds SQLite's write lock: one line, exit 1, nothing written."""
    conn = sqlite3.connect(synced.world.home.db_path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        check_row(synced, Row(["sync", "--once"], 1, "locked"))
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def read_only(root: Path) -> Iterator[None]:
    """Make a tree read-only even for root (the immutable attribute), else by modes."""
    paths = [root, *root.rglob("*")]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p in paths:
                p.chmod(modes[p])


@pytest.mark.parametrize("argv", [["sync", "--once"], ["status"]])
def test_read_only_home(synced: Synced, argv: list[str]) -> None:
    """A home that cannot be written: refused in one line, exit 1, nothing touched."""
    home = synced.world.home
    before = store_digest(home)
    synced.world.sandbox.reset_stats()
    with read_only(home.root):
        proc = run_cli(home.root, synced.world.sandbox.url, argv)
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("calsync-tui: error: cannot use home ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert synced.world.sandbox.stats()["writes"] == 0
    assert store_digest(home) == before
