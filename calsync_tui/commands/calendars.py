"""`calsync-tui calendars`: list (refreshed from Google), enable, disable."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from calsync_tui.commands.output import print_json, print_table
from calsync_tui.context import AppContext
from calsync_tui.errors import CalsyncError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("calendars", parents=[common], help="list, enable, disable calendars")
    p.set_defaults(func=lambda args: p.print_usage() or 2)
    cal = p.add_subparsers(dest="calendars_command", metavar="ACTION")

    ls = cal.add_parser("list", parents=[common], help="calendars of every account (refreshed)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--offline", action="store_true", help="show the stored list, no API call")
    ls.set_defaults(func=run_list)

    en = cal.add_parser("enable", parents=[common], help="opt calendars into mirroring")
    en.add_argument("ids", nargs="+", metavar="ID", help="Google calendar id(s)")
    en.set_defaults(func=run_enable)

    dis = cal.add_parser("disable", parents=[common], help="stop mirroring calendars")
    dis.add_argument("ids", nargs="+", metavar="ID", help="Google calendar id(s)")
    dis.add_argument(
        "--remove-blocks",
        action="store_true",
        help="also delete the busy blocks this tool made on them (journaled)",
    )
    dis.set_defaults(func=run_disable)


def run_list(args: argparse.Namespace) -> int:
    from calsync_tui.engine.calendars import list_calendars, refresh_calendars
    from calsync_tui.google.accounts import account_emails

    with AppContext.from_args(args) as ctx:
        errors: list[str] = []
        if not args.offline:
            errors = refresh_calendars(ctx.store, ctx.gateway_for)
            accounts = account_emails(ctx.store)
            if accounts and len(errors) >= len(accounts):
                # Not one account answered: an empty or stale table would look like the truth.
                more = f" (and {len(errors) - 1} more account(s))" if len(errors) > 1 else ""
                raise CalsyncError(
                    f"could not read any account's calendars: {errors[0]}{more}; "
                    "--offline shows the stored list"
                )
        rows = list_calendars(ctx.store)
    if args.json:
        print_json({"calendars": [r.to_json() for r in rows], "errors": errors})
    else:
        print_table(
            ["GOOGLE ID", "SUMMARY", "ACCOUNT", "ROLE", "ENABLED", "MODE"],
            [
                [
                    r.google_id,
                    r.summary,
                    r.account,
                    r.access_role,
                    "yes" if r.enabled else "no",
                    r.engine_mode,
                ]
                for r in rows
            ],
        )
        for err in errors:
            print(f"warning: {err}", file=sys.stderr)
    return 0


def _with_known(ctx: AppContext, ids: list[str]) -> None:
    """Refresh from Google first when an id is not stored yet (enable before list)."""
    from calsync_tui.engine.calendars import list_calendars, refresh_calendars

    known = {r.google_id for r in list_calendars(ctx.store)}
    if any(i not in known for i in ids):
        refresh_calendars(ctx.store, ctx.gateway_for)


def run_enable(args: argparse.Namespace) -> int:
    from calsync_tui.engine.calendars import set_enabled
    from calsync_tui.locking import home_lock

    with AppContext.from_args(args) as ctx, home_lock(ctx.home, "calendars enable"):
        _with_known(ctx, args.ids)
        done = set_enabled(ctx.store, args.ids, True)
    print(f"enabled: {', '.join(done)}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from calsync_tui.engine.calendars import remove_blocks, set_enabled
    from calsync_tui.locking import home_lock

    with AppContext.from_args(args) as ctx, home_lock(ctx.home, "calendars disable"):
        _with_known(ctx, args.ids)
        if args.remove_blocks:
            for gid in args.ids:
                report = remove_blocks(
                    ctx.store, gid, ctx.gateway_for, batch_size=ctx.settings.batch_size
                )
                print(
                    f"{gid}: removed {report.done_total} busy block(s), {report.failed_total} failed"
                )
                if report.failed_total:
                    raise CalsyncError(f"{gid}: {report.errors[0]}; the calendar stays enabled")
        done = set_enabled(ctx.store, args.ids, False)
    print(f"disabled: {', '.join(done)}")
    return 0
