"""GoogleGateway through the real googleapiclient against the sandbox server."""

from __future__ import annotations

import http.server
import math
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from calsync_tui.errors import CalsyncError
from calsync_tui.google.backoff import RetryPolicy
from calsync_tui.google.errors import GoogleApiError, NeedsSignIn
from calsync_tui.google.gateway import GoogleGateway
from calsync_tui.google.pacer import Pacer
from calsync_tui.google.types import Gateway, WriteCall
from calsync_tui.sandbox.server import SandboxServer

ME = "me@example.com"
TOKEN = "token-me"
T_MIN = "2026-01-01T00:00:00Z"
T_MAX = "2027-01-01T00:00:00Z"


def fast_policy() -> RetryPolicy:
    return RetryPolicy(base=0.001, cap=0.01, deadline=30.0, max_attempts=40, quota_pause=0.01)


def make_gateway(
    sandbox: SandboxServer, *, token: str = TOKEN, page_size: int = 2500
) -> GoogleGateway:
    return GoogleGateway(
        Credentials(token=token),  # type: ignore[no-untyped-call]
        sandbox.url,
        email=ME,
        kind="static",
        pacer=Pacer(10_000, burst=10_000),
        policy=fast_policy(),
        page_size=page_size,
    )


@pytest.fixture
def world(sandbox: SandboxServer) -> dict[str, str]:
    sandbox.add_user(ME, TOKEN)
    sandbox.add_user("team@example.com", "token-team")
    cals = {
        "primary": sandbox.create_calendar(ME, "Me", "Europe/Paris", calendar_id=ME),
        "side": sandbox.create_calendar(ME, "Side project"),
        "team": sandbox.create_calendar("team@example.com", "Team"),
    }
    sandbox.share(cals["team"], ME, "reader")
    return cals


def timed(i: int, summary: str | None = None) -> dict[str, Any]:
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    return {
        "summary": summary or f"Event {i}",
        "start": {"dateTime": f"2026-{month:02d}-{day:02d}T09:00:00Z"},
        "end": {"dateTime": f"2026-{month:02d}-{day:02d}T10:00:00Z"},
    }


def block_id(i: int) -> str:
    return f"{i:032x}"  # hex is valid base32hex, like the engine's uuid-derived ids


def inserts(calendar_id: str, n: int, start: int = 0) -> list[WriteCall]:
    return [
        WriteCall(f"k{i}", "insert", calendar_id, block_id(i), timed(i, f"Busy {i}"))
        for i in range(start, start + n)
    ]


def test_calendars_and_primary(sandbox: SandboxServer, world: dict[str, str]) -> None:
    gw = make_gateway(sandbox)
    cals = {c.google_id: c for c in gw.list_calendars()}
    assert set(cals) == set(world.values())
    assert cals[ME].primary and cals[ME].access_role == "owner"
    assert cals[ME].time_zone == "Europe/Paris"
    assert cals[world["team"]].access_role == "reader"
    assert gw.primary_email() == ME
    assert gw.counter.calls == {"calendarList.list": 1, "calendarList.get": 1}


def test_full_incremental_and_410(sandbox: SandboxServer, world: dict[str, str]) -> None:
    cal = world["side"]
    for i in range(7):
        sandbox.put_event(cal, timed(i))
    gw = make_gateway(sandbox, page_size=3)
    full = gw.list_events(cal, sync_token=None, time_min=T_MIN, time_max=T_MAX)
    assert full.full and not full.resynced_after_gone
    assert sorted(e["summary"] for e in full.events) == sorted(f"Event {i}" for i in range(7))
    assert full.next_sync_token
    assert gw.counter.calls["events.list"] == 3  # 3 + 3 + 1, every page followed

    idle = gw.list_events(cal, sync_token=full.next_sync_token, time_min=T_MIN, time_max=T_MAX)
    assert not idle.full and idle.events == []
    assert gw.counter.calls["events.list"] == 4  # an idle incremental costs one call

    gone = full.events[0]
    results = gw.execute(
        [
            WriteCall("new", "insert", cal, block_id(99), timed(99)),
            WriteCall("del", "delete", cal, gone["id"]),
        ]
    )
    assert [r.ok for r in results] == [True, True]
    inc = gw.list_events(cal, sync_token=idle.next_sync_token, time_min=T_MIN, time_max=T_MAX)
    assert not inc.full
    changes = {e["id"]: e.get("status") for e in inc.events}
    assert changes == {block_id(99): "confirmed", gone["id"]: "cancelled"}

    sandbox.expire_sync_tokens(cal)
    before = gw.counter.calls["events.list"]
    again = gw.list_events(cal, sync_token=inc.next_sync_token, time_min=T_MIN, time_max=T_MAX)
    assert again.full and again.resynced_after_gone
    assert len(again.events) == 7  # 7 - 1 deleted + 1 inserted, cancelled ones not listed
    assert again.next_sync_token
    assert gw.counter.calls["events.list"] == before + 1 + 3  # the 410, then 3 pages


