"""Issue 17: a reinstall (new machine, lost home) and the earlier installation's blocks.

Through the real CLI against the sandbox: the notice on every face, adoption (take-over
with zero writes, rewrite journaled and undone by rollback level 2), what is refused, and
that a person's later changes flow to the adopted blocks."""

from __future__ import annotations

from typing import Any

from calsync_tui.engine.model import KEY_INSTANCE
from tests.adopt.conftest import Reinstall
from tests.engine.world import when


def _instances(r: Reinstall) -> dict[str, int]:
    out: dict[str, int] = {}
    for events in r.blocks().values():
        for e in events:
            inst = e["extendedProperties"]["private"][KEY_INSTANCE]
            out[inst] = out.get(inst, 0) + 1
    return out


def _foreign(report: dict[str, Any]) -> dict[str, Any]:
    (only,) = report["foreign_installations"]
    return dict(only)


def test_reinstall_without_adopting_doubles_nothing_touches_nothing_and_says_so(
    reinstall: Reinstall,
) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    before = r.google()
    r.sandbox.reset_stats()
    # the dry run says it
    dry = r.cli_json(r.new, "sync", "--once", "--dry-run")
    assert dry["planned"] == {}, dry["planned"]
    f = _foreign(dry)
    assert f["installation_id"] == old_id
    assert (f["stamps"], f["blocks"]) == (7, 14)
    assert {c["calendar"]: (c["stamps"], c["blocks"]) for c in f["calendars"]} == {
        r.a: (6, 1),
        r.b: (0, 7),
        r.c: (1, 6),
    }
    assert f["last_wrote"] and "adopt --installation " + old_id in f["advice"]
    code, out, _ = r.cli(r.new, "sync", "--once", "--dry-run")
    assert code == 0 and f"another installation {old_id}: 7 stamped events and 14 busy" in out
    # a real cycle: no write at all
    rep = r.cli_json(r.new, "sync", "--once")
    assert rep["mutations"] == {} and rep["failed"] == 0
    assert rep["classes"] == {"external_calsync": 21}, rep["classes"]
    assert r.sandbox.stats()["writes"] == 0
    assert r.google() == before
    # status (text and JSON) and migrate discover say it too
    st = r.cli_json(r.new, "status")
    assert _foreign(st)["blocks"] == 14 and _foreign(st)["stamps"] == 7
    code, out, _ = r.cli(r.new, "status")
    assert code == 0 and f"another installation {old_id}" in out and "what to do" in out
    disc = r.cli_json(r.new, "migrate", "discover")
    assert (_foreign(disc)["stamps"], _foreign(disc)["blocks"]) == (7, 14)
    code, out, _ = r.cli(r.new, "migrate", "discover")
    assert code == 0 and f"adopt --installation {old_id}" in out
    assert r.sandbox.stats()["writes"] == 0
    assert r.google() == before


def test_reinstall_then_adopt_takes_over_with_zero_writes_and_changes_flow(
    reinstall: Reinstall,
) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    before = r.google()
    with r.later():
        r.sandbox.reset_stats()
        dry = r.cli_json(r.new, "adopt", "--installation", old_id, "--dry-run")
        assert dry["strategy"] == "take_over" and dry["writes"] == 0, dry
        assert (dry["stamps"], dry["blocks"], dry["left_alone"]) == (7, 14, 0)
        assert dry["refusals"] == [] and not dry["done"]
        code, out, _ = r.cli(r.new, "adopt", "--installation", old_id, "--dry-run")
        assert code == 0 and "0 writes" in out and "would adopt 7 stamped events" in out
        assert r.sandbox.stats()["writes"] == 0
        done = r.cli_json(r.new, "adopt", "--installation", old_id, "--yes")
        assert done["done"] and done["written"] == 0
        assert done["cycle"]["mutations"] == {} and done["cycle"]["failed"] == 0
        assert done["cycle"]["classes"]["busy_block"] == 14
        assert done["cycle"]["foreign_installations"] == []
        assert r.sandbox.stats()["writes"] == 0
        assert r.google() == before
        assert r.new.ctx.installation_id == old_id
        assert r.cli_json(r.new, "status")["foreign_installations"] == []
        # a person moves one source by three hours and renames it, deletes another
        s, e = when(1, hours=12)
        r.sandbox.patch_event(r.a, r.ids["Standup"], {"start": s, "end": e, "summary": "Standup 2"})
        r.sandbox.delete_event(r.a, r.ids["Review"])
        rep = r.cli_json(r.new, "sync", "--once")
        assert rep["failed"] == 0 and rep["mutations"] == {"patch": 2, "delete": 2}, rep
    blocks = r.blocks()
    moved = [b for evs in blocks.values() for b in evs if b["summary"] == "Busy - Standup 2"]
    assert len(moved) == 2 and all(b["start"]["dateTime"] == s["dateTime"] for b in moved)
    assert not [b for evs in blocks.values() for b in evs if b["summary"] == "Busy - Review"]
    assert sum(len(v) for v in blocks.values()) == 12
    r.new.assert_ok()


