"""`calsync-tui auth` as a user runs it (subprocess): one-line errors, no token on screen."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "sandbox-SECRET-token-123"


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALSYNC_TOKEN_STORE": "file", "CALSYNC_HOME": str(home)}
    env.pop("CALSYNC_API_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "calsync_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


BAD_SECRETS = {
    "missing": (None, "not found"),
    "not_json": ("{oops", "not valid JSON"),
    "list": ("[]", "JSON object"),
    "web": (json.dumps({"web": {"client_id": "x"}}), "Web application client"),
    "no_installed": (json.dumps({"other": {}}), "no 'installed'"),
    "missing_fields": (
        json.dumps({"installed": {"client_id": "x", "auth_uri": "https://a"}}),
        "missing client_secret, token_uri",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SECRETS))
def test_bad_client_secrets_one_line(tmp_path: Path, case: str) -> None:
    content, expected = BAD_SECRETS[case]
    path = tmp_path / "client_secret.json"
    if content is not None:
        path.write_text(content)
    proc = run(tmp_path / "home", "auth", "login", "--no-browser", "--client-secrets", str(path))
    line = one_line_error(proc)
    assert expected in line
    assert "Desktop app" in line and "--client-secrets" in line
    assert proc.stdout == ""


def cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    """The same CLI in-process (fast): exit code, stdout, stderr."""
    from calsync_tui.cli import main

    code = main(["--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_static_token_status_never_shows_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "file")
    home = tmp_path / "home"
    code, _, err = cli(
        capsys, home, "auth", "token", "--no-verify", "--email", "me@example.com", "--token", SECRET
    )
    assert code == 0, err
    tokens = home / "tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert SECRET in tokens.read_text()  # stored...
    code, text, err = cli(capsys, home, "auth", "status")
    assert code == 0 and "me@example.com" in text
    assert SECRET not in text + err  # ...never shown
    code, text, err = cli(capsys, home, "auth", "status", "--json")
    assert code == 0 and SECRET not in text + err
    data = json.loads(text)
    assert [a["email"] for a in data["accounts"]] == ["me@example.com"]
    assert data["accounts"][0]["kind"] == "static"
    assert data["accounts"][0]["needs_signin"] is False

    code, text, _ = cli(capsys, home, "auth", "logout")
    assert code == 0 and "signed out me@example.com" in text
    assert SECRET not in tokens.read_text()
    assert json.loads(cli(capsys, home, "auth", "status", "--json")[1])["accounts"] == []


def test_token_from_stdin_in_a_real_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = run(
        home,
        "auth",
        "token",
        "--no-verify",
        "--email",
        "me@example.com",
        "--token",
        "-",
        stdin=SECRET + "\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert SECRET in (home / "tokens.json").read_text()


def test_unreachable_endpoint_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert (
        run(
            home, "auth", "token", "--no-verify", "--email", "me@example.com", "--token", SECRET
        ).returncode
        == 0
    )
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/"
    proc = run(home, "--api-endpoint", endpoint, "auth", "check")
    line = one_line_error(proc)
    assert (
        line
        == f"calsync-tui: error: cannot reach Google Calendar API at {endpoint}: connection refused"
    )
    assert SECRET not in proc.stderr


def test_logout_needs_email_with_several_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "file")
    home = tmp_path / "home"
    for email in ("a@example.com", "b@example.com"):
        argv = ("auth", "token", "--no-verify", "--email", email, "--token", SECRET)
        assert cli(capsys, home, *argv)[0] == 0
    code, _, err = cli(capsys, home, "auth", "logout")
    assert code == 2 and "--email" in err
    assert cli(capsys, home, "auth", "logout", "--email", "b@example.com")[0] == 0
    status = json.loads(cli(capsys, home, "auth", "status", "--json")[1])
    assert [a["email"] for a in status["accounts"]] == ["a@example.com"]
    code, _, err = cli(capsys, home, "auth", "token", "--email", "not-an-email", "--token", SECRET)
    assert code == 2 and "not an email" in err
