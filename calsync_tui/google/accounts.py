"""Accounts: sign in, register static tokens, open gateways, sign out, probe.

Tokens live in the token store (`tokens.py`); the list of accounts and their
"needs sign-in" state live in the store's `Account` table.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httplib2
from google.oauth2.credentials import Credentials
from sqlmodel import select

from calsync_tui import clock
from calsync_tui.errors import UsageError
from calsync_tui.google.backoff import RetryPolicy, policy_from_settings
from calsync_tui.google.credentials import SCOPES, from_credentials, to_credentials
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.gateway import GoogleGateway
from calsync_tui.google.oauth import run_flow
from calsync_tui.google.pacer import calendar_writes_from, pacer_for
from calsync_tui.google.service import is_google
from calsync_tui.google.tokens import StoredToken, open_token_store
from calsync_tui.home import AppHome
from calsync_tui.settings import Settings
from local_store.db import Store, open_store
from local_store.models import Account, Calendar

LOG = logging.getLogger(__name__)
REVOKE_URI = "https://oauth2.googleapis.com/revoke"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def _check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL_RE.match(email):
        raise UsageError(f"not an email address: {email!r}")
    return email


def _now() -> datetime:
    return clock.now()


def save_account(store: Store, email: str, *, kind: str, scopes: list[str]) -> Account:
    """Create or refresh the Account row; a fresh sign-in clears the needs-sign-in state."""
    with store.session() as session:
        account = session.exec(select(Account).where(Account.email == email)).first()
        if account is None:
            account = Account(email=email)
        account.auth_kind = kind
        account.scopes = " ".join(scopes)
        account.needs_signin = False
        account.signin_error = None
        account.updated_at = _now()
        session.add(account)
        session.commit()
        session.refresh(account)
        return account


def mark_needs_signin(store: Store, email: str, reason: str) -> None:
    """Record that the account must sign in again (shown by status and the TUI)."""
    with store.session() as session:
        account = session.exec(select(Account).where(Account.email == email)).first()
        if account is None:
            return
        account.needs_signin = True
        account.signin_error = reason
        account.updated_at = _now()
        session.add(account)
        session.commit()


def _marker(home: AppHome, store: Store | None) -> Callable[[NeedsSignIn], None]:
    def mark(exc: NeedsSignIn) -> None:
        if store is not None:
            mark_needs_signin(store, exc.email, exc.reason)
            return
        # Best effort: the caller (engine, CLI) also learns it from the exception, and a
        # busy DB must not turn "sign in again" into a store error.
        try:
            with open_store(home.db_path, home.backups_dir, lock_timeout=2.0) as own:
                mark_needs_signin(own, exc.email, exc.reason)
        except Exception as err:
            LOG.warning("could not record needs-sign-in for %s: %s", exc.email, type(err).__name__)

    return mark


def open_gateway(
    home: AppHome,
    settings: Settings,
    email: str,
    *,
    store: Store | None = None,
    policy: RetryPolicy | None = None,
) -> GoogleGateway:
    """The gateway of one account, from its stored credentials.

    OAuth tokens refresh automatically and the new access token is saved; `invalid_grant`
    marks the account `needs_signin` (in `store`, or the home's DB) and raises NeedsSignIn.
    """
    tokens = open_token_store(home)
    stored = tokens.get(email)
    if stored is None:
        raise NeedsSignIn(email, "no stored credentials")
    creds = to_credentials(stored)

    def save_refreshed(fresh: Credentials) -> None:
        tokens.put(from_credentials(email, fresh))

    return GoogleGateway(
        creds,
        settings.api_endpoint,
        email=email,
        kind=stored.kind,
        pacer=pacer_for(
            email,
            settings.api_endpoint,
            settings.requests_per_minute,
            calendar_writes_from(settings.extra),
        ),
        policy=policy or policy_from_settings(settings.extra),
        on_token_refreshed=save_refreshed,
        on_needs_signin=_marker(home, store),
    )


def finish_login(home: AppHome, store: Store, settings: Settings, creds: Credentials) -> str:
    """Read the account email through the gateway, then save credentials and account."""
    gateway = GoogleGateway(
        creds,
        settings.api_endpoint,
        email="(signing in)",
        policy=policy_from_settings(settings.extra),
        pacer=pacer_for("(signing in)", settings.api_endpoint, settings.requests_per_minute),
    )
    email = gateway.primary_email()
    stored = from_credentials(email, creds)
    open_token_store(home).put(stored)
    save_account(store, email, kind="oauth", scopes=stored.scopes)
    return email


def sign_in(
    home: AppHome,
    store: Store,
    settings: Settings,
    client_secrets: Path | None = None,
    *,
    open_browser: bool = True,
    port: int = 0,
    on_url: Callable[[str], None] | None = None,
    timeout_seconds: float | None = 300,
) -> str:
    """The whole sign-in (blocking; the TUI runs it in a thread worker). Returns the email.

    Nothing is printed: the authorization URL goes to `on_url` (the CLI prints it, the
    console shows it), and the browser is opened when `open_browser`.
    """
    path = client_secrets or home.root / "client_secret.json"
    creds = run_flow(
        path,
        open_browser=open_browser,
        port=port,
        on_url=on_url,
        timeout_seconds=timeout_seconds,
        home_root=home.root,
    )
    return finish_login(home, store, settings, creds)


def register_static_token(home: AppHome, store: Store, email: str, token: str) -> None:
    """A bearer token used as-is, never refreshed (sandbox and development)."""
    email = _check_email(email)
    token = token.strip()
    if not token or any(c.isspace() for c in token):
        raise UsageError("the token must be a non-empty string without spaces")
    open_token_store(home).put(StoredToken(email=email, kind="static", token=token))
    save_account(store, email, kind="static", scopes=[])


def _revoke(stored: StoredToken) -> bool:
    """Best effort revoke at Google (only ever called for googleapis.com endpoints)."""
    value = stored.refresh_token or stored.token
    if not value:
        return False
    body = urllib.parse.urlencode({"token": value})
    try:
        resp, _ = httplib2.Http(timeout=10).request(
            REVOKE_URI,
            method="POST",
            body=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    except Exception:
        return False
    return int(resp.status) == 200


def logout(home: AppHome, store: Store, email: str, *, settings: Settings | None = None) -> bool:
    """Revoke (real Google OAuth only) and delete the credentials; returns whether revoked.

    The Account row stays while calendars refer to it, marked as signed out.
    """
    tokens = open_token_store(home)
    stored = tokens.get(email)
    revoked = False
    root = settings.api_endpoint if settings else ""
    if (
        stored is not None
        and stored.kind == "oauth"
        and is_google(root)
        and (stored.token_uri or "").startswith("https://oauth2.googleapis.com/")
    ):
        revoked = _revoke(stored)
    tokens.delete(email)
    with store.session() as session:
        account = session.exec(select(Account).where(Account.email == email)).first()
        if account is not None:
            used = session.exec(select(Calendar).where(Calendar.account_id == account.id)).first()
            if used is None:
                session.delete(account)
            else:
                account.needs_signin = True
                account.signin_error = "signed out"
                account.updated_at = _now()
                session.add(account)
            session.commit()
    return revoked


def account_emails(store: Store) -> list[str]:
    with store.session() as session:
        return [a.email for a in session.exec(select(Account).order_by(Account.email)).all()]


def account_status(home: AppHome, store: Store) -> list[dict[str, Any]]:
    """Public facts per account for `auth status` and the TUI: never a token."""
    tokens = open_token_store(home)
    out: list[dict[str, Any]] = []
    with store.session() as session:
        accounts = session.exec(select(Account).order_by(Account.email)).all()
    for account in accounts:
        stored = tokens.get(account.email)
        public = stored.public() if stored else {}
        out.append(
            {
                "email": account.email,
                "kind": account.auth_kind,
                "scopes": public.get("scopes") or account.scopes.split(),
                "expiry": public.get("expiry"),
                "refreshable": public.get("refreshable", False),
                "has_credentials": stored is not None,
                "needs_signin": account.needs_signin or stored is None,
                "signin_error": account.signin_error
                or (None if stored is not None else "no stored credentials"),
                "token_store": tokens.name,
            }
        )
    return out


def probe(home: AppHome, settings: Settings, email: str) -> str:
    """One cheap call (the primary calendar) to check token and reachability, for doctor."""
    policy = policy_from_settings(settings.extra, deadline=15.0)
    policy.refused_attempts = 2
    gateway = open_gateway(home, settings, email, policy=policy)
    started = time.monotonic()
    seen = gateway.primary_email()
    ms = (time.monotonic() - started) * 1000
    note = "" if seen == email else f" (the token belongs to {seen})"
    return f"{email}: Google Calendar API at {gateway.root} answered in {ms:.0f} ms{note}"


__all__ = [
    "SCOPES",
    "account_emails",
    "account_status",
    "finish_login",
    "logout",
    "mark_needs_signin",
    "open_gateway",
    "probe",
    "register_static_token",
    "save_account",
    "sign_in",
]
