"""`calsync-tui doctor`: check home, settings, DB, file modes, accounts and API reachability.

Each check is one line (`ok`, `FAIL`, or `skip`/`note` for what cannot or need not be
checked); exit 0 when nothing failed, 1 otherwise. A reader: it never upgrades an existing
DB (it reports a schema behind head instead) and never takes the writer lock.
"""

from __future__ import annotations

import argparse
import importlib
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from calsync_tui.commands.output import print_json
from calsync_tui.errors import CalsyncError
from calsync_tui.home import DIR_MODE, FILE_MODE, AppHome, resolve_home
from calsync_tui.locking import lock_holder
from calsync_tui.settings import Settings, load_settings
from local_store import migrations, queries
from local_store.errors import StoreError


@dataclass
class Check:
    name: str
    status: str  # ok | fail | skip | note
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check config, token, DB, API reachability",
        description="Check the home, settings, database, file modes, accounts and Google "
        "API reachability; one line per check. Exit 0 when all pass.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_home(home: AppHome) -> Check:
    root = home.root
    if not root.exists():
        home.ensure()
        return Check("home", "ok", f"{root} created (0700)")
    if not root.is_dir():
        return Check("home", "fail", f"{root} is not a directory")
    mode = _mode(root)
    if mode != DIR_MODE:
        return Check("home", "fail", f"{root} has mode {mode:04o}, want 0700: chmod 700 {root}")
    if not os.access(root, os.W_OK):
        return Check("home", "fail", f"{root} is not writable")
    return Check("home", "ok", f"{root} (0700)")


def check_installation(home: AppHome) -> Check:
    try:
        return Check("installation id", "ok", home.installation_id())
    except CalsyncError as exc:
        return Check("installation id", "fail", str(exc))


def check_settings(home: AppHome, api_endpoint: str | None) -> tuple[Check, Settings | None]:
    try:
        settings = load_settings(home, api_endpoint)
    except CalsyncError as exc:
        return Check("settings", "fail", str(exc)), None
    source = "config.json" if home.config_path.exists() else "defaults"
    return Check("settings", "ok", f"valid ({source}); API root {settings.api_endpoint}"), settings


def check_database(home: AppHome) -> tuple[list[Check], bool]:
    """DB opens and its schema is at head and matches the models. Returns (checks, usable)."""
    from local_store.db import inspect_store, make_engines, open_store

    db = home.db_path
    head = migrations.head_revision()
    if not db.exists():
        with open_store(db, home.backups_dir):
            pass
        return [
            Check("database", "ok", f"{db} created"),
            Check("schema", "ok", f"at head {head}"),
        ], True
    try:
        revision = inspect_store(db)
    except StoreError as exc:
        return [Check("database", "fail", str(exc))], False
    checks = [Check("database", "ok", f"{db} opens, integrity ok")]
    if revision != head:
        checks.append(
            Check(
                "schema",
                "fail",
                f"at {revision or 'base'}, head is {head}: any command that opens the store "
                "(e.g. status) upgrades it after writing a backup",
            )
        )
        return checks, False
    engine, async_engine = make_engines(db)
    try:
        with engine.connect() as conn:
            diff = migrations.schema_diff(conn)
    finally:
        engine.dispose()
        async_engine.sync_engine.dispose()
    if diff:
        checks.append(
            Check("schema", "fail", f"at head {head} but differs from the models: {diff[0]}")
        )
        return checks, False
    checks.append(Check("schema", "ok", f"at head {head}, matches the models"))
    return checks, True


