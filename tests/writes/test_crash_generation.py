"""kill -9 through a lost id's new generation: a real sync process is killed (SIGKILL)
when the lost insert's answer is in but nothing is recorded, when the next generation is
journaled but its insert not sent, and when that insert reached Google but its answer
was never recorded. Each time the next cycle converges: one block, under generation 1,
no duplicate on Google, nothing pending."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlmodel import select

from calsync_tui.context import AppContext
from local_store.models import Mutation
from tests.engine.test_scenarios import _settle, two_calendars
from tests.engine.world import World

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from calsync_tui.context import AppContext
    from calsync_tui.engine.cycle import run_cycle
    from calsync_tui.google.gateway import GoogleGateway
    from calsync_tui.home import AppHome
    from calsync_tui.settings import load_settings
    from calsync_tui.writes import lost_ids

    home, url, point = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "answered":  # the lost answer is in; nothing recorded, no generation yet
        lost_ids.replacement = lambda *a, **k: die()
    real = GoogleGateway.execute

    def execute(self, calls, **kw):
        renewed = any(c.op == "insert" and c.event_id.endswith("g1") for c in calls)
        if renewed and point == "journaled":
            die()  # generation journaled and committed; its insert not sent
        out = real(self, calls, **kw)
        if renewed and point == "sent":
            die()  # the insert reached Google; its answer is never recorded
        return out

    GoogleGateway.execute = execute
    ctx = AppContext(AppHome(home), load_settings(AppHome(home), url))
    run_cycle(ctx)
    print("cycle finished without reaching the kill point", file=sys.stderr)
    sys.exit(3)
    """
)


@pytest.mark.parametrize("point", ["answered", "journaled", "sent"])
def test_kill_9_around_a_new_generation_converges(world: World, point: str) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    (blk,) = world.blocks_on(b)
    first = str(blk["id"])
    world.sandbox.delete_as_person(b, first)
    world.ctx.close()  # the child is the only writer while it runs
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(world.home.root), world.sandbox.url, point],
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    world.ctx = AppContext(world.home, world.settings)
    with world.ctx.store.session() as s:
        rows = [(m.op, m.status, m.google_event_id) for m in s.exec(select(Mutation))]
    renewed = [r for r in rows if r[2] == first + "g1"]
    if point == "answered":
        assert renewed == []  # killed before the generation was journaled
    else:
        assert renewed == [("insert", "pending", first + "g1")]  # journaled before the write
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    _settle(world)
    world.assert_ok()
    (blk,) = world.blocks_on(b)
    assert blk["id"] == first + "g1"
    on_google = world.sandbox.events(b, include_cancelled=True)
    assert sorted(e["id"] for e in on_google) == [first, first + "g1"]  # no duplicate
    with world.ctx.store.session() as s:
        assert [m for m in s.exec(select(Mutation)) if m.status == "pending"] == []
