"""Google's error JSON, raised anywhere in the sandbox and rendered by the HTTP layer."""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """One refused call: HTTP status plus Google's `reason` and message."""

    def __init__(self, code: int, reason: str, message: str, *, domain: str = "global") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain

    def body(self) -> dict[str, Any]:
        """`{"error": {"code", "message", "errors": [{"domain","reason","message"}], "status"}}`."""
        err: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
        }
        status = STATUS_NAMES.get(self.code)
        if status:
            err["status"] = status
        return {"error": err}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "badRequest", message)


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def forbidden(message: str = "Forbidden") -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
        domain="global",
    )
