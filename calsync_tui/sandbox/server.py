"""`SandboxServer`: the world behind a stdlib ThreadingHTTPServer in a background thread.

Root layout like https://www.googleapis.com/: REST under `/calendar/v3/`, batches at
`/batch/calendar/v3`, plus unauthenticated `/_sandbox/*` endpoints for harnesses
(stats, faults, expire sync tokens, dump). Stdlib only: starts in milliseconds, no
dependency, easy to embed in a test or the demo.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from calsync_tui.sandbox import persist
from calsync_tui.sandbox.batch import (
    BATCH_PATH,
    DEFAULT_BATCH_FAILURE_RATE,
    BatchFaults,
    run_batch,
)
from calsync_tui.sandbox.errors import ApiError
from calsync_tui.sandbox.faults import FaultSpec, coerce
from calsync_tui.sandbox.handlers import Api, ApiRequest, ApiResponse, sleep_ms
from calsync_tui.sandbox.jsondata import clone
from calsync_tui.sandbox.listing import DEFAULT_TOKEN_TTL, Lister
from calsync_tui.sandbox.quota import (
    DEFAULT_BURST_WINDOW,
    DEFAULT_BURST_WRITES,
    DEFAULT_LOCKOUT,
    DEFAULT_PER_PROJECT,
    DEFAULT_PER_USER,
    DEFAULT_USAGE_WINDOW,
    DEFAULT_USAGE_WRITES,
    CalendarBurst,
    SlidingWindowQuota,
    UsageLimit,
)
from calsync_tui.sandbox.state import World
from calsync_tui.sandbox.stats import Stats
from calsync_tui.sandbox.strict import lenient_set
from calsync_tui.sandbox.times import parse_rfc3339

T = TypeVar("T")


class SandboxServer:
    """A local Google Calendar v3 server. Also a context manager (start/stop)."""

    def __init__(
        self,
        port: int = 0,
        faults: FaultSpec | str | None = None,
        *,
        host: str = "127.0.0.1",
        quota_per_user: int | None = DEFAULT_PER_USER,
        quota_per_project: int | None = DEFAULT_PER_PROJECT,
        lenient: Iterable[str] | None = None,
        usage_writes: int | None = DEFAULT_USAGE_WRITES,
        usage_window_s: float = DEFAULT_USAGE_WINDOW,
        usage_lockout_s: float = DEFAULT_LOCKOUT,
        burst_writes: int | None = DEFAULT_BURST_WRITES,
        burst_window_s: float = DEFAULT_BURST_WINDOW,
        batch_seed: int = 0,
        batch_failure_rate: float = DEFAULT_BATCH_FAILURE_RATE,
        sync_token_ttl: timedelta | None = DEFAULT_TOKEN_TTL,
    ) -> None:
        """`lenient`: names from `strict.LENIENT` that switch one strict behaviour off."""
        self.host = host
        self.port = port
        self.lenient = lenient_set(lenient)
        self.world = World(self.lenient)
        self._stats = Stats()
        self.quota = SlidingWindowQuota(
            quota_per_user, quota_per_project, clock=self.world.timestamp
        )
        self.usage = UsageLimit(self.world.timestamp, usage_writes, usage_window_s, usage_lockout_s)
        self.burst = CalendarBurst(self.world.timestamp, burst_writes, burst_window_s)
        self.batch_faults = BatchFaults(
            seed=batch_seed,
            failure_rate=0.0 if "batch_failures" in self.lenient else batch_failure_rate,
            shuffle="batch_order" not in self.lenient,
        )
        self._faults: FaultSpec | None = coerce(faults)
        self.api = Api(
            self.world, self._stats, self.quota, lambda: self._faults, self.usage, self.burst
        )
        self.api.lister.token_ttl = sync_token_ttl
        self._httpd: ThreadingHTTPServer | None = None
        self.demo_truth: Any = None  # the DemoTruth when built by build_demo
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        handler = type("BoundHandler", (_Handler,), {"sandbox": self})
        httpd = _Server((self.host, self.port), handler)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # ---- world setup (a person in Google's UI: validated, not counted, no quota) ---
    def add_user(self, email: str, token: str) -> None:
        """Map a bearer token to a user (a user may have several tokens)."""
        self.world.add_user(email, token)

    def revoke_token(self, token: str) -> None:
        """Calls with this token get 401 from now on."""
        self.world.revoke_token(token)

    def create_calendar(
        self,
        owner_email: str,
        summary: str,
        time_zone: str = "UTC",
        calendar_id: str | None = None,
    ) -> str:
        return _admin(
            lambda: self.world.create_calendar(owner_email, summary, time_zone, calendar_id)
        )

    def share(
        self, calendar_id: str, email: str, role: str, *, allow_unknown: bool = False
    ) -> None:
        """Give `email` `role` on the calendar: owner, writer, reader, freeBusyReader or
        none; any other value (a future accessRole) with `allow_unknown`."""
        _admin(lambda: self.world.share(calendar_id, email, role, allow_unknown=allow_unknown))

    def invite(
        self,
        calendar_id: str,
        body: dict[str, Any],
        organizer: str = "organizer@elsewhere.example",
        *,
        guests_can_modify: bool = False,
        response: str = "accepted",
    ) -> dict[str, Any]:
        """An invitation's copy on `calendar_id`: organized by `organizer` (outside the
        account), the calendar an attendee (`self`) with `response`. API patches/updates of
        anything but the attendee's answer and reminders answer 403
        forbiddenForNonOrganizer unless `guests_can_modify`."""
        full = {
            **body,
            "organizer": {"email": organizer},
            "guestsCanModify": guests_can_modify,
            "attendees": [
                {"email": organizer, "organizer": True, "responseStatus": "accepted"},
                {"email": calendar_id, "responseStatus": response, "self": True},
                *(body.get("attendees") or []),
            ],
        }
        return self.put_event(calendar_id, full)

    def put_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = clone(
            _admin(lambda: self.world.insert_event(calendar_id, body, None))
        )
        return result

    def patch_event(self, calendar_id: str, event_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = clone(
            _admin(lambda: self.world.patch_event(calendar_id, event_id, patch, None))
        )
        return result

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        _admin(lambda: self.world.delete_event(calendar_id, event_id, None))

    # ---- the person and time (controls; also under /_sandbox/) ------------------------
    def delete_as_person(self, calendar_id: str, event_id: str) -> None:
        """The person deletes the event in Google's web UI: it reads as cancelled, and
        API patch/update can no longer revive it (403 forbidden)."""
        _admin(lambda: self.world.delete_as_person(calendar_id, event_id))

    def purge_trash(self, calendar_id: str | None = None) -> list[str]:
        """Empty the trash (of one calendar or all): deleted events are gone (get/patch/
        update 404), their ids stay taken (insert 409). Returns the purged ids."""
        return _admin(lambda: self.world.purge_trash(calendar_id))

    def advance_clock(self, delta: timedelta) -> None:
        """Move the one sandbox clock: `updated`, sync-token age, usage lockouts and the
        quota windows follow it."""
        self.world.advance_clock(delta)

    def now(self) -> datetime:
        """The sandbox clock."""
        return self.world.now()

    def trip_usage_limit(self, user: str, duration: timedelta | None = None) -> None:
        """`user`'s writes answer 403 quotaExceeded for `duration` of sandbox clock
        (default: the configured lockout); reads keep working."""
        self.usage.trip(user, None if duration is None else duration.total_seconds())

    def clear_usage_limit(self, user: str | None = None) -> None:
        """Lift the usage lockout (and forget recent writes) of `user`, or everyone."""
        self.usage.clear(user)

    def usage_locked_until(self, user: str) -> datetime | None:
        until = self.usage.locked_until(user)
        return None if until is None else datetime.fromtimestamp(until, tz=self.now().tzinfo)

    def events(
        self,
        calendar_id: str,
        *,
        include_cancelled: bool = False,
        single_events: bool = False,
        time_min: str | None = None,
        time_max: str | None = None,
        copy: bool = True,
    ) -> list[dict[str, Any]]:
        """Server truth, as a full listing with these options would show it (no counting).

        `copy=False` returns the server's own dicts: faster, for read-only callers."""
        params: dict[str, list[str]] = {}
        if include_cancelled:
            params["showDeleted"] = ["true"]
        if single_events:
            params["singleEvents"] = ["true"]
        if time_min:
            params["timeMin"] = [time_min]
        if time_max:
            params["timeMax"] = [time_max]

        def run() -> list[dict[str, Any]]:
            with self.world.lock:
                cal = self.world.calendar(calendar_id)
                rows = Lister(cache_size=1).compute(
                    cal,
                    params,
                    single=single_events,
                    lo=_opt_time(time_min),
                    hi=_opt_time(time_max),
                    since=None,
                )
                found = [e for _, e in rows]
                return clone(found) if copy else found

        return _admin(run)

    def calendars(self) -> list[str]:
        with self.world.lock:
            return list(self.world.calendars)

    # ---- counters, faults, tokens, persistence ---------------------------------------
    def stats(self) -> dict[str, Any]:
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def set_faults(self, spec: FaultSpec | str | None) -> None:
        self._faults = coerce(spec)

    @property
    def faults(self) -> FaultSpec | None:
        return self._faults

    def set_quota(
        self, per_user: int | None, per_project: int | None = DEFAULT_PER_PROJECT
    ) -> None:
        """Change the sliding-window limits at run time (None = unlimited); clears the window."""
        self.quota.per_user = per_user
        self.quota.per_project = per_project
        self.quota.reset()

    def set_lenient(self, names: Iterable[str] | None) -> None:
        """Replace the lenient switches at run time (for tests on a shared fixture)."""
        self.lenient = lenient_set(names)
        self.world.lenient = self.lenient
        self.api.lister.lenient = self.lenient
        self.batch_faults.shuffle = "batch_order" not in self.lenient
        if "batch_failures" in self.lenient:
            self.batch_faults.failure_rate = 0.0

    def set_usage_limit(
        self,
        writes: int | None,
        window: timedelta | None = None,
        lockout: timedelta | None = None,
    ) -> None:
        """Change the sticky usage limit (writes per user in `window` → `lockout`);
        None = no threshold (a trip by control or fault still holds)."""
        self.usage.writes = writes
        if window is not None:
            self.usage.window = window.total_seconds()
        if lockout is not None:
            self.usage.lockout = lockout.total_seconds()

    def set_burst(self, writes: int | None, window: timedelta | None = None) -> None:
        """Change the per-calendar write burst limit (None = none); clears its window."""
        self.burst.writes = writes
        if window is not None:
            self.burst.window = window.total_seconds()
        self.burst.reset()

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        self.world.expire_sync_tokens(calendar_id)

    def dump(self) -> dict[str, Any]:
        return persist.dump(self.world)

    def load(self, data: dict[str, Any]) -> None:
        persist.load(self.world, data)


