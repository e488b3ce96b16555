"""events get/insert/patch/update/delete/move through the real googleapiclient."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import ALICE, BOB, error_of, setup, timed


def test_insert_get_shape(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    body = {
        "summary": "Review",
        "description": "d",
        **timed(),
        "transparency": "transparent",
        "visibility": "private",
        "attendees": [{"email": ALICE}, {"email": "x@example.com", "responseStatus": "accepted"}],
        "extendedProperties": {"private": {"calsync_id": "abc"}},
    }
    ev = s.alice.events().insert(calendarId=s.cal, body=body, sendUpdates="none").execute()
    got = s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()
    assert got == ev
    for key in ("id", "etag", "updated", "created", "iCalUID", "htmlLink", "creator", "organizer"):
        assert key in got
    assert got["status"] == "confirmed" and got["eventType"] == "default"
    assert got["organizer"] == {"email": ALICE, "displayName": "Alice", "self": True}
    assert got["attendees"][0] == {"email": ALICE, "self": True, "responseStatus": "needsAction"}
    assert got["extendedProperties"] == {"private": {"calsync_id": "abc"}}


def test_client_id_rules_and_409_even_when_cancelled(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    for bad in ("abc", "UPPERCASE1", "wxyz0123", "a" * 1025):
        with pytest.raises(HttpError) as exc:
            s.alice.events().insert(calendarId=s.cal, body={"id": bad, **timed()}).execute()
        assert error_of(exc.value) == (400, "invalid")
    eid = "0123456789abcdefghijklmnopqrstuv"
    s.alice.events().insert(calendarId=s.cal, body={"id": eid, **timed()}).execute()
    with pytest.raises(HttpError) as exc:
        s.alice.events().insert(calendarId=s.cal, body={"id": eid, **timed()}).execute()
    assert error_of(exc.value) == (409, "duplicate")
    s.alice.events().delete(calendarId=s.cal, eventId=eid).execute()
    with pytest.raises(HttpError) as exc:
        s.alice.events().insert(calendarId=s.cal, body={"id": eid, **timed()}).execute()
    assert error_of(exc.value) == (409, "duplicate")


def test_delete_twice_410_unknown_404(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = s.alice.events().insert(calendarId=s.cal, body=timed()).execute()
    s.alice.events().delete(calendarId=s.cal, eventId=ev["id"]).execute()
    assert (
        s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()["status"] == "cancelled"
    )
    with pytest.raises(HttpError) as exc:
        s.alice.events().delete(calendarId=s.cal, eventId=ev["id"]).execute()
    assert error_of(exc.value) == (410, "deleted")
    with pytest.raises(HttpError) as exc:
        s.alice.events().delete(calendarId=s.cal, eventId="nosuchevent").execute()
    assert error_of(exc.value) == (404, "notFound")


def test_patch_merges_properties_and_null_removes(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = (
        s.alice.events()
        .insert(
            calendarId=s.cal,
            body={
                "summary": "A",
                **timed(),
                "extendedProperties": {"private": {"a": "1", "b": "2"}},
            },
        )
        .execute()
    )
    patched = (
        s.alice.events()
        .patch(
            calendarId=s.cal,
            eventId=ev["id"],
            body={"summary": "B", "extendedProperties": {"private": {"b": None, "c": "3"}}},
        )
        .execute()
    )
    assert patched["summary"] == "B"
    assert patched["extendedProperties"]["private"] == {"a": "1", "c": "3"}
    assert patched["start"] == ev["start"] and patched["etag"] != ev["etag"]


def test_update_replaces_and_drops_missing_properties(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = (
        s.alice.events()
        .insert(
            calendarId=s.cal,
            body={
                "summary": "A",
                "description": "x",
                **timed(),
                "extendedProperties": {"private": {"a": "1"}},
            },
        )
        .execute()
    )
    new = (
        s.alice.events()
        .update(calendarId=s.cal, eventId=ev["id"], body={"summary": "C", **timed(2)})
        .execute()
    )
    assert new["summary"] == "C" and "description" not in new and "extendedProperties" not in new
    assert new["id"] == ev["id"] and new["created"] == ev["created"]


def test_patch_confirmed_restores_cancelled(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = s.alice.events().insert(calendarId=s.cal, body={"summary": "A", **timed()}).execute()
    s.alice.events().delete(calendarId=s.cal, eventId=ev["id"]).execute()
    back = (
        s.alice.events()
        .patch(calendarId=s.cal, eventId=ev["id"], body={"status": "confirmed"})
        .execute()
    )
    assert back["status"] == "confirmed" and back["summary"] == "A"


def test_if_match_412(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = s.alice.events().insert(calendarId=s.cal, body=timed()).execute()
    s.alice.events().patch(calendarId=s.cal, eventId=ev["id"], body={"summary": "x"}).execute()
    req = s.alice.events().patch(calendarId=s.cal, eventId=ev["id"], body={"summary": "y"})
    req.headers["If-Match"] = ev["etag"]
    with pytest.raises(HttpError) as exc:
        req.execute()
    assert error_of(exc.value) == (412, "conditionNotMet")
    fresh = s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()
    req = s.alice.events().patch(calendarId=s.cal, eventId=ev["id"], body={"summary": "y"})
    req.headers["If-Match"] = fresh["etag"]
    assert req.execute()["summary"] == "y"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {
                "start": {"dateTime": "2026-12-01T10:00:00Z"},
                "end": {"dateTime": "2026-12-01T09:00:00Z"},
            },
            "empty",
        ),
        ({"end": {"dateTime": "2026-12-01T09:00:00Z"}}, "Missing start"),
        ({"start": {"dateTime": "2026-12-01T09:00:00Z"}}, "Missing end"),
        ({**timed(), "recurrence": ["RRULE:FREQ=DAILY"]}, "time zone"),
        ({**timed(), "eventType": "fromGmail"}, "fromGmail"),
        ({"start": {"date": "2026-12-01"}, "end": {"dateTime": "2026-12-01T09:00:00Z"}}, "both"),
    ],
)
def test_validation_400_invalid(
    sandbox: SandboxServer, body: dict[str, object], fragment: str
) -> None:
    s = setup(sandbox)
    with pytest.raises(HttpError) as exc:
        s.alice.events().insert(calendarId=s.cal, body=body).execute()
    assert error_of(exc.value) == (400, "invalid")
    assert fragment in exc.value.content.decode()
    assert sandbox.events(s.cal, include_cancelled=True) == []


def test_event_type_is_immutable(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = (
        s.alice.events()
        .insert(calendarId=s.cal, body={**timed(), "eventType": "focusTime"})
        .execute()
    )
    with pytest.raises(HttpError) as exc:
        s.alice.events().patch(
            calendarId=s.cal, eventId=ev["id"], body={"eventType": "default"}
        ).execute()
    assert error_of(exc.value) == (400, "invalid")


def test_property_limits_silent(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ok_key, long_key = "k" * 44, "k" * 45
    ev = (
        s.alice.events()
        .insert(
            calendarId=s.cal,
            body={
                **timed(),
                "extendedProperties": {"private": {ok_key: "v", long_key: "v", "big": "x" * 2000}},
            },
        )
        .execute()
    )
    props = ev["extendedProperties"]["private"]
    assert set(props) == {ok_key, "big"} and len(props["big"]) == 1024
    patched = (
        s.alice.events()
        .patch(
            calendarId=s.cal,
            eventId=ev["id"],
            body={"extendedProperties": {"private": {long_key: "v"}}},
        )
        .execute()
    )
    assert set(patched["extendedProperties"]["private"]) == {ok_key, "big"}


def test_move_between_calendars(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    other = sandbox.create_calendar(ALICE, "Side", "UTC")
    ev = s.alice.events().insert(calendarId=s.cal, body={"summary": "m", **timed()}).execute()
    moved = s.alice.events().move(calendarId=s.cal, eventId=ev["id"], destination=other).execute()
    assert moved["id"] == ev["id"]
    assert s.alice.events().get(calendarId=other, eventId=ev["id"]).execute()["summary"] == "m"
    assert (
        s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()["status"] == "cancelled"
    )
    with pytest.raises(HttpError) as exc:
        s.alice.events().move(calendarId=other, eventId=ev["id"], destination=BOB).execute()
    assert error_of(exc.value) == (404, "notFound")


def test_local_date_time_gets_its_offset(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = (
        s.alice.events()
        .insert(
            calendarId=s.cal,
            body={
                "start": {"dateTime": "2026-07-01T09:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-07-01T10:00:00", "timeZone": "Europe/Berlin"},
            },
        )
        .execute()
    )
    assert ev["start"] == {"dateTime": "2026-07-01T09:00:00+02:00", "timeZone": "Europe/Berlin"}
    assert ev["end"]["dateTime"] == "2026-07-01T10:00:00+02:00"


def test_long_query_uses_method_override(sandbox: SandboxServer) -> None:
    """googleapiclient sends GETs with URLs over 2 kB as POST + X-HTTP-Method-Override."""
    s = setup(sandbox)
    sandbox.put_event(
        s.cal, {"summary": "long", **timed(), "extendedProperties": {"private": {"k": "v"}}}
    )
    sandbox.put_event(s.cal, {"summary": "other", **timed(2)})
    filters = ["k=v"] * 300  # the URL is well over 2 kB; every repeat matches
    req = s.alice.events().list(calendarId=s.cal, privateExtendedProperty=filters)
    items = req.execute()["items"]
    assert req.method == "POST" and req.headers["x-http-method-override"] == "GET"
    assert [e["summary"] for e in items] == ["long"]
    assert sandbox.stats()["by_method"] == {"calendar.events.list": 1}
