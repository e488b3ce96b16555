"""`calsync-tui home export FILE` / `home import FILE [--force]`: carry this home's identity
(installation id, settings, accounts list; never tokens) to a new machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from calsync_tui import clock
from calsync_tui.commands.output import print_json
from calsync_tui.context import AppContext
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.home import (
    existing_installation_id,
    home_document,
    read_home_document,
    set_installation_id,
    write_private,
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "home",
        parents=[common],
        help="export/import this home's identity (installation id, settings, accounts)",
    )
    hsub = p.add_subparsers(dest="home_command", metavar="STEP")
    ex = hsub.add_parser("export", parents=[common], help="write FILE (0600; never tokens)")
    ex.add_argument("file", metavar="FILE")
    ex.add_argument("--json", action="store_true", help="machine-readable output")
    ex.set_defaults(func=run_export)
    im = hsub.add_parser("import", parents=[common], help="take FILE's identity into this home")
    im.add_argument("file", metavar="FILE")
    im.add_argument(
        "--force", action="store_true", help="replace a different existing installation id"
    )
    im.add_argument("--json", action="store_true", help="machine-readable output")
    im.set_defaults(func=run_import)

    def needs_step(_args: argparse.Namespace) -> int:
        raise UsageError("home needs a step: export FILE or import FILE")

    p.set_defaults(func=needs_step)


def run_export(args: argparse.Namespace) -> int:
    from local_store.models import Account, Calendar

    with AppContext.from_args(args) as ctx:
        settings: dict[str, Any] = {}
        if ctx.home.config_path.exists():
            try:
                loaded = json.loads(ctx.home.config_path.read_text())
            except ValueError as exc:
                raise CalsyncError(f"{ctx.home.config_path} is not valid JSON: {exc}") from None
            settings = loaded if isinstance(loaded, dict) else {}
        with ctx.store.session() as session:
            accounts: list[dict[str, object]] = [
                {"email": a.email, "auth_kind": a.auth_kind, "scopes": a.scopes}
                for a in session.exec(select(Account).order_by(Account.email))
            ]
            enabled = sorted(
                {
                    c.google_id
                    for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True)))
                }
            )
        doc = home_document(
            ctx.installation_id,
            settings,
            accounts,
            enabled,
            clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    path = Path(args.file).expanduser()
    try:
        write_private(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise CalsyncError(f"cannot write {path}: {exc.strerror}") from None
    if args.json:
        print_json({"file": str(path), **doc})
    else:
        print(
            f"exported installation {doc['installation_id']}, {len(settings)} setting(s) and "
            f"{len(accounts)} account(s) to {path} (mode 0600, no tokens); on the new machine: "
            f"calsync-tui home import {path.name}"
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from calsync_tui.home import open_home
    from calsync_tui.locking import home_lock
    from calsync_tui.settings import Settings, load_settings
    from local_store.models import Account

    path = Path(args.file).expanduser()
    doc = read_home_document(path)
    new_id = str(doc["installation_id"])
    settings = doc["settings"]
    assert isinstance(settings, dict)
    known = set(Settings.__dataclass_fields__) - {"api_endpoint"}
    unknown = sorted(set(settings) - known - {"api_endpoint"})
    if unknown:
        raise CalsyncError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    if settings:  # validated before anything is written, by the loader commands use
        _validate(settings, load_settings)
    home = open_home(getattr(args, "home", None))
    with home_lock(home, "home import"):
        current = existing_installation_id(home)
        if current is not None and current != new_id and not args.force:
            raise CalsyncError(
                f"this home already is installation {current}; importing would replace it "
                f"with {new_id} (use --force if this home's own blocks should become another "
                "installation's)"
            )
        set_installation_id(home, new_id)
        if settings:
            write_private(home.config_path, json.dumps(settings, indent=2, ensure_ascii=False))
        ctx = AppContext(home, load_settings(home, getattr(args, "api_endpoint", None)))
        with ctx:
            added = []
            with ctx.store.session() as session:
                for a in doc["accounts"]:  # type: ignore[attr-defined]
                    email = str(a["email"]).strip().lower()
                    if session.exec(select(Account).where(Account.email == email)).first():
                        continue
                    session.add(
                        Account(
                            email=email,
                            auth_kind=str(a.get("auth_kind") or "oauth"),
                            scopes=str(a.get("scopes") or ""),
                            needs_signin=True,
                            signin_error="imported from another machine: sign in "
                            "(calsync-tui auth login)",
                        )
                    )
                    added.append(email)
                session.commit()
    cals = list(doc["enabled_calendars"])  # type: ignore[call-overload]
    if args.json:
        print_json(
            {
                "installation_id": new_id,
                "replaced": current if current not in (None, new_id) else None,
                "settings": sorted(settings),
                "accounts_added": added,
                "enabled_calendars": cals,
            }
        )
    else:
        print(
            f"this home is now installation {new_id}"
            + (f" (was {current})" if current not in (None, new_id) else "")
        )
        print(f"settings: {len(settings)}; accounts added: {', '.join(added) or 'none'}")
        print("next: sign in (calsync-tui auth login), then calendars list and")
        if cals:
            print(f"  calsync-tui calendars enable {' '.join(cals)}")
        print("  calsync-tui sync --once --dry-run")
    return 0


def _validate(settings: dict[str, Any], load: Any) -> None:
    """Settings from the file must load as config.json would (one-line error otherwise);
    checked in a scratch directory, outside the home."""
    import tempfile

    from calsync_tui.home import AppHome

    with tempfile.TemporaryDirectory(prefix="calsync-import-") as tmp:
        scratch = AppHome(Path(tmp))
        write_private(scratch.config_path, json.dumps(settings))
        load(scratch)
