"""`GoogleGateway`: the engine's typed view of one account's Google Calendar.

Blocking calls (googleapiclient over httplib2), safe to use from several threads: each
thread gets its own Http/service. Every call is paced (`Pacer`), retried per
`RetryPolicy`, and counted in `counter` (quota units per method, round trips, batches,
retries) so the engine can copy the cost into its metrics.

Listing decisions:
- full listing: `singleEvents=True`, `timeMin`/`timeMax`, `maxResults=2500`, no
  `showDeleted` (default false): the result is the calendar as it is now, so anything
  the caller knew that is absent from a full listing is gone.
- incremental: ONLY `syncToken` + `singleEvents=True` + `maxResults` (Google refuses
  window filters beside a sync token, and always returns deletions as `cancelled`).
- every page is followed while `nextPageToken` is present, even after an empty page;
  410 Gone on an incremental listing falls back to a full listing
  (`EventPage.resynced_after_gone=True`).

Write semantics (`execute`): results come back in the order of `calls`, one per
`WriteCall.key`. insert 409 → the event is read and adopted (`already=True`; a
cancelled one is patched back to life with the insert body; when it cannot be read (404:
purged) or revived (403/404/410: deleted by the person) the answer is
`reason="idLost"`: that id can never be used again); delete 404/410 →
`already=True`; get 404/410 → ok with `event=None`, status 404; patch/update 412 → the
event is re-read and the write re-applied once with the fresh etag. Only failed parts
are retried. Every write carries `sendUpdates="none"`. With `stop_on_quota` (the write
path) a 403 quotaExceeded is final: it is not retried and no later chunk is sent (those
calls answer `reason="notSent"`, status 0); Google's usage limit is sticky.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.errors import BatchError, HttpError

from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.google.backoff import Retry, RetryPolicy, classify, classify_status
from calsync_tui.google.credentials import refresh_failure
from calsync_tui.google.errors import (
    CONNECTION_ERRORS,
    ErrorInfo,
    GoogleApiError,
    NeedsSignIn,
    connection_reason,
    describe_http_error,
    is_connection_error,
    unreachable,
)
from calsync_tui.google.pacer import Pacer
from calsync_tui.google.service import HTTP_TIMEOUT, ThreadLocalService, new_batch
from calsync_tui.google.types import (
    CalendarInfo,
    CallCounter,
    EventPage,
    GoogleEvent,
    WriteCall,
    WriteResult,
)

LOG = logging.getLogger(__name__)
MAX_BATCH = 1000
MAX_RESULTS = 2500
WRITE_OPS = ("insert", "patch", "update", "delete", "get")
METHODS = {op: f"events.{op}" for op in WRITE_OPS}
MAX_PAGES = 100_000
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (TransportError, *CONNECTION_ERRORS)


@dataclass
class _Outcome:
    """One part's answer: a body, or an error status/reason, and how to retry it."""

    status: int
    body: GoogleEvent | None = None
    info: ErrorInfo | None = None
    retry: Retry = Retry.NO
    transport: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.info is None and self.transport is None


# A chunk never sent because an earlier part hit the usage limit (stop_on_quota).
_NOT_SENT = _Outcome(0, info=ErrorInfo(0, "notSent", "not sent: usage limit reached"))


def _maker(collection: str, params: dict[str, Any]) -> Callable[[Any], Any]:
    """A request factory for `<collection>.list(**params)` on the thread's service."""

    def make(service: Any) -> Any:
        return service.collection(collection).list(**params)

    return make


