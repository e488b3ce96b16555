"""Fixtures: a sandbox server in this process and a World (home, store, accounts) on it."""

from __future__ import annotations

import os

os.environ["TEXTUAL_ANIMATIONS"] = "none"

from tests.engine.conftest import sb, world  # the same fixtures as the engine's

__all__ = ["sb", "world"]