def test_adopting_after_this_installation_wrote_rewrites_and_rollback_undoes_it(
    reinstall: Reinstall,
) -> None:
    r = reinstall
    old_id, new_id = r.old.ctx.installation_id, r.new.ctx.installation_id
    with r.later():
        # the new installation writes first: a new source gets its stamp and blocks
        s, e = when(4, hours=11)
        r.new.put(r.b, "Gym", start=s, end=e)
        rep = r.cli_json(r.new, "sync", "--once")
        assert rep["mutations"] == {"insert": 2, "stamp": 1}, rep["mutations"]
        before = r.google()
        dry = r.cli_json(r.new, "adopt", "--installation", old_id, "--dry-run")
        # 3 singles + 1 series master + Dentist = 5 stamps, 14 blocks
        assert dry["strategy"] == "rewrite" and dry["writes"] == 19, dry
        assert dry["writes_by_op"] == {"stamp": 5, "patch": 14}
        r.sandbox.reset_stats()
        done = r.cli_json(r.new, "adopt", "--installation", old_id, "--yes")
        assert done["written"] == 19 and done["failed"] == 0
        assert done["cycle"]["mutations"] == {} and done["cycle"]["failed"] == 0
        assert r.sandbox.stats()["writes"] == 19
        assert _instances(r) == {new_id: 16}
        assert r.new.ctx.installation_id == new_id
        r.new.assert_ok()
        assert not r.cli_json(r.new, "sync", "--once")["mutations"]
        # rollback level 2 puts Google back as it was before the adoption
        preview = r.cli_json(r.new, "migrate", "rollback", "--level", "2", "--dry-run")
        assert len([s for s in preview["steps"] if s["action"] != "none"]) == 19, preview
        rb = r.cli_json(r.new, "migrate", "rollback", "--level", "2", "--yes")
        assert rb["journal"]["failed"] == 0, rb
        assert r.google() == before
        assert _instances(r) == {old_id: 14, new_id: 2}


def test_adopting_an_installation_still_writing_is_refused(reinstall: Reinstall) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    before = r.google()
    # it wrote seconds ago (within the 60 s sync interval): refused, the reason shown
    code, out, err = r.cli(r.new, "adopt", "--installation", old_id, "--yes")
    assert code == 1 and "within the last sync interval" in err, (out, err)
    dry = r.cli_json(r.new, "adopt", "--installation", old_id, "--dry-run", code=1)
    assert dry["refusals"] and "may still be running" in dry["refusals"][0]
    assert r.google() == before
    # both running: the new one writes, then the old one writes after it
    with r.later(10):
        s, e = when(4, hours=11)
        r.new.put(r.b, "Gym", start=s, end=e)
        assert r.cli_json(r.new, "sync", "--once")["failed"] == 0
    with r.later(20):
        s, e = when(1, hours=13)
        r.sandbox.patch_event(r.a, r.ids["Lunch"], {"start": s, "end": e})
        assert r.old.sync().mutations == {"patch": 2}
        rep = r.cli_json(r.new, "sync", "--once")
        f = _foreign(rep)
        assert f["concurrent"] and "two installations are running" in f["advice"]
        assert _foreign(r.cli_json(r.new, "status"))["concurrent"]
    with r.later(30):  # an interval later it is still refused: both ran at once
        code, _, err = r.cli(r.new, "adopt", "--installation", old_id, "--yes")
        assert code == 1 and "two installations are running" in err
        forced = r.cli_json(r.new, "adopt", "--installation", old_id, "--yes", "--force")
        assert forced["done"] and forced["failed"] == 0
    r.new.assert_ok()


def test_blocks_whose_source_is_not_on_your_calendars_are_left_alone(
    reinstall: Reinstall,
) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    # the new installation enables only ann's calendars: bob's Dentist is not a source
    r.cli(r.new, "calendars", "disable", r.c)
    with r.later():
        dry = r.cli_json(r.new, "adopt", "--installation", old_id, "--dry-run")
        # Dentist's blocks on a and b are left alone
        assert (dry["stamps"], dry["blocks"], dry["left_alone"]) == (6, 6, 2), dry
        assert dry["strategy"] == "rewrite"  # a take-over would orphan those two
        assert dry["foreign"]["unsourced_blocks"] == 2
        _, out, _ = r.cli(r.new, "adopt", "--installation", old_id, "--dry-run")
        assert "left alone: 2 block(s) whose source is not on your enabled calendars" in out
        done = r.cli_json(r.new, "adopt", "--installation", old_id, "--yes")
        assert done["written"] == 4 + 6 and done["cycle"]["mutations"] == {}
        # the Dentist blocks stay the other installation's, untouched
        dentist = [
            b for cal in (r.a, r.b) for b in r.blocks()[cal] if b["summary"] == "Busy - Dentist"
        ]
        assert len(dentist) == 2
        assert {d["extendedProperties"]["private"][KEY_INSTANCE] for d in dentist} == {old_id}
    r.new.assert_ok()
