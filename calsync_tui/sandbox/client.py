"""A real googleapiclient Calendar service pointed at a sandbox, for tests and scripts.

Uses the product's own service builder (shipped discovery document, `api_endpoint`
= `ROOT/calendar/v3/`, explicit `batch_uri`), with a static bearer token.
"""

from __future__ import annotations

from typing import Any

import httplib2
from googleapiclient.http import BatchHttpRequest

from calsync_tui.google.service import authorized_http, build_service, new_batch


class BearerHttp(httplib2.Http):
    """httplib2 that adds `Authorization: Bearer TOKEN` and never tries to refresh it,
    so a 401 reaches the caller as googleapiclient's HttpError."""

    def __init__(self, token: str, timeout: float = 30.0) -> None:
        super().__init__(timeout=timeout)
        self.token = token

    def request(
        self,
        uri: Any,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:  # type: ignore[override]
        merged = dict(headers or {})
        merged["authorization"] = f"Bearer {self.token}"
        return super().request(uri, method, body, merged, *args, **kwargs)


def http_for(token: str, *, refreshing: bool = False, timeout: float = 30.0) -> Any:
    """Transport for `token`: plain (default) or google-auth's AuthorizedHttp, which also
    puts the token in every batch part (as the product's gateway does)."""
    if refreshing:
        from google.oauth2.credentials import Credentials

        creds = Credentials(token=token)  # type: ignore[no-untyped-call]
        return authorized_http(creds, timeout)
    return BearerHttp(token, timeout)


def service_for(url: str, token: str, *, refreshing: bool = False) -> Any:
    """`calendar v3` Resource bound to the sandbox at `url` acting as `token`'s user."""
    return build_service(http_for(token, refreshing=refreshing), url)


def batch_for(url: str) -> BatchHttpRequest:
    return new_batch(url)


def admin(url: str, path: str, method: str = "GET") -> dict[str, Any]:
    """One call to a sandbox's `/_sandbox/` control endpoints (stats, reset_stats, …) of a
    sandbox in another process: the demo's child server and the benchmarks' use this."""
    import json
    import urllib.request

    req = urllib.request.Request(url + "_sandbox/" + path, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data
