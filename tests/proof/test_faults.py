"""Faults: the whole migration journey and N sync cycles with random user changes, once on a
clean sandbox and once at 20% rate limiting + 5% 5xx + 1% drop-after-write. Same end
state, no duplicate block, nothing lost (invariants), no failed journal row left."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from calsync_tui.migration.events import private_props
from calsync_tui.sandbox.server import SandboxServer
from local_store.models import Mutation
from tests.engine.world import World, iter_blocks, when
from tests.migration.conftest import Mess, build_mess

FAULTS = "rate=0.2,error5xx=0.05,drop_after_write=0.01,seed={seed}"


def _until(m: Mess, argv: tuple[str, ...], ok: Any, tries: int = 6) -> dict[str, Any]:
    """Run a migration command until `ok(result)`: under faults a step may need a resume."""
    out: dict[str, Any] = {}
    for _ in range(tries):
        code, stdout, err = m.cli(*argv, "--json")
        if code == 0:
            import json

            out = json.loads(stdout)
            if ok(out):
                return out
    raise AssertionError(f"{argv} never passed: {out or err}")


def _settle(w: World) -> None:
    """Cycles until one plans nothing and fails nothing (faults may leave retries)."""
    for _ in range(8):
        r = w.sync()
        if not r.planned and r.failed == 0 and not r.errors:
            return
    raise AssertionError(f"no convergence: {r.planned} {r.errors}")


def _change(w: World, m: Mess, rng: random.Random, step: int) -> None:
    """One random user change, chosen only from names so both runs do the same thing."""
    cals = (m.a, m.b, m.c)
    sources = {
        cal: sorted(
            (
                e
                for e in w.sandbox.events(cal)
                if private_props(e).get("calsync_type") != "busy_block"
            ),
            key=lambda e: str(e.get("summary")),
        )
        for cal in cals
    }
    kind = rng.choice(["create", "create", "move", "retitle", "delete", "free"])
    cal = rng.choice(cals)
    pool = [e for e in sources[cal] if not e.get("recurrence")]
    if kind == "create" or not pool:
        s, e = when(1 + rng.randrange(30), hours=8 + rng.randrange(10))
        w.put(cal, f"U{step}", start=s, end=e)
        return
    ev = rng.choice(pool)
    if kind == "move":
        s, e = when(1 + rng.randrange(30), hours=8 + rng.randrange(10))
        w.sandbox.patch_event(cal, ev["id"], {"start": s, "end": e})
    elif kind == "retitle":
        w.sandbox.patch_event(cal, ev["id"], {"summary": f"{ev.get('summary')} v{step}"})
    elif kind == "delete":
        w.sandbox.delete_event(cal, ev["id"])
    else:
        w.sandbox.patch_event(cal, ev["id"], {"transparency": "transparent"})


def journey(root: Path, faults: str | None, cycles: int, seed: int) -> list[list[tuple[Any, ...]]]:
    """Migration to cutover, then `cycles` cycles with changes; returns the end state."""
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        w = World(srv, root, requests_per_minute=10_000)
        try:
            m = build_mess(w)
            srv.set_faults(faults)
            _until(m, ("migrate", "discover"), lambda r: True)
            _until(m, ("migrate", "prepare"), lambda r: r["gate"]["passed"])
            plan = root / "plan.json"
            _until(m, ("migrate", "plan", "--out", str(plan)), lambda r: True)
            _until(
                m,
                ("migrate", "backfill", "--plan", str(plan), "--yes"),
                lambda r: r["gate"]["passed"],
            )
            _until(m, ("migrate", "rollout", "--percent", "100"), lambda r: True)
            for _ in range(8):
                w.sync()
                code, _, _ = m.cli("migrate", "rollout", "--check", "--json")
                if code == 0:
                    break
            _until(m, ("migrate", "cutover", "--yes"), lambda r: r["complete"])
            rng = random.Random(seed)
            for step in range(cycles):
                _change(w, m, rng, step)
                w.sync()
            if faults:
                assert srv.stats()["by_status"].keys() - {"200", "204"}, "no fault was drawn"
            srv.set_faults(None)
            _settle(w)
            w.assert_ok()
            with w.ctx.store.session() as s:
                rows = list(s.exec(select(Mutation)))
            assert not [r for r in rows if r.status in ("pending", "failed")], [
                (r.op, r.status) for r in rows if r.status in ("pending", "failed")
            ]
            state = []
            for cal in (m.a, m.b, m.c):
                events = srv.events(cal)
                sources = [private_props(e).get("calsync_source") for e in iter_blocks(events)]
                assert len(sources) == len(set(sources)), f"duplicate block on {cal}"
                state.append(
                    sorted(
                        (
                            str(e.get("summary")),
                            str(e.get("start")),
                            str(e.get("end")),
                            private_props(e).get("calsync_type"),
                            e.get("transparency", "opaque"),
                        )
                        for e in events
                    )
                )
            return state
        finally:
            w.close()


def _compare(tmp_path: Path, cycles: int, seed: int) -> None:
    clean = journey(tmp_path / "clean", None, cycles, seed)
    faulty = journey(tmp_path / "faulty", FAULTS.format(seed=seed), cycles, seed)
    assert faulty == clean


def test_faults_short(tmp_path: Path) -> None:
    _compare(tmp_path, cycles=5, seed=3)


@pytest.mark.campaign
@pytest.mark.parametrize("seed", [1, 2, 5, 8])
def test_faults_campaign(tmp_path: Path, seed: int) -> None:
    _compare(tmp_path, cycles=50, seed=seed)