def test_insert_409_adopt_delete_twice_revive(
    sandbox: SandboxServer, world: dict[str, str]
) -> None:
    cal = world["side"]
    gw = make_gateway(sandbox)
    call = WriteCall("a", "insert", cal, block_id(1), timed(1, "Busy - Standup"))
    first = gw.execute([call])[0]
    assert first.ok and not first.already and first.event and first.event["id"] == block_id(1)
    second = gw.execute([call])[0]
    assert second.ok and second.already and second.event and second.event["id"] == block_id(1)

    delete = WriteCall("d", "delete", cal, block_id(1))
    assert gw.execute([delete])[0].ok
    again = gw.execute([delete])[0]
    assert again.ok and again.already and again.status in (404, 410)

    # A block deleted by hand comes back: the insert answers 409, the cancelled event
    # is read and patched back to confirmed with the insert body.
    revived = gw.execute([call])[0]
    assert revived.ok and revived.already
    truth = [e for e in sandbox.events(cal) if e["id"] == block_id(1)]
    assert len(truth) == 1 and truth[0]["status"] == "confirmed"
    assert truth[0]["summary"] == "Busy - Standup"

    assert gw.get_event(cal, block_id(1)) is not None
    assert gw.get_event(cal, block_id(555)) is None


def test_batches_map_results_and_412(sandbox: SandboxServer, world: dict[str, str]) -> None:
    cal = world["side"]
    gw = make_gateway(sandbox)
    existing = sandbox.put_event(cal, timed(40, "Mine"))
    calls = [
        *inserts(cal, 10),
        WriteCall("patch-missing", "patch", cal, block_id(777), {"summary": "x"}),
        WriteCall("get-missing", "get", cal, block_id(778)),
        WriteCall("get-existing", "get", cal, existing["id"]),
        WriteCall(
            "stale", "patch", cal, existing["id"], {"summary": "Mine, renamed"}, '"stale-etag"'
        ),
        WriteCall("read-only", "insert", world["team"], block_id(779), timed(5)),
        WriteCall("bad", "insert", cal, block_id(780), {"summary": "no times"}),
    ]
    results = gw.execute(calls, batch_size=4)
    assert [r.key for r in results] == [c.key for c in calls]
    by_key = {r.key: r for r in results}
    assert all(by_key[f"k{i}"].ok and by_key[f"k{i}"].event for i in range(10))
    assert not by_key["patch-missing"].ok and by_key["patch-missing"].status == 404
    assert by_key["get-missing"].ok and by_key["get-missing"].event is None
    assert by_key["get-existing"].event and by_key["get-existing"].event["summary"] == "Mine"
    stale = by_key["stale"]
    assert stale.ok and stale.event and stale.event["summary"] == "Mine, renamed"
    assert not by_key["read-only"].ok and by_key["read-only"].status == 403
    assert not by_key["bad"].ok and by_key["bad"].status == 400 and by_key["bad"].reason
    # 16 calls in batches of 4: 4 round trips, then one GET + one re-applied PATCH for 412.
    assert gw.counter.batches == 4
    assert gw.counter.round_trips == 6
    assert gw.counter.calls["events.insert"] == 12
    assert gw.counter.retries == 0
    assert sandbox.stats()["batches"] == 4


