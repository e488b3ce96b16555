"""Google failures turned into one user-facing line each.

`HttpError` from googleapiclient carries the response body; Google's `reason`
(`rateLimitExceeded`, `duplicate`, ...) decides what to do, so it is parsed once here.
Nothing in these messages may hold a token: only URLs, statuses and Google's text.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass

import httplib2
from googleapiclient.errors import HttpError

from calsync_tui.errors import CalsyncError

SIGN_IN_AGAIN = "sign in again: calsync-tui auth login"


class NeedsSignIn(CalsyncError):
    """The account's credentials no longer work (revoked, expired refresh token).

    Raised per account; the engine catches it, marks the account and syncs the others.
    """

    def __init__(self, email: str, reason: str, *, hint: str = SIGN_IN_AGAIN) -> None:
        self.email = email
        self.reason = reason
        super().__init__(f"{email}: {reason}; {hint}")


class GoogleApiError(CalsyncError):
    """A call Google refused for good (not retried): the status and reason say why."""

    def __init__(self, message: str, *, status: int, reason: str | None) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class ErrorInfo:
    """What one error response says: HTTP status, Google's reason, Google's message."""

    status: int
    reason: str | None
    message: str


def describe_http_error(exc: HttpError) -> ErrorInfo:
    """Read status, reason and message from an HttpError's JSON body (if it has one)."""
    status = int(exc.resp.status) if exc.resp is not None else 0
    reason: str | None = None
    message = ""
    raw = exc.content
    try:
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = str(err.get("message") or "")
            errors = err.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                reason = errors[0].get("reason")
            if reason is None and isinstance(err.get("status"), str):
                reason = err["status"]
        elif isinstance(err, str):
            # OAuth-style bodies: {"error": "invalid_grant", ...}
            reason = err
            message = str(body.get("error_description") or "")
    if not message:
        message = http.client.responses.get(status, "error")
    return ErrorInfo(status=status, reason=reason, message=message)


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # socket.error, ConnectionError subclasses, TimeoutError
    httplib2.HttpLib2Error,
    http.client.HTTPException,
)


def is_connection_error(exc: BaseException) -> bool:
    """True for transport failures (no HTTP answer at all)."""
    return isinstance(exc, CONNECTION_ERRORS) and not isinstance(exc, HttpError)


def is_refused(exc: BaseException) -> bool:
    """Nobody listens there (or the name does not resolve): retrying rarely helps."""
    return isinstance(exc, ConnectionRefusedError | httplib2.ServerNotFoundError | socket.gaierror)


def connection_reason(exc: BaseException) -> str:
    """A short, token-free description of a transport failure."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, httplib2.ServerNotFoundError | socket.gaierror):
        return "host not found"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        return "connection closed by the server"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unreachable(root: str, exc: BaseException) -> CalsyncError:
    return CalsyncError(f"cannot reach Google Calendar API at {root}: {connection_reason(exc)}")