def _chunks(items: Sequence[WriteCall], size: int) -> Iterator[list[WriteCall]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


@dataclass
class _Stop:
    """Set once a part answered quotaExceeded when the caller asked to stop on it."""

    enabled: bool
    hit: bool = False


def _severity(kind: Retry) -> int:
    return {Retry.NO: 0, Retry.REFUSED: 1, Retry.TRANSIENT: 2, Retry.QUOTA: 3}[kind]


class GoogleGateway:
    """Implements `calsync_tui.google.types.Gateway` for one account."""

    def __init__(
        self,
        credentials: Credentials,
        api_root: str,
        *,
        email: str,
        kind: str = "oauth",
        pacer: Pacer | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = HTTP_TIMEOUT,
        page_size: int = MAX_RESULTS,
        on_token_refreshed: Callable[[Credentials], None] | None = None,
        on_needs_signin: Callable[[NeedsSignIn], None] | None = None,
    ) -> None:
        self.email = email
        self.kind = kind
        self.credentials = credentials
        self.root = api_root if api_root.endswith("/") else api_root + "/"
        self.counter = CallCounter()
        self.pacer = pacer or Pacer(500)
        self.policy = policy or RetryPolicy()
        self.page_size = max(1, min(MAX_RESULTS, page_size))
        self.quota_pauses = 0
        self._services = ThreadLocalService(credentials, self.root, timeout)
        self._lock = threading.Lock()
        self._known_token = credentials.token
        self._on_token_refreshed = on_token_refreshed
        self._on_needs_signin = on_needs_signin

    def close(self) -> None:
        """Drop this thread's connection; other threads' Http objects close when collected."""
        self._services.close()

    # --- bookkeeping ---------------------------------------------------------------

    def _count(self, method: str, n: int = 1, *, batch: bool = False) -> None:
        with self._lock:
            self.counter.add(method, n)
            self.counter.round_trips += 1
            if batch:
                self.counter.batches += 1

    def _count_retries(self, n: int) -> None:
        with self._lock:
            self.counter.retries += n

    def _after_call(self) -> None:
        """Persist a token google-auth refreshed during the call."""
        token = self.credentials.token
        if token != self._known_token:
            self._known_token = token
            if self._on_token_refreshed is not None and self.kind == "oauth":
                self._on_token_refreshed(self.credentials)

    def _needs_signin(self, exc: NeedsSignIn) -> NeedsSignIn:
        if self._on_needs_signin is not None:
            self._on_needs_signin(exc)
        return exc

    def _refresh_failed(self, exc: RefreshError) -> NeedsSignIn:
        err = refresh_failure(self.email, exc, static=self.kind == "static")
        assert isinstance(err, NeedsSignIn)
        return self._needs_signin(err)

    def _api_error(self, method: str, info: ErrorInfo) -> CalsyncError:
        if info.status == 401:
            return self._needs_signin(
                NeedsSignIn(self.email, f"Google answered 401 Unauthorized to {method}")
            )
        if info.reason is None and info.status in (404, 405):
            return GoogleApiError(
                f"{self.root} does not look like the Google Calendar API: {info.status} "
                f"{info.message} for {method} (check --api-endpoint)",
                status=info.status,
                reason=None,
            )
        reason = f" {info.reason}" if info.reason else ""
        return GoogleApiError(
            f"{method} failed for {self.email}: {info.status}{reason}: {info.message}",
            status=info.status,
            reason=info.reason,
        )

    # --- single calls ------------------------------------------------------------

    def _call(self, method: str, make: Callable[[Any], Any]) -> Any:
        """Run one request with pacing and retries; HttpError escapes for the caller."""
        budget = self.policy.start()
        while True:
            self.pacer.acquire(1)
            request = make(self._services)
            self._count(method)
            try:
                result = request.execute(num_retries=0)
            except RefreshError as exc:
                raise self._refresh_failed(exc) from None
            except HttpError as exc:
                kind = classify(exc)
                if kind is Retry.QUOTA:
                    self.quota_pauses += 1
                    LOG.warning("%s: Google quota exceeded; pausing before retrying", self.email)
                if budget.wait(kind):
                    self._count_retries(1)
                    continue
                self._after_call()
                raise
            except TRANSPORT_ERRORS as exc:
                kind = Retry.TRANSIENT if isinstance(exc, TransportError) else classify(exc)
                if budget.wait(kind):
                    self._count_retries(1)
                    continue
                raise unreachable(self.root, exc) from None
            self._after_call()
            return result

    def _checked(self, method: str, make: Callable[[Any], Any]) -> Any:
        try:
            return self._call(method, make)
        except HttpError as exc:
            raise self._api_error(method, describe_http_error(exc)) from None

    def primary_email(self) -> str:
        """The signed-in account's email: the id of its primary calendar."""
        item = self._checked(
            "calendarList.get", lambda s: s.collection("calendarList").get(calendarId="primary")
        )
        email = item.get("id") if isinstance(item, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise CalsyncError(
                "Google did not return the primary calendar's id (the account email)"
            )
        return email

    def list_calendars(self) -> list[CalendarInfo]:
        out: list[CalendarInfo] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"maxResults": 250, "showHidden": True}
            if token:
                params["pageToken"] = token
            page = self._checked("calendarList.list", _maker("calendarList", params))
            for item in page.get("items", []) or []:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    LOG.warning("calendarList.list returned an entry without an id; skipped")
                    continue
                out.append(
                    CalendarInfo(
                        google_id=item["id"],
                        summary=item.get("summaryOverride") or item.get("summary") or item["id"],
                        time_zone=item.get("timeZone") or "UTC",
                        access_role=item.get("accessRole") or "reader",
                        primary=bool(item.get("primary", False)),
                    )
                )
            token = page.get("nextPageToken")
            if not token:
                return out
        raise CalsyncError("calendarList.list kept returning pages; giving up")

    def _list_pages(
        self, calendar_id: str, extra: dict[str, Any]
    ) -> tuple[list[GoogleEvent], str | None]:
        events: list[GoogleEvent] = []
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {
                "calendarId": calendar_id,
                "singleEvents": True,
                "maxResults": self.page_size,
                **extra,
            }
            if token:
                params["pageToken"] = token
            page = self._call("events.list", _maker("events", params))
            events.extend(page.get("items", []) or [])
            token = page.get("nextPageToken")
            if not token:
                return events, page.get("nextSyncToken")
            if token in seen:
                raise CalsyncError(f"events.list for {calendar_id} repeated a page token")
            seen.add(token)
        raise CalsyncError(f"events.list for {calendar_id} kept returning pages; giving up")

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None,
        time_min: str,
        time_max: str,
    ) -> EventPage:
        gone = False
        if sync_token:
            try:
                events, next_token = self._list_pages(calendar_id, {"syncToken": sync_token})
                return EventPage(events=events, next_sync_token=next_token, full=False)
            except HttpError as exc:
                info = describe_http_error(exc)
                if info.status != 410:
                    raise self._api_error("events.list", info) from None
                gone = True
        try:
            events, next_token = self._list_pages(
                calendar_id, {"timeMin": time_min, "timeMax": time_max}
            )
        except HttpError as exc:
            raise self._api_error("events.list", describe_http_error(exc)) from None
        return EventPage(
            events=events, next_sync_token=next_token, full=True, resynced_after_gone=gone
        )

    def get_event(self, calendar_id: str, event_id: str) -> GoogleEvent | None:
        """The event as Google has it (a cancelled one included), None when 404/410."""
        try:
            result = self._call(
                "events.get",
                lambda s: s.collection("events").get(calendarId=calendar_id, eventId=event_id),
            )
        except HttpError as exc:
            info = describe_http_error(exc)
            if info.status in (404, 410):
                return None
            raise self._api_error("events.get", info) from None
        return result if isinstance(result, dict) else None

    # --- batched writes ------------------------------------------------------------

    def _request(self, call: WriteCall) -> Any:
        events = self._services.collection("events")
        if call.op == "insert":
            body = dict(call.body or {})
            body["id"] = call.event_id
            return events.insert(calendarId=call.calendar_id, body=body, sendUpdates="none")
        if call.op in ("patch", "update"):
            method = events.patch if call.op == "patch" else events.update
            request = method(
                calendarId=call.calendar_id,
                eventId=call.event_id,
                body=dict(call.body or {}),
                sendUpdates="none",
            )
            if call.if_match:
                request.headers["If-Match"] = call.if_match
            return request
        if call.op == "delete":
            return events.delete(
                calendarId=call.calendar_id, eventId=call.event_id, sendUpdates="none"
            )
        if call.op == "get":
            return events.get(calendarId=call.calendar_id, eventId=call.event_id)
        raise UsageError(f"unknown write op {call.op!r} (expected one of {', '.join(WRITE_OPS)})")

    def _send_chunk(self, chunk: list[WriteCall]) -> dict[str, _Outcome]:
        """One round trip: a plain request for one call, a batch for more."""
        requests = [self._request(call) for call in chunk]
        # Writes also wait for their calendar's window (pacer.CalendarWindow): Google
        # rate-limits one calendar written in quick succession; being refused and
        # retried costs a call per part and a backoff past the window.
        writes_to = [call.calendar_id for call in chunk if call.op != "get"]
        self.pacer.acquire(len(chunk), writes_to=writes_to)
        outcomes: dict[str, _Outcome] = {}
        if len(chunk) == 1:
            call = chunk[0]
            self._count(METHODS[call.op])
            try:
                body = requests[0].execute(num_retries=0)
                outcomes[call.key] = _Outcome(200, body if isinstance(body, dict) else None)
            except HttpError as exc:
                outcomes[call.key] = self._error_outcome(describe_http_error(exc))
            except RefreshError as exc:
                raise self._refresh_failed(exc) from None
            except TRANSPORT_ERRORS as exc:
                outcomes[call.key] = self._transport_outcome(exc)
            self._after_call()
            return outcomes

        def on_part(request_id: str, response: Any, exception: HttpError | None) -> None:
            call = chunk[int(request_id)]
            if exception is not None:
                outcomes[call.key] = self._error_outcome(describe_http_error(exception))
            else:
                outcomes[call.key] = _Outcome(200, response if isinstance(response, dict) else None)

        batch = new_batch(self.root)
        for i, request in enumerate(requests):
            batch.add(request, callback=on_part, request_id=str(i))
        with self._lock:
            for call in chunk:
                self.counter.add(METHODS[call.op])
            self.counter.round_trips += 1
            self.counter.batches += 1
        failure: _Outcome | None = None
        try:
            batch.execute()
        except RefreshError as exc:
            raise self._refresh_failed(exc) from None
        except HttpError as exc:  # the whole envelope failed (e.g. 429, 503)
            failure = self._error_outcome(describe_http_error(exc))
        except (BatchError, KeyError) as exc:  # malformed or incomplete multipart answer
            failure = _Outcome(0, info=None, retry=Retry.TRANSIENT, transport=exc)
        except TRANSPORT_ERRORS as exc:
            failure = self._transport_outcome(exc)
        self._after_call()
        for call in chunk:
            if failure is not None:
                outcomes[call.key] = failure
            elif call.key not in outcomes:
                outcomes[call.key] = _Outcome(
                    0, retry=Retry.TRANSIENT, transport=KeyError(call.key)
                )
        return outcomes

    def _error_outcome(self, info: ErrorInfo) -> _Outcome:
        return _Outcome(info.status, info=info, retry=classify_status(info.status, info.reason))

    def _transport_outcome(self, exc: BaseException) -> _Outcome:
        kind = Retry.TRANSIENT if isinstance(exc, TransportError) else classify(exc)
        if kind is Retry.NO:
            kind = Retry.TRANSIENT
        return _Outcome(0, retry=kind, transport=exc)

    def _send_all(
        self, calls: Sequence[WriteCall], batch_size: int, stop: _Stop | None = None
    ) -> dict[str, _Outcome]:
        """Send every call; retry only the parts that failed retryably, per chunk.

        When a whole batch gets no answer (connection dropped after the server applied
        it), its retry goes in halves: a big batch that keeps losing its answer would
        otherwise be re-sent whole forever.
        """
        done: dict[str, _Outcome] = {}
        refused: _Outcome | None = None  # the endpoint went away mid-run
        for chunk in _chunks(calls, batch_size):
            if refused is not None:  # don't knock on a closed door N more times
                done.update((call.key, refused) for call in chunk)
                continue
            if stop is not None and stop.hit:  # usage limit: nothing more is sent
                done.update((call.key, _NOT_SENT) for call in chunk)
                continue
            budget = self.policy.start()
            pending = chunk
            size = len(chunk)
            while pending:
                retry: list[WriteCall] = []
                worst = Retry.NO
                lost = False
                for part in _chunks(pending, size):
                    outcomes = self._send_chunk(part)
                    if len(part) > 1 and all(
                        outcomes[c.key].transport and outcomes[c.key].retry is Retry.TRANSIENT
                        for c in part
                    ):
                        lost = True  # answer lost (not refused): worth retrying smaller
                    for call in part:
                        outcome = outcomes[call.key]
                        if outcome.info is not None and outcome.status == 401:
                            raise self._needs_signin(
                                NeedsSignIn(
                                    self.email, "Google answered 401 Unauthorized to a write"
                                )
                            )
                        done[call.key] = outcome  # the final answer, or kept if we give up
                        if outcome.retry is Retry.QUOTA and stop is not None and stop.enabled:
                            stop.hit = True  # final: retrying inside a lockout wastes calls
                            continue
                        if outcome.retry is not Retry.NO:
                            retry.append(call)
                            if _severity(outcome.retry) > _severity(worst):
                                worst = outcome.retry
                if not retry:
                    break
                if worst is Retry.QUOTA:
                    self.quota_pauses += 1
                    LOG.warning("%s: Google quota exceeded; pausing before retrying", self.email)
                if not budget.wait(worst):
                    if worst is Retry.REFUSED:
                        refused = done[retry[0].key]
                        answered = any(o.transport is None for o in done.values())
                        if not answered and refused.transport is not None:
                            # Nobody ever answered: one clear line, not N failed results.
                            raise unreachable(self.root, refused.transport)
                    break
                self._count_retries(len(retry))
                if lost:
                    size = max(1, size // 2)
                pending = retry
        return done

    def execute(
        self, calls: Sequence[WriteCall], *, batch_size: int = 50, stop_on_quota: bool = False
    ) -> list[WriteResult]:
        if not 1 <= batch_size <= MAX_BATCH:
            raise UsageError(f"batch size must be between 1 and {MAX_BATCH}, got {batch_size}")
        keys = [c.key for c in calls]
        if len(set(keys)) != len(keys):
            raise UsageError("write calls must have unique keys")
        for call in calls:
            if call.op not in WRITE_OPS:
                raise UsageError(f"unknown write op {call.op!r}")
        if not calls:
            return []
        stop = _Stop(stop_on_quota)
        outcomes = self._send_all(calls, batch_size, stop)
        results: dict[str, WriteResult] = {}
        adopt: list[WriteCall] = []
        stale: list[WriteCall] = []
        for call in calls:
            outcome = outcomes[call.key]
            if outcome.ok:
                results[call.key] = WriteResult(call.key, True, outcome.status, event=outcome.body)
            elif call.op == "insert" and outcome.status == 409:
                adopt.append(call)
            elif call.op == "delete" and outcome.status in (404, 410):
                results[call.key] = WriteResult(call.key, True, outcome.status, already=True)
            elif call.op == "get" and outcome.status in (404, 410):
                results[call.key] = WriteResult(call.key, True, 404, reason="notFound")
            elif call.op in ("patch", "update") and outcome.status == 412 and call.if_match:
                stale.append(call)
            else:
                results[call.key] = self._failed(call, outcome)
        if adopt:
            results.update(self._adopt(adopt, batch_size, stop))
        if stale:
            results.update(self._reapply(stale, batch_size, stop))
        return [results[c.key] for c in calls]

    def _failed(self, call: WriteCall, outcome: _Outcome) -> WriteResult:
        if outcome is _NOT_SENT:
            return WriteResult(
                call.key, False, 0, reason="notSent", message="not sent: usage limit reached"
            )
        if outcome.transport is not None:
            return WriteResult(
                call.key,
                False,
                0,
                reason="transport",
                message=f"no answer from {self.root}: {connection_reason(outcome.transport)}",
            )
        info = outcome.info
        return WriteResult(
            call.key,
            False,
            outcome.status,
            reason=info.reason if info else None,
            message=info.message if info else None,
        )

    def _adopt(
        self, calls: list[WriteCall], batch_size: int, stop: _Stop | None = None
    ) -> dict[str, WriteResult]:
        """409 on insert: the id exists; read it and adopt it (revive it if cancelled)."""
        gets = [WriteCall(c.key, "get", c.calendar_id, c.event_id) for c in calls]
        got = self._send_all(gets, batch_size)
        results: dict[str, WriteResult] = {}
        revive: list[WriteCall] = []
        for call in calls:
            outcome = got[call.key]
            event = outcome.body if outcome.ok else None
            if event is None:
                gone = outcome.status in (404, 410)
                results[call.key] = WriteResult(
                    call.key,
                    False,
                    409,
                    reason="idLost" if gone else "duplicate",
                    message="the event id exists but could not be read back"
                    + (" (deleted for good: the id cannot be used again)" if gone else ""),
                )
            elif event.get("status") == "cancelled":
                body = {**dict(call.body or {}), "status": "confirmed"}
                body.pop("id", None)
                revive.append(WriteCall(call.key, "patch", call.calendar_id, call.event_id, body))
            else:
                results[call.key] = WriteResult(call.key, True, 200, event=event, already=True)
        if revive:
            patched = self._send_all(revive, batch_size, stop)
            for call in revive:
                outcome = patched[call.key]
                if outcome.ok:
                    results[call.key] = WriteResult(
                        call.key, True, 200, event=outcome.body, already=True
                    )
                elif outcome.status in (403, 404, 410) and outcome.retry is Retry.NO:
                    results[call.key] = WriteResult(
                        call.key,
                        False,
                        outcome.status,
                        reason="idLost",
                        message="the event id exists, deleted, and Google refuses to revive it"
                        + (
                            f" ({outcome.info.reason})"
                            if outcome.info and outcome.info.reason
                            else ""
                        ),
                    )
                else:
                    results[call.key] = self._failed(call, outcome)
        return results

    def _reapply(
        self, calls: list[WriteCall], batch_size: int, stop: _Stop | None = None
    ) -> dict[str, WriteResult]:
        """412 conditionNotMet: re-read the event and send the same write with its etag."""
        gets = [WriteCall(c.key, "get", c.calendar_id, c.event_id) for c in calls]
        got = self._send_all(gets, batch_size)
        results: dict[str, WriteResult] = {}
        again: list[WriteCall] = []
        for call in calls:
            outcome = got[call.key]
            if outcome.ok and outcome.body is not None:
                etag = outcome.body.get("etag")
                again.append(
                    WriteCall(call.key, call.op, call.calendar_id, call.event_id, call.body, etag)
                )
            elif outcome.ok or outcome.status in (404, 410):
                results[call.key] = WriteResult(
                    call.key, False, 404, reason="notFound", message="the event is gone"
                )
            else:
                results[call.key] = self._failed(call, outcome)
        if again:
            sent = self._send_all(again, batch_size, stop)
            for call in again:
                outcome = sent[call.key]
                results[call.key] = (
                    WriteResult(call.key, True, outcome.status, event=outcome.body)
                    if outcome.ok
                    else self._failed(call, outcome)
                )
        return results


__all__ = ["GoogleGateway", "is_connection_error"]
