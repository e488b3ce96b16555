"""`POST /batch/calendar/v3`: multipart/mixed, at most 1000 parts, each answered on its own.

Parts are `application/http` messages (`METHOD /calendar/v3/... HTTP/1.1`, headers, body)
with a `Content-ID`; answers carry `Content-ID: <response-ID>` as Google's do, which is
what googleapiclient's `BatchHttpRequest` maps back to its callbacks.

Strict (Google's batch guide, "Send batch requests": "the server might perform your calls
in any order"; GOOGLE_FACTS.md: answers in any order, a whole batch may fail with 5xx or
429): parts run and are answered in a seeded shuffled order (`BatchFaults.rng`, lenient
`batch_order`: request order), and a seeded share of whole batches fails with 503 or 429
before any part runs (lenient `batch_failures`).
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser, Parser
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from calsync_tui.sandbox.errors import ApiError
from calsync_tui.sandbox.handlers import Api, ApiRequest, ApiResponse, bearer

MAX_PARTS = 1000
BATCH_PATH = "/batch/calendar/v3"
# Whole-batch failures, on by default at a low seeded rate: the product's gateway retries
# a failed envelope as transient (google/gateway.py), so it must cope.
DEFAULT_BATCH_FAILURE_RATE = 0.02


@dataclass
class BatchFaults:
    """Seeded batch behaviour: part order and whole-batch failures (reproducible runs)."""

    seed: int = 0
    failure_rate: float = DEFAULT_BATCH_FAILURE_RATE
    shuffle: bool = True
    rng: random.Random = field(default_factory=random.Random, repr=False)
    fail_rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    failed: int = 0

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)
        self.fail_rng.seed(self.seed + 1)

    def order(self, n: int) -> list[int]:
        idx = list(range(n))
        if self.shuffle:
            with self._lock:
                self.rng.shuffle(idx)
        return idx

    def envelope_failure(self) -> ApiError | None:
        with self._lock:
            u = self.fail_rng.random()
            if u >= self.failure_rate:
                return None
            self.failed += 1
            second = self.fail_rng.random() < 0.5
        if second:
            return ApiError(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
        return ApiError(503, "backendError", "Backend Error")


def parse_parts(content_type: str, body: bytes) -> list[tuple[str | None, ApiRequest]]:
    """(Content-ID, request) per part; a malformed body is 400 for the whole batch."""
    if "multipart/" not in content_type.lower() or "boundary" not in content_type.lower():
        raise ApiError(400, "badRequest", "Batch request must be multipart/mixed with a boundary.")
    message = BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ApiError(400, "badRequest", "Invalid multipart request.")
    parts = message.get_payload()
    assert isinstance(parts, list)
    if not parts:
        raise ApiError(400, "badRequest", "Empty batch request.")
    if len(parts) > MAX_PARTS:
        raise ApiError(
            400,
            "badRequest",
            f"A batch request cannot contain more than {MAX_PARTS} requests.",
        )
    out: list[tuple[str | None, ApiRequest]] = []
    for part in parts:
        raw = part.get_payload(decode=False) if isinstance(part, Message) else None
        if not isinstance(raw, str) or not isinstance(part, Message):
            raise ApiError(400, "badRequest", "Invalid batch part.")
        out.append((part.get("Content-ID"), parse_http(raw)))
    return out


def parse_http(raw: str) -> ApiRequest:
    text = raw.lstrip("\r\n")
    line, _, rest = text.partition("\n")
    bits = line.strip().split()
    if len(bits) < 2:
        raise ApiError(400, "badRequest", "Invalid batch part request line.")
    method, target = bits[0].upper(), bits[1]
    head = Parser().parsestr(rest)
    headers = {k.lower(): str(v) for k, v in head.items()}
    payload = head.get_payload()
    body = payload.encode() if isinstance(payload, str) else b""
    url = urlsplit(target)
    return ApiRequest(
        method, url.path, parse_qs(url.query, keep_blank_values=True), headers, body.strip()
    )


def response_id(content_id: str | None) -> str | None:
    if not content_id:
        return None
    inner = content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    return f"<response-{inner}>"


def run_batch(
    api: Api,
    content_type: str,
    body: bytes,
    headers: dict[str, str],
    faults: BatchFaults | None = None,
) -> tuple[ApiResponse, bytes, str]:
    """(summary response, multipart body, content type); `summary.drop` loses the whole answer.

    A whole-batch failure raises ApiError (nothing ran); the HTTP layer answers it."""
    parts = parse_parts(content_type, body)
    if faults is not None:
        failure = faults.envelope_failure()
        if failure is not None:
            raise failure
        order = faults.order(len(parts))
    else:
        order = list(range(len(parts)))
    outer = bearer(headers)
    boundary = f"batch_{uuid.uuid4().hex}"
    chunks: list[bytes] = []
    drop = False
    for index in order:
        content_id, req = parts[index]
        resp = api.handle(req, fallback_token=outer)
        drop = drop or resp.drop
        reason = HTTPStatus(resp.status).phrase
        payload = resp.payload()
        lines = [f"--{boundary}", "Content-Type: application/http"]
        rid = response_id(content_id)
        if rid:
            lines.append(f"Content-ID: {rid}")
        lines += ["", f"HTTP/1.1 {resp.status} {reason}"]
        if payload:
            lines.append("Content-Type: application/json; charset=UTF-8")
        lines.append(f"Content-Length: {len(payload)}")
        lines += ["", ""]
        chunks.append("\r\n".join(lines).encode() + payload + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    summary = ApiResponse(200, None, drop=drop)
    return summary, b"".join(chunks), f"multipart/mixed; boundary={boundary}"
