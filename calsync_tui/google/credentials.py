"""Stored tokens <-> google-auth `Credentials`, and refresh with a clear failure.

`invalid_grant` (revoked access, a 7-day testing-mode refresh token, ...) is not a crash:
it becomes `NeedsSignIn`, which the engine handles per account.
"""

from __future__ import annotations

from datetime import UTC, datetime

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials

from calsync_tui.errors import CalsyncError
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.tokens import StoredToken

SCOPES = (
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events",
)
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
STATIC_HINT = "register a new token: calsync-tui auth token --email EMAIL --token TOKEN"


def _parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed  # google-auth compares naive UTC


def to_credentials(stored: StoredToken) -> Credentials:
    """Credentials for googleapiclient; static tokens have no refresh data and never refresh."""
    if stored.kind == "static":
        return Credentials(token=stored.token)  # type: ignore[no-untyped-call]
    return Credentials(  # type: ignore[no-untyped-call]
        token=stored.token,
        refresh_token=stored.refresh_token,
        token_uri=stored.token_uri or GOOGLE_TOKEN_URI,
        client_id=stored.client_id,
        client_secret=stored.client_secret,
        scopes=list(stored.scopes) or list(SCOPES),
        expiry=_parse_expiry(stored.expiry),
    )


def from_credentials(email: str, creds: Credentials, *, kind: str = "oauth") -> StoredToken:
    expiry = creds.expiry.replace(tzinfo=UTC).isoformat() if creds.expiry else None
    return StoredToken(
        email=email,
        kind=kind,
        token=creds.token,
        refresh_token=creds.refresh_token,
        expiry=expiry,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        token_uri=creds.token_uri,
        scopes=sorted(creds.scopes or creds.granted_scopes or SCOPES),
    )


def refresh_failure(email: str, exc: RefreshError, *, static: bool = False) -> CalsyncError:
    """Turn google-auth's RefreshError into NeedsSignIn (no token text, ever)."""
    if static:
        return NeedsSignIn(email, "the static token was rejected (401)", hint=STATIC_HINT)
    text = str(exc.args[0]) if exc.args else ""
    if "invalid_grant" in text:
        return NeedsSignIn(
            email, "Google refused the refresh token (invalid_grant: revoked or expired)"
        )
    if "invalid_client" in text or "unauthorized_client" in text:
        return NeedsSignIn(email, "Google refused the OAuth client (invalid_client)")
    if "necessary fields" in text:
        return NeedsSignIn(email, "the stored credentials cannot be refreshed")
    return NeedsSignIn(email, "the access token could not be refreshed")


def refresh(email: str, creds: Credentials, *, timeout: float = 30.0) -> None:
    """Refresh now (login check, doctor); NeedsSignIn or one-line CalsyncError on failure."""
    request = google_auth_httplib2.Request(httplib2.Http(timeout=timeout))
    try:
        creds.refresh(request)  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        raise refresh_failure(email, exc) from None
    except TransportError:
        raise CalsyncError(f"cannot reach the token endpoint {creds.token_uri}") from None
