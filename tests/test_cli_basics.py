"""The CLI as a real subprocess: help, usage errors, status and doctor on real homes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calsync_tui.cli import main
from calsync_tui.home import AppHome
from calsync_tui.locking import home_lock
from calsync_tui.sandbox.server import SandboxServer
from local_store import migrations
from local_store.db import open_store
from local_store.models import Account, Alert, Calendar, EventState, MigrationState, SyncRun

DESIGN_COMMANDS = (
    "demo",
    "sandbox",
    "auth",
    "calendars",
    "sync",
    "status",
    "lineage",
    "migrate",
    "doctor",
)


def cli(*argv: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    args = [sys.executable, "-m", "calsync_tui"]
    if home is not None:
        args += ["--home", str(home)]
    return subprocess.run(
        [*args, *argv],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def run(*argv: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The same `main()` in this process (no interpreter start-up): for the many calls
    that check content; the subprocess tests above prove the real entry point."""
    full = [*(["--home", str(home)] if home is not None else []), *argv]
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CALSYNC_")}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(full)
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        os.environ.update(saved)
    return subprocess.CompletedProcess(full, code, out.getvalue(), err.getvalue())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_help_lists_every_design_command() -> None:
    result = cli("--help")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")}
    assert set(DESIGN_COMMANDS) <= listed


@pytest.mark.parametrize(
    "argv",
    [("frobnicate",), ("status", "--bogus"), ("doctor", "extra-arg"), ("--home",)],
)
def test_usage_errors_exit_2_with_usage(argv: tuple[str, ...], tmp_path: Path) -> None:
    result = cli(*argv, home=tmp_path / "h") if argv != ("--home",) else cli(*argv)
    assert result.returncode == 2
    assert "usage: calsync-tui" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "h").exists()  # nothing was created for a bad command line


