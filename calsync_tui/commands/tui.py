"""`calsync-tui` with no command: open the console on the configured home."""

from __future__ import annotations

import argparse


def run_tui(args: argparse.Namespace) -> int:
    from calsync_tui.app import CalsyncApp

    app = CalsyncApp(home=args.home, api_endpoint=args.api_endpoint)
    app.run()
    return 0
