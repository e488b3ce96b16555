"""`calsync-tui sandbox serve`: the local Google Calendar v3 server, with the demo world.

Prints the URL and the demo accounts' tokens (sandbox tokens, not secrets) and serves
until Ctrl-C or SIGTERM. `--state FILE` loads the world from FILE when it exists (instead
of building the demo world) and writes it back (0600) on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from calsync_tui.errors import CalsyncError, UsageError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sandbox", parents=[common], help="local Google Calendar v3 server (serve)")
    inner = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    s = inner.add_parser("serve", parents=[common], help="serve the sandbox until Ctrl-C")
    s.add_argument("--port", type=int, default=8765, help="port (0 = any free port; default 8765)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--seed", type=int, default=7, help="demo world seed (default 7)")
    s.add_argument(
        "--events", type=int, default=400, help="demo events (0 = accounts and calendars only)"
    )
    s.add_argument(
        "--faults",
        default=None,
        help='fault spec, e.g. "rate=0.2,error5xx=0.05,latency_ms=30,drop_after_write=0.01,seed=7"',
    )
    s.add_argument(
        "--state", default=None, help="load the world from FILE if it exists; save on exit"
    )
    s.add_argument("--no-quota", action="store_true", help="disable the sliding-window quotas")
    s.add_argument(
        "--quota-per-user", type=int, default=600, help="requests a minute per user (600)"
    )
    s.add_argument(
        "--quota-per-project",
        type=int,
        default=10_000,
        help="requests a minute for all users together (10000)",
    )
    s.add_argument(
        "--lenient",
        default="",
        help="comma-separated strict behaviours to switch off (see the sandbox README), "
        "e.g. windowed_tokens,batch_failures",
    )
    s.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, build_demo
    from calsync_tui.sandbox.faults import coerce
    from calsync_tui.sandbox.server import SandboxServer

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.events < 0:
        raise UsageError("--events must be >= 0")
    faults = coerce(args.faults)
    state = Path(args.state) if args.state else None
    loaded: dict[str, Any] | None = None
    if state is not None and state.exists():
        try:
            loaded = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalsyncError(f"cannot read sandbox state {state}: {exc}") from None
    if args.quota_per_user < 1 or args.quota_per_project < 1:
        raise UsageError("--quota-per-user and --quota-per-project must be >= 1")
    quota: dict[str, Any] = (
        {"quota_per_user": None, "quota_per_project": None}
        if args.no_quota
        else {"quota_per_user": args.quota_per_user, "quota_per_project": args.quota_per_project}
    )
    from calsync_tui.sandbox.strict import lenient_set

    try:
        lenient = lenient_set(n.strip() for n in args.lenient.split(",") if n.strip())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    srv = SandboxServer(port=args.port, faults=faults, host=args.host, lenient=lenient, **quota)
    if loaded is not None:
        try:
            srv.load(loaded)
        except (ValueError, KeyError, TypeError) as exc:
            raise CalsyncError(f"{state} is not a sandbox state file: {exc}") from None
        what = f"state from {state}"
    else:
        truth = build_demo(srv, seed=args.seed, events=args.events)
        what = f"demo world seed {args.seed}, {truth.totals()['stored_events']} events"
    try:
        srv.start()
    except OSError as exc:
        raise CalsyncError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"sandbox serving at {srv.url} ({what})", flush=True)
    for email, token in DEMO_ACCOUNTS:
        print(f"  account {email}  token {token}", flush=True)
    if faults is not None:
        print(f"  faults {faults.to_spec()}", flush=True)
    if lenient:
        print(f"  lenient {','.join(sorted(lenient))}", flush=True)
    print("  stats at " + srv.url + "_sandbox/stats; Ctrl-C to stop", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        srv.stop()
        if state is not None:
            from calsync_tui.home import write_private

            write_private(state, json.dumps(srv.dump(), ensure_ascii=False))
            print(f"sandbox state saved to {state}", flush=True)
    return 0
