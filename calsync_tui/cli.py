"""Headless CLI (argparse: stdlib, exit 2 with usage on bad arguments, no extra dependency).

Each command group lives in `calsync_tui/commands/<group>.py` with a `register(sub, common)`
function; handlers take the parsed args and return an exit code. `CalsyncError` becomes
one line on stderr and its exit code (1, or 2 for usage), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from calsync_tui import __version__
from calsync_tui.errors import CalsyncError
from local_store.errors import StoreError

COMMAND_MODULES = (
    "demo",
    "sandbox",
    "auth",
    "calendars",
    "sync",
    "status",
    "lineage",
    "migrate",
    "doctor",
    "adopt",  # adoption of an earlier installation's blocks (issue 17)
    "home",  # home export/import: a portable identity (issue 17)
)


def common_parser() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="app home (env CALSYNC_HOME; default: user data dir)",
    )
    common.add_argument(
        "--api-endpoint",
        dest="api_endpoint",
        default=argparse.SUPPRESS,
        help="Google API root URL, e.g. http://127.0.0.1:8080/ (env CALSYNC_API_ENDPOINT)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    import importlib

    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="calsync-tui",
        description="Mirror busy blocks between your Google calendars; migrate to UUID correlation.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"calsync-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"calsync_tui.commands.{name}")
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "home"):
        args.home = None
    if not hasattr(args, "api_endpoint"):
        args.api_endpoint = None
    try:
        if args.command is None:
            from calsync_tui.commands.tui import run_tui

            return run_tui(args)
        handler = args.func
        return int(handler(args))
    except CalsyncError as exc:
        print(f"calsync-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except StoreError as exc:
        print(f"calsync-tui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("calsync-tui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
