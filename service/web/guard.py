"""What stands between the open internet and the question path (pure ASGI, no framework magic).

- a request body is read at most up to ``max_body_bytes`` before anything parses it (413); the rest of a
  refused body is read away first, within bounds (``LINGER_BYTES``, ``LINGER_SECONDS``), so that a client
  still sending it reads the 413 instead of a connection reset (Python's urllib, for one);
- each client address gets a token bucket on the limited paths (429 with ``Retry-After``);
- at most ``max_inflight`` questions (and suggestions) are answered at once; one more is refused at once
  (503 with ``Retry-After``) instead of queueing until every client times out;
- every response carries ``X-Content-Type-Options``, ``Referrer-Policy`` and, for HTML pages, a
  Content-Security-Policy (a header the application set itself is kept).

Refusals use the API's one error shape (``service.web.errors``) with a French message.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp as StarletteApp
from starlette.types import Receive as StarletteReceive
from starlette.types import Scope as StarletteScope
from starlette.types import Send as StarletteSend

from service.web.errors import envelope_bytes, error_response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A route declares how it is guarded, beside its path (``openapi_extra=guarded(...)``), so that renaming
# a route keeps its limits: QUESTION routes encode a question (the model's work), rate-limited and bounded
# in flight (suggestions are asked while the reader types: they count like questions, in the same bucket,
# rather than being a free side door); READER routes are called by a reader's browser and cost disk,
# rate-limited only.
POLICY = "x-sourcier-guard"
QUESTION, READER = "question", "reader"
MAX_CLIENTS = 10_000  # rate-limit buckets kept in memory; the least recently seen are forgotten first
OVERLOAD_RETRY_AFTER = 1  # seconds
# A refused body is read away up to this much, for this long (nginx's lingering close, bounded the same
# way): enough for any honest client on a real link, too little for a slow sender to hold a worker.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5.0

# The demo page and article pages: their own script and styles, the widget's shadow-root <style>,
# fetches to this service only; no frames, no plugins, no <base> tricks.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def guarded(policy: str) -> dict[str, str]:
    """A route's ``openapi_extra`` declaring its policy (QUESTION or READER); it shows in the OpenAPI schema."""
    if policy not in (QUESTION, READER):
        raise ValueError(f"unknown guard policy {policy!r}")
    return {POLICY: policy}


SITE_PATH = "/sites/{site}"  # service.sites.site_prefix: where each site's routes live when there are several


def site_of(path: str) -> tuple[str, str]:
    """``/sites/aide/api/ask`` → ("aide", "/api/ask"); a path outside ``/sites/`` → ("", path)."""
    if not path.startswith("/sites/"):
        return "", path
    site, _, rest = path[len("/sites/") :].partition("/")
    return site, "/" + rest


def policy_paths(schema: dict[str, Any]) -> dict[str, set[str]]:
    """The paths whose operations declare each policy, read from the app's OpenAPI schema (where
    ``guarded`` puts it: the public record of the routes), a site's routes by their path in the site.
    A guarded path cannot have other parameters."""
    paths: dict[str, set[str]] = {QUESTION: set(), READER: set()}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            policy = operation.get(POLICY) if isinstance(operation, dict) else None
            if policy is None:
                continue
            path = path.removeprefix(SITE_PATH)
            if "{" in path:
                raise ValueError(f"{path}: a guarded route's path cannot have parameters")
            paths[policy].add(path.rstrip("/") or "/")
    return paths


