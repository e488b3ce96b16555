"""`calsync-tui status`: phase, modes, counts per class, metrics. (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('status', parents=[common], help='phase, modes, counts per class, metrics')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("status: not implemented yet")
