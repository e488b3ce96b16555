"""kill -9 through a lost id's new generation: a real sync process is killed (SIGKILL)
when the lost insert's answer is in but nothing is recorded, when the next generation is
journaled but its insert not sent, and when that insert reached Google but its answer
was never recorded; for a first loss (generation 1) and a second (generation 2). Each
time the next cycle converges: one block, under the new generation, no duplicate on
Google, nothing pending. The same for rollback level 2 re-creating purged events under a
new id (`migrate rollback` killed, `migrate resume` finishes)."""

from __future__ import annotations

import json
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
from tests.migration.conftest import Mess

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

    home, url, point, suffix = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    entry = sys.argv[5:]  # CLI arguments, or none: one engine cycle

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "answered":  # the lost answer is in; nothing recorded, no generation yet
        lost_ids.replacement = lambda *a, **k: die()
    real = GoogleGateway.execute

    def execute(self, calls, **kw):
        renewed = any(c.op == "insert" and c.event_id.endswith(suffix) for c in calls)
        if renewed and point == "journaled":
            die()  # generation journaled and committed; its insert not sent
        out = real(self, calls, **kw)
        if renewed and point == "sent":
            die()  # the insert reached Google; its answer is never recorded
        return out

    GoogleGateway.execute = execute
    if entry:
        from calsync_tui.cli import main

        main([*entry, "--home", str(home), "--api-endpoint", url])
    else:
        ctx = AppContext(AppHome(home), load_settings(AppHome(home), url))
        run_cycle(ctx)
    print("run finished without reaching the kill point", file=sys.stderr)
    sys.exit(3)
    """
)


def _kill_9(home: Path, url: str, point: str, suffix: str, *entry: str) -> None:
    """Run the child (one engine cycle, or the CLI with `entry`) until it is killed."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), url, point, suffix, *entry],
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]


@pytest.mark.parametrize("generation", [1, 2])
@pytest.mark.parametrize("point", ["answered", "journaled", "sent"])
def test_kill_9_around_a_new_generation_converges(
    world: World, point: str, generation: int
) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    (blk,) = world.blocks_on(b)
    first = str(blk["id"])
    ids = [first] + [f"{first}g{n}" for n in range(1, generation + 1)]
    for n in range(1, generation):  # earlier losses, settled: the block is at g<n>
        world.sandbox.delete_as_person(b, ids[n - 1])
        _settle(world)
        assert [e["id"] for e in world.blocks_on(b)] == [ids[n]]
    world.sandbox.delete_as_person(b, ids[-2])
    world.ctx.close()  # the child is the only writer while it runs
    _kill_9(world.home.root, world.sandbox.url, point, f"g{generation}")
    world.ctx = AppContext(world.home, world.settings)
    with world.ctx.store.session() as s:
        rows = [(m.op, m.status, m.google_event_id) for m in s.exec(select(Mutation))]
    renewed = [r for r in rows if r[2] == ids[-1]]
    if point == "answered":
        assert renewed == []  # killed before the generation was journaled
    else:
        assert renewed == [("insert", "pending", ids[-1])]  # journaled before the write
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    _settle(world)
    world.assert_ok()
    (blk,) = world.blocks_on(b)
    assert blk["id"] == ids[-1]
    on_google = world.sandbox.events(b, include_cancelled=True)
    assert sorted(e["id"] for e in on_google) == ids  # no duplicate
    with world.ctx.store.session() as s:
        assert [m for m in s.exec(select(Mutation)) if m.status == "pending"] == []


@pytest.mark.parametrize("point", ["journaled", "sent"])
def test_kill_9_in_a_rollback_recreating_under_a_new_id_converges(
    mess: Mess, tmp_path: Path, point: str
) -> None:
    """Rollback level 2 re-creates events the backfill deleted and the trash purged since
    under a new id: killed with the new generation's insert journaled but not sent, or
    sent but its answer not recorded; `migrate resume` finishes it, each event comes
    back once, as people saw it."""
    m = mess
    pre = m.google()
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan))
    assert m.cli_json("migrate", "backfill", "--plan", str(plan), "--yes")["gate"]["passed"]
    purged = set(m.sandbox.purge_trash(m.b))
    assert purged
    m.world.ctx.close()
    _kill_9(
        m.world.home.root,
        m.sandbox.url,
        point,
        "g1",
        "migrate",
        "rollback",
        "--level",
        "2",
        "--yes",
    )
    m.world.ctx = AppContext(m.world.home, m.world.settings)
    code, out, err = m.cli("migrate", "resume", "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["journal"]["failed"] == 0 and done["journal"]["pending"] == 0, done
    now = m.google()

    def seen(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
        keep = ("summary", "start", "end", "transparency", "description")
        return sorted(tuple(str(e.get(k)) for k in keep) for e in events)

    assert {c: seen(v) for c, v in now.items()} == {c: seen(v) for c, v in pre.items()}
    ids_now = [str(e["id"]) for e in now[m.b]]
    assert len(ids_now) == len(set(ids_now)) and not purged & set(ids_now)
    assert sum(i.endswith("g1") for i in ids_now) == len(purged)  # each back once
    with m.world.ctx.store.session() as s:
        assert [x for x in s.exec(select(Mutation)) if x.status == "pending"] == []
