"""Console test fixtures: a fixed, seeded store in a temporary home; no animations."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ["TEXTUAL_ANIMATIONS"] = "none"

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from tests.tui.dataset import build_store, fixed_clock

SIZE = (120, 40)


@pytest.fixture
def data_home(tmp_path: Path) -> AppHome:
    return build_store(tmp_path / "home")


@pytest.fixture
def make_app(data_home: AppHome) -> Callable[..., CalsyncApp]:
    """A console on the fixed data set, engine loop off, fixed clock."""

    def make(home: AppHome | None = None) -> CalsyncApp:
        app = CalsyncApp(home=(home or data_home).root, clock=fixed_clock, start_engine=False)
        app.animation_level = "none"
        return app

    return make
