"""events.list: pages, filters, sync tokens and their 400/410 rules."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import error_of, list_all, setup, timed


def test_incremental_after_insert_patch_delete(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    keep = s.alice.events().insert(calendarId=s.cal, body={"summary": "keep", **timed(1)}).execute()
    change = (
        s.alice.events().insert(calendarId=s.cal, body={"summary": "change", **timed(2)}).execute()
    )
    gone = s.alice.events().insert(calendarId=s.cal, body={"summary": "gone", **timed(3)}).execute()
    items, token, _ = list_all(s.alice, s.cal)
    assert {e["id"] for e in items} == {keep["id"], change["id"], gone["id"]} and token
    new = s.alice.events().insert(calendarId=s.cal, body={"summary": "new", **timed(4)}).execute()
    s.alice.events().patch(
        calendarId=s.cal, eventId=change["id"], body={"summary": "changed"}
    ).execute()
    s.alice.events().delete(calendarId=s.cal, eventId=gone["id"]).execute()
    delta, token2, _ = list_all(s.alice, s.cal, syncToken=token)
    by_id = {e["id"]: e for e in delta}
    assert set(by_id) == {new["id"], change["id"], gone["id"]}
    assert by_id[change["id"]]["summary"] == "changed"
    assert by_id[gone["id"]]["status"] == "cancelled"
    empty, token3, _ = list_all(s.alice, s.cal, syncToken=token2)
    assert empty == [] and token3
    # the full listing hides the deleted event unless showDeleted
    assert gone["id"] not in {e["id"] for e in list_all(s.alice, s.cal)[0]}
    assert gone["id"] in {e["id"] for e in list_all(s.alice, s.cal, showDeleted=True)[0]}


def test_410_for_expired_and_unknown_tokens(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    _, token, _ = list_all(s.alice, s.cal)
    for bad in ("garbage", token[:-3] + "xyz"):
        with pytest.raises(HttpError) as exc:
            s.alice.events().list(calendarId=s.cal, syncToken=bad).execute()
        assert error_of(exc.value) == (410, "fullSyncRequired")
    s.alice.events().list(calendarId=s.cal, syncToken=token).execute()
    sandbox.expire_sync_tokens(s.cal)
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, syncToken=token).execute()
    assert error_of(exc.value) == (410, "fullSyncRequired")
    _, fresh, _ = list_all(s.alice, s.cal)
    assert s.alice.events().list(calendarId=s.cal, syncToken=fresh).execute()["items"] == []


@pytest.mark.parametrize(
    "extra",
    [
        {"timeMin": "2026-01-01T00:00:00Z"},
        {"timeMax": "2027-01-01T00:00:00Z"},
        {"q": "x"},
        {"privateExtendedProperty": "a=b"},
        {"updatedMin": "2026-01-01T00:00:00Z"},
        {"orderBy": "updated"},
        {"iCalUID": "x@google.com"},
        {"sharedExtendedProperty": "a=b"},
    ],
)
def test_sync_token_refuses_filters(sandbox: SandboxServer, extra: dict[str, str]) -> None:
    s = setup(sandbox)
    _, token, _ = list_all(s.alice, s.cal)
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, syncToken=token, **extra).execute()
    assert error_of(exc.value) == (400, "invalid")


def test_sync_token_needs_the_same_single_events(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    _, expanded, _ = list_all(s.alice, s.cal, singleEvents=True)
    _, series, _ = list_all(s.alice, s.cal)
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, syncToken=expanded).execute()
    assert error_of(exc.value) == (400, "invalid")
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, syncToken=series, singleEvents=True).execute()
    assert error_of(exc.value) == (400, "invalid")
    assert s.alice.events().list(calendarId=s.cal, syncToken=expanded, singleEvents=True).execute()
    assert s.alice.events().list(calendarId=s.cal, syncToken=series).execute()


def test_pages_and_sync_token_only_on_last_page(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    for i in range(23):
        sandbox.put_event(s.cal, {"summary": f"e{i}", **timed(1 + i % 28, 8 + i % 10)})
    first = s.alice.events().list(calendarId=s.cal, maxResults=5).execute()
    assert len(first["items"]) == 5 and "nextPageToken" in first and "nextSyncToken" not in first
    # an insert while paging is neither lost nor makes a page repeat an event
    late = sandbox.put_event(s.cal, {"summary": "late", **timed(28, 20)})
    items = list(first["items"])
    token = first["nextPageToken"]
    while token:
        resp = s.alice.events().list(calendarId=s.cal, maxResults=5, pageToken=token).execute()
        assert ("nextPageToken" in resp) != ("nextSyncToken" in resp)
        items += resp["items"]
        token = resp.get("nextPageToken")
    ids = [e["id"] for e in items]
    assert len(ids) == len(set(ids)) == 24 and late["id"] in ids
    # the sync token names the state seen by the first page: the late insert comes again
    delta = s.alice.events().list(calendarId=s.cal, syncToken=resp["nextSyncToken"]).execute()
    assert [e["id"] for e in delta["items"]] == [late["id"]]


def test_max_results_bounds(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.put_event(s.cal, timed())
    assert len(s.alice.events().list(calendarId=s.cal, maxResults=2500).execute()["items"]) == 1
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, maxResults=0).execute()
    assert error_of(exc.value)[0] == 400


def test_time_window_q_updated_min_and_properties(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    a = sandbox.put_event(
        s.cal,
        {
            "summary": "Alpha review",
            **timed(1),
            "extendedProperties": {"private": {"k": "1", "t": "x"}},
        },
    )
    b = sandbox.put_event(
        s.cal, {"summary": "Beta", **timed(5), "extendedProperties": {"private": {"k": "1"}}}
    )
    sandbox.put_event(
        s.cal,
        {"summary": "All day", "start": {"date": "2026-12-10"}, "end": {"date": "2026-12-11"}},
    )

    def ids(**params: str) -> set[str]:
        return {e["id"] for e in list_all(s.alice, s.cal, **params)[0]}

    assert ids(timeMin="2026-12-01T10:30:00Z", timeMax="2026-12-05T10:00:00Z") == {a["id"]}
    assert ids(timeMin="2026-12-01T11:00:00Z", timeMax="2026-12-05T10:00:01Z") == {b["id"]}
    # an all-day event spans the calendar's day: Berlin midnight is 23:00Z the day before
    assert ids(timeMin="2026-12-09T22:00:00Z", timeMax="2026-12-09T23:00:00Z") == set()
    assert len(ids(timeMin="2026-12-09T22:00:00Z", timeMax="2026-12-09T23:00:01Z")) == 1
    assert ids(timeMin="2026-12-10T23:00:00Z", timeMax="2026-12-11T01:00:00Z") == set()
    assert ids(q="alpha") == {a["id"]}
    assert ids(privateExtendedProperty="k=1") == {a["id"], b["id"]}
    assert ids(privateExtendedProperty=["k=1", "t=x"]) == {a["id"]}  # repeats: AND
    assert ids(privateExtendedProperty="k=2") == set()
    s.alice.events().patch(calendarId=s.cal, eventId=b["id"], body={"summary": "Beta 2"}).execute()
    updated = s.alice.events().get(calendarId=s.cal, eventId=b["id"]).execute()["updated"]
    assert ids(updatedMin=updated) == {b["id"]}


def test_order_by_start_time_needs_single_events(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.put_event(s.cal, timed(3))
    sandbox.put_event(s.cal, timed(1))
    with pytest.raises(HttpError) as exc:
        s.alice.events().list(calendarId=s.cal, orderBy="startTime").execute()
    assert error_of(exc.value) == (400, "invalid")
    items = (
        s.alice.events()
        .list(calendarId=s.cal, orderBy="startTime", singleEvents=True)
        .execute()["items"]
    )
    assert [e["start"]["dateTime"][:10] for e in items] == ["2026-12-01", "2026-12-03"]


def test_short_and_empty_pages_still_cover_everything(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    for i in range(40):
        sandbox.put_event(s.cal, {"summary": f"e{i}", **timed(1 + i % 28, 8 + i % 12)})
    sandbox.set_faults("short_pages=0.7,seed=3")
    items, token, pages = list_all(s.alice, s.cal, maxResults=10)
    assert len({e["id"] for e in items}) == len(items) == 40
    assert pages > 4 and token
