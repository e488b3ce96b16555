"""`calsync-tui migrate`: discover, prepare, plan, backfill, rollout, cutover, rollback. (Skeleton: filled in by its issue.)"""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser('migrate', parents=[common], help='discover, prepare, plan, backfill, rollout, cutover, rollback')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise CalsyncError("migrate: not implemented yet")
