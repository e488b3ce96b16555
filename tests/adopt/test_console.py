"""The console says it and adopts behind a confirmation that shows the dry run (Pilot,
real store, real sandbox)."""

from __future__ import annotations

import os

os.environ["TEXTUAL_ANIMATIONS"] = "none"

from textual.widgets import Static

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.confirm import ConfirmScreen
from tests.adopt.conftest import Reinstall


async def test_dashboard_notice_then_adopt_with_the_dry_run_in_the_modal(
    reinstall: Reinstall,
) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    assert r.cli_json(r.new, "sync", "--once")["mutations"] == {}  # the store knows them
    with r.later():
        app = CalsyncApp(home=r.new.home.root, api_endpoint=r.sandbox.url, start_engine=False)
        app.animation_level = "none"
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            notice = str(app.screen.query_one("#dash-foreign", Static).render())
            assert f"another installation {old_id}" in notice and "A shows" in notice
            await pilot.press("A")
            await app.workers.wait_for_complete()
            await pilot.pause()
            modal = app.screen
            assert isinstance(modal, ConfirmScreen)
            text = "\n".join(modal.lines)
            assert "would adopt 7 stamped events and 14 busy blocks; 0 writes" in text
            await pilot.press("n")  # cancelling changes nothing
            await pilot.pause()
            assert r.new.home.installation_id() != old_id
            await pilot.press("A")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert r.new.home.installation_id() == old_id
            await pilot.pause()
            assert not app.screen.query_one("#dash-foreign", Static).display
    assert r.cli_json(r.new, "status")["foreign_installations"] == []
    r.new.assert_ok()
