"""The real InstalledAppFlow end to end against a local OAuth server; the test is the browser."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
import webbrowser
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from calsync_tui.errors import CalsyncError
from calsync_tui.google.credentials import SCOPES, from_credentials, refresh, to_credentials
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.oauth import run_flow
from tests.google.fake_oauth import FakeOAuthServer


@pytest.fixture
def oauth() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer().start()
    yield server
    server.stop()


def _secrets(tmp_path: Path, oauth: FakeOAuthServer) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(oauth.client_config()))
    return path


def play_browser(urls: list[str], done: threading.Event) -> None:
    """Wait for the flow's URL, open it, follow the redirect to the loopback listener."""
    for _ in range(500):
        if urls:
            break
        done.wait(0.01)
    with urllib.request.urlopen(urls[0], timeout=10) as resp:  # follows the 302
        assert b"signed in" in resp.read()


def sign_in(tmp_path: Path, oauth: FakeOAuthServer) -> Credentials:
    urls: list[str] = []
    done = threading.Event()
    browser = threading.Thread(target=play_browser, args=(urls, done))
    browser.start()
    try:
        return run_flow(
            _secrets(tmp_path, oauth), open_browser=False, on_url=urls.append, timeout_seconds=10
        )
    finally:
        done.set()
        browser.join(10)


def test_flow_end_to_end_then_refresh(tmp_path: Path, oauth: FakeOAuthServer) -> None:
    creds = sign_in(tmp_path, oauth)
    assert creds.token == "access-1"
    assert creds.refresh_token == "refresh-1"
    asked = oauth.auth_requests[0]
    assert set(asked["scope"].split()) == set(SCOPES)
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert asked["access_type"] == "offline"

    stored = from_credentials("me@example.com", creds)
    again = to_credentials(stored)
    again.expiry = datetime.utcnow() - timedelta(minutes=1)
    assert not again.valid
    refresh("me@example.com", again)
    assert again.token == "access-2"
    assert again.valid
    assert oauth.token_requests[-1]["grant_type"] == "refresh_token"


def test_invalid_grant_becomes_needs_signin(tmp_path: Path, oauth: FakeOAuthServer) -> None:
    creds = sign_in(tmp_path, oauth)
    oauth.refuse_refresh = True
    with pytest.raises(NeedsSignIn) as err:
        refresh("me@example.com", creds)
    text = str(err.value)
    assert "sign in again: calsync-tui auth login" in text
    assert "invalid_grant" in text
    assert creds.refresh_token not in text and "refresh-1" not in text


def test_denied_consent_is_one_line(tmp_path: Path, oauth: FakeOAuthServer) -> None:
    oauth.deny_consent = True
    urls: list[str] = []

    def browser() -> None:
        for _ in range(500):
            if urls:
                break
            threading.Event().wait(0.01)
        with contextlib.suppress(Exception):
            urllib.request.urlopen(urls[0], timeout=10).read()

    t = threading.Thread(target=browser)
    t.start()
    with pytest.raises(CalsyncError) as err:
        run_flow(
            _secrets(tmp_path, oauth), open_browser=False, on_url=urls.append, timeout_seconds=10
        )
    t.join(10)
    assert "access_denied" in str(err.value)
    assert "\n" not in str(err.value)


def test_partial_grant_is_refused(tmp_path: Path, oauth: FakeOAuthServer) -> None:
    oauth.granted_scope = SCOPES[0]
    with pytest.raises(CalsyncError, match=r"did not grant calendar\.events"):
        sign_in(tmp_path, oauth)


def _no_browser(*args: object, **kwargs: object) -> None:
    raise webbrowser.Error("could not locate runnable browser")


def test_no_browser_falls_back_to_the_url(
    tmp_path: Path, oauth: FakeOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webbrowser, "get", _no_browser)  # a machine without a browser
    with pytest.raises(CalsyncError, match="--no-browser"):
        run_flow(_secrets(tmp_path, oauth), open_browser=True, timeout_seconds=5)
    # With somewhere to show the URL (the console), the flow goes on without a browser.
    urls: list[str] = []
    done = threading.Event()
    browser = threading.Thread(target=play_browser, args=(urls, done))
    browser.start()
    creds = run_flow(
        _secrets(tmp_path, oauth), open_browser=True, on_url=urls.append, timeout_seconds=10
    )
    browser.join(10)
    assert creds.refresh_token


def test_token_endpoint_down_and_port_taken(tmp_path: Path, oauth: FakeOAuthServer) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CalsyncError, match=r"cannot open the local sign-in listener"):
            run_flow(_secrets(tmp_path, oauth), open_browser=False, port=port, on_url=print)
        config = oauth.client_config()
        config["installed"]["token_uri"] = f"http://127.0.0.1:{port}/token"  # nobody answers HTTP
    (tmp_path / "client_secret.json").write_text(json.dumps(config))
    urls: list[str] = []
    done = threading.Event()
    browser = threading.Thread(target=play_browser, args=(urls, done))
    browser.start()
    with pytest.raises(CalsyncError) as err:
        run_flow(
            tmp_path / "client_secret.json",
            open_browser=False,
            on_url=urls.append,
            timeout_seconds=10,
        )
    browser.join(10)
    assert (
        str(err.value)
        == f"sign-in failed: cannot reach the token endpoint http://127.0.0.1:{port}/token"
    )
