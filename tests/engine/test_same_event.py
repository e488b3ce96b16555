"""The same meeting on several enabled calendars (same iCalUID) is mirrored once.

Pure planner and invariant-checker tests; the sandbox scenario is in
test_same_event_scenario.py.
"""

from __future__ import annotations

from calsync_tui.engine.fields import mirror_digest, same_event_key
from calsync_tui.engine.invariants import check_google
from calsync_tui.engine.model import EngineMode
from calsync_tui.engine.plan import (
    BlockItem,
    CalendarRef,
    Plan,
    SourceItem,
    block_body,
    build_plan,
)
from calsync_tui.google.types import GoogleEvent
from calsync_tui.settings import Settings

ME = "11111111-1111-4111-8111-111111111111"
WORK = CalendarRef(1, "alex@work", "owner", "alex@work")
HOME = CalendarRef(2, "alex@personal", "owner", "alex@personal")
SIDE = CalendarRef(3, "side@group", "owner", "alex@work")
TEAM = CalendarRef(4, "team@group", "reader", "alex@work")
S = Settings()
START = {"dateTime": "2030-01-10T09:00:00Z"}
END = {"dateTime": "2030-01-10T10:00:00Z"}
CID_W = "aaaaaaaa-0000-4000-8000-000000000001"
CID_H = "aaaaaaaa-0000-4000-8000-000000000002"
CID_T = "aaaaaaaa-0000-4000-8000-000000000003"


def copy_on(cal: CalendarRef, cid: str, same: str = "meet@google.com") -> SourceItem:
    return SourceItem(cal, f"ev-{cal.local_id}", cid, "Standup", START, END, same_event=same)


def block_of(s: SourceItem, target: CalendarRef) -> BlockItem:
    body = block_body(s, target, installation_id=ME, settings=S)
    return BlockItem(
        target,
        body["id"],
        body["extendedProperties"]["private"]["calsync_id"],
        s.correlation_id,
        digest=mirror_digest(body),
    )


def plan(cals: list[CalendarRef], sources: list[SourceItem], blocks: list[BlockItem]) -> Plan:
    return build_plan(cals, sources, blocks, installation_id=ME, settings=S)


def desc(p: Plan) -> list[tuple[str, str, str | None]]:
    return sorted((str(m.op), m.calendar_google_id, m.source_correlation_id) for m in p.mutations)


def test_copies_on_both_calendars_make_no_block() -> None:
    w, h = copy_on(WORK, CID_W), copy_on(HOME, CID_H)
    assert plan([WORK, HOME], [w, h], []).mutations == []
    # Different meetings (other iCalUID) still mirror: the rule is per event, not per title.
    other = copy_on(HOME, CID_H, same="other@google.com")
    assert desc(plan([WORK, HOME], [w, other], [])) == [
        ("insert", "alex@personal", CID_W),
        ("insert", "alex@work", CID_H),
    ]


def test_third_calendar_gets_one_block_from_the_lowest_calendar_id() -> None:
    w, h = copy_on(WORK, CID_W), copy_on(HOME, CID_H)
    p = plan([WORK, HOME, SIDE], [w, h], [])
    # "alex@personal" < "alex@work": the personal copy is mirrored onto Side.
    assert desc(p) == [("insert", "side@group", CID_H)]
    # The order the sources arrive in does not matter.
    assert plan([SIDE, HOME, WORK], [h, w], []).plan_id == p.plan_id


def test_existing_block_keeps_its_copy_so_nothing_flaps() -> None:
    w, h = copy_on(WORK, CID_W), copy_on(HOME, CID_H)
    # Side's block follows the work copy (made when only that copy existed): kept.
    assert plan([WORK, HOME, SIDE], [w, h], [block_of(w, SIDE)]).mutations == []
    assert plan([WORK, HOME, SIDE], [w, h], [block_of(h, SIDE)]).mutations == []


def test_blocks_made_before_the_fix_are_deleted_as_duplicates() -> None:
    w, h = copy_on(WORK, CID_W), copy_on(HOME, CID_H)
    blocks = [block_of(w, HOME), block_of(h, WORK), block_of(w, SIDE), block_of(h, SIDE)]
    p = plan([WORK, HOME, SIDE], [w, h], blocks)
    assert desc(p) == [
        ("delete", "alex@personal", CID_W),
        ("delete", "alex@work", CID_H),
        ("delete", "side@group", CID_W),
    ]
    reasons = {(m.calendar_google_id, m.reason) for m in p.mutations}
    assert ("alex@personal", "duplicate block: the target holds the same event") in reasons
    assert ("side@group", "duplicate block: another copy of the same event mirrors it") in reasons
    # The next plan (deletes done) is empty: converged.
    assert plan([WORK, HOME, SIDE], [w, h], [block_of(h, SIDE)]).mutations == []