@pytest.mark.parametrize("batch_size", [1, 7, 50])
def test_calls_per_batch_size(
    sandbox: SandboxServer, world: dict[str, str], batch_size: int
) -> None:
    gw = make_gateway(sandbox)
    n = 20 if batch_size == 1 else 50
    sandbox.reset_stats()
    results = gw.execute(inserts(world["side"], n), batch_size=batch_size)
    assert all(r.ok for r in results)
    trips = math.ceil(n / batch_size)
    assert gw.counter.units == n  # each call costs one unit, batched or not
    assert gw.counter.round_trips == trips
    # A chunk of one call goes as a plain request: no batch envelope for a single part.
    sizes = [min(batch_size, n - i) for i in range(0, n, batch_size)]
    assert gw.counter.batches == sum(1 for size in sizes if size > 1)
    stats = sandbox.stats()
    assert stats["round_trips"] == trips
    assert stats["by_method"].get("calendar.events.insert") == n


def test_faults_every_operation_exactly_once(sandbox: SandboxServer, world: dict[str, str]) -> None:
    cal = world["side"]
    gw = make_gateway(sandbox)
    sandbox.set_faults("rate=0.2,error5xx=0.05,seed=7")
    n = 120
    created = gw.execute(inserts(cal, n), batch_size=25)
    assert all(r.ok for r in created), [r for r in created if not r.ok][:3]
    patches = [
        WriteCall(f"p{i}", "patch", cal, block_id(i), {"summary": f"Busy {i} (moved)"})
        for i in range(n)
    ]
    assert all(r.ok for r in gw.execute(patches, batch_size=25))
    deletes = [WriteCall(f"d{i}", "delete", cal, block_id(i)) for i in range(0, n, 2)]
    assert all(r.ok for r in gw.execute(deletes, batch_size=25))
    sandbox.set_faults(None)
    assert gw.counter.retries > 0  # the faults really hit
    live = sandbox.events(cal)
    assert sorted(e["id"] for e in live) == sorted(block_id(i) for i in range(1, n, 2))
    assert all(e["summary"].endswith("(moved)") for e in live)
    with_cancelled = sandbox.events(cal, include_cancelled=True)
    assert len(with_cancelled) == n  # exactly one event per id, never a second copy


def test_drop_after_write_never_duplicates(sandbox: SandboxServer, world: dict[str, str]) -> None:
    cal = world["side"]
    gw = make_gateway(sandbox)
    sandbox.set_faults("drop_after_write=0.3,seed=11")
    n = 80
    results = gw.execute(inserts(cal, n), batch_size=10) + gw.execute(
        inserts(cal, 20, start=n), batch_size=1
    )
    dropped = sandbox.stats()["dropped"]
    sandbox.set_faults(None)
    assert all(r.ok for r in results)
    assert dropped > 0
    assert sum(r.already for r in results) > 0  # lost answers were adopted on retry
    truth = sandbox.events(cal, include_cancelled=True)
    assert sorted(e["id"] for e in truth) == sorted(block_id(i) for i in range(n + 20))
    summaries = [e["summary"] for e in truth]
    assert len(summaries) == len(set(summaries))


def test_bad_static_token_needs_signin(sandbox: SandboxServer, world: dict[str, str]) -> None:
    gw = make_gateway(sandbox, token="not-a-known-token")
    with pytest.raises(NeedsSignIn) as err:
        gw.list_calendars()
    assert "auth token" in str(err.value)
    assert "not-a-known-token" not in str(err.value)


