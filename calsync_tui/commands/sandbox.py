"""`calsync-tui sandbox`: local Google Calendar v3 server (serve). (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('sandbox', parents=[common], help='local Google Calendar v3 server (serve)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("sandbox: not implemented yet")