def test_reader_copy_mirrors_nowhere_its_copy_sits() -> None:
    """A shared team calendar (reader) holds the meeting that also sits on Work."""
    t, w = copy_on(TEAM, CID_T), copy_on(WORK, CID_W)
    p = plan([WORK, HOME, TEAM], [t, w], [])
    # Work holds the meeting: no block there. Home gets one block, from the team copy
    # ("team@group" > "alex@work": the work copy is the lowest id).
    assert desc(p) == [("insert", "alex@personal", CID_W)]


def test_copy_only_on_one_calendar_is_the_plain_rule() -> None:
    w = copy_on(WORK, CID_W)
    assert desc(plan([WORK, HOME, SIDE], [w], [])) == [
        ("insert", "alex@personal", CID_W),
        ("insert", "side@group", CID_W),
    ]


def test_same_event_key_of_events_and_instances() -> None:
    assert same_event_key({"id": "x", "iCalUID": "u@google.com"}) == "u@google.com"
    assert same_event_key({"id": "x"}) is None
    inst: GoogleEvent = {
        "id": "s_20300110T090000Z",
        "iCalUID": "s@google.com",
        "recurringEventId": "s",
        "originalStartTime": {"dateTime": "2030-01-10T10:00:00+01:00"},
    }
    other = dict(inst, originalStartTime={"dateTime": "2030-01-11T09:00:00Z"})
    key = same_event_key(inst)
    assert key is not None and key.startswith("s@google.com|")
    # Same instant written in another offset: same key; another instance: another key.
    assert same_event_key(dict(inst, originalStartTime={"dateTime": "2030-01-10T09:00:00Z"})) == key
    assert same_event_key(other) not in (None, key)


# --- invariant checker -------------------------------------------------------------------


def _event(eid: str, uid: str, **kw: object) -> GoogleEvent:
    return {"id": eid, "iCalUID": uid, "summary": "Standup", "start": START, "end": END, **kw}


def _block(s: SourceItem, target: CalendarRef) -> GoogleEvent:
    body = block_body(s, target, installation_id=ME, settings=S)
    body["iCalUID"] = f"{body['id']}@google.com"
    return body


def _stamped(eid: str, cid: str, uid: str) -> GoogleEvent:
    return _event(
        eid,
        uid,
        extendedProperties={
            "private": {
                "calsync_id": cid,
                "calsync_type": "user_event",
                "calsync_v": "1",
                "calsync_instance": ME,
            }
        },
    )


def kinds(cals: dict[str, list[GoogleEvent]]) -> list[tuple[str, str]]:
    out = check_google(cals, writable=set(cals), installation_id=ME, settings=S)
    return sorted((v.kind, v.calendar) for v in out)


def test_invariants_expect_no_block_where_the_copy_sits_and_one_elsewhere() -> None:
    w, h = copy_on(WORK, CID_W), copy_on(HOME, CID_H)
    ew, eh = _stamped("ev-1", CID_W, "meet@google.com"), _stamped("ev-2", CID_H, "meet@google.com")
    good = {"alex@work": [ew], "alex@personal": [eh], "side@group": [_block(h, SIDE)]}
    assert kinds(good) == []
    # Either copy may be the one mirrored onto Side.
    assert kinds({**good, "side@group": [_block(w, SIDE)]}) == []
    missing = {**good, "side@group": []}
    assert kinds(missing) == [("missing_block", "side@group")]
    two = {**good, "side@group": [_block(w, SIDE), _block(h, SIDE)]}
    assert kinds(two) == [("duplicate_block", "side@group")]
    onto_copy = {**good, "alex@personal": [eh, _block(w, HOME)]}
    assert kinds(onto_copy) == [("duplicate_block", "alex@personal")]


def test_invariants_declined_copy_does_not_count_as_held() -> None:
    w = copy_on(WORK, CID_W)
    ew = _stamped("ev-1", CID_W, "meet@google.com")
    declined = _event(
        "ev-2",
        "meet@google.com",
        attendees=[{"email": "alex@personal", "responseStatus": "declined"}],
    )
    cals = {"alex@work": [ew], "alex@personal": [declined]}
    assert kinds(cals) == [("missing_block", "alex@personal")]
    assert kinds({**cals, "alex@personal": [declined, _block(w, HOME)]}) == []


def test_invariants_leave_legacy_lookalikes_on_reader_calendars_alone() -> None:
    """A legacy-titled block on a reader calendar is someone else's mirror (found by the
    stateful test): not an orphan of ours, since we could never delete it."""
    fake = _event("ev-9", "fake@google.com", summary="🔒 Busy - Fake")
    cals = {"team@group": [fake], "alex@work": []}
    modes = {c: EngineMode.HYBRID for c in cals}
    out = check_google(cals, writable={"alex@work"}, installation_id=ME, settings=S, modes=modes)
    assert out == []
    out = check_google(
        {"alex@work": [fake]}, writable={"alex@work"}, installation_id=ME, settings=S, modes=modes
    )
    assert [v.kind for v in out] == ["orphan_block"]
