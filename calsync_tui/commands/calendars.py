"""`calsync-tui calendars`: list, enable, disable calendars. (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('calendars', parents=[common], help='list, enable, disable calendars')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("calendars: not implemented yet")