def check_file_modes(home: AppHome) -> Check:
    candidates = [
        home.db_path,
        home.db_path.with_name(home.db_path.name + "-wal"),
        home.db_path.with_name(home.db_path.name + "-shm"),
        home.tokens_path,
        home.installation_id_path,
        home.config_path,
        home.lock_path,
    ]
    for folder in (home.backups_dir, home.plans_dir):
        if folder.is_dir():
            candidates += sorted(folder.iterdir())
    present = [p for p in candidates if p.is_file()]
    loose = [f"{p.name} {_mode(p):04o}" for p in present if _mode(p) != FILE_MODE]
    if loose:
        return Check("file modes", "fail", f"want 0600: {', '.join(loose)} (chmod 600 them)")
    names = ", ".join(p.name for p in present[:4]) + (", ..." if len(present) > 4 else "")
    return Check("file modes", "ok", f"{len(present)} files 0600 ({names})")


def check_accounts(home: AppHome) -> tuple[list[Check], list[str]]:
    """One line per account; returns the emails that can be probed."""
    from local_store.db import open_store

    with open_store(home.db_path, home.backups_dir) as store, store.session() as session:
        accounts = queries.account_summaries(session)
    if not accounts:
        return [
            Check(
                "accounts",
                "note",
                "none yet: calsync-tui auth login (or auth token --email E --token T for the sandbox)",
            )
        ], []
    checks = []
    usable = []
    for a in accounts:
        if a.needs_signin:
            why = a.signin_error or "sign in again"
            checks.append(
                Check(
                    f"account {a.email}", "fail", f"needs sign-in ({why}): calsync-tui auth login"
                )
            )
        else:
            checks.append(
                Check(
                    f"account {a.email}",
                    "ok",
                    f"{a.auth_kind}, {a.enabled_calendars}/{a.calendars} calendars enabled",
                )
            )
            usable.append(a.email)
    return checks, usable


def _probe_function() -> Callable[..., str] | None:
    try:
        module = importlib.import_module("calsync_tui.google.accounts")
    except ModuleNotFoundError:
        return None
    probe = getattr(module, "probe", None)
    return probe if callable(probe) else None


def check_api(home: AppHome, settings: Settings | None, emails: list[str]) -> list[Check]:
    if settings is None:
        return [Check("api", "skip", "settings invalid")]
    if not emails:
        return [Check("api", "skip", "no signed-in account to call the API with")]
    probe = _probe_function()
    if probe is None:
        return [Check("api", "skip", "this build has no Google probe")]
    checks = []
    for email in emails:
        try:
            checks.append(Check("api", "ok", str(probe(home, settings, email))))
        except Exception as exc:  # any failure is a finding, not a crash
            detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            if email not in detail:
                detail = f"{email}: {detail}"
            checks.append(Check("api", "fail", detail))
    return checks


def check_lock(home: AppHome) -> Check:
    holder = lock_holder(home)
    if holder is None:
        return Check("writer lock", "ok", "free")
    return Check(
        "writer lock", "note", f"held by pid {holder.get('pid')} ({holder.get('purpose')})"
    )


def diagnose(home: AppHome, api_endpoint: str | None) -> list[Check]:
    """Run every check in order; later ones are skipped when what they need failed."""
    checks = [check_home(home)]
    if checks[0].failed:
        return checks
    checks.append(check_installation(home))
    settings_check, settings = check_settings(home, api_endpoint)
    checks.append(settings_check)
    db_checks, db_usable = check_database(home)
    checks += db_checks
    checks.append(check_file_modes(home))
    emails: list[str] = []
    if db_usable:
        account_checks, emails = check_accounts(home)
        checks += account_checks
    else:
        checks.append(Check("accounts", "skip", "database not usable"))
    checks += check_api(home, settings, emails)
    checks.append(check_lock(home))
    return checks


LABELS = {"ok": "ok  ", "fail": "FAIL", "skip": "skip", "note": "note"}


def run(args: argparse.Namespace) -> int:
    home = AppHome(resolve_home(args.home))
    checks = diagnose(home, args.api_endpoint)
    ok = not any(c.failed for c in checks)
    if getattr(args, "json", False):
        print_json({"ok": ok, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            print(f"{LABELS[c.status]}  {c.name}: {c.detail}")
    return 0 if ok else 1
