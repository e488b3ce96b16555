"""`calsync-tui status`: phase, gates, modes, counts per class, coverage, last cycle, alerts.

A reader (`service.status.status_report`): it never takes the home's writer lock and
writes nothing but what opening the store needs (a fresh home gets its DB created; an
old one is backed up and upgraded).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from calsync_tui.commands.output import print_json, print_table
from calsync_tui.context import AppContext
from calsync_tui.service.labels import CLASS_LABELS
from calsync_tui.service.status import StatusReport, status_report


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


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return "never" if value is None else str(value)


def _gate_text(gates: Mapping[str, Any]) -> str:
    parts = []
    for name, result in sorted(gates.items()):
        passed = result.get("passed") if isinstance(result, dict) else bool(result)
        parts.append(f"{name} {'passed' if passed else 'not passed'}")
    return ", ".join(parts) or "none checked yet"


def print_foreign(foreign: Mapping[str, Any]) -> None:
    """One installation's notice from its JSON form (engine.foreign.ForeignInstallation)."""
    cals = ", ".join(
        f"{c['calendar']} ({c['stamps']} stamps, {c['blocks']} blocks)"
        for c in foreign["calendars"]
    )
    print(
        f"another installation {foreign['installation_id']}: {foreign['stamps']} stamped "
        f"events and {foreign['blocks']} busy blocks on {cals}; last wrote "
        f"{foreign['last_wrote'] or 'unknown'}"
    )
    if foreign["unsourced_blocks"]:
        print(
            f"  {foreign['unsourced_blocks']} of its blocks have no source on your enabled "
            "calendars (not adopted without --force)"
        )
    for reason in foreign["refusals"]:
        print(f"  {reason}")
    print(f"  what to do: {foreign['advice']}")


def print_text(report: StatusReport) -> None:
    m = report.migration
    print(f"home {report.home} (schema {report.schema_revision})")
    writer = report.writer
    if writer:
        print(f"writer: pid {writer.get('pid')} ({writer.get('purpose')}) is running")
    print(
        f"migration: phase {m.phase} {m.phase_name}"
        f"{' (paused)' if m.paused else ''}, rollout {m.rollout_percent}%, "
        f"legacy detection {'on' if m.legacy_detection else 'off'}"
    )
    print(f"gates: {_gate_text(m.gates)}")
    modes = ", ".join(f"{k} {v}" for k, v in sorted(report.engine_modes.items())) or "-"
    cov = report.coverage
    print(f"engine modes (enabled calendars): {modes}")
    print(f"coverage: {cov.covered}/{cov.sources} sources ({cov.percent:.1f}%)")
    if not report.accounts:
        print("accounts: none (sign in: calsync-tui auth login, or auth token for the sandbox)")
    for a in report.accounts:
        state = f"needs sign-in ({a.signin_error or 'sign in again'})" if a.needs_signin else "ok"
        print(f"account {a.email}: {state}, {a.enabled_calendars}/{a.calendars} calendars enabled")
    if report.calendars:
        print()
        headers = ["calendar", "account", "role", "on", "mode"]
        headers += [item.label for item in CLASS_LABELS]
        headers += ["coverage", "last sync", "error"]
        rows = [
            [
                c.summary or c.google_id,
                c.account_email,
                c.access_role,
                "yes" if c.enabled else "no",
                c.engine_mode,
                *(c.counts.get(item.key, 0) for item in CLASS_LABELS),
                f"{c.coverage:.1f}%" if c.enabled else "-",
                _when(c.last_synced_at),
                (c.last_error or "")[:60],
            ]
            for c in report.calendars
        ]
        print_table(headers, rows)
        print()
    run = report.last_cycle
    if run is None:
        print("last cycle: none yet")
    else:
        print(
            f"last cycle: {_when(run.started_at)}, {run.duration_ms:.0f} ms, "
            f"{run.events_seen} events, {run.api_calls} API calls in "
            f"{run.api_round_trips} round trips, {run.cascades} cascades, "
            f"{run.stuck} stuck, {run.failed} failed, success {run.success_rate * 100:.1f}%"
            + (f", error: {run.error}" if run.error else "")
        )
    for p in report.writes_paused:
        print(f"writes paused for {p.account} until {_when(p.until)} (Google's usage limit)")
    if report.refusals:
        print(f"writes Google refused ({len(report.refusals)}; sent again when the event changes):")
        for f in report.refusals[:20]:
            print(f"  {f.calendar}: {f.event_title!r}: {f.reason}; {f.advice}")
    for foreign in report.foreign:  # adoption notice (engine.foreign)
        print_foreign(foreign.to_json())
    print(f"open alerts: {len(report.alerts)}")
    for alert in report.alerts[:10]:
        print(f"  [{alert.level}] {_when(alert.created_at)} {alert.kind}: {alert.message}")


def run(args: argparse.Namespace) -> int:
    with AppContext.from_args(args) as ctx:
        report = status_report(ctx)
    if args.json:
        print_json(report.to_json())
    else:
        print_text(report)
    return 0
