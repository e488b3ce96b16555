"""A crash in the middle of an adoption converges: `adopt --yes` as a child process,
SIGKILLed after some of its journaled rewrites reached Google (kill -9; the pattern of
tests/proof/test_crash.py), then either `adopt --yes` again, or first a plain sync cycle
(the mixed state: some markers already ours, some still the other installation's) and
then `adopt --yes`. Every run ends with all 16 blocks this installation's, exactly one
block per source and target, no journal row pending, and an idle next cycle."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from calsync_tui import clock
from calsync_tui.settings import save_settings
from local_store.models import Mutation
from tests.adopt.conftest import Reinstall
from tests.adopt.test_adopt import _instances
from tests.engine.test_crash_and_cli import _kill_after_writes
from tests.engine.world import when
from tests.proof.test_crash import _integrity


def _start_adopt(r: Reinstall, old_id: str) -> subprocess.Popen[str]:
    r.new.ctx.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    env["CALSYNC_NOW"] = clock.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
    env["PYTHONPATH"] = str(Path.cwd())
    cmd = [sys.executable, "-m", "calsync_tui", "adopt", "--installation", old_id, "--yes"]
    cmd += ["--home", str(r.new.home.root), "--api-endpoint", r.sandbox.url]
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True
    )


@pytest.mark.parametrize(("kill_after", "sync_between"), [(3, True), (12, False)])
def test_killed_adoption_converges(
    reinstall: Reinstall, kill_after: int, sync_between: bool
) -> None:
    r = reinstall
    old_id, new_id = r.old.ctx.installation_id, r.new.ctx.installation_id
    r.new.settings.batch_size = 1  # one write per round trip: the kill lands between writes
    save_settings(r.new.home, r.new.settings)
    with clock.moved_to(clock.now() + timedelta(minutes=5)):
        s, e = when(4, hours=11)
        r.new.put(r.b, "Gym", start=s, end=e)  # this installation writes first: rewrite path
        assert r.cli_json(r.new, "sync", "--once")["failed"] == 0
        proc = _start_adopt(r, old_id)
        assert _kill_after_writes(r.new, proc, kill_after), "adopt finished before the kill"
        _integrity(r.new)
        assert _instances(r).get(old_id, 0) > 0  # killed in the middle: some still theirs
        if sync_between:
            rep = r.cli_json(r.new, "sync", "--once")
            assert rep["failed"] == 0, rep
        for _ in range(3):
            code, _out, err = r.cli(r.new, "adopt", "--installation", old_id, "--yes", "--json")
            if code == 0:
                break
        assert code == 0, err
        assert _instances(r) == {new_id: 16}
        rep = r.cli_json(r.new, "sync", "--once")
        assert rep["planned"] == {} and rep["failed"] == 0, rep["planned"]
        assert rep["foreign_installations"] == []
    r.new.ctx = type(r.new.ctx)(r.new.home, r.new.settings)
    with r.new.ctx.store.session() as sess:
        assert [m.id for m in sess.exec(select(Mutation)) if m.status == "pending"] == []
    r.new.assert_ok()
