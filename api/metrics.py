"""Prometheus metrics of the API (``GET /metrics``): GraphQL operations (count, latency, errors by
code), HTTP responses by route and status, and events accepted or refused on the ways in.

Label values are bounded: an operation is labelled by its name when the name is a plain GraphQL name
and one of the first ``max_operation_names`` distinct names this process saw; any other named operation
is ``other``, an unnamed one ``anonymous``. Routes outside ``ROUTES`` are ``other``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.errors import error_code
from api.limits import chosen_operation

ROUTES = ("/graphql", "/v1/events", "/healthz", "/readyz", "/metrics")
_INGEST_COUNTS = re.compile(rb'^\{"accepted":(\d+),"rejected":(\d+)')
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    """The API's collectors in a registry of their own (one per app)."""

    def __init__(self, *, max_operation_names: int = 100) -> None:
        self.registry = CollectorRegistry()
        self.max_operation_names = max_operation_names
        self._names: set[str] = set()
        labels = ["operation", "type"]
        self.operations = Counter(
            "supplynet_graphql_operations", "GraphQL operations run", labels, registry=self.registry
        )
        self.latency = Histogram(
            "supplynet_graphql_operation_seconds",
            "GraphQL operation latency (parse to result)",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "supplynet_graphql_errors",
            "GraphQL errors by extensions.code (VALIDATION when none)",
            [*labels, "code"],
            registry=self.registry,
        )
        self.http = Counter(
            "supplynet_http_responses",
            "HTTP responses by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.ingest = Counter(
            "supplynet_ingest_events",
            "Events offered to events.raw through the API, by way in and outcome",
            ["via", "outcome"],
            registry=self.registry,
        )

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if name in self._names:
            return name
        if _NAME.match(name) and len(self._names) < self.max_operation_names:
            self._names.add(name)
            return name
        return "other"

    def record(self, name: str | None, kind: str, seconds: float, codes: list[str]) -> None:
        op = self.operation_label(name)
        self.operations.labels(op, kind).inc()
        self.latency.labels(op, kind).observe(seconds)
        for code in codes:
            self.errors.labels(op, kind, code).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class OperationMetrics(SchemaExtension):
    """Counts each operation with its latency and its errors' codes (as the client sees them)."""

    def __init__(self, *, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        codes: list[str] = []
        try:
            yield
        except BaseException:
            codes = ["CANCELLED"]  # a time bound or a client gone: the HTTP layer says which
            raise
        finally:
            ctx = self.execution_context
            result = ctx.result
            for err in getattr(result, "errors", None) or ():
                codes.append(error_code(err.formatted))
            document = ctx.graphql_document
            op = chosen_operation(document, ctx.operation_name) if document is not None else None
            name = op.name.value if op is not None and op.name else ctx.operation_name
            kind = op.operation.value if op is not None else "unknown"
            self.metrics.record(name, kind, time.perf_counter() - started, codes)


class HttpMetrics:
    """Counts HTTP responses by route (``ROUTES`` or ``other``) and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        status = 0

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.http.labels(route, str(status)).inc()
            elif route == "/v1/events" and status == 200 and message["type"] == "http.response.body":
                # the ingest report opens with its counts (connectors.http_ingest.IngestReport)
                counts = _INGEST_COUNTS.match(message.get("body", b""))
                if counts:
                    count_ingest(self.metrics, "http", int(counts[1]), int(counts[2]))
                status = -1  # counted once
            await send(message)

        await self.app(scope, receive, counting_send)


def count_ingest(metrics: ApiMetrics, via: str, accepted: int, refused: int) -> None:
    if accepted:
        metrics.ingest.labels(via, "accepted").inc(accepted)
    if refused:
        metrics.ingest.labels(via, "refused").inc(refused)
