"""The one place that builds the googleapiclient Calendar service.

The discovery document shipped inside googleapiclient is used as is (no network
discovery). `ROOT` is `Settings.api_endpoint` (Google's is `https://www.googleapis.com/`):
REST goes to `ROOT/calendar/v3/...` and batches to `ROOT/batch/calendar/v3`, which
googleapiclient only does when it is given `batch_uri` explicitly.

httplib2 is not thread-safe, so every thread gets its own `Http` and service
(`ThreadLocalService`).
"""

from __future__ import annotations

import functools
import threading
from importlib import resources
from typing import Any

import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import BatchHttpRequest

HTTP_TIMEOUT = 30.0
SERVICE_PATH = "calendar/v3/"
BATCH_PATH = "batch/calendar/v3"
GOOGLE_ROOT = "https://www.googleapis.com/"


def normalize_root(root: str) -> str:
    return root if root.endswith("/") else root + "/"


def rest_base(root: str) -> str:
    """`ROOT/calendar/v3/`: what googleapiclient's `api_endpoint` must be set to."""
    return normalize_root(root) + SERVICE_PATH


def batch_uri(root: str) -> str:
    return normalize_root(root) + BATCH_PATH


def is_google(root: str) -> bool:
    """True when ROOT is Google itself (revoke and other real-Google-only calls)."""
    host = root.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host == "googleapis.com" or host.endswith(".googleapis.com")


@functools.cache
def discovery_document() -> str:
    """calendar.v3.json as shipped in googleapiclient (read once per process)."""
    docs = resources.files("googleapiclient") / "discovery_cache" / "documents"
    return (docs / "calendar.v3.json").read_text(encoding="utf-8")


def authorized_http(credentials: Credentials, timeout: float = HTTP_TIMEOUT) -> Any:
    """A fresh httplib2 transport that adds the bearer token and refreshes it on 401."""
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))


def build_service(http: Any, root: str) -> Any:
    """A Calendar v3 `Resource` bound to `http` with REST under `ROOT/calendar/v3/`."""
    return build_from_document(
        discovery_document(),
        http=http,
        client_options={"api_endpoint": rest_base(root)},
    )


def new_batch(root: str) -> BatchHttpRequest:
    """A batch sent to `ROOT/batch/calendar/v3` (never Google's URL unless ROOT is Google)."""
    return BatchHttpRequest(batch_uri=batch_uri(root))


class ThreadLocalService:
    """One (Http, service) pair per thread for one account's credentials."""

    def __init__(self, credentials: Credentials, root: str, timeout: float = HTTP_TIMEOUT) -> None:
        self.credentials = credentials
        self.root = normalize_root(root)
        self.timeout = timeout
        self._local = threading.local()

    def get(self) -> Any:
        service = getattr(self._local, "service", None)
        if service is None:
            http = authorized_http(self.credentials, self.timeout)
            service = build_service(http, self.root)
            self._local.service = service
        return service

    def collection(self, name: str) -> Any:
        """`service.<name>()` for this thread, built once: googleapiclient rebuilds every
        method of a collection on each `service.events()` call (~9 ms)."""
        cache: dict[str, Any] | None = getattr(self._local, "collections", None)
        if cache is None:
            cache = self._local.collections = {}
        resource = cache.get(name)
        if resource is None:
            resource = cache[name] = getattr(self.get(), name)()
        return resource

    def close(self) -> None:
        service = getattr(self._local, "service", None)
        if service is not None:
            self._local.service = None
            self._local.collections = {}
            service.close()
