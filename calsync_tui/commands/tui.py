"""`calsync-tui` with no command: open the console on the configured home."""

from __future__ import annotations

import argparse
from typing import Any

from textual.app import App


def run_app(app: App[Any], *, headless: bool = False) -> int:
    """Run the console; its exit code is non-zero when it ended on a traceback."""
    app.run(headless=headless)
    return int(app.return_code or 0)


def run_tui(args: argparse.Namespace) -> int:
    from calsync_tui.app import CalsyncApp

    return run_app(CalsyncApp(home=args.home, api_endpoint=args.api_endpoint))