async def send_error(send: Send, status: int, code: str, message: str, retry_after: int | None = None) -> None:
    """A complete JSON error response, sent straight from the middleware."""
    body = envelope_bytes(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by client address: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(
        self, per_minute: float, burst: int, max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def wait(self, client: str) -> float:
        """0 when ``client`` may go on now (a token is taken), else the seconds until it may."""
        now = self.clock()
        bucket = self.buckets.pop(client, None) or Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self.buckets[client] = bucket
        if len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class Guard:
    """The ASGI middleware; see the module docstring. ``rate_per_minute`` 0 turns the rate limit off.
    With several sites, each site has its own buckets and its own rate (``site_rates``: per minute and
    burst by site id); questions in flight are bounded for the process (they share its cores)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        rate_per_minute: float,
        burst: int,
        max_inflight: int,
        paths: dict[str, set[str]],
        site_rates: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        """``paths``: the paths of each policy, from the routes' declarations (``policy_paths``)."""
        self.app = app
        self.question_paths = frozenset(paths[QUESTION])
        self.limited_paths = self.question_paths | paths[READER]
        self.max_body_bytes = max_body_bytes
        self.limiter = RateLimiter(rate_per_minute, burst) if rate_per_minute > 0 else None
        self.site_limiters = {
            site: RateLimiter(rate, site_burst) if rate > 0 else None
            for site, (rate, site_burst) in (site_rates or {}).items()
        }
        self.max_inflight = max_inflight
        self.inflight = 0  # only touched from the event loop, so no lock is needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        site, path = site_of(scope["path"])
        path = path.rstrip("/") or "/"
        send = self._with_headers(send)
        limiter = self.site_limiters.get(site, self.limiter)  # "" (the root) is no site's: the process's
        if limiter is not None and path in self.limited_paths and scope["method"] != "OPTIONS":
            client = scope.get("client")
            wait = limiter.wait(client[0] if client else "")
            if wait:
                await send_error(
                    send,
                    429,
                    "too_many_requests",
                    "Trop de questions en peu de temps : réessayez dans quelques secondes.",
                    math.ceil(wait),
                )
                return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        replay = _replay(body, receive)
        if path not in self.question_paths:
            await self.app(scope, replay, send)
            return
        if self.inflight >= self.max_inflight:
            await send_error(
                send,
                503,
                "overloaded",
                "Le service est très sollicité : réessayez dans un instant.",
                OVERLOAD_RETRY_AFTER,
            )
            return
        self.inflight += 1
        try:
            await self.app(scope, replay, send)
        finally:
            self.inflight -= 1

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body; None when the client left, or after answering 413 to a body that is (or
        announces to be) too large."""
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            if int(declared) <= LINGER_BYTES:
                await _drain(receive)
            await self._too_large(send)
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive)
                await self._too_large(send)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send, 413, "payload_too_large", f"Le corps de la requête dépasse {self.max_body_bytes} octets."
        )

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(n, v) for n, v in COMMON_HEADERS if n not in present]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                message = {**message, "headers": headers + extra}
            await send(message)

        return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then defers to the server (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


# What a browser page of an allowed origin may send: the API's two methods and a JSON body.
CORS_OPTIONS: dict[str, Any] = {"allow_methods": ["GET", "POST"], "allow_headers": ["Content-Type"]}


class JSONErrorCORS(CORSMiddleware):
    """Starlette's CORS allow-list, whose refused preflights use the API's JSON error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
        return error_response(
            response.status_code, "cors_refused", "Origine, méthode ou en-tête non autorisé pour cette API.", headers
        )


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a request body: at most ``LINGER_BYTES``, for at most ``LINGER_SECONDS``."""
    loop = asyncio.get_running_loop()
    deadline, drained = loop.time() + LINGER_SECONDS, 0
    while drained <= LINGER_BYTES:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class SiteCORS:
    """CORS by site: a request under ``/sites/<id>/`` gets that site's allowed origins (its own
    ``JSONErrorCORS``), any other none — so a page of site A can never call site B's API from a browser."""

    def __init__(self, app: StarletteApp, origins: dict[str, list[str]]) -> None:
        self.app = app
        self.by_site: dict[str, StarletteApp] = {
            site: JSONErrorCORS(app, allow_origins=allowed, **CORS_OPTIONS)
            for site, allowed in origins.items()
            if allowed
        }

    async def __call__(self, scope: StarletteScope, receive: StarletteReceive, send: StarletteSend) -> None:
        site, _ = site_of(scope.get("path", "")) if scope["type"] == "http" else ("", "")
        await self.by_site.get(site, self.app)(scope, receive, send)
