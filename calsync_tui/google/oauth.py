"""Browser sign-in with the loopback redirect (InstalledAppFlow.run_local_server).

`login` blocks until the browser comes back; the TUI runs it in a thread worker and
gets the authorization URL through `on_url` instead of stdout.
"""

from __future__ import annotations

import os
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow

from calsync_tui.errors import CalsyncError
from calsync_tui.google.client_secrets import load_client_config
from calsync_tui.google.credentials import SCOPES
from calsync_tui.settings import Settings

SUCCESS = "calsync-tui is signed in. You may close this window."
LOOPBACK_HOST = "127.0.0.1"


class _Flow(InstalledAppFlow):  # type: ignore[misc]
    """InstalledAppFlow that also hands the authorization URL to a callback."""

    url_callback: Callable[[str], None] | None = None

    def authorization_url(self, **kwargs: Any) -> tuple[str, str]:
        url, state = super().authorization_url(**kwargs)
        if self.url_callback is not None:
            self.url_callback(url)
        return url, state


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def run_flow(
    client_secrets: Path,
    *,
    open_browser: bool,
    port: int = 0,
    on_url: Callable[[str], None] | None = None,
    timeout_seconds: float | None = 300,
    home_root: Path | None = None,
) -> Credentials:
    """Validate the client file, run the browser flow, return fresh credentials."""
    config = load_client_config(client_secrets, home_root=home_root)
    installed = config["installed"]
    if _is_loopback(installed["token_uri"]):
        # oauthlib insists on https; a loopback token endpoint (tests, local fakes) is plain http.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    # Google may grant fewer scopes than asked (granular consent): checked below, not a crash.
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"
    if open_browser and not _browser_available():
        if on_url is None:
            raise CalsyncError(
                "no web browser found here; run: calsync-tui auth login --no-browser"
            )
        open_browser = False  # the caller shows the URL instead
    flow = _Flow.from_client_config(config, scopes=list(SCOPES))
    flow.url_callback = on_url
    try:
        creds = flow.run_local_server(
            host=LOOPBACK_HOST,
            port=port,
            open_browser=open_browser,
            authorization_prompt_message=None,  # never print: a TUI may own the terminal
            success_message=SUCCESS,
            timeout_seconds=timeout_seconds,
            access_type="offline",
            prompt="consent",
        )
    except Exception as exc:  # oauthlib/requests/socket errors: one line, never their payloads
        raise CalsyncError(f"sign-in failed: {_describe(exc, installed['token_uri'])}") from None
    if not isinstance(creds, Credentials):
        raise CalsyncError("sign-in failed: no credentials came back")
    granted = set(creds.granted_scopes or creds.scopes or ())
    missing = [s for s in SCOPES if granted and s not in granted]
    if missing:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        raise CalsyncError(
            f"sign-in did not grant {names}; sign in again and allow both permissions"
        )
    if not creds.refresh_token:
        raise CalsyncError(
            "sign-in returned no refresh token; sign in again (consent was not offline)"
        )
    return creds


def _browser_available() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _describe(exc: BaseException, token_uri: str) -> str:
    import requests

    name = type(exc).__name__
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the token endpoint {token_uri}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot open the local sign-in listener ({exc.strerror})"
    if name == "WSGITimeoutError":
        return "timed out waiting for the browser"
    error = getattr(exc, "error", None)
    if isinstance(error, str) and error:
        desc = getattr(exc, "description", None)
        return f"{error}: {desc}" if desc else error
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{name}: {text}"[:200] if text else name


def login(
    client_secrets: Path,
    *,
    open_browser: bool,
    port: int = 0,
    settings: Settings | None = None,
    on_url: Callable[[str], None] | None = None,
    timeout_seconds: float | None = 300,
) -> tuple[str, Credentials]:
    """Browser flow, then the account email (its primary calendar id) read through the
    gateway at `settings.api_endpoint`. Stores nothing: `accounts.sign_in` does that."""
    from calsync_tui.google.backoff import policy_from_settings
    from calsync_tui.google.gateway import GoogleGateway

    settings = settings or Settings()
    creds = run_flow(
        client_secrets,
        open_browser=open_browser,
        port=port,
        on_url=on_url,
        timeout_seconds=timeout_seconds,
    )
    gateway = GoogleGateway(
        creds,
        settings.api_endpoint,
        email="(signing in)",
        policy=policy_from_settings(settings.extra),
    )
    return gateway.primary_email(), creds
