"""A local OAuth 2.0 authorization + token server on 127.0.0.1 for the real InstalledAppFlow.

`/auth` redirects to the loopback `redirect_uri` with a code (as Google does once the user
consents); `/token` exchanges the code and refreshes. `refuse_refresh = True` makes
refresh answer `invalid_grant`, as Google does for a revoked or expired refresh token.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret"


class FakeOAuthServer:
    def __init__(self, *, access_tokens: Callable[[int], str] | None = None) -> None:
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.auth_requests: list[dict[str, str]] = []
        self.refuse_refresh = False
        self.deny_consent = False
        self.granted_scope: str | None = None  # None: grant what was asked
        self._access = access_tokens or (lambda n: f"access-{n}")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def client_config(self) -> dict[str, Any]:
        return {
            "installed": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_uri": f"{self.url}/auth",
                "token_uri": f"{self.url}/token",
                "redirect_uris": ["http://localhost"],
            }
        }

    def start(self) -> FakeOAuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_access(self) -> str:
        with self._lock:
            token = self._access(len(self.issued) + 1)
            self.issued.append(token)
            return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/auth":
                    self._json(404, {"error": "not_found"})
                    return
                q = dict(urllib.parse.parse_qsl(parts.query))
                fake.auth_requests.append(q)
                redirect = q["redirect_uri"]
                if fake.deny_consent:
                    params = {"error": "access_denied", "state": q.get("state", "")}
                else:
                    code = f"code-{len(fake.codes) + 1}"
                    fake.codes[code] = q
                    params = {"code": code, "state": q.get("state", ""), "scope": q["scope"]}
                self.send_response(302)
                self.send_header("location", f"{redirect}?{urllib.parse.urlencode(params)}")
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                fake.token_requests.append(form)
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                if form.get("client_secret", CLIENT_SECRET) != CLIENT_SECRET:
                    self._json(401, {"error": "invalid_client"})
                    return
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    asked = fake.codes.pop(form.get("code", ""), None)
                    if asked is None or asked["redirect_uri"] != form.get("redirect_uri"):
                        self._json(400, {"error": "invalid_grant", "error_description": "Bad code"})
                        return
                    refresh = f"refresh-{len(fake.refresh_tokens) + 1}"
                    fake.refresh_tokens.add(refresh)
                    self._json(
                        200,
                        {
                            "access_token": fake._next_access(),
                            "expires_in": 3599,
                            "refresh_token": refresh,
                            "scope": fake.granted_scope or asked["scope"],
                            "token_type": "Bearer",
                        },
                    )
                    return
                if grant == "refresh_token":
                    if fake.refuse_refresh or form.get("refresh_token") not in fake.refresh_tokens:
                        self._json(
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": "Token has been expired or revoked.",
                            },
                        )
                        return
                    self._json(
                        200,
                        {
                            "access_token": fake._next_access(),
                            "expires_in": 3599,
                            "token_type": "Bearer",
                        },
                    )
                    return
                self._json(400, {"error": "unsupported_grant_type"})

        return Handler
