"""`calsync-tui lineage`: source -> blocks with states and journal. (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('lineage', parents=[common], help='source -> blocks with states and journal')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("lineage: not implemented yet")
