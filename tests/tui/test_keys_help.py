"""Issue 16 defects 9 and 10: help is generated from the bindings; the key bar never
garbles at 80x24 or 120x40."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.help import HelpScreen
from calsync_tui.widgets.key_bar import KeyBar, key_items

SCREENS = ("d", "e", "m", "j", "a", "u")


def _rows(help_screen: HelpScreen) -> dict[str, dict[str, str]]:
    return {name: {r.keys: r.text for r in rows} for name, rows in help_screen.sections}


async def test_help_lists_every_key_once_with_what_it_does(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = _rows(app.screen)
        assert set(rows) == {"Event list", "Events screen", "Everywhere"}
        assert rows["Event list"]["⏎"].startswith("Show source → blocks")  # lineage
        assert rows["Events screen"]["["] == "Previous calendar"
        assert rows["Events screen"]["]"] == "Next calendar"
        assert all(k.strip() for section in rows.values() for k in section)  # no blank key
        await pilot.press("escape", "m", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = _rows(app.screen)
        mig = rows["Migration screen"]
        assert [mig[k].split(":")[0] for k in ("1", "2", "3")] == [
            "Rollback level 1",
            "Rollback level 2",
            "Rollback level 3",
        ]
        assert sum(1 for k in mig if "-" in k.split("/")) == 1  # one row for minus
        assert mig["+/="].startswith("Raise the rollout")
        # Global keys are listed once, under Everywhere, not repeated per screen.
        everywhere = rows["Everywhere"]
        for key in ("d", "e", "m", "j", "a", "u", "s", "?", "q", "^p"):
            assert key in everywhere, key
        assert not set(mig) & set(everywhere)
        assert "Journal" in everywhere["j"] or "write" in everywhere["j"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_key_bar_shows_whole_items_that_fit(
    make_app: Callable[..., CalsyncApp], size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for key in SCREENS:
            await pilot.press(key)
            await pilot.pause()
            bar = app.screen.query_one(KeyBar)
            text = str(bar.render())
            assert len(text) <= bar.size.width, (key, text)
            labels = {f"{i.keys} {i.label}" for i in key_items(app.screen, app)}
            shown = [part for part in text.split("  ") if part]
            assert shown and all(part in labels for part in shown), (key, shown)
            assert shown[-2:] == ["? Help", "q Quit"]


async def test_the_screen_behind_help_keeps_living(make_app: Callable[..., CalsyncApp]) -> None:
    from textual.widgets import Static

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        behind = app.screen_stack[-2]
        app.engine_state = "running"
        app.cycle_progress = (120, 444)
        app._update_status()
        await pilot.pause()
        line = behind.query_one("#status-line", Static)
        assert "writing 120/444" in str(line.render())
