"""A real googleapiclient Calendar service pointed at a sandbox, for tests and scripts.

Uses the product's own service builder (shipped discovery document, `api_endpoint`
= `ROOT/calendar/v3/`, explicit `batch_uri`), with a static bearer token.
"""

from __future__ import annotations

from typing import Any

from googleapiclient.http import BatchHttpRequest

from calsync_tui.google.service import authorized_http, build_service, new_batch


def static_credentials(token: str) -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token=token)  # type: ignore[no-untyped-call]


def http_for(token: str, timeout: float = 30.0) -> Any:
    """An httplib2 transport that sends `Authorization: Bearer token`."""
    return authorized_http(static_credentials(token), timeout)


def service_for(url: str, token: str) -> Any:
    """`calendar v3` Resource bound to the sandbox at `url` acting as `token`'s user."""
    return build_service(http_for(token), url)


def batch_for(url: str) -> BatchHttpRequest:
    return new_batch(url)