@pytest.fixture
def not_google(tmp_path: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_wrong_endpoint_one_line(not_google: str) -> None:
    gw = GoogleGateway(
        Credentials(token=TOKEN),  # type: ignore[no-untyped-call]
        not_google,
        email=ME,
        kind="static",
        policy=fast_policy(),
    )
    with pytest.raises(GoogleApiError) as err:
        gw.list_calendars()
    assert "does not look like the Google Calendar API" in str(err.value)
    assert "\n" not in str(err.value) and TOKEN not in str(err.value)


class StopServerPacer(Pacer):
    """Stops the sandbox just before the n-th round trip: the endpoint goes away mid-run."""

    def __init__(self, sandbox: SandboxServer, gateway: GoogleGateway, before_trip: int) -> None:
        super().__init__(10_000, burst=10_000)
        self.sandbox = sandbox
        self.gateway = gateway
        self.trips = 0
        self.before_trip = before_trip

    def acquire(self, n: int = 1, *, writes_to: Sequence[str] = ()) -> float:
        self.trips += 1
        if self.trips == self.before_trip:
            self.sandbox.stop()
            self.gateway.close()  # drop the keep-alive connection the old server still serves
        return super().acquire(n, writes_to=writes_to)


@pytest.mark.parametrize("before_trip", [1, 2])
def test_endpoint_gone(sandbox: SandboxServer, world: dict[str, str], before_trip: int) -> None:
    gw = make_gateway(sandbox)
    gw.pacer = StopServerPacer(sandbox, gw, before_trip)
    calls = inserts(world["side"], 30)
    if before_trip == 1:  # never answered: one line
        with pytest.raises(CalsyncError) as err:
            gw.execute(calls, batch_size=10)
        assert (
            str(err.value)
            == f"cannot reach Google Calendar API at {sandbox.url}: connection refused"
        )
        return
    # The first batch went through: its results are kept, the rest fail without N retries.
    results = gw.execute(calls, batch_size=10)
    assert [r.ok for r in results] == [True] * 10 + [False] * 20
    assert all(
        r.reason == "transport" and "connection refused" in (r.message or "") for r in results[10:]
    )
    assert gw.pacer.trips <= 1 + gw.policy.refused_attempts


def test_quota_exceeded_pauses_and_reports(sandbox: SandboxServer, world: dict[str, str]) -> None:
    gw = make_gateway(sandbox)
    told: list[float] = []
    gw.policy.on_quota = told.append
    # lenient: quota_faults_forgotten until issue 15 (the gateway pauses briefly and retries
    # quotaExceeded; a remembered lockout lasts hours of sandbox clock, so it never lands)
    sandbox.set_lenient({"quota_faults_forgotten"})
    sandbox.set_faults("quota=0.15,seed=5")
    results = gw.execute(inserts(world["side"], 40), batch_size=10)
    sandbox.set_faults(None)
    assert all(r.ok for r in results)
    assert gw.quota_pauses > 0 and told  # the pause was reported to the caller
    assert len(sandbox.events(world["side"])) == 40


def test_threads_share_one_gateway(sandbox: SandboxServer, world: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    gw: Gateway = make_gateway(sandbox)  # also checks GoogleGateway satisfies the protocol
    cal = world["side"]

    def work(part: int) -> int:
        results = gw.execute(inserts(cal, 15, start=part * 100), batch_size=5)
        page = gw.list_events(cal, sync_token=None, time_min=T_MIN, time_max=T_MAX)
        assert all(r.ok for r in results)
        return len(page.events)

    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(work, range(4)))
    assert all(n >= 15 for n in seen)
    assert len(sandbox.events(cal)) == 60
    assert gw.counter.calls["events.insert"] == 60
    assert gw.counter.batches == 12


def test_lost_answers_retry_in_halves(sandbox: SandboxServer, world: dict[str, str]) -> None:
    """A big batch whose answer keeps getting lost must still finish (it is split)."""
    cal = world["side"]
    gw = make_gateway(sandbox)
    assert all(r.ok for r in gw.execute(inserts(cal, 40), batch_size=40))
    sandbox.set_faults("drop_after_write=0.3,seed=4")  # 40 parts: 0.7**40 ≈ 1e-6 to get through
    patches = [
        WriteCall(f"p{i}", "patch", cal, block_id(i), {"summary": f"Moved {i}"}) for i in range(40)
    ]
    results = gw.execute(patches, batch_size=40)
    sandbox.set_faults(None)
    assert all(r.ok for r in results)
    assert sorted(e["summary"] for e in sandbox.events(cal)) == sorted(
        f"Moved {i}" for i in range(40)
    )
    assert gw.counter.batches > 2  # the patch batch was split (one batch for the inserts)
    assert gw.counter.calls["events.patch"] > 40  # lost answers were re-sent
