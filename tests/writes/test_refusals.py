"""Refusals against the strict sandbox: an invitation organized outside the account
refuses the stamp (403 forbiddenForNonOrganizer). The source is still mirrored, the
refusal is remembered with Google's reason, nothing is re-sent until the event changes,
and no cycle fails or counts it as an error."""

from __future__ import annotations

import json

from sqlmodel import select

from calsync_tui.migration.rollback import check_auto_rollback
from calsync_tui.service.status import status_report
from calsync_tui.writes.refusals import refusals
from local_store.models import EventState, Mutation
from tests.engine.test_scenarios import two_calendars
from tests.engine.world import World, when


def _stamps(world: World) -> list[Mutation]:
    with world.ctx.store.session() as s:
        rows = s.exec(select(Mutation).where(Mutation.op == "stamp").order_by(Mutation.id))  # type: ignore[arg-type]
        return list(rows)


def test_refused_stamp_is_remembered_not_resent_and_not_a_failure(world: World) -> None:
    a, b = two_calendars(world)
    start, end = when(2)
    invite = world.sandbox.invite(a, {"summary": "Board meeting", "start": start, "end": end})
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    assert r.success_rate == 1.0
    (blk,) = world.blocks_on(b)  # mirrored all the same (identity fallback)
    assert blk["summary"].endswith("Board meeting")
    (stamp,) = _stamps(world)
    assert stamp.status == "refused" and "forbiddenForNonOrganizer" in (stamp.error or "")
    with world.ctx.store.session() as s:
        row = s.exec(select(EventState).where(EventState.google_event_id == invite["id"])).one()
        assert row.refusal_reason == "forbiddenForNonOrganizer"
        assert row.refusal_version == (row.google_updated or row.etag)
        (ref,) = refusals(s)
        assert ref.event_title == "Board meeting" and ref.reason == "forbiddenForNonOrganizer"
        assert "organizer" in ref.advice
        assert check_auto_rollback(s, r) == []
    # quiet cycles: the stamp is not sent again, nothing fails
    for _ in range(2):
        world.sandbox.reset_stats()
        again = world.sync()
        assert again.failed == 0 and not again.errors, again.errors
        assert again.planned == {}  # held: a quiet cycle plans nothing
        assert world.sandbox.stats()["writes"] == 0
        assert world.sandbox.stats()["by_status"].get("403", 0) == 0
    assert len(_stamps(world)) == 1
    status = json.loads(json.dumps(status_report(world.ctx).to_json(), default=str))
    assert [x["reason"] for x in status["refusals"]] == ["forbiddenForNonOrganizer"]
    # the organizer changes the event: its new version is tried once more (and refused)
    later_start, later_end = when(2, hours=11)
    world.sandbox.patch_event(a, invite["id"], {"start": later_start, "end": later_end})
    moved = world.sync()
    assert moved.failed == 0 and not moved.errors, moved.errors
    assert [m.status for m in _stamps(world)] == ["refused", "refused"]
    (blk,) = world.blocks_on(b)
    assert blk["start"]["dateTime"] == later_start["dateTime"]
    world.assert_ok()
