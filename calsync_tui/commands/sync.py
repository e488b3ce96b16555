"""`calsync-tui sync`: run sync cycles (--once, --dry-run). (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('sync', parents=[common], help='run sync cycles (--once, --dry-run)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("sync: not implemented yet")
