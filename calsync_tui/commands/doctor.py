"""`calsync-tui doctor`: check config, token, DB, API reachability. (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('doctor', parents=[common], help='check config, token, DB, API reachability')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("doctor: not implemented yet")
