"""Long crash campaign (`make campaign`): the demo world's backfill killed with SIGKILL at
random points, under injected faults, until it completes; then nothing is duplicated,
every journaled write is done once, and the engine's invariants hold after rollout."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from calsync_tui.migration.events import private_props
from tests.migration.conftest import Demo


def _kill_loop(d: Demo, plan: Path, rng: random.Random) -> int:
    """Run the backfill in a child, SIGKILL it mid-way, repeat until it exits 0."""
    for kills in range(40):
        proc = d.start_backfill(plan)
        assert proc.stderr is not None
        want = rng.randint(1, 4)
        seen = 0
        for line in proc.stderr:
            if line.startswith("progress:"):
                seen += 1
                if seen >= want:
                    time.sleep(rng.random() * 0.05)
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=60)
        if proc.returncode == 0:
            return kills
        assert proc.returncode == -signal.SIGKILL
    raise AssertionError("backfill never completed")


@pytest.mark.campaign
@pytest.mark.parametrize(
    ("faults", "exact"),
    [
        ("rate=0.1,error5xx=0.1,latency_ms=5,seed=3", True),
        ("error5xx=0.05,drop_after_write=0.05,seed=5", False),
    ],
)
def test_backfill_kill_campaign(demo: Demo, tmp_path: Path, faults: str, exact: bool) -> None:
    d = demo
    d.world.home.config_path.write_text(
        json.dumps(
            {"requests_per_minute": 10000, "extra": {"backoff_base": 0.01, "backoff_cap": 0.05}}
        )
    )
    assert d.cli("migrate", "discover")[0] == 0
    assert d.cli("migrate", "prepare")[0] == 0
    plan_file = tmp_path / "plan.json"
    plan = d.cli_json("migrate", "plan", "--out", str(plan_file), "--batch-size", "20")
    d.sandbox.reset_stats()
    d.sandbox.set_faults(faults)
    kills = _kill_loop(d, plan_file, random.Random(faults))
    d.sandbox.set_faults(None)
    assert kills >= 3
    if exact:
        assert d.sandbox.stats()["writes"] == plan["write_count"]
    blocks: Counter[tuple[str, str]] = Counter()
    for cal, events in d.google().items():
        for e in events:
            props = private_props(e)
            if (
                props.get("calsync_type") == "busy_block"
                and props.get("calsync_instance") == d.world.ctx.installation_id
            ):
                blocks[(cal, props["calsync_source"])] += 1
    assert blocks and max(blocks.values()) == 1
    d.cli_json("migrate", "rollout", "--percent", "100")
    for _ in range(3):
        r = d.world.sync()
        assert r.failed == 0 and r.cascades == 0, r.errors
    d.world.assert_ok()
