"""`calsync-tui lineage ID`: source -> blocks with states and journal entries
(`service.lineage`, the reader the console's lineage screen draws too)."""

from __future__ import annotations

import argparse
from typing import Any

from calsync_tui.commands.output import print_json
from calsync_tui.context import AppContext


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("lineage", parents=[common], help="source -> blocks with states and journal")
    p.add_argument("id", metavar="EVENT_OR_CORRELATION_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calsync_tui.service.labels import class_name
    from calsync_tui.service.lineage import lineage

    with AppContext.from_args(args) as ctx, ctx.store.session() as session:
        result = lineage(session, args.id)
    if args.json:
        print_json(result.to_json())
        return 0
    src = result.source
    if src is None:
        print(f"source: none ({result.note or 'the block has no known source'})")
    else:
        print(f"source: {src.summary!r} {src.calendar}/{src.google_event_id}")
        print(
            f"  correlation {src.correlation_id}  class {class_name(src.event_class)}  status {src.status}"
        )
        for j in src.journal:
            print(f"  journal #{j.id} {j.op} {j.status} ({j.origin}) {j.reason}")
    for b in result.blocks:
        print(f"block on {b.calendar}: {b.google_event_id}")
        print(
            f"  correlation {b.correlation_id}  class {class_name(b.event_class)}  status {b.status}  {b.summary!r}"
        )
        for j in b.journal:
            err = f" error: {j.error}" if j.error else ""
            print(f"  journal #{j.id} {j.op} {j.status} ({j.origin}) {j.reason}{err}")
    if not result.blocks:
        print("no blocks")
    if result.also_on:
        print(f"the same Google id is also on: {', '.join(result.also_on)}")
    return 0