def _opt_time(value: str | None) -> datetime | None:
    return parse_rfc3339(value) if value else None


def _admin(fn: Callable[[], T]) -> T:
    """Harness calls raise ValueError/KeyError-like errors, not HTTP-shaped ones."""
    try:
        return fn()
    except ApiError as exc:
        raise SandboxError(exc.code, exc.reason, exc.message) from None


class SandboxError(ValueError):
    """A harness call the sandbox refused (same check Google would make)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason


ADMIN_ENDPOINTS = [
    "GET /_sandbox/stats",
    "POST /_sandbox/reset_stats",
    "POST /_sandbox/faults  (body: fault spec, empty = none)",
    "POST /_sandbox/expire_sync_tokens[?calendarId=ID]",
    "GET /_sandbox/dump",
    "POST /_sandbox/delete_as_person?calendarId=ID&eventId=ID",
    "POST /_sandbox/purge_trash[?calendarId=ID]",
    "POST /_sandbox/advance_clock?seconds=N",
    "POST /_sandbox/trip_usage_limit?user=EMAIL[&seconds=N]",
    "POST /_sandbox/clear_usage_limit[?user=EMAIL]",
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of parallel gateway threads must not be refused


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client
    # (httplib2) waits ~40 ms for each answer's body (delayed ACK). TCP_NODELAY avoids it.
    disable_nagle_algorithm = True
    sandbox: SandboxServer
    server_version = "calsync-sandbox"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stats instead
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        sb = self.sandbox
        url = urlsplit(self.path)
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if url.path.startswith("/_sandbox/"):
            self._admin(url.path, parse_qs(url.query), body)
            return
        spec = sb.faults
        if spec is not None and spec.latency_ms:
            sleep_ms(spec.latency_ms)
        if url.path == BATCH_PATH and self.command == "POST":
            sb._stats.round_trip(batch=True)
            try:
                summary, payload, ctype = run_batch(
                    sb.api, headers.get("content-type", ""), body, headers, sb.batch_faults
                )
            except ApiError as exc:
                self._send(ApiResponse.error(exc))
                return
            if summary.drop:
                self._drop()
                return
            self._send_raw(200, payload, ctype)
            return
        sb._stats.round_trip(batch=False)
        method, query = self.command, parse_qs(url.query, keep_blank_values=True)
        override = headers.get("x-http-method-override", "").upper()
        if override and method == "POST":
            # googleapiclient turns a GET with a URL over 2 kB into POST + override,
            # moving the query string into a form-encoded body
            method = override
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                query = parse_qs(body.decode(), keep_blank_values=True)
                body = b""
        req = ApiRequest(method, url.path, query, headers, body)
        resp = sb.api.handle(req)
        if resp.drop:
            self._drop()
            return
        self._send(resp)

    def _admin(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        sb = self.sandbox
        try:
            if path == "/_sandbox/" and self.command == "GET":
                self._send(ApiResponse(200, {"endpoints": ADMIN_ENDPOINTS}))
            elif path == "/_sandbox/stats" and self.command == "GET":
                self._send(ApiResponse(200, sb.stats()))
            elif path == "/_sandbox/reset_stats" and self.command == "POST":
                sb.reset_stats()
                self._send(ApiResponse(200, {"ok": True}))
            elif path == "/_sandbox/faults" and self.command == "POST":
                sb.set_faults(body.decode() or None)
                spec = sb.faults
                self._send(ApiResponse(200, {"faults": spec.to_spec() if spec else None}))
            elif path == "/_sandbox/expire_sync_tokens" and self.command == "POST":
                cal = query.get("calendarId", [None])[-1]
                sb.expire_sync_tokens(cal)
                self._send(ApiResponse(200, {"ok": True}))
            elif path == "/_sandbox/dump" and self.command == "GET":
                self._send(ApiResponse(200, sb.dump()))
            elif path == "/_sandbox/delete_as_person" and self.command == "POST":
                sb.delete_as_person(query["calendarId"][-1], query["eventId"][-1])
                self._send(ApiResponse(200, {"ok": True}))
            elif path == "/_sandbox/purge_trash" and self.command == "POST":
                purged = sb.purge_trash(query.get("calendarId", [None])[-1])
                self._send(ApiResponse(200, {"purged": purged}))
            elif path == "/_sandbox/advance_clock" and self.command == "POST":
                sb.advance_clock(timedelta(seconds=float(query["seconds"][-1])))
                self._send(ApiResponse(200, {"now": sb.now().isoformat()}))
            elif path == "/_sandbox/trip_usage_limit" and self.command == "POST":
                secs = query.get("seconds", [None])[-1]
                sb.trip_usage_limit(
                    query["user"][-1], None if secs is None else timedelta(seconds=float(secs))
                )
                self._send(ApiResponse(200, {"ok": True}))
            elif path == "/_sandbox/clear_usage_limit" and self.command == "POST":
                sb.clear_usage_limit(query.get("user", [None])[-1])
                self._send(ApiResponse(200, {"ok": True}))
            else:
                self._send(ApiResponse.error(ApiError(404, "notFound", "Not Found")))
        except Exception as exc:  # a harness mistake must not kill the server thread
            self._send(ApiResponse.error(ApiError(400, "badRequest", str(exc))))

    def _send(self, resp: ApiResponse) -> None:
        payload = resp.payload()
        self.send_response(resp.status)
        if payload:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _send_raw(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """The write happened; the answer is lost (connection closed without a byte)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


__all__ = ["SandboxError", "SandboxServer"]
