"""`calsync-tui auth`: sign in/out, static tokens, status. Never prints a token."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from calsync_tui.commands.output import print_json, print_table
from calsync_tui.context import AppContext
from calsync_tui.errors import UsageError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("auth", parents=[common], help="sign in/out, static tokens, status")
    p.set_defaults(func=lambda args: p.print_usage() or 2)
    auth = p.add_subparsers(dest="auth_command", metavar="ACTION")

    login = auth.add_parser("login", parents=[common], help="sign in with a Google account")
    login.add_argument(
        "--client-secrets",
        type=Path,
        default=None,
        help="Desktop OAuth client JSON (default: <home>/client_secret.json)",
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the sign-in URL instead of opening it"
    )
    login.add_argument("--port", type=int, default=0, help="loopback port (default: any free)")
    login.set_defaults(func=run_login)

    token = auth.add_parser(
        "token", parents=[common], help="register a static bearer token (sandbox/dev)"
    )
    token.add_argument("--email", required=True)
    token.add_argument("--token", required=True, help="the token, or - to read it from stdin")
    token.add_argument(
        "--no-verify",
        action="store_true",
        help="store the token without checking it with Google (one calendarList.get call)",
    )
    token.set_defaults(func=run_token)

    status = auth.add_parser("status", parents=[common], help="accounts, scopes, expiry")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=run_status)

    check = auth.add_parser("check", parents=[common], help="one cheap API call per account")
    check.add_argument("--email", default=None, help="only this account")
    check.set_defaults(func=run_check)

    logout = auth.add_parser("logout", parents=[common], help="revoke and forget credentials")
    logout.add_argument("--email", default=None, help="the account (needed when several)")
    logout.set_defaults(func=run_logout)


def run_login(args: argparse.Namespace) -> int:
    from calsync_tui.google.accounts import sign_in

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    with AppContext.from_args(args) as ctx:
        email = sign_in(
            ctx.home,
            ctx.store,
            ctx.settings,
            args.client_secrets,
            open_browser=not args.no_browser,
            port=args.port,
            on_url=lambda url: print(
                f"Open this URL in your browser to sign in:\n{url}", flush=True
            ),
        )
    print(f"signed in as {email}")
    return 0


def run_token(args: argparse.Namespace) -> int:
    from calsync_tui.google.accounts import register_static_token

    token = sys.stdin.readline().strip() if args.token == "-" else args.token
    with AppContext.from_args(args) as ctx:
        if not args.no_verify:
            _verify_token(ctx, args.email.strip(), token.strip())
        register_static_token(ctx.home, ctx.store, args.email, token)
    print(f"static token stored for {args.email.strip()}")
    return 0


def _verify_token(ctx: AppContext, email: str, token: str) -> None:
    """One cheap call with the token before it is stored; a rejected token is one line."""
    from calsync_tui.errors import CalsyncError
    from calsync_tui.google.accounts import EMAIL_RE
    from calsync_tui.google.backoff import policy_from_settings
    from calsync_tui.google.credentials import to_credentials
    from calsync_tui.google.gateway import GoogleGateway
    from calsync_tui.google.tokens import StoredToken

    if not EMAIL_RE.match(email):
        raise UsageError(f"not an email address: {email!r}")
    if not token or any(c.isspace() for c in token):
        raise UsageError("the token must be a non-empty string without spaces")
    policy = policy_from_settings(ctx.settings.extra, deadline=15.0)
    policy.refused_attempts = 2
    gateway = GoogleGateway(
        to_credentials(StoredToken(email=email, kind="static", token=token)),
        ctx.settings.api_endpoint,
        email=email,
        kind="static",
        policy=policy,
    )
    try:
        seen = gateway.primary_email()
    except CalsyncError as exc:
        first = (str(exc).strip().splitlines() or ["no answer"])[0]
        raise CalsyncError(
            f"Google did not accept the token for {email}: {first} (nothing stored; "
            "--no-verify stores it unchecked)"
        ) from exc
    if seen != email:
        raise CalsyncError(f"the token belongs to {seen}, not {email} (nothing stored)")


def run_status(args: argparse.Namespace) -> int:
    from calsync_tui.google.accounts import account_status

    with AppContext.from_args(args) as ctx:
        accounts = account_status(ctx.home, ctx.store)
    if args.json:
        print_json({"accounts": accounts})
        return 0
    if not accounts:
        print("no accounts; sign in: calsync-tui auth login")
        return 0
    rows = [
        [
            a["email"],
            a["kind"],
            " ".join(s.rsplit("/", 1)[-1] for s in a["scopes"]) or "-",
            a["expiry"] or "-",
            ("yes: " + (a["signin_error"] or "")) if a["needs_signin"] else "no",
            a["token_store"],
        ]
        for a in accounts
    ]
    print_table(["email", "kind", "scopes", "expiry", "needs sign-in", "store"], rows)
    return 0


def run_logout(args: argparse.Namespace) -> int:
    from calsync_tui.google.accounts import account_emails, logout

    with AppContext.from_args(args) as ctx:
        emails = account_emails(ctx.store)
        email = args.email
        if email is None:
            if len(emails) != 1:
                raise UsageError(
                    f"several accounts are signed in; pick one with --email ({', '.join(emails)})"
                    if emails
                    else "no accounts are signed in"
                )
            email = emails[0]
        elif email not in emails:
            raise UsageError(f"no account {email}")
        revoked = logout(ctx.home, ctx.store, email, settings=ctx.settings)
    print(f"signed out {email}" + (" (access revoked at Google)" if revoked else ""))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Probe each account (token valid, API reachable); the first failure is the one line."""
    from calsync_tui.google.accounts import account_emails, probe

    with AppContext.from_args(args) as ctx:
        emails = account_emails(ctx.store)
        if args.email is not None:
            if args.email not in emails:
                raise UsageError(f"no account {args.email}")
            emails = [args.email]
        if not emails:
            raise UsageError("no accounts; sign in: calsync-tui auth login")
        for email in emails:
            print(probe(ctx.home, ctx.settings, email))
    return 0
