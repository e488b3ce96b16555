"""The strict behaviours (issue 14): each asserts Google's answer, cited in the sandbox.

Tokens without a window, changed series far ahead, ids never freed, person deletions,
purged trash, invitations and birthdays refusing writes, the sticky usage limit, the
per-calendar burst, batch order and whole-batch failures, unusual accessRoles, the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from calsync_tui.sandbox.client import batch_for, service_for
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.sandbox.strict import LENIENT, lenient_set
from tests.sandbox.helpers import ALICE, BOB, error_of, list_all, setup, timed

DEC = {"timeMin": "2026-12-01T00:00:00Z", "timeMax": "2026-12-31T00:00:00Z"}


@pytest.fixture
def strict_factory() -> Iterator[Any]:
    servers: list[SandboxServer] = []

    def make(**kwargs: Any) -> SandboxServer:
        srv = SandboxServer(port=0, **kwargs).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def far(year: int, month: int = 1, day: int = 5) -> dict[str, Any]:
    return {
        "start": {"dateTime": f"{year}-{month:02d}-{day:02d}T10:00:00Z"},
        "end": {"dateTime": f"{year}-{month:02d}-{day:02d}T11:00:00Z"},
    }


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for e in items}


def raises(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpError) as exc:
        call.execute()
    return error_of(exc.value)


# ---- 1. sync tokens carry no window --------------------------------------------------
def test_incremental_holds_every_changed_event_whatever_its_date(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    inside = sandbox.put_event(s.cal, {"id": "inside001", **timed(3)})
    outside = sandbox.put_event(s.cal, {"id": "outside01", **far(2030)})
    later = sandbox.put_event(s.cal, {"id": "later0001", **far(2027, 1, 2)})
    items, token, _ = list_all(s.alice, s.cal, **DEC)
    assert ids(items) == {inside["id"]}
    sandbox.patch_event(s.cal, outside["id"], {"summary": "moved on"})
    new = s.alice.events().insert(calendarId=s.cal, body=far(2031)).execute()
    sandbox.advance_clock(timedelta(days=3))  # `later` comes nearer; it is unchanged
    items, token2, _ = list_all(s.alice, s.cal, syncToken=token)
    assert ids(items) == {outside["id"], new["id"]}  # not `inside`, not `later`
    assert later["id"] not in ids(items)
    items, _, _ = list_all(s.alice, s.cal, syncToken=token2)
    assert items == []


def test_sync_token_expires_with_the_sandbox_clock(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    _, token, _ = list_all(s.alice, s.cal)
    sandbox.advance_clock(timedelta(days=6))
    _, token, _ = list_all(s.alice, s.cal, syncToken=token)  # 6 days: still good
    sandbox.advance_clock(timedelta(days=7, minutes=1))
    assert raises(s.alice.events().list(calendarId=s.cal, syncToken=token)) == (
        410,
        "fullSyncRequired",
    )


# ---- 2. a changed series comes back far ahead ----------------------------------------
def weekly(srv: SandboxServer, cal: str, rule: str = "RRULE:FREQ=WEEKLY") -> dict[str, Any]:
    return srv.put_event(
        cal,
        {
            "id": "series001",
            "summary": "Sync",
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-01T09:30:00", "timeZone": "UTC"},
            "recurrence": [rule],
        },
    )


def test_changed_unbounded_series_returns_730_instances(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    weekly(sandbox, s.cal)
    items, token, _ = list_all(s.alice, s.cal, singleEvents=True, **DEC)
    assert len(items) == 5  # the full listing expands within its window only
    sandbox.patch_event(s.cal, "series001", {"extendedProperties": {"private": {"k": "v"}}})
    items, _, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token, maxResults=2500)
    assert len(items) == 730
    assert items[0]["id"] == "series001_20261201T090000Z"
    assert max(e["start"]["dateTime"] for e in items) >= "2040-"  # ~14 years of weeks


def test_changed_bounded_series_returns_all_to_its_end(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    weekly(sandbox, s.cal, "RRULE:FREQ=WEEKLY;COUNT=900")
    _, token, _ = list_all(s.alice, s.cal, singleEvents=True, **DEC)
    sandbox.patch_event(s.cal, "series001", {"summary": "Renamed"})
    items, _, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token, maxResults=2500)
    assert len(items) == 900 and {e["summary"] for e in items} == {"Renamed"}


def test_changed_instance_alone_and_lenient_windowed_tokens(strict_factory: Any) -> None:
    for lenient, expected in ((set(), 1), ({"windowed_tokens"}, 105)):
        srv = strict_factory(lenient=lenient)
        s = setup(srv)
        weekly(srv, s.cal)
        _, token, _ = list_all(s.alice, s.cal, singleEvents=True)
        srv.patch_event(s.cal, "series001_20261208T090000Z", {"summary": "moved"})
        items, token, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token)
        assert ids(items) == {"series001_20261208T090000Z"}
        srv.patch_event(s.cal, "series001", {"summary": "all"})
        items, _, _ = list_all(s.alice, s.cal, singleEvents=True, syncToken=token, maxResults=2500)
        assert len(items) == (730 if not lenient else expected)


# ---- 3. deleted ids stay taken -------------------------------------------------------
def test_deleted_id_stays_taken_readable_then_purged(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = s.alice.events().insert(calendarId=s.cal, body={"id": "taken0001", **timed()}).execute()
    _, token, _ = list_all(s.alice, s.cal)
    s.alice.events().delete(calendarId=s.cal, eventId=ev["id"]).execute()
    got = s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()
    assert got["status"] == "cancelled"
    body = {"id": "taken0001", **timed(2)}
    assert raises(s.alice.events().insert(calendarId=s.cal, body=body)) == (409, "duplicate")
    shown, _, _ = list_all(s.alice, s.cal, showDeleted=True)
    assert [(e["id"], e["status"]) for e in shown] == [("taken0001", "cancelled")]
    assert list_all(s.alice, s.cal)[0] == []
    # deleted through the API: patch with status confirmed revives it (until purged)
    s.alice.events().patch(
        calendarId=s.cal, eventId=ev["id"], body={"status": "confirmed"}
    ).execute()
    assert sandbox.events(s.cal)[0]["status"] == "confirmed"
    s.alice.events().delete(calendarId=s.cal, eventId=ev["id"]).execute()
    assert sandbox.purge_trash(s.cal) == ["taken0001"]
    get = s.alice.events().get(calendarId=s.cal, eventId=ev["id"])
    assert raises(get) == (404, "notFound")
    patch = s.alice.events().patch(calendarId=s.cal, eventId=ev["id"], body={"status": "confirmed"})
    assert raises(patch) == (404, "notFound")
    assert raises(s.alice.events().update(calendarId=s.cal, eventId=ev["id"], body=timed())) == (
        404,
        "notFound",
    )
    assert raises(s.alice.events().insert(calendarId=s.cal, body=body)) == (409, "duplicate")
    # a token older than the purged deletion cannot report it any more
    assert raises(s.alice.events().list(calendarId=s.cal, syncToken=token)) == (
        410,
        "fullSyncRequired",
    )
    assert sandbox.dump()["calendars"][0]["tombstones"] == ["taken0001"]


def test_lenient_ids_reusable_after_purge(strict_factory: Any) -> None:
    srv = strict_factory(lenient={"ids_reusable"})
    s = setup(srv)
    srv.put_event(s.cal, {"id": "taken0001", **timed()})
    srv.delete_event(s.cal, "taken0001")
    srv.purge_trash()
    s.alice.events().insert(calendarId=s.cal, body={"id": "taken0001", **timed()}).execute()


def test_deleted_in_the_web_ui_cannot_be_revived(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    ev = sandbox.put_event(s.cal, {"id": "deleted01", "summary": "block", **timed()})
    sandbox.delete_as_person(s.cal, ev["id"])
    got = s.alice.events().get(calendarId=s.cal, eventId=ev["id"]).execute()
    assert got["status"] == "cancelled"
    revive = {"status": "confirmed"}
    patch = s.alice.events().patch(calendarId=s.cal, eventId=ev["id"], body=revive)
    assert raises(patch) == (403, "forbidden")
    body = {"summary": "block", "status": "confirmed", **timed()}
    update = s.alice.events().update(calendarId=s.cal, eventId=ev["id"], body=body)
    assert raises(update) == (403, "forbidden")
    assert raises(s.alice.events().delete(calendarId=s.cal, eventId=ev["id"])) == (410, "deleted")
    insert = s.alice.events().insert(calendarId=s.cal, body={"id": ev["id"], **timed()})
    assert raises(insert) == (409, "duplicate")


def test_person_deleted_instance_and_lenient_revive(strict_factory: Any) -> None:
    srv = strict_factory(lenient={"revive_person_deleted"})
    s = setup(srv)
    srv.put_event(s.cal, {"id": "deleted01", **timed()})
    srv.delete_as_person(s.cal, "deleted01")
    s.alice.events().patch(
        calendarId=s.cal, eventId="deleted01", body={"status": "confirmed"}
    ).execute()
    strict = strict_factory()
    t = setup(strict)
    weekly(strict, t.cal)
    strict.delete_as_person(t.cal, "series001_20261208T090000Z")
    patch = t.alice.events().patch(
        calendarId=t.cal, eventId="series001_20261208T090000Z", body={"status": "confirmed"}
    )
    assert raises(patch) == (403, "forbidden")


# ---- 4. writes Google refuses for good -----------------------------------------------
def test_invitation_refuses_patches_but_not_the_answer(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    inv = sandbox.invite(s.cal, {"id": "invite001", "summary": "Their meeting", **timed()})
    assert inv["organizer"] == {"email": "organizer@elsewhere.example"}
    ev = s.alice.events()
    stamp = {"extendedProperties": {"private": {"calsync_id": "x"}}}
    for call in (
        ev.patch(calendarId=s.cal, eventId="invite001", body=stamp),
        ev.patch(calendarId=s.cal, eventId="invite001", body={"summary": "Mine now"}),
        ev.patch(calendarId=s.cal, eventId="invite001", body={"transparency": "transparent"}),
        ev.update(calendarId=s.cal, eventId="invite001", body={**inv, **stamp}),
    ):
        assert raises(call) == (403, "forbiddenForNonOrganizer")
    attendees = [dict(a) for a in inv["attendees"]]
    attendees[1]["responseStatus"] = "declined"
    answered = ev.patch(calendarId=s.cal, eventId="invite001", body={"attendees": attendees})
    assert answered.execute()["attendees"][1]["responseStatus"] == "declined"
    ev.patch(calendarId=s.cal, eventId="invite001", body={"reminders": {"useDefault": False}})
    ev.delete(calendarId=s.cal, eventId="invite001").execute()  # removing one's copy is fine
    # guestsCanModify: the attendee may change it
    sandbox.invite(s.cal, {"id": "invite002", **timed(2)}, guests_can_modify=True)
    ev.patch(calendarId=s.cal, eventId="invite002", body=stamp).execute()


def test_invited_series_instance_refuses_and_insert_owns_organizer(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.invite(
        s.cal,
        {
            "id": "invser001",
            "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-01T09:30:00", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        },
    )
    patch = s.alice.events().patch(
        calendarId=s.cal, eventId="invser001_20261202T090000Z", body={"summary": "x"}
    )
    assert raises(patch) == (403, "forbiddenForNonOrganizer")
    body = {"organizer": {"email": "someone@elsewhere.example"}, **timed(4)}
    mine = s.alice.events().insert(calendarId=s.cal, body=body).execute()
    assert mine["organizer"]["email"] == s.cal  # insert: the calendar organizes it
    s.alice.events().patch(calendarId=s.cal, eventId=mine["id"], body={"summary": "y"}).execute()


def test_lenient_invitation_patches(strict_factory: Any) -> None:
    srv = strict_factory(lenient={"invitation_patches"})
    s = setup(srv)
    srv.invite(s.cal, {"id": "invite001", **timed()})
    s.alice.events().patch(calendarId=s.cal, eventId="invite001", body={"summary": "x"}).execute()


def test_birthday_refuses_private_properties(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    day = {"start": {"date": "2026-12-04"}, "end": {"date": "2026-12-05"}}
    bday = sandbox.put_event(s.cal, {"id": "birth0001", "eventType": "birthday", **day})
    stamp = {"extendedProperties": {"private": {"calsync_id": "x"}}}
    with pytest.raises(HttpError) as exc:
        s.alice.events().patch(calendarId=s.cal, eventId=bday["id"], body=stamp).execute()
    assert error_of(exc.value) == (400, "invalid")
    assert "'birthday' event type must not have private extended properties" in (
        exc.value.content.decode()
    )
    shared = {"extendedProperties": {"shared": {"k": "v"}}}
    s.alice.events().patch(calendarId=s.cal, eventId=bday["id"], body=shared).execute()
    lenient = SandboxServer(lenient={"birthday_private"})
    lenient.put_event(
        lenient.create_calendar(ALICE, "A", "UTC", ALICE),
        {"eventType": "birthday", **day, **stamp},
    )


# ---- 5. the usage limit is sticky ----------------------------------------------------
def test_usage_limit_locks_writes_for_hours_reads_keep_working(strict_factory: Any) -> None:
    srv = strict_factory(usage_writes=5, usage_window_s=600, usage_lockout_s=3 * 3600)
    s = setup(srv)
    for day in range(1, 6):
        s.alice.events().insert(calendarId=s.cal, body=timed(day)).execute()
    assert srv.usage_locked_until(ALICE) is not None
    refused = {"code": 0}

    def cb(rid: str, resp: Any, exc: HttpError | None) -> None:
        assert exc is not None and error_of(exc) == (403, "quotaExceeded")
        refused["code"] += 1

    batch = batch_for(srv.url)
    for day in range(6, 9):
        batch.add(s.alice.events().insert(calendarId=s.cal, body=timed(day)), callback=cb)
    batch.execute()
    assert refused["code"] == 3
    with pytest.raises(HttpError) as exc:
        s.alice.events().delete(calendarId=s.cal, eventId="nothere01").execute()
    assert error_of(exc.value) == (403, "quotaExceeded")
    assert "Calendar usage limits exceeded." in exc.value.content.decode()
    assert len(list_all(s.alice, s.cal)[0]) == 5  # reads keep working
    s.bob.events().insert(calendarId=BOB, body=timed()).execute()  # per user
    srv.advance_clock(timedelta(hours=2, minutes=59))
    assert raises(s.alice.events().insert(calendarId=s.cal, body=timed())) == (
        403,
        "quotaExceeded",
    )
    srv.advance_clock(timedelta(minutes=2))
    s.alice.events().insert(calendarId=s.cal, body=timed()).execute()


def test_trip_and_clear_usage_limit_and_remembered_quota_fault(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    assert sandbox.usage.writes == 3000 and sandbox.usage.lockout == 3 * 3600
    sandbox.trip_usage_limit(ALICE, timedelta(hours=1))
    assert raises(s.alice.events().insert(calendarId=s.cal, body=timed())) == (
        403,
        "quotaExceeded",
    )
    sandbox.clear_usage_limit(ALICE)
    s.alice.events().insert(calendarId=s.cal, body=timed()).execute()
    sandbox.set_faults("quota=1")
    assert raises(s.alice.events().insert(calendarId=s.cal, body=timed())) == (
        403,
        "quotaExceeded",
    )
    sandbox.set_faults(None)  # remembered: the lockout holds without the fault
    assert raises(s.alice.events().insert(calendarId=s.cal, body=timed())) == (
        403,
        "quotaExceeded",
    )
    sandbox.advance_clock(timedelta(hours=3, seconds=1))
    s.alice.events().insert(calendarId=s.cal, body=timed()).execute()


def test_calendar_burst_answers_rate_limit_per_part(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    assert (sandbox.burst.writes, sandbox.burst.window) == (1000, 60.0)
    sandbox.set_burst(3, timedelta(seconds=10))
    answers: dict[str, Any] = {}

    def cb(rid: str, resp: Any, exc: HttpError | None) -> None:
        answers[rid] = error_of(exc) if exc is not None else "ok"

    batch = batch_for(sandbox.url)
    for day in range(1, 6):
        batch.add(s.alice.events().insert(calendarId=s.cal, body=timed(day)), callback=cb)
    batch.execute()
    assert sorted(answers.values(), key=str) == sorted(
        ["ok"] * 3 + [(403, "rateLimitExceeded")] * 2, key=str
    )
    s.bob.events().insert(calendarId=BOB, body=timed()).execute()  # per calendar
    sandbox.advance_clock(timedelta(seconds=11))
    s.alice.events().insert(calendarId=s.cal, body=timed()).execute()


# ---- 6. batches ----------------------------------------------------------------------
def test_batch_parts_run_in_a_seeded_order_matched_by_content_id(strict_factory: Any) -> None:
    orders = []
    for _ in range(2):
        srv = strict_factory(batch_failure_rate=0.0)
        s = setup(srv)
        got: dict[str, str] = {}

        def cb(rid: str, resp: Any, exc: Any, got: dict[str, str] = got) -> None:
            got[rid] = resp["summary"]

        batch = batch_for(srv.url)
        for i in range(20):
            body = {"summary": f"e{i}", **timed(1 + i)}
            batch.add(
                s.alice.events().insert(calendarId=s.cal, body=body), callback=cb, request_id=str(i)
            )
        batch.execute()
        assert got == {str(i): f"e{i}" for i in range(20)}
        by_etag = sorted(srv.events(s.cal), key=lambda e: e["etag"])
        orders.append([e["summary"] for e in by_etag])
    assert orders[0] == orders[1]  # seeded: reproducible
    assert orders[0] != [f"e{i}" for i in range(20)]  # not request order


def test_whole_batch_fails_before_any_part_runs(strict_factory: Any) -> None:
    srv = strict_factory(batch_failure_rate=1.0)
    s = setup(srv)
    batch = batch_for(srv.url)
    batch.add(s.alice.events().insert(calendarId=s.cal, body=timed()))
    with pytest.raises(HttpError) as exc:
        batch.execute()
    assert int(exc.value.resp.status) in (429, 503)
    assert srv.events(s.cal) == [] and srv.batch_faults.failed == 1
    default = strict_factory()
    assert default.batch_faults.failure_rate == 0.02 and default.batch_faults.shuffle
    lenient = strict_factory(lenient={"batch_order", "batch_failures"})
    assert lenient.batch_faults.failure_rate == 0.0 and not lenient.batch_faults.shuffle


# ---- 7. accessRole values the product must survive -----------------------------------
def test_calendar_list_reports_none_free_busy_and_unknown_roles(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    roles = {"none": "None", "freeBusyReader": "FB", "someFutureRole": "Future"}
    cals = {}
    for role, name in roles.items():
        cal = sandbox.create_calendar(BOB, name, "UTC")
        sandbox.share(cal, ALICE, role, allow_unknown=role == "someFutureRole")
        cals[role] = cal
    with pytest.raises(Exception, match="role must be one of"):
        sandbox.share(cals["none"], ALICE, "someFutureRole")
    entries = s.alice.calendarList().list().execute()["items"]
    reported = {e["id"]: e["accessRole"] for e in entries}
    assert {reported[c] for c in cals.values()} == set(roles)
    for cal in cals.values():
        assert raises(s.alice.events().list(calendarId=cal)) == (403, "forbidden")
        assert raises(s.alice.events().insert(calendarId=cal, body=timed()))[0] == 403
    readers = s.alice.calendarList().list(minAccessRole="reader").execute()["items"]
    assert not {e["id"] for e in readers} & set(cals.values())


# ---- controls, clock, lenient names --------------------------------------------------
def test_http_controls(sandbox: SandboxServer) -> None:
    s = setup(sandbox)
    sandbox.put_event(s.cal, {"id": "ctrl00001", **timed()})
    http = httplib2.Http()
    before = sandbox.now()

    def post(path: str) -> Any:
        resp, content = http.request(sandbox.url + "_sandbox/" + path, "POST")
        assert resp.status == 200, content
        return json.loads(content)

    post(f"delete_as_person?calendarId={s.cal}&eventId=ctrl00001")
    assert sandbox.world.calendars[s.cal].person_deleted == {"ctrl00001"}
    assert post(f"purge_trash?calendarId={s.cal}") == {"purged": ["ctrl00001"]}
    post("advance_clock?seconds=86400")
    assert sandbox.now() - before >= timedelta(days=1)
    post(f"trip_usage_limit?user={ALICE}&seconds=60")
    assert sandbox.usage_locked_until(ALICE) is not None
    post(f"clear_usage_limit?user={ALICE}")
    assert sandbox.usage_locked_until(ALICE) is None
    service_for(sandbox.url, "alice-token").events().insert(
        calendarId=s.cal, body=timed()
    ).execute()
    created = sandbox.events(s.cal)[0]
    assert created["updated"] >= (before + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def test_lenient_names_are_checked() -> None:
    assert lenient_set(["windowed_tokens"]) == {"windowed_tokens"}
    with pytest.raises(ValueError, match="unknown lenient"):
        SandboxServer(lenient={"kind"})
    assert all(LENIENT.values())
