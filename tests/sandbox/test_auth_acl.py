"""Bearer auth (401 shape), calendarList roles and paging, reader/freeBusyReader limits."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import httplib2
import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.client import service_for
from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import ALICE, BOB, error_of, list_all, setup, timed


def test_401_google_shape(sandbox: SandboxServer) -> None:
    setup(sandbox)
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic alice-token"}):
        resp, content = httplib2.Http().request(
            sandbox.url + "calendar/v3/users/me/calendarList", "GET", headers=headers
        )
        assert resp.status == 401
        err = json.loads(content)["error"]
        assert set(err) == {"code", "message", "errors", "status"}
        assert err["code"] == 401 and err["status"] == "UNAUTHENTICATED"
        assert set(err["errors"][0]) == {"domain", "reason", "message"}
    with pytest.raises(HttpError) as exc:
        service_for(sandbox.url, "wrong-token").calendarList().list().execute()
    assert exc.value.resp.status == 401


def test_calendar_list_roles_and_pages(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    team = sandbox.create_calendar(BOB, "Team", "UTC")
    sandbox.share(team, ALICE, "reader")
    sandbox.share(BOB, ALICE, "freeBusyReader")
    side = sandbox.create_calendar(ALICE, "Side", "UTC")
    sandbox.share(side, BOB, "writer")
    entries = []
    token = None
    pages = 0
    while True:
        resp = s.alice.calendarList().list(maxResults=1, pageToken=token).execute()
        entries += resp["items"]
        pages += 1
        token = resp.get("nextPageToken")
        if not token:
            break
    assert pages == 4
    roles = {e["id"]: e["accessRole"] for e in entries}
    assert roles == {ALICE: "owner", team: "reader", BOB: "freeBusyReader", side: "owner"}
    primary = [e["id"] for e in entries if e.get("primary")]
    assert primary == [ALICE]
    bob_roles = {e["id"]: e["accessRole"] for e in s.bob.calendarList().list().execute()["items"]}
    assert bob_roles == {BOB: "owner", team: "owner", side: "writer"}
    assert s.bob.calendarList().get(calendarId=side).execute()["timeZone"] == "UTC"


def test_reader_cannot_write_free_busy_cannot_list(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    team = sandbox.create_calendar(BOB, "Team", "UTC")
    sandbox.share(team, ALICE, "reader")
    sandbox.share(BOB, ALICE, "freeBusyReader")
    ev = sandbox.put_event(team, {"summary": "t", **timed()})
    assert len(s.alice.events().list(calendarId=team).execute()["items"]) == 1
    calls = [
        s.alice.events().insert(calendarId=team, body=timed()),
        s.alice.events().patch(calendarId=team, eventId=ev["id"], body={"summary": "x"}),
        s.alice.events().update(calendarId=team, eventId=ev["id"], body=timed()),
        s.alice.events().delete(calendarId=team, eventId=ev["id"]),
    ]
    for call in calls:
        with pytest.raises(HttpError) as exc:
            call.execute()
        assert error_of(exc.value) == (403, "forbidden")
    assert sandbox.events(team)[0]["summary"] == "t"
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=BOB).execute()
    assert error_of(exc.value) == (403, "forbidden")
    with pytest.raises(HttpError) as exc:  # no access at all: not found
        s.bob.events().list(calendarId=ALICE).execute()
    assert error_of(exc.value) == (404, "notFound")


def test_stats_per_method_and_user(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    s.alice.events().list(calendarId=s.cal).execute()
    s.alice.events().insert(calendarId=s.cal, body=timed()).execute()
    s.bob.calendarList().list().execute()
    _, content = httplib2.Http().request(sandbox.url + "_sandbox/stats", "GET")
    over_http = json.loads(content)
    assert over_http == sandbox.stats()
    assert over_http["by_method"] == {
        "calendar.events.list": 1,
        "calendar.events.insert": 1,
        "calendar.calendarList.list": 1,
    }
    assert over_http["by_user"] == {ALICE: 2, BOB: 1}
    assert over_http["round_trips"] == 3 and over_http["writes"] == 1
    sandbox.reset_stats()
    assert sandbox.stats()["total"] == 0


def test_primary_alias(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    assert s.alice.calendarList().get(calendarId="primary").execute()["id"] == ALICE
    ev = s.alice.events().insert(calendarId="primary", body=timed()).execute()
    assert s.alice.events().get(calendarId=ALICE, eventId=ev["id"]).execute()["id"] == ev["id"]
    assert s.bob.calendars().get(calendarId="primary").execute()["id"] == BOB


def test_admin_endpoints_and_chunked_body(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    web = httplib2.Http()
    _, content = web.request(sandbox.url + "_sandbox/", "GET")
    assert "GET /_sandbox/stats" in json.loads(content)["endpoints"]
    resp, content = web.request(sandbox.url + "_sandbox/faults", "POST", body="rate=1,seed=1")
    assert resp.status == 200 and "rate=1.0" in json.loads(content)["faults"]
    with pytest.raises(HttpError) as exc:
        s.alice.calendarList().list().execute()
    assert error_of(exc.value)[1] == "rateLimitExceeded"
    web.request(sandbox.url + "_sandbox/faults", "POST", body="")
    _, token, _ = list_all(s.alice, s.cal)
    web.request(sandbox.url + f"_sandbox/expire_sync_tokens?calendarId={s.cal}", "POST")
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, syncToken=token).execute()
    assert error_of(exc.value) == (410, "fullSyncRequired")
    # a chunked request body (what some HTTP clients send) is read whole
    url = urlsplit(sandbox.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port)
    body = json.dumps({"summary": "chunked", **timed()}).encode()
    conn.request(
        "POST",
        f"/calendar/v3/calendars/{s.cal}/events",
        body=iter([body[:10], body[10:]]),
        headers={"Authorization": "Bearer alice-token", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    assert conn.getresponse().status == 200
    assert [e["summary"] for e in sandbox.events(s.cal)] == ["chunked"]


def test_revoked_token_401(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    s.alice.calendarList().list().execute()
    sandbox.revoke_token("alice-token")
    with pytest.raises(HttpError) as exc:
        s.alice.calendarList().list().execute()
    assert error_of(exc.value) == (401, "authError")
    s.bob.calendarList().list().execute()
