"""Recurring series: expansion, instance ids, exceptions, cancelled instances, EXDATE."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import error_of, list_all, setup

WINDOW = {"timeMin": "2026-12-01T00:00:00Z", "timeMax": "2026-12-15T00:00:00Z"}


def daily(srv: SandboxServer, cal: str, **extra: object) -> dict[str, object]:
    return srv.put_event(
        cal,
        {
            "id": "series0001",
            "summary": "Standup",
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T09:15:00", "timeZone": "Europe/Berlin"},
            "recurrence": [
                "RRULE:FREQ=DAILY;COUNT=10",
                "EXDATE;TZID=Europe/Berlin:20261203T090000",
            ],
            "extendedProperties": {"private": {"calsync_id": "s-1"}},
            **extra,
        },
    )


def test_expansion_ids_and_exdate(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    daily(sandbox, s.cal)
    items, _, _ = list_all(s.alice, s.cal, singleEvents=True, orderBy="startTime", **WINDOW)
    assert len(items) == 9  # 10 minus the EXDATE
    first = items[0]
    assert first["id"] == "series0001_20261201T080000Z"
    assert first["recurringEventId"] == "series0001"
    assert first["originalStartTime"] == {
        "dateTime": "2026-12-01T09:00:00+01:00",
        "timeZone": "Europe/Berlin",
    }
    assert (
        first["extendedProperties"]["private"]["calsync_id"] == "s-1"
    )  # inherited from the series
    assert "recurrence" not in first
    assert "series0001_20261203T080000Z" not in {e["id"] for e in items}
    masters, _, _ = list_all(s.alice, s.cal, **WINDOW)
    assert [m["id"] for m in masters] == ["series0001"] and masters[0]["recurrence"]
    # the instance window is honoured
    few, _, _ = list_all(
        s.alice,
        s.cal,
        singleEvents=True,
        timeMin="2026-12-04T00:00:00Z",
        timeMax="2026-12-06T00:00:00Z",
    )
    assert [e["id"][-16:] for e in few] == ["20261204T080000Z", "20261205T080000Z"]


def test_exception_and_cancelled_instance(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    daily(sandbox, s.cal)
    iid = "series0001_20261202T080000Z"
    moved = (
        s.alice.events()
        .patch(
            calendarId=s.cal,
            eventId=iid,
            body={
                "summary": "Late standup",
                "start": {"dateTime": "2026-12-02T11:00:00+01:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-12-02T11:15:00+01:00", "timeZone": "Europe/Berlin"},
            },
        )
        .execute()
    )
    assert moved["id"] == iid and moved["recurringEventId"] == "series0001"
    s.alice.events().delete(calendarId=s.cal, eventId="series0001_20261204T080000Z").execute()
    items, _, _ = list_all(s.alice, s.cal, singleEvents=True, **WINDOW)
    by_id = {e["id"]: e for e in items}
    assert len(items) == 8
    assert by_id[iid]["summary"] == "Late standup" and by_id[iid]["start"]["dateTime"].startswith(
        "2026-12-02T11:00"
    )
    assert "series0001_20261204T080000Z" not in by_id
    shown = list_all(s.alice, s.cal, singleEvents=True, showDeleted=True, **WINDOW)[0]
    cancelled = [e for e in shown if e["status"] == "cancelled"]
    assert [e["id"] for e in cancelled] == ["series0001_20261204T080000Z"]
    assert set(cancelled[0]) <= {
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    }
    with pytest.raises(HttpError) as exc:
        s.alice.events().delete(calendarId=s.cal, eventId="series0001_20261204T080000Z").execute()
    assert error_of(exc.value) == (410, "deleted")
    with pytest.raises(HttpError) as exc:
        s.alice.events().patch(
            calendarId=s.cal, eventId=iid, body={"recurrence": ["RRULE:FREQ=DAILY"]}
        ).execute()
    assert error_of(exc.value) == (400, "invalid")
    with pytest.raises(HttpError) as exc:  # the EXDATE'd occurrence is no instance
        s.alice.events().get(calendarId=s.cal, eventId="series0001_20261203T080000Z").execute()
    assert error_of(exc.value) == (404, "notFound")
    # the series' later changes reach instances that were not overridden
    s.alice.events().patch(
        calendarId=s.cal, eventId="series0001", body={"extendedProperties": {"private": {"x": "1"}}}
    ).execute()
    items, _, _ = list_all(s.alice, s.cal, singleEvents=True, **WINDOW)
    assert all(e["extendedProperties"]["private"].get("x") == "1" for e in items)


def test_incremental_single_events_instance_and_master_changes(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    daily(sandbox, s.cal)
    _, token, _ = list_all(s.alice, s.cal, singleEvents=True, **WINDOW)
    s.alice.events().patch(
        calendarId=s.cal, eventId="series0001_20261205T080000Z", body={"summary": "x"}
    ).execute()
    delta, token, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token)
    assert [e["id"] for e in delta] == ["series0001_20261205T080000Z"]
    s.alice.events().patch(
        calendarId=s.cal, eventId="series0001", body={"summary": "Daily"}
    ).execute()
    delta, token, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token)
    assert len([e for e in delta if e.get("recurringEventId") == "series0001"]) == 9
    s.alice.events().delete(calendarId=s.cal, eventId="series0001").execute()
    delta, token, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token)
    instances = [e for e in delta if e.get("recurringEventId") == "series0001"]
    assert len(instances) == 9 and all(e["status"] == "cancelled" for e in instances)
    assert list_all(s.alice, s.cal, singleEvents=True, **WINDOW)[0] == []


def test_all_day_series_and_instances_endpoint(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.put_event(
        s.cal,
        {
            "id": "trash0001",
            "summary": "Trash day",
            "start": {"date": "2026-12-01"},
            "end": {"date": "2026-12-02"},
            "recurrence": ["RRULE:FREQ=WEEKLY;UNTIL=20261231"],
        },
    )
    got = s.alice.events().instances(calendarId=s.cal, eventId="trash0001").execute()
    assert [e["id"] for e in got["items"]] == [
        "trash0001_20261201",
        "trash0001_20261208",
        "trash0001_20261215",
        "trash0001_20261222",
        "trash0001_20261229",
    ]
    assert got["items"][1]["originalStartTime"] == {"date": "2026-12-08"}
    assert got["items"][1]["start"] == {"date": "2026-12-08"} and got["items"][1]["end"] == {
        "date": "2026-12-09"
    }
    one = s.alice.events().get(calendarId=s.cal, eventId="trash0001_20261215").execute()
    assert one["recurringEventId"] == "trash0001"


def test_deleted_instances_listing_rules(sandbox: SandboxServer) -> None:
    """Google: cancelled instances (not the series) are listed when showDeleted and
    singleEvents are both false; a deleted series shows as cancelled instances only."""
    s = setup(sandbox)
    daily(sandbox, s.cal)
    s.alice.events().delete(calendarId=s.cal, eventId="series0001_20261204T080000Z").execute()
    plain = list_all(s.alice, s.cal, **WINDOW)[0]
    assert sorted((e["id"], e["status"]) for e in plain) == [
        ("series0001", "confirmed"),
        ("series0001_20261204T080000Z", "cancelled"),
    ]
    later = list_all(
        s.alice, s.cal, timeMin="2026-12-06T00:00:00Z", timeMax="2026-12-15T00:00:00Z"
    )[0]
    assert [e["id"] for e in later] == ["series0001"]  # the cancelled instance is elsewhere
    s.alice.events().delete(calendarId=s.cal, eventId="series0001").execute()
    assert [e["id"] for e in list_all(s.alice, s.cal, **WINDOW)[0]] == [
        "series0001_20261204T080000Z"
    ]
    shown = list_all(s.alice, s.cal, singleEvents=True, showDeleted=True, **WINDOW)[0]
    assert len(shown) == 9 and all(
        e["status"] == "cancelled" and e["recurringEventId"] for e in shown
    )
