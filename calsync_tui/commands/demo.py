"""`calsync-tui demo`: sandbox + demo data + TUI (no Google account needed). (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('demo', parents=[common], help='sandbox + demo data + TUI (no Google account needed)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("demo: not implemented yet")
