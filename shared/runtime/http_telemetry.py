"""What each HTTP request leaves behind: an access log line, a sample of the request metric,
and (when tracing) the server span the request's handling runs in.

The access log is JSON like every other line. It names the route template, never the path
as sent (a calendar feed's path or query may hold a token), and the client's network, never
its address (the last IPv4 octet, or all but the first 48 bits of IPv6, zeroed). Headers are
not logged at all, so no token is.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.messaging import tracing

access_log = logging.getLogger("kulturskole.access")

HTTP_SECONDS = Histogram(
    "ks_http_request_seconds",
    "HTTP requests: time to answer, by route template, method and status",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Probes and scrapes come every few seconds: their lines are debug, their metrics kept.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "(unmatched)"
# A method is a label: anything a client may send would make a time series of its own.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROPAGATOR = TraceContextTextMapPropagator()


def masked_client(scope: Scope) -> str | None:
    """The client's network: an IPv4 address with its last octet zeroed, IPv6 to its /48."""
    client = scope.get("client")
    if not client:
        return None
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return "(not an IP address)"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/rounds/{round_id}`), with the prefix of a
    router it was included under; `(unmatched)` when none did."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return path


class HttpTelemetry:
    """Pure ASGI middleware (no body buffering, no extra task per request)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        method = str(scope.get("method", ""))
        if method not in METHODS:
            method = "OTHER"
        if not tracing.active():
            try:
                await self.app(scope, receive, sending)
            finally:
                self._record(scope, method, status, started)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in (b"traceparent", b"tracestate")
        }
        # A caller's W3C trace context (a gateway, another system) is continued.
        parent = _PROPAGATOR.extract(headers) if headers else None
        with tracing.span(
            self.service,
            method,
            parent=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
        ) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = self._record(scope, method, status, started)
                if span is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)

    def _record(self, scope: Scope, method: str, status: int, started: float) -> str:
        elapsed = time.perf_counter() - started
        route = route_of(scope)
        HTTP_SECONDS.labels(self.service, method, route, str(status)).observe(elapsed)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "http request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": masked_client(scope),
                    "trace_id": tracing.current_trace_id(),
                },
            )
        return route
