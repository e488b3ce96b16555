"""`calsync-tui status`: phase, gates, modes, counts per class, coverage, last cycle, alerts.

A reader: it never takes the home's writer lock and writes nothing but what opening the
store needs (a fresh home gets its DB created; an old one is backed up and upgraded).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from calsync_tui.commands.output import print_json, print_table
from calsync_tui.context import AppContext
from calsync_tui.locking import lock_holder
from calsync_tui.writes.lockout import paused_accounts
from calsync_tui.writes.refusals import refusals
from local_store import queries
from local_store.models import SyncRun

PHASE_NAMES = ("discover", "prepare", "backfill", "rollout", "cutover")
CLASS_COLUMNS = (
    ("tracked_user_event", "tracked"),
    ("new_user_event", "new"),
    ("busy_block", "blocks"),
    ("legacy_busy_block", "legacy"),
    ("orphaned_block", "orphans"),
    ("external_calsync", "external"),
    ("ignored", "ignored"),
    ("error", "errors"),
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "status",
        parents=[common],
        help="phase, modes, counts per class, metrics",
        description="Show migration phase and gates, engine mode and counts per calendar, "
        "coverage, the last sync cycle, open alerts and accounts. Reads only.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _phase_name(phase: int) -> str:
    return PHASE_NAMES[phase] if 0 <= phase < len(PHASE_NAMES) else f"unknown({phase})"


def _run_dict(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    value = run.model_dump()
    for key in ("classes_json", "mutations_json"):
        raw = value.pop(key)
        try:
            value[key.removesuffix("_json")] = json.loads(raw or "{}")
        except ValueError:
            value[key.removesuffix("_json")] = {}
    return value


def collect(ctx: AppContext) -> dict[str, Any]:
    """The status report as one JSON-ready dict (also what the text view prints)."""
    with ctx.store.session() as session:
        state = queries.peek_migration_state(session)
        try:
            gates = json.loads(state.gates_json or "{}")
        except ValueError:
            gates = {}
        calendars = queries.calendar_summaries(session)
        sources, covered, percent = queries.overall_coverage(session)
        runs = queries.latest_runs(session, 1, kind="sync")
        last_any = queries.latest_runs(session, 1)
        report: dict[str, Any] = {
            "home": str(ctx.home.root),
            "installation_id": ctx.installation_id,
            "schema_revision": ctx.store.schema_revision(),
            "writer": lock_holder(ctx.home),
            "migration": {
                "phase": state.phase,
                "phase_name": _phase_name(state.phase),
                "paused": state.paused,
                "rollout_percent": state.rollout_percent,
                "legacy_detection": state.legacy_detection,
                "active_plan_id": state.active_plan_id,
                "approved_plan_id": state.approved_plan_id,
                "gates": gates if isinstance(gates, dict) else {},
            },
            "engine_modes": dict(Counter(c.engine_mode for c in calendars if c.enabled)),
            "class_totals": queries.class_totals(session),
            "coverage": {"sources": sources, "covered": covered, "percent": percent},
            "calendars": [{**asdict(c), "writable": c.writable} for c in calendars],
            "last_cycle": _run_dict(runs[0] if runs else None),
            "last_run": _run_dict(last_any[0] if last_any else None),
            "alerts": [a.model_dump() for a in queries.open_alerts(session)],
            "accounts": [asdict(a) for a in queries.account_summaries(session)],
            "refusals": [r.to_json() for r in refusals(session)],
            "writes_paused": [
                {"account": p.account, "until": p.until.isoformat(), "level": p.level}
                for p in paused_accounts(session)
            ],
        }
    return report


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return "never" if value is None else str(value)


def _gate_text(gates: dict[str, Any]) -> str:
    parts = []
    for name, result in sorted(gates.items()):
        passed = result.get("passed") if isinstance(result, dict) else bool(result)
        parts.append(f"{name} {'passed' if passed else 'not passed'}")
    return ", ".join(parts) or "none checked yet"


def print_text(report: dict[str, Any]) -> None:
    m = report["migration"]
    print(f"home {report['home']} (schema {report['schema_revision']})")
    writer = report["writer"]
    if writer:
        print(f"writer: pid {writer.get('pid')} ({writer.get('purpose')}) is running")
    print(
        f"migration: phase {m['phase']} {m['phase_name']}"
        f"{' (paused)' if m['paused'] else ''}, rollout {m['rollout_percent']}%, "
        f"legacy detection {'on' if m['legacy_detection'] else 'off'}"
    )
    print(f"gates: {_gate_text(m['gates'])}")
    modes = ", ".join(f"{k} {v}" for k, v in sorted(report["engine_modes"].items())) or "-"
    cov = report["coverage"]
    print(f"engine modes (enabled calendars): {modes}")
    print(f"coverage: {cov['covered']}/{cov['sources']} sources ({cov['percent']:.1f}%)")
    accounts = report["accounts"]
    if not accounts:
        print("accounts: none (sign in: calsync-tui auth login, or auth token for the sandbox)")
    for a in accounts:
        state = (
            f"needs sign-in ({a['signin_error'] or 'sign in again'})" if a["needs_signin"] else "ok"
        )
        print(
            f"account {a['email']}: {state}, {a['enabled_calendars']}/{a['calendars']} calendars enabled"
        )
    calendars = report["calendars"]
    if calendars:
        print()
        headers = ["calendar", "account", "role", "on", "mode"]
        headers += [label for _, label in CLASS_COLUMNS]
        headers += ["coverage", "last sync", "error"]
        rows = []
        for c in calendars:
            counts = c["counts"]
            rows.append(
                [
                    c["summary"] or c["google_id"],
                    c["account_email"],
                    c["access_role"],
                    "yes" if c["enabled"] else "no",
                    c["engine_mode"],
                    *(counts.get(key, 0) for key, _ in CLASS_COLUMNS),
                    f"{c['coverage']:.1f}%" if c["enabled"] else "-",
                    _when(c["last_synced_at"]),
                    (c["last_error"] or "")[:60],
                ]
            )
        print_table(headers, rows)
        print()
    run = report["last_cycle"]
    if run is None:
        print("last cycle: none yet")
    else:
        print(
            f"last cycle: {_when(run['started_at'])}, {run['duration_ms']:.0f} ms, "
            f"{run['events_seen']} events, {run['api_calls']} API calls in "
            f"{run['api_round_trips']} round trips, {run['cascades']} cascades, "
            f"{run['stuck']} stuck, {run['failed']} failed, success {run['success_rate'] * 100:.1f}%"
            + (f", error: {run['error']}" if run["error"] else "")
        )
    for p in report["writes_paused"]:
        print(f"writes paused for {p['account']} until {p['until']} (Google's usage limit)")
    refused = report["refusals"]
    if refused:
        print(f"writes Google refused ({len(refused)}; not retried until the event changes):")
        for r in refused[:20]:
            print(f"  {r['calendar']}: {r['event_title']!r}: {r['reason']}; {r['advice']}")
    alerts = report["alerts"]
    print(f"open alerts: {len(alerts)}")
    for alert in alerts[:10]:
        print(
            f"  [{alert['level']}] {_when(alert['created_at'])} {alert['kind']}: {alert['message']}"
        )


def run(args: argparse.Namespace) -> int:
    with AppContext.from_args(args) as ctx:
        report = collect(ctx)
    if args.json:
        print_json(report)
    else:
        print_text(report)
    return 0
