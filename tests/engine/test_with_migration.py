"""The engine through a whole migration (the migration part's CLI, in process): after
backfill + rollout the sync cycle writes nothing; invariants hold after cutover too."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from calsync_tui.cli import main
from calsync_tui.context import AppContext
from calsync_tui.engine.calendars import list_calendars, refresh_calendars, set_enabled
from calsync_tui.google.accounts import register_static_token
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, build_demo
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import save_settings
from tests.engine.world import World


def test_sync_across_backfill_rollout_and_cutover(sb: SandboxServer, tmp_path: Path) -> None:
    build_demo(sb, seed=5, events=250)
    w = World(sb, tmp_path, requests_per_minute=10_000)
    for email, token in DEMO_ACCOUNTS:
        register_static_token(w.home, w.ctx.store, email, token)
    refresh_calendars(w.ctx.store, w.ctx.gateway_for)
    set_enabled(w.ctx.store, sorted({c.google_id for c in list_calendars(w.ctx.store)}), True)
    save_settings(w.home, w.settings)
    w.ctx.close()
    common = ["--home", str(w.home.root), "--api-endpoint", sb.url]

    def run(*args: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([*args, *common])
        assert rc == 0, (args, err.getvalue()[-500:])
        return out.getvalue()

    def sync() -> dict[str, object]:
        return json.loads(run("sync", "--once", "--json"))  # type: ignore[no-any-return]

    try:
        run("migrate", "discover")
        run("migrate", "prepare")
        plan = str(w.home.root / "plan.json")
        run("migrate", "plan", "--out", plan)
        run("migrate", "backfill", "--plan", plan, "--yes")
        run("migrate", "rollout", "--percent", "100")
        first = sync()
        assert first["planned"] == {} and first["failed"] == 0  # backfill left nothing to do
        w.ctx = AppContext(w.home, w.settings)
        w.assert_ok()
        w.ctx.close()
        for _ in range(w.settings.rollout_clean_cycles - 1):  # the rollout gate's clean cycles
            assert sync()["planned"] == {}
        run("migrate", "cutover", "--yes")
        for _ in range(4):
            if sync()["planned"] == {}:
                break
        idle = sync()
        assert idle["planned"] == {} and idle["stuck"] == 0
        w.ctx = AppContext(w.home, w.settings)
        w.assert_ok()
    finally:
        w.close()
