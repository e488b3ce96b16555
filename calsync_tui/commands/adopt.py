"""`calsync-tui adopt --installation ID [--dry-run] [--yes] [--force]`: take the stamps and
busy blocks of an earlier installation (a new machine, a lost home) on your enabled
calendars over; see `calsync_tui.engine.adopt`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from calsync_tui.commands.output import print_json
from calsync_tui.context import AppContext
from calsync_tui.errors import CalsyncError, UsageError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "adopt",
        parents=[common],
        help="take an earlier installation's stamps and blocks over",
        description="Make another installation's user-event stamps and busy blocks on your "
        "enabled calendars this installation's (after a new machine or a lost home). "
        "--dry-run shows what it would do and writes nothing.",
    )
    p.add_argument("--installation", required=True, metavar="ID", help="its installation id")
    p.add_argument("--dry-run", action="store_true", help="show the adoption; write nothing")
    p.add_argument("--yes", action="store_true", help="adopt without asking")
    p.add_argument(
        "--force",
        action="store_true",
        help="adopt even if it wrote recently, or blocks whose source is not on your calendars",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{question.rstrip('?')}: refusing without --yes (stdin is not a terminal)"
        )
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise CalsyncError("cancelled; nothing was written")


def _show(adoption: Any, args: argparse.Namespace) -> None:
    if args.json:
        print_json(adoption.to_json())
    else:
        prefix = "" if adoption.done else "dry run: "
        for i, line in enumerate(adoption.lines()):
            print((prefix if i == 0 else "") + line, flush=True)


def run(args: argparse.Namespace) -> int:
    from calsync_tui.engine.adopt import plan_adoption, run_adoption
    from calsync_tui.home import set_installation_id
    from calsync_tui.locking import home_lock

    with AppContext.from_args(args) as ctx, home_lock(ctx.home, "adopt"):
        preview = plan_adoption(ctx, args.installation, force=args.force)
        if args.dry_run:
            _show(preview, args)
            return 1 if preview.refusals() else 0
        refusals = preview.refusals()
        if refusals:
            if not args.json:
                _show(preview, args)
            raise CalsyncError("not adopted: " + "; ".join(refusals))
        if not args.yes and not args.json:
            _show(preview, args)
        _confirm(args, f"adopt installation {preview.installation_id}?")
        adoption = run_adoption(
            ctx,
            args.installation,
            force=args.force,
            set_installation_id=lambda value: set_installation_id(ctx.home, value),
        )
        _show(adoption, args)
        cycle = adoption.cycle
        return 1 if cycle is not None and (cycle.failed or cycle.errors) else 0
