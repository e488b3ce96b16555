"""dump/load round trip, the demo world (deterministic, what it contains), `sandbox serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httplib2
import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.client import service_for
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, FAMILY_CAL, SIDE_CAL, TEAM_CAL, build_demo
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import DEFAULT_LEGACY_MARKERS
from tests.sandbox.helpers import list_all, setup, timed

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WORK, PERSONAL = DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[1][0]


def test_dump_load_round_trip(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.put_event(
        s.cal,
        {
            "id": "series0001",
            "summary": "S",
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
        },
    )
    sandbox.patch_event(s.cal, "series0001_20261202T080000Z", {"summary": "moved"})
    sandbox.delete_event(s.cal, "series0001_20261203T080000Z")
    gone = sandbox.put_event(s.cal, {"summary": "gone", **timed()})
    sandbox.delete_event(s.cal, gone["id"])
    _, token, _ = list_all(s.alice, s.cal, singleEvents=True)
    data = json.loads(json.dumps(sandbox.dump()))
    with SandboxServer() as other:
        other.load(data)
        assert other.dump() == data
        for single in (False, True):
            assert other.events(
                s.cal, include_cancelled=True, single_events=single
            ) == sandbox.events(s.cal, include_cancelled=True, single_events=single)
        alice = service_for(other.url, "alice-token")
        assert (
            alice.events()
            .list(calendarId=s.cal, syncToken=token, singleEvents=True)
            .execute()["items"]
            == []
        )
        alice.events().insert(calendarId=s.cal, body=timed(3)).execute()
        assert (
            len(
                alice.events()
                .list(calendarId=s.cal, syncToken=token, singleEvents=True)
                .execute()["items"]
            )
            == 1
        )


def test_demo_is_deterministic_and_scales() -> None:
    a = build_demo(SandboxServer(), seed=7, events=400, now=NOW).to_json()
    b = build_demo(SandboxServer(), seed=7, events=400, now=NOW).to_json()
    c = build_demo(SandboxServer(), seed=8, events=400, now=NOW).to_json()
    assert a == b and a != c
    assert 380 <= a["totals"]["stored_events"] <= 420


def test_demo_world_contents(demo_sandbox: SandboxServer) -> None:
    truth = demo_sandbox.demo_truth
    totals = truth.totals()
    for key in (
        "user_events",
        "legacy_blocks",
        "duplicates",
        "out_of_date",
        "orphans",
        "external",
        "ignored",
    ):
        assert totals[key] > 0, key
    work = service_for(demo_sandbox.url, "demo-work-token")
    roles = {e["id"]: e["accessRole"] for e in work.calendarList().list().execute()["items"]}
    assert roles == {WORK: "owner", TEAM_CAL: "reader", FAMILY_CAL: "freeBusyReader"}
    personal = service_for(demo_sandbox.url, "demo-personal-token")
    roles = {e["id"]: e["accessRole"] for e in personal.calendarList().list().execute()["items"]}
    assert roles == {PERSONAL: "owner", SIDE_CAL: "owner", FAMILY_CAL: "reader"}
    window = {"timeMin": truth.window_start, "timeMax": truth.window_end}
    seen = []
    for cal in (WORK, TEAM_CAL):
        seen += list_all(work, cal, singleEvents=True, **window)[0]
    for cal in (PERSONAL, SIDE_CAL, FAMILY_CAL):
        seen += list_all(personal, cal, singleEvents=True, **window)[0]
    titles = [e.get("summary", "") for e in seen]
    legacy = [
        t for t in titles if any(t.startswith(f"{m} Busy - ") for m in DEFAULT_LEGACY_MARKERS)
    ]
    assert len(legacy) == totals["legacy_blocks"]
    cascades = [t for t in legacy if t.count("Busy - ") == 2]
    assert len(cascades) == totals["cascades"]
    zones = {e["start"].get("timeZone") for e in seen if "dateTime" in e["start"]}
    assert len(zones) >= 4
    assert any("date" in e["start"] for e in seen)  # all-day
    assert {e.get("eventType") for e in seen} >= {
        "focusTime",
        "outOfOffice",
        "workingLocation",
        "default",
    }
    assert any(e.get("transparency") == "transparent" for e in seen)
    assert any(
        a.get("self") and a.get("responseStatus") == "declined"
        for e in seen
        for a in e.get("attendees", [])
    )
    instances = [e for e in seen if e.get("recurringEventId")]
    assert instances and any("(moved)" in e.get("summary", "") for e in instances)
    external = [
        e
        for e in seen
        if (e.get("extendedProperties") or {}).get("private", {}).get("calsync_instance")
    ]
    assert len(external) == totals["external"]
    with_cancelled = []
    for cal in (WORK, TEAM_CAL):
        with_cancelled += list_all(work, cal, singleEvents=True, showDeleted=True, **window)[0]
    assert any(e["status"] == "cancelled" and e.get("recurringEventId") for e in with_cancelled)


def test_serve_command_state_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    cmd = [
        sys.executable,
        "-m",
        "calsync_tui",
        "sandbox",
        "serve",
        "--port",
        "0",
        "--events",
        "30",
        "--state",
        str(state),
        "--quota-per-user",
        "3",
    ]
    for run in range(2):
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert ("state from" in first) == (run == 1), first
            url = first.split()[3]
            lines = [proc.stdout.readline() for _ in range(2)]
            assert "demo-work-token" in lines[0] and "demo-personal-token" in lines[1]
            resp, content = httplib2.Http().request(url + "_sandbox/stats", "GET")
            assert resp.status == 200 and json.loads(content)["total"] == 0
            work = service_for(url, "demo-work-token")
            if run == 0:
                work.events().insert(calendarId=WORK, body={"summary": "kept", **timed()}).execute()
            else:
                for _ in range(3):
                    work.calendarList().list().execute()
                with pytest.raises(HttpError) as exc:
                    work.calendarList().list().execute()
                assert exc.value.resp.status == 403
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        assert state.stat().st_mode & 0o777 == 0o600
    saved = json.loads(state.read_text())
    work_cal = next(c for c in saved["calendars"] if c["id"] == WORK)
    assert any(row["event"].get("summary") == "kept" for row in work_cal["events"])


def test_serve_rejects_bad_faults() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "calsync_tui", "sandbox", "serve", "--faults", "rate=abc"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "rate" in done.stderr


def test_demo_scales_to_50k() -> None:
    """A 50,000-event demo world builds with the mix the console is shown with. Its build
    time is printed, not bounded: a 30 s bound flaked on a loaded 2-core box (38.8 s)."""
    srv = SandboxServer()
    t = time.perf_counter()
    truth = build_demo(srv, seed=1, events=50_000, now=NOW)
    took = time.perf_counter() - t
    totals = truth.totals()
    assert 49_900 <= totals["stored_events"] <= 50_100
    assert totals["user_events"] > 15_000 and totals["legacy_blocks"] > 25_000
    print(f"\n50k demo world built in {took:.1f} s")
