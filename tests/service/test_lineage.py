"""The one lineage reader, through both faces, on a recurring series with an exception
(one instance moved and retitled) and cancelled instances (one before it was mirrored,
one after): lineage is per instance; the series master's id is refused with an answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import Static, Tree

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.lineage import LineageScreen
from calsync_tui.service.lineage import Lineage, SeriesId, UnknownEvent, lineage
from tests.engine.test_crash_and_cli import cli
from tests.engine.test_scenarios import _settle, two_calendars
from tests.engine.world import World, when


def _series(world: World) -> tuple[str, str, dict[str, Any], list[dict[str, Any]]]:
    a, b = two_calendars(world)
    s, e = when(1, hours=9, tz="Europe/Paris")
    master = world.put(a, "Standup", start=s, end=e, recurrence=["RRULE:FREQ=DAILY;COUNT=5"])
    inst = world.sandbox.events(a, single_events=True)
    assert len(inst) == 5
    moved_start, moved_end = when(2, hours=15, tz="Europe/Paris")
    world.sandbox.patch_event(
        a, inst[1]["id"], {"summary": "Late standup", "start": moved_start, "end": moved_end}
    )
    world.sandbox.delete_event(a, inst[2]["id"])  # cancelled before it was ever mirrored
    _settle(world)
    world.sandbox.delete_event(a, inst[3]["id"])  # cancelled after: its block goes
    _settle(world)
    return a, b, master, inst


def _read(world: World, ident: str) -> Lineage:
    with world.ctx.store.session() as s:
        return lineage(s, ident)


def _labels(tree: Tree[None]) -> list[str]:
    out: list[str] = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        out.append(str(node.label))
        stack.extend(node.children)
    return out


async def test_series_lineage_is_per_instance_in_both_faces(world: World) -> None:
    _a, b, master, inst = _series(world)

    # an ordinary instance: itself and its one block
    plain = _read(world, inst[0]["id"])
    assert plain.source is not None and plain.source.summary == "Standup"
    assert plain.source.recurring_event_id == master["id"]
    assert [(x.calendar, x.status != "deleted") for x in plain.blocks] == [(b, True)]
    # its correlation id names the same lineage
    assert _read(world, plain.source.correlation_id).to_json() == {
        **plain.to_json(),
        "query": plain.source.correlation_id,
    }

    # the exception: the same instance with its new title and time, and so is its block
    moved = _read(world, inst[1]["id"])
    assert moved.source is not None and moved.source.summary == "Late standup"
    assert [x.calendar for x in moved.blocks] == [b]
    block = moved.blocks[0]
    assert block.start == moved.source.start and block.status != "deleted"
    assert "Late standup" in block.summary
    assert [j.op for j in block.journal][:1] == ["insert"]

    # cancelled after it was mirrored: the instance is marked deleted, so is its block
    gone = _read(world, inst[3]["id"])
    assert gone.source is not None and gone.source.status == "deleted"
    assert [x.status for x in gone.blocks] == ["deleted"]
    assert "delete" in [j.op for j in gone.blocks[0].journal]

    # cancelled before it was ever mirrored: nothing is known of it
    with pytest.raises(UnknownEvent):
        _read(world, inst[2]["id"])

    # the master's id: refused with how many instances are known and one to ask for
    with pytest.raises(SeriesId) as refused:
        _read(world, master["id"])
    assert "recurring series" in str(refused.value) and refused.value.instances == 4

    # the CLI prints exactly what the reader returns, and refuses the master in one line
    for ident in (inst[0]["id"], inst[1]["id"], inst[3]["id"]):
        proc = cli(world, "lineage", "--json", ident, check=True)
        assert json.loads(proc.stdout) == _read(world, ident).to_json()
    proc = cli(world, "lineage", master["id"])
    assert proc.returncode == 1 and str(refused.value) in proc.stderr
    proc = cli(world, "lineage", inst[1]["id"])
    assert "Late standup" in proc.stdout and b in proc.stdout

    # the console draws the same reader's answer
    app = CalsyncApp(home=world.home, start_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for ident, title in ((inst[1]["id"], "Late standup"), (inst[3]["id"], "Standup")):
            app.show_lineage(ident)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LineageScreen)
            labels = _labels(screen.query_one("#lineage-tree", Tree))
            assert any(title in lab and "source" in lab for lab in labels), labels
            assert any("busy blocks (1)" in lab for lab in labels), labels
            if ident == inst[3]["id"]:
                assert any("deleted" in lab for lab in labels), labels
            screen.dismiss()
            await pilot.pause()
        app.show_lineage(master["id"])
        await pilot.pause()
        shown = str(app.screen.query_one("#lineage-title", Static).render())
        assert "recurring series" in shown and "4 instance(s)" in shown
