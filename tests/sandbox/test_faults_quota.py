"""Injected faults hold their configured shares for a seed; the sliding-window quota."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from googleapiclient.errors import HttpError

from calsync_tui.errors import UsageError
from calsync_tui.sandbox.faults import FaultSpec
from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import error_of, setup, timed


def test_fault_rates_within_tolerance(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_quota(per_user=None)
    sandbox.set_faults("rate=0.2,error5xx=0.05,quota=0.02,seed=7")
    seen: Counter[str] = Counter()
    n = 500
    errors: list[HttpError] = []

    def cb(rid: str, resp: object, exc: HttpError | None) -> None:
        if exc is None:
            seen["ok"] += 1
        else:
            errors.append(exc)

    batch = s.batch()  # each part draws its own fault, as separate calls would
    for _ in range(n):
        batch.add(s.alice.events().list(calendarId=s.cal, maxResults=1), callback=cb)
    batch.execute()
    for exc in errors:
        status, reason = error_of(exc)
        seen[reason] += 1
        assert (status, reason) in {
            (403, "rateLimitExceeded"),
            (429, "rateLimitExceeded"),
            (500, "backendError"),
            (503, "backendError"),
            (403, "quotaExceeded"),
        }
    assert abs(seen["rateLimitExceeded"] / n - 0.2) < 0.05
    assert abs(seen["backendError"] / n - 0.05) < 0.03
    # quotaExceeded is the sticky usage limit: it refuses writes, never reads
    assert seen["quotaExceeded"] == 0
    assert sum(seen.values()) == n and sandbox.stats()["round_trips"] == 1
    sandbox.set_faults(None)
    s.alice.events().list(calendarId=s.cal).execute()


def test_same_seed_same_faults(sandbox: SandboxServer) -> None:
    a = [FaultSpec.parse("rate=0.3,seed=3").draw() for _ in range(1)]
    spec1, spec2 = FaultSpec.parse("rate=0.3,seed=3"), FaultSpec.parse("rate=0.3,seed=3")
    assert [spec1.draw() for _ in range(200)] == [spec2.draw() for _ in range(200)] and a
    with pytest.raises(UsageError):
        FaultSpec.parse("rate=1.5")
    with pytest.raises(UsageError):
        FaultSpec.parse("bogus=1")


def test_latency(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_faults(FaultSpec(latency_ms=40))
    t = time.perf_counter()
    s.alice.calendarList().list().execute()
    assert time.perf_counter() - t >= 0.04


def test_drop_after_write_applies_write_and_loses_answer(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_faults("drop_after_write=1,seed=1")
    url = urlsplit(sandbox.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port)
    body = json.dumps({"summary": "lost", **timed()})
    conn.request(
        "POST",
        f"/calendar/v3/calendars/{s.cal}/events",
        body=body,
        headers={"Authorization": "Bearer alice-token", "Content-Type": "application/json"},
    )
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    assert [e["summary"] for e in sandbox.events(s.cal)] == ["lost"]
    # a client-supplied id makes the retry safe: httplib2 resends once and gets 409
    with pytest.raises(HttpError) as exc:
        s.alice.events().insert(calendarId=s.cal, body={"id": "idem00001", **timed(2)}).execute()
    assert error_of(exc.value) == (409, "duplicate")
    assert len(sandbox.events(s.cal)) == 2 and sandbox.stats()["dropped"] == 2


def test_sliding_window_per_user(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    now = [1000.0]
    sandbox.quota.clock = lambda: now[0]
    sandbox.set_quota(per_user=5, per_project=None)
    for _ in range(5):
        s.alice.calendarList().list().execute()
    with pytest.raises(HttpError) as exc:
        s.alice.calendarList().list().execute()
    assert error_of(exc.value) == (403, "userRateLimitExceeded")
    s.bob.calendarList().list().execute()  # per user: Bob is not limited by Alice
    now[0] += 30
    with pytest.raises(HttpError):
        s.alice.calendarList().list().execute()
    now[0] += 30.5  # the first five leave the 60 s window
    for _ in range(5):
        s.alice.calendarList().list().execute()


def test_project_limit_and_quota_exceeded(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_quota(per_user=None, per_project=2)
    s.alice.calendarList().list().execute()
    s.bob.calendarList().list().execute()
    with pytest.raises(HttpError) as exc:
        s.alice.calendarList().list().execute()
    assert error_of(exc.value) == (429, "rateLimitExceeded")
    sandbox.set_quota(per_user=600)
    sandbox.set_faults("quota=1")
    s.alice.calendarList().list().execute()  # reads keep working
    with pytest.raises(HttpError) as exc:
        s.alice.events().insert(calendarId=s.cal, body=timed(3)).execute()
    assert error_of(exc.value) == (403, "quotaExceeded")
    assert "Calendar usage limits exceeded" in exc.value.content.decode()
