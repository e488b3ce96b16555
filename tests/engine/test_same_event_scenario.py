"""Sandbox scenario: Alex is invited at both addresses; the meeting is mirrored once.

Two accounts (alex@work, alex@personal), a third calendar (Side project); real gateway
over HTTP to the sandbox, real SQLite.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from calsync_tui.engine import scope
from calsync_tui.google.types import GoogleEvent
from local_store.models import Mutation
from tests.engine.test_incremental_scope import checked_sync
from tests.engine.world import World, iter_blocks, when

WORK, HOME = "alex@work", "alex@personal"


def _people(declined_by: str | None = None) -> list[dict[str, str]]:
    return [
        {
            "email": who,
            "responseStatus": "declined" if who == declined_by else "accepted",
        }
        for who in (WORK, HOME)
    ]


def _invite(
    world: World, cal: str, eid: str, uid: str, title: str, day: float, **kw: object
) -> GoogleEvent:
    """The copy of a meeting Google puts on one invitee's calendar (same id and iCalUID)."""
    s, e = when(day, hours=9, tz="UTC")
    return world.put(cal, title, start=s, end=e, id=eid, iCalUID=uid, **kw)


def _settle(world: World) -> None:
    for _ in range(4):
        r = world.sync()
        assert r.failed == 0, r.errors
        if not r.planned:
            return
    raise AssertionError(f"no convergence: {r.planned}")


def _titles(world: World, cal: str) -> Counter[str]:
    return Counter(str(e.get("summary")) for e in iter_blocks(world.truth()[cal]))


def test_meeting_on_both_addresses_is_mirrored_once(world: World) -> None:
    world.user(WORK)
    world.user(HOME)
    work = world.calendar(WORK, "Work", cal_id=WORK)
    home = world.calendar(HOME, "Personal", cal_id=HOME)
    side = world.calendar(WORK, "Side project")
    world.enable(work, home, side)
    for cal in (work, home):
        _invite(world, cal, "planning1", "planning1@google.com", "Planning", 1, attendees=_people())
        _invite(
            world,
            cal,
            "standup1",
            "standup1@google.com",
            "Standup",
            2,
            attendees=_people(),
            recurrence=["RRULE:FREQ=DAILY;COUNT=3"],
        )
        # Declined from the personal address: Alex still attends from work.
        _invite(
            world, cal, "offsite1", "offsite1@google.com", "Offsite", 6, attendees=_people(HOME)
        )
    world.put(work, "Dentist", start=when(7)[0], end=when(7)[1])
    _settle(world)
    world.assert_ok()
    # Work and Personal hold the meetings themselves: only the declined one and the
    # dentist leave a block on Personal, nothing lands on Work.
    assert _titles(world, work) == Counter()
    assert _titles(world, home) == Counter({"Busy - Offsite": 1, "Busy - Dentist": 1})
    # Side project: one block per meeting (per instance), not one per copy.
    assert _titles(world, side) == Counter(
        {"Busy - Planning": 1, "Busy - Standup": 3, "Busy - Offsite": 1, "Busy - Dentist": 1}
    )

    # One instance removed from the work copy only: that day Work no longer holds the
    # meeting, so the personal copy's instance gets a block there. Side's blocks follow
    # the personal copies (lowest calendar id) and do not move.
    inst = sorted(e["id"] for e in world.truth()[work] if e.get("recurringEventId") == "standup1")
    world.sandbox.delete_event(work, inst[1])
    side_ids = {e["id"] for e in iter_blocks(world.truth()[side])}
    _settle(world)
    world.assert_ok()
    assert _titles(world, work) == Counter({"Busy - Standup": 1})
    (blk,) = iter_blocks(world.truth()[work])
    day3 = when(3, hours=9)[0]["dateTime"]
    assert datetime.fromisoformat(blk["start"]["dateTime"]) == datetime.fromisoformat(day3)
    assert {e["id"] for e in iter_blocks(world.truth()[side])} == side_ids  # nothing flapped


def test_copy_arriving_later_deletes_the_block_it_duplicates(world: World) -> None:
    world.user(WORK)
    world.user(HOME)
    work = world.calendar(WORK, "Work", cal_id=WORK)
    home = world.calendar(HOME, "Personal", cal_id=HOME)
    side = world.calendar(WORK, "Side project")
    world.enable(work, home, side)
    _invite(world, work, "revmeet1", "revmeet1@google.com", "Review", 1, attendees=_people())
    _settle(world)
    world.assert_ok()
    (on_home,) = iter_blocks(world.truth()[home])
    (on_side,) = iter_blocks(world.truth()[side])
    # The organizer invites the personal address too: Google adds a copy there.
    _invite(world, home, "revmeet1", "revmeet1@google.com", "Review", 1, attendees=_people())
    # The scoped cycle (only the changed families) reaches the other copy's blocks too:
    # its plan equals the full one (checked_sync compares them).
    r = checked_sync(world)
    assert r.scope == scope.SCOPED and r.mutations == {"delete": 1, "stamp": 1}
    _settle(world)
    world.assert_ok()
    assert list(iter_blocks(world.truth()[home])) == []
    assert list(iter_blocks(world.truth()[work])) == []
    # Side keeps the block it had (the work copy's), untouched: no delete + insert.
    (still,) = iter_blocks(world.truth()[side])
    assert still["id"] == on_side["id"] and still["etag"] == on_side["etag"]
    with world.ctx.store.session() as s:
        deletes = [
            m
            for m in s.exec(select(Mutation)).scalars()  # type: ignore[call-overload]
            if m.op == "delete"
        ]
    assert [(m.google_event_id, m.status, m.reason) for m in deletes] == [
        (on_home["id"], "done", "duplicate block: the target holds the same event")
    ]
