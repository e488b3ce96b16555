"""REST routing under `/calendar/v3/`: one `ApiRequest` in, one `ApiResponse` out.

Shared by plain HTTP requests and by each part of a batch, so both are counted,
authenticated, rate limited and fault-injected the same way (each batch part is one
request against quota, as Google counts it).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from calsync_tui.sandbox import tokens
from calsync_tui.sandbox.calendar import role_at_least
from calsync_tui.sandbox.errors import ApiError, invalid, not_found, unauthorized
from calsync_tui.sandbox.faults import FaultSpec
from calsync_tui.sandbox.listing import Lister, Params, one, page_size
from calsync_tui.sandbox.quota import (
    CalendarBurst,
    SlidingWindowQuota,
    UsageLimit,
    quota_exceeded,
)
from calsync_tui.sandbox.state import World
from calsync_tui.sandbox.stats import Stats

log = logging.getLogger(__name__)
PREFIX = "/calendar/v3/"
WRITE_METHODS = frozenset(
    {
        "calendar.events.insert",
        "calendar.events.import",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
        "calendar.events.move",
    }
)

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^users/me/calendarList$"), "calendar.calendarList.list"),
    ("GET", re.compile(r"^users/me/calendarList/(?P<cal>[^/]+)$"), "calendar.calendarList.get"),
    ("GET", re.compile(r"^calendars/(?P<cal>[^/]+)$"), "calendar.calendars.get"),
    ("GET", re.compile(r"^calendars/(?P<cal>[^/]+)/events$"), "calendar.events.list"),
    ("POST", re.compile(r"^calendars/(?P<cal>[^/]+)/events$"), "calendar.events.insert"),
    ("POST", re.compile(r"^calendars/(?P<cal>[^/]+)/events/import$"), "calendar.events.import"),
    (
        "GET",
        re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)/instances$"),
        "calendar.events.instances",
    ),
    (
        "POST",
        re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)/move$"),
        "calendar.events.move",
    ),
    ("GET", re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)$"), "calendar.events.get"),
    (
        "PATCH",
        re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)$"),
        "calendar.events.patch",
    ),
    (
        "PUT",
        re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)$"),
        "calendar.events.update",
    ),
    (
        "DELETE",
        re.compile(r"^calendars/(?P<cal>[^/]+)/events/(?P<ev>[^/]+)$"),
        "calendar.events.delete",
    ),
]


@dataclass
class ApiRequest:
    method: str
    path: str  # without query
    query: Params
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class ApiResponse:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering (drop_after_write)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def error(cls, exc: ApiError) -> ApiResponse:
        return cls(exc.code, exc.body())


def bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    if not path.startswith(PREFIX):
        return None
    rest = path[len(PREFIX) :]
    for verb, pattern, name in _ROUTES:
        if verb == method:
            m = pattern.match(rest)
            if m:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


class Api:
    """Auth, counting, quota and faults around the world's operations."""

    def __init__(
        self,
        world: World,
        stats: Stats,
        quota: SlidingWindowQuota,
        faults: Callable[[], FaultSpec | None],
        usage: UsageLimit | None = None,
        burst: CalendarBurst | None = None,
    ) -> None:
        self.world = world
        self.stats = stats
        self.quota = quota
        self.faults = faults
        self.usage = usage or UsageLimit(world.timestamp)
        self.burst = burst or CalendarBurst(world.timestamp)
        self.lister = Lister(clock=world.now, lenient=world.lenient)

    def handle(self, req: ApiRequest, *, fallback_token: str | None = None) -> ApiResponse:
        resp = self._handle(req, fallback_token=fallback_token)
        if isinstance(resp.body, dict) and resp.body.get("kind") == "calendar#event":
            resp.headers["ETag"] = str(resp.body.get("etag", ""))
        return resp

    def _handle(self, req: ApiRequest, *, fallback_token: str | None = None) -> ApiResponse:
        found = route(req.method, req.path)
        token = bearer(req.headers) or fallback_token
        user = self.world.user_for(token)
        name = found[0] if found else f"unknown.{req.method}"
        self.stats.call(name, user or "anonymous")
        try:
            if user is None:
                raise unauthorized()
            if found is None:
                raise not_found()
            write = name in WRITE_METHODS
            self.inject(user, write=write)
            lenient = self.world.lenient
            if write:  # a lockout (tripped, or by the threshold) holds until it lifts
                self.usage.check(user)
            if write and "calendar_burst" not in lenient:
                cal = found[1].get("cal", "")
                self.burst.charge(user if cal == "primary" else cal)
            resp = self.dispatch(name, found[1], req, user)
            if write and "usage_limit" not in lenient:
                self.usage.record(user)
        except ApiError as exc:
            self.stats.status(exc.code, write_applied=False)
            return ApiResponse.error(exc)
        except Exception:  # a sandbox bug: answer like Google's backend, keep serving
            log.exception("sandbox: %s %s failed", req.method, req.path)
            self.stats.status(500, write_applied=False)
            return ApiResponse.error(ApiError(500, "backendError", "Backend Error"))
        applied = name in WRITE_METHODS
        self.stats.status(resp.status, write_applied=applied)
        spec = self.faults()
        if (
            applied
            and spec is not None
            and spec.drop_after_write
            and spec.roll(spec.drop_after_write)
        ):
            resp.drop = True
            self.stats.drop()
        return resp

    def inject(self, user: str, *, write: bool = True) -> None:
        """Injected faults first (seeded), then the real sliding-window quota.

        A drawn `quota` fault is Google's usage limit, so it is remembered: on a write it
        locks the user's writes like a real trip (`UsageLimit.trip`, lifts with the sandbox
        clock); reads keep working (support.google.com/a/answer/2905486). Lenient
        `quota_faults_forgotten`: any call gets one quotaExceeded and it is forgotten."""
        spec = self.faults()
        kind = spec.draw() if spec is not None else None
        if spec is not None and kind == "quota":
            if "quota_faults_forgotten" in self.world.lenient:
                raise quota_exceeded()
            if write:
                self.usage.trip(user)
                raise quota_exceeded()
        if spec is not None and kind == "rate":
            raise ApiError(
                spec.choice(403, 429),
                "rateLimitExceeded",
                "Rate Limit Exceeded",
                domain="usageLimits",
            )
        if spec is not None and kind == "5xx":
            raise ApiError(spec.choice(500, 503), "backendError", "Backend Error")
        self.quota.charge(user)

    def dispatch(self, name: str, args: dict[str, str], req: ApiRequest, user: str) -> ApiResponse:
        if args.get("cal") == "primary":  # Google's alias for the caller's primary calendar
            args = {**args, "cal": user}
        w = self.world
        q = req.query
        if args.get("cal") == "primary":  # Google's alias for the user's own calendar
            args = {**args, "cal": user}
        if name == "calendar.calendarList.list":
            return ApiResponse(200, self.calendar_list(user, q))
        if name == "calendar.calendarList.get":
            with w.lock:
                cal = w.calendar(args["cal"])
                if user not in cal.acl:
                    raise not_found()
                return ApiResponse(200, w.calendar_entry(cal, user))
        if name == "calendar.calendars.get":
            with w.lock:
                cal = w.readable(args["cal"], user, events=False)
                return ApiResponse(
                    200,
                    {
                        "kind": "calendar#calendar",
                        "etag": f'"c{cal.version:015d}"',
                        "id": cal.id,
                        "summary": cal.summary,
                        "timeZone": cal.time_zone,
                    },
                )
        if name == "calendar.events.list":
            with w.lock:
                cal = w.readable(args["cal"], user)
                role = w.role(cal, user) or "reader"
                spec = self.faults()
                cut = spec.cut if spec is not None and spec.short_pages else None
                return ApiResponse(200, self.lister.list_events(cal, q, role, w.seq, cut))
        if name == "calendar.events.instances":
            with w.lock:
                cal = w.readable(args["cal"], user)
                master = cal.events.get(args["ev"])
                if master is None or not master.get("recurrence"):
                    raise not_found()
                return ApiResponse(200, self.lister.instances(cal, master, q))
        if name == "calendar.events.get":
            return ApiResponse(200, w.get_event(args["cal"], args["ev"], user))
        if name in ("calendar.events.insert", "calendar.events.import"):
            return ApiResponse(
                200,
                w.insert_event(
                    args["cal"],
                    json_body(req),
                    user,
                    importing=name == "calendar.events.import",
                ),
            )
        if name in ("calendar.events.patch", "calendar.events.update"):
            return ApiResponse(
                200,
                w.patch_event(
                    args["cal"],
                    args["ev"],
                    json_body(req),
                    user,
                    if_match=req.headers.get("if-match"),
                    replace=name == "calendar.events.update",
                ),
            )
        if name == "calendar.events.delete":
            w.delete_event(args["cal"], args["ev"], user, if_match=req.headers.get("if-match"))
            return ApiResponse(204)
        if name == "calendar.events.move":
            dest = one(q, "destination")
            dest = user if dest == "primary" else dest
            if not dest:
                raise ApiError(400, "required", "Required parameter: destination")
            return ApiResponse(200, w.move_event(args["cal"], args["ev"], dest, user))
        raise not_found()

    def calendar_list(self, user: str, q: Params) -> dict[str, Any]:
        entries = self.world.calendar_list(user)
        min_role = one(q, "minAccessRole")
        if min_role:
            entries = [e for e in entries if role_at_least(e["accessRole"], min_role)]
        size = page_size(q)
        offset = 0
        page = one(q, "pageToken")
        if page:
            decoded = tokens.decode("CLsb", page)
            if not decoded:
                raise invalid("Invalid page token.")
            offset = int(decoded["o"])
        out: dict[str, Any] = {
            "kind": "calendar#calendarList",
            "etag": f'"l{self.world.seq:015d}"',
            "items": entries[offset : offset + size],
        }
        if offset + size < len(entries):
            out["nextPageToken"] = tokens.encode("CLsb", {"o": offset + size})
        else:
            out["nextSyncToken"] = tokens.encode("CLst", {"s": self.world.seq})
        return out


def json_body(req: ApiRequest) -> dict[str, Any]:
    if not req.body:
        return {}
    try:
        value = json.loads(req.body)
    except ValueError:
        raise ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(value, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return value


def sleep_ms(ms: float) -> None:
    if ms > 0:
        time.sleep(ms / 1000.0)
