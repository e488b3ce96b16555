"""Long fault campaign (make campaign): every write lands exactly once under heavy faults."""

from __future__ import annotations

import pytest
from google.oauth2.credentials import Credentials

from calsync_tui.google.backoff import RetryPolicy
from calsync_tui.google.gateway import GoogleGateway
from calsync_tui.google.pacer import Pacer
from calsync_tui.google.types import WriteCall
from calsync_tui.sandbox.server import SandboxServer


@pytest.mark.campaign
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 13, 50, 200])
def test_heavy_faults_exactly_once(sandbox: SandboxServer, seed: int, batch_size: int) -> None:
    sandbox.set_quota(None, None)  # faults only: the retries here would trip the 600/min window
    # lenient: quota_faults_forgotten until issue 15 (the gateway retries quotaExceeded after a
    # short pause; a remembered lockout lasts hours of sandbox clock, so writes never land)
    # and calendar_burst: this campaign is about exactly-once under faults; its ~1,000 writes and
    # their retries on one calendar would otherwise spend most of each case waiting out the
    # per-calendar window (tests/google/test_calendar_pacing.py covers that window)
    sandbox.set_lenient({"quota_faults_forgotten", "calendar_burst"})
    sandbox.add_user("c@example.com", "tok")
    cal = sandbox.create_calendar("c@example.com", "Campaign")
    gw = GoogleGateway(
        Credentials(token="tok"),  # type: ignore[no-untyped-call]
        sandbox.url,
        email="c@example.com",
        kind="static",
        pacer=Pacer(10**6, burst=10**6, calendar_writes=None),
        policy=RetryPolicy(base=0.001, cap=0.02, deadline=120, max_attempts=80, quota_pause=0.01),
    )
    sandbox.set_faults(f"rate=0.3,error5xx=0.1,drop_after_write=0.1,quota=0.02,seed={seed}")
    n = 400
    body = {
        "start": {"dateTime": "2026-12-01T09:00:00Z"},
        "end": {"dateTime": "2026-12-01T10:00:00Z"},
    }
    ids = [f"{seed:08x}{batch_size:08x}{i:016x}" for i in range(n)]
    ins = [
        WriteCall(f"i{i}", "insert", cal, ids[i], {**body, "summary": f"B{i}"}) for i in range(n)
    ]
    assert all(r.ok for r in gw.execute(ins, batch_size=batch_size))
    pat = [WriteCall(f"p{i}", "patch", cal, ids[i], {"summary": f"B{i}!"}) for i in range(n)]
    assert all(r.ok for r in gw.execute(pat, batch_size=batch_size))
    dels = [WriteCall(f"d{i}", "delete", cal, ids[i]) for i in range(0, n, 3)]
    assert all(r.ok for r in gw.execute(dels, batch_size=batch_size))
    sandbox.set_faults(None)
    everything = sandbox.events(cal, include_cancelled=True)
    assert sorted(e["id"] for e in everything) == sorted(ids)
    live = {e["id"]: e for e in sandbox.events(cal)}
    assert set(live) == {ids[i] for i in range(n) if i % 3}
    assert all(e["summary"].endswith("!") for e in live.values())
