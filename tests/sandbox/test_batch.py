"""The batch endpoint: per-part status, quota per part, the 1000-part limit."""

from __future__ import annotations

import json
from typing import Any

import httplib2

from calsync_tui.sandbox.client import service_for
from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import ALICE, BOB, setup, timed


def test_partial_failures_each_part_own_status(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    team = sandbox.create_calendar(BOB, "Team", "UTC")
    sandbox.share(team, ALICE, "reader")
    existing = sandbox.put_event(s.cal, {"id": "taken0001", **timed()})
    sandbox.reset_stats()
    results: dict[str, tuple[Any, Any]] = {}

    def cb(rid: str, resp: Any, exc: Any) -> None:
        results[rid] = (resp, exc)

    batch = s.batch()
    batch.add(
        s.alice.events().insert(calendarId=s.cal, body={"id": "fresh0001", **timed(2)}),
        callback=cb,
        request_id="ok",
    )
    batch.add(
        s.alice.events().insert(calendarId=s.cal, body={"id": "taken0001", **timed(3)}),
        callback=cb,
        request_id="dup",
    )
    batch.add(
        s.alice.events().get(calendarId=s.cal, eventId="missing01"),
        callback=cb,
        request_id="missing",
    )
    batch.add(
        s.alice.events().insert(calendarId=team, body=timed()), callback=cb, request_id="reader"
    )
    batch.add(
        s.alice.events().delete(calendarId=s.cal, eventId=existing["id"]),
        callback=cb,
        request_id="del",
    )
    batch.add(
        s.alice.events().patch(calendarId=s.cal, eventId="fresh0001", body={"summary": "p"}),
        callback=cb,
        request_id="patch",
    )
    batch.execute()
    status = {rid: (exc.resp.status if exc else 200) for rid, (_, exc) in results.items()}
    assert status == {
        "ok": 200,
        "dup": 409,
        "missing": 404,
        "reader": 403,
        "del": 200,
        "patch": 200,
    }
    reason = json.loads(results["dup"][1].content)["error"]["errors"][0]["reason"]
    assert reason == "duplicate"
    assert results["patch"][0]["summary"] == "p"
    stats = sandbox.stats()
    assert stats["batches"] == 1 and stats["round_trips"] == 1 and stats["total"] == 6
    assert stats["by_method"]["calendar.events.insert"] == 3 and stats["writes"] == 3


def test_part_tokens_from_authorized_http(sandbox: SandboxServer) -> None:
    """google-auth puts the bearer token in each part; parts act as that user."""
    s = setup(sandbox)
    alice = service_for(sandbox.url, "alice-token", refreshing=True)
    bob = service_for(sandbox.url, "bob-token", refreshing=True)
    got: list[Any] = []
    batch = s.batch()
    batch.add(
        alice.events().insert(calendarId=s.cal, body=timed()),
        callback=lambda r, resp, exc: got.append(exc),
    )
    batch.add(
        bob.events().insert(calendarId=s.cal, body=timed()),
        callback=lambda r, resp, exc: got.append(exc),
    )
    batch.execute(http=alice._http)
    assert got[0] is None and got[1].resp.status == 404  # Bob has no access to Alice's calendar
    assert sandbox.stats()["by_user"] == {ALICE: 1, BOB: 1}


def test_each_part_counts_against_quota(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.set_quota(per_user=3)
    codes: list[int] = []
    batch = s.batch()
    for _ in range(5):
        batch.add(
            s.alice.events().list(calendarId=s.cal),
            callback=lambda rid, resp, exc: codes.append(exc.resp.status if exc else 200),
        )
    batch.execute()
    assert sorted(codes) == [200, 200, 200, 403, 403]


def _raw_batch(url: str, parts: int) -> tuple[int, bytes]:
    boundary = "===b==="
    chunks = []
    for i in range(parts):
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <x+{i}>\r\n\r\n"
            f"GET /calendar/v3/users/me/calendarList HTTP/1.1\r\n\r\n"
        )
    body = "".join(chunks) + f"--{boundary}--\r\n"
    resp, content = httplib2.Http().request(
        url + "batch/calendar/v3",
        "POST",
        body=body,
        headers={
            "content-type": f'multipart/mixed; boundary="{boundary}"',
            "authorization": "Bearer alice-token",
        },
    )
    return resp.status, content


def test_over_1000_parts_is_400_and_nothing_runs(sandbox: SandboxServer) -> None:
    setup(sandbox)
    sandbox.set_quota(per_user=None)
    status, content = _raw_batch(sandbox.url, 1001)
    assert status == 400 and json.loads(content)["error"]["code"] == 400
    assert sandbox.stats()["total"] == 0
    status, content = _raw_batch(sandbox.url, 1000)
    assert status == 200 and content.count(b"HTTP/1.1 200 OK") == 1000
    assert b"Content-ID: <response-x+999>" in content


def test_drop_after_write_in_batch_applies_every_part(sandbox: SandboxServer) -> None:
    """The whole batch answer is lost after every part ran; httplib2 resends the batch
    once, and client-supplied ids turn the resend into 409s instead of duplicates."""
    s = setup(sandbox)
    sandbox.set_faults("drop_after_write=1,seed=2")
    codes: list[int] = []
    batch = s.batch()
    for i in range(3):
        batch.add(
            s.alice.events().insert(calendarId=s.cal, body={"id": f"drop0000{i}", **timed(i + 1)}),
            callback=lambda rid, resp, exc: codes.append(exc.resp.status if exc else 200),
        )
    batch.execute()
    assert codes == [409, 409, 409]
    assert sorted(e["id"] for e in sandbox.events(s.cal)) == ["drop00000", "drop00001", "drop00002"]
    stats = sandbox.stats()
    assert stats["dropped"] == 3 and stats["batches"] == 2 and stats["writes"] == 3