def test_status_json_on_an_empty_home(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = cli("status", "--json", home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["migration"]["phase"] == 0
    assert report["migration"]["phase_name"] == "discover"
    assert report["calendars"] == [] and report["accounts"] == [] and report["alerts"] == []
    assert report["schema_revision"] == migrations.head_revision()
    assert report["last_cycle"] is None
    assert _mode(home) == 0o700
    assert _mode(home / "calsync.db") == 0o600
    again = json.loads(cli("status", "--json", home=home).stdout)
    assert again["installation_id"] == report["installation_id"]  # made once, kept
    assert (home / "installation_id").read_text().strip() == report["installation_id"]


def _populate(home: Path) -> None:
    with open_store(home / "calsync.db", home / "backups") as store, store.session() as s:
        acc = Account(email="me@example.com")
        gone = Account(email="old@example.com", needs_signin=True, signin_error="invalid_grant")
        s.add_all([acc, gone])
        s.commit()
        assert acc.id is not None
        work = Calendar(
            account_id=acc.id,
            google_id="work@x",
            summary="Work",
            access_role="owner",
            enabled=True,
            engine_mode="hybrid",
        )
        home_cal = Calendar(
            account_id=acc.id,
            google_id="home@x",
            summary="Home",
            access_role="owner",
            enabled=True,
            engine_mode="legacy",
        )
        s.add_all([work, home_cal])
        s.commit()
        assert work.id is not None and home_cal.id is not None
        s.add_all(
            [
                EventState(
                    correlation_id="s1",
                    calendar_id=work.id,
                    google_event_id="e1",
                    event_class="tracked_user_event",
                ),
                EventState(
                    correlation_id="b1",
                    calendar_id=home_cal.id,
                    google_event_id="e2",
                    event_type="busy_block",
                    event_class="busy_block",
                    source_correlation_id="s1",
                ),
                EventState(
                    correlation_id="s2",
                    calendar_id=work.id,
                    google_event_id="e3",
                    event_class="new_user_event",
                ),
                EventState(
                    correlation_id="l1",
                    calendar_id=home_cal.id,
                    google_event_id="e4",
                    event_class="legacy_busy_block",
                    event_type="busy_block",
                ),
                MigrationState(
                    id=1, phase=2, rollout_percent=25, gates_json='{"prepare": {"passed": true}}'
                ),
                SyncRun(
                    kind="sync",
                    started_at=datetime(2026, 3, 1, tzinfo=UTC),
                    api_calls=7,
                    api_round_trips=2,
                    events_seen=4,
                    classes_json='{"busy_block": 1}',
                    success_rate=0.995,
                ),
                Alert(kind="cascade", level="error", message="cascade on Home"),
            ]
        )
        s.commit()


def test_status_reports_what_the_store_holds(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _populate(home)
    report = json.loads(run("status", "--json", home=home).stdout)
    m = report["migration"]
    assert (m["phase"], m["phase_name"], m["rollout_percent"]) == (2, "backfill", 25)
    assert m["gates"] == {"prepare": {"passed": True}}
    assert report["engine_modes"] == {"hybrid": 1, "legacy": 1}
    cals = {c["summary"]: c for c in report["calendars"]}
    assert cals["Work"]["counts"] == {"tracked_user_event": 1, "new_user_event": 1}
    assert cals["Work"]["coverage"] == 50.0  # s1 has its block on Home, s2 none
    assert cals["Home"]["counts"] == {"busy_block": 1, "legacy_busy_block": 1}
    assert report["coverage"] == {"sources": 2, "covered": 1, "percent": 50.0}
    assert report["last_cycle"]["api_calls"] == 7
    assert report["last_cycle"]["classes"] == {"busy_block": 1}
    assert [a["message"] for a in report["alerts"]] == ["cascade on Home"]
    needs = {a["email"]: a["needs_signin"] for a in report["accounts"]}
    assert needs == {"me@example.com": False, "old@example.com": True}

    text = run("status", home=home)
    assert text.returncode == 0, text.stderr
    assert "phase 2 backfill" in text.stdout
    assert "prepare passed" in text.stdout
    assert "old@example.com: needs sign-in (invalid_grant)" in text.stdout
    assert "7 API calls in 2 round trips" in text.stdout
    assert "cascade on Home" in text.stdout
    assert "50.0%" in text.stdout


def test_status_shows_a_running_writer(tmp_path: Path) -> None:
    home = AppHome(tmp_path / "h").ensure()
    with home_lock(home, "sync"):
        report = json.loads(run("status", "--json", home=home.root).stdout)
    assert report["writer"] == {"pid": os.getpid(), "purpose": "sync"}


def test_doctor_passes_on_a_fresh_home_and_fails_on_loose_modes(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = run("doctor", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not any(line.startswith("FAIL") for line in lines)
    assert any(line.startswith("ok    schema: at head") for line in lines)
    os.chmod(home / "calsync.db", 0o644)
    bad = run("doctor", home=home)
    assert bad.returncode == 1
    assert "FAIL  file modes: want 0600: calsync.db 0644" in bad.stdout
    os.chmod(home / "calsync.db", 0o600)
    os.chmod(home, 0o755)
    worse = run("doctor", "--json", home=home)
    assert worse.returncode == 1
    checks = json.loads(worse.stdout)["checks"]
    assert checks[0]["status"] == "fail" and "0755" in checks[0]["detail"]
    assert _mode(home) == 0o755  # doctor reports, it does not quietly fix


def test_doctor_flags_accounts_that_need_signin_and_an_old_schema(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _populate(home)
    result = run("doctor", home=home)
    assert result.returncode == 1
    assert "FAIL  account old@example.com: needs sign-in (invalid_grant)" in result.stdout
    assert "ok    account me@example.com" in result.stdout
    migrations.downgrade(home / "calsync.db", "base")
    before = hashlib.sha256((home / "calsync.db").read_bytes()).hexdigest()
    old = run("doctor", home=home)
    assert old.returncode == 1
    assert "FAIL  schema: at base, head is" in old.stdout
    assert hashlib.sha256((home / "calsync.db").read_bytes()).hexdigest() == before


def test_corrupt_db_is_one_line_exit_1_and_untouched(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir(mode=0o700)
    db = home / "calsync.db"
    db.write_bytes(b"this is not sqlite at all" * 400)
    before = db.read_bytes()
    for argv in (("status",), ("status", "--json")):
        result = cli(*argv, home=home)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "is corrupt" in result.stderr
        assert "Traceback" not in result.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["calsync.db"]  # nothing else made
    doctor = run("doctor", home=home)
    assert doctor.returncode == 1 and "FAIL  database:" in doctor.stdout
    assert db.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run("status", home=home).returncode == 0
    conn = sqlite3.connect(home / "calsync.db")
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()
    result = run("status", home=home)
    assert result.returncode == 1
    assert "9999_future, newer than this calsync-tui knows" in result.stderr


def test_doctor_probes_the_api_of_each_signed_in_account(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    home = tmp_path / "h"
    sandbox.add_user("me@example.com", "tok-me")
    sandbox.create_calendar("me@example.com", "Me", calendar_id="me@example.com")
    endpoint = ("--api-endpoint", sandbox.url)
    stored = run(
        *endpoint, "auth", "token", "--email", "me@example.com", "--token", "tok-me", home=home
    )
    assert stored.returncode == 0, stored.stderr
    good = run(*endpoint, "doctor", home=home)
    assert good.returncode == 0, good.stdout
    assert (
        f"ok    api: me@example.com: Google Calendar API at {sandbox.url} answered in"
        in good.stdout
    )
    assert "tok-me" not in good.stdout + good.stderr  # never print a token

    sandbox.add_user("other@example.com", "tok-other")
    run(
        *endpoint,
        *("auth", "token", "--no-verify", "--email", "other@example.com", "--token", "stale"),
        home=home,
    )
    bad = run(*endpoint, "doctor", "--json", home=home)
    assert bad.returncode == 1
    api = [c for c in json.loads(bad.stdout)["checks"] if c["name"] == "api"]
    assert [c["status"] for c in api] == ["ok", "fail"]
    assert "other@example.com" in api[1]["detail"] and "401" in api[1]["detail"]
    assert "stale" not in bad.stdout
