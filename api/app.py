"""The ASGI app: GraphQL at ``/graphql`` (GraphiQL in development; subscriptions over
graphql-transport-ws on the same path), health at ``/healthz``/``/readyz``, Prometheus ``/metrics``.

Built by ``create_app`` with its adapters injected; one Neo4j driver and one SQL engine per process,
opened in the lifespan. Every GraphQL request over HTTP is bounded in time (``request_timeout_s``); an
answer whose errors say the graph store is unavailable is a 503, a rate-limited mutation a 429, both
with ``Retry-After`` (``api.errors.http_status``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import neo4j
import orjson
from cachetools import LRUCache
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from graphql import GraphQLError
from sqlalchemy import Engine
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from api.auth import AuthError, JwtConfig, Principal, authenticate
from api.context import Context, IngestFn, Limits
from api.errors import QUERY_TIMEOUT, http_status, timeout_error
from api.keys import is_live, key_prefix
from api.limits import MutationRate
from api.metrics import ApiMetrics, HttpMetrics
from api.schema import MAX_COST, MAX_DEPTH, build_schema
from graph.views import NetworkViews
from streams import topics as topic_names

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0


def _token(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return conn.headers.get("x-api-key")


def _token_from_params(params: dict[str, Any]) -> str | None:
    for k in ("authorization", "Authorization"):
        v = params.get(k)
        if isinstance(v, str):
            return v[7:].strip() if v.lower().startswith("bearer ") else v
    for k in ("token", "apiKey", "api_key"):
        v = params.get(k)
        if isinstance(v, str):
            return v
    return None


class BodyLimit:
    """Refuses (413) a body larger than ``max_bytes``: by Content-Length up front, and while reading a
    chunked body (which has none)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt  # path prefixes that enforce a limit of their own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        detail = f"request body exceeds the limit of {self.max_bytes} bytes"
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        seen = 0
        too_big = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
        except Exception:
            if too_big and not response_started:
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
            raise


class GraphQLFastPath:
    """Serves a plain ``POST /graphql`` (a JSON object with a string ``query``) straight through
    ``schema.execute``, skipping FastAPI's dependency resolution and strawberry's HTTP view — the
    per-request fixed cost that dominated small queries. Same authentication (``context_getter``),
    extensions (limits, masking), result shape and orjson encoding as the router; anything else
    (GET, GraphiQL, batches, multipart, subscriptions, malformed bodies) goes on to the router
    with its body replayed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        schema: Any,
        context_getter: Callable[[HTTPConnection], Any],
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.path = path
        self.schema = schema
        self.context_getter = context_getter
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        request = _plain_request(body)
        if request is None:
            await self.app(scope, _replay(body, receive), send)
            return
        query, variables, operation_name = request
        try:
            context = await self.context_getter(Request(scope, receive))
        except HTTPException as e:
            await JSONResponse({"detail": e.detail}, status_code=e.status_code, headers=e.headers)(
                scope, receive, send
            )
            return
        context.request = Request(scope, receive)
        data: dict[str, object]
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation_name,
                    allowed_operation_types=_POST_OPERATIONS,
                )
        except (InvalidOperationTypeError, CannotGetOperationTypeError):
            # nothing ran: a subscription over HTTP or an unknown operation name, the router says why
            await self.app(scope, _replay(body, receive), send)
            return
        except TimeoutError:
            data = {"data": None, "errors": [timeout_error(self.timeout_s)]}
        else:
            data = {"data": result.data}
            if result.errors:
                data["errors"] = [err.formatted for err in result.errors]
            if result.extensions:
                data["extensions"] = result.extensions
        errors = data.get("errors")
        status, extra = http_status(errors if isinstance(errors, list) else [])
        payload = orjson.dumps(data, default=_json_default)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


def _plain_request(body: bytes) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """(query, variables, operation name) of a plain GraphQL POST body; ``None`` for anything else."""
    try:
        req = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(req, dict) or not isinstance(req.get("query"), str) or not req["query"]:
        return None
    variables = req.get("variables")
    name = req.get("operationName")
    if (variables is not None and not isinstance(variables, dict)) or (
        name is not None and not isinstance(name, str)
    ):
        return None
    if req.get("extensions"):
        return None
    return req["query"], variables, name


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _json_default(v: object) -> object:
    if hasattr(v, "iso_format"):
        return v.iso_format()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


class _BodyTooLarge(Exception):
    pass


class _Router(GraphQLRouter[Context, None]):
    """Authenticates a websocket at connection_init (API key or JWT in the payload); encodes with orjson."""

    authenticate_token: Callable[[str], Principal]
    timeout_s: float = REQUEST_TIMEOUT_S

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> ExecutionResult:
        """The operation within the time bound; the answer's status from its errors (503, 429)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
        except TimeoutError:
            formatted = timeout_error(self.timeout_s)
            return ExecutionResult(
                data=None,
                errors=[GraphQLError(str(formatted["message"]), extensions={"code": QUERY_TIMEOUT})],
            )
        status, extra = http_status([e.formatted for e in result.errors or ()])
        if status != 200:
            sub_response.status_code = status
            sub_response.headers.update(extra)
        return result

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, default=_json_default)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        token = _token_from_params(getattr(context, "connection_params", None) or {})
        if token is None and context.principal is not None:
            return None
        if token is None:
            raise ConnectionRejectionError(
                {"reason": "send an API key or JWT in the connection_init payload"}
            )
        try:
            context.principal = self.authenticate_token(token)
        except AuthError as e:
            raise ConnectionRejectionError({"reason": str(e)}) from None
        return None


def create_app(
    *,
    driver_factory: Callable[[], neo4j.AsyncDriver],
    engine: Engine,
    database: str = "neo4j",
    graphiql: bool = True,
    production: bool = False,
    max_body_bytes: int = 1_048_576,
    jwt_config: JwtConfig | None = None,
    max_cost: int = MAX_COST,
    max_depth: int = MAX_DEPTH,
    limits: Limits | None = None,
    ingest: IngestFn | None = None,
    consumer_factory: Callable[[str], Any] | None = None,
    topics: topic_names.Topics | None = None,
    risk_store_factory: Callable[[neo4j.AsyncDriver], Any] | None = None,
    ingest_producer_factory: Callable[[], Any] | None = None,
    ingest_limits: Any = None,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    mutation_rate: str | None = None,
    metrics: ApiMetrics | None = None,
) -> FastAPI:
    """``ingest_producer_factory`` (an ``EventProducer`` maker, called in the lifespan) turns on
    ``POST /v1/events`` (``connectors.http_router``) with ``ingest_limits`` (``IngestLimits``).
    ``mutation_rate`` (``limits`` syntax, e.g. ``"20/second"``) bounds GraphQL mutations per key;
    ``metrics`` is served at ``/metrics`` (a fresh ``ApiMetrics`` when not given)."""
    metrics = metrics or ApiMetrics()
    producers: dict[str, Any] = {}
    state: dict[str, neo4j.AsyncDriver] = {}
    names = topics or topic_names.Topics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["driver"] = driver_factory()
        if ingest_producer_factory is not None:
            producers["raw"] = ingest_producer_factory()
        try:
            yield
        finally:
            await state["driver"].close()
            if "raw" in producers:
                producers.pop("raw").close()

    verified: LRUCache[str, Principal] = LRUCache(maxsize=10_000)
    verified_lock = threading.Lock()  # the ingest router authenticates in worker threads

    def auth(token: str) -> Principal:
        # An API key verified once is remembered, but whether it is still live is read on every
        # request (``is_live``: one indexed read): a revoked key is refused from the next request on.
        # JWTs are checked each time (no lookup; their expiry is exact).
        prefix = key_prefix(token)
        if prefix is None:
            return authenticate(token, engine=engine, jwt_config=jwt_config)
        with verified_lock:
            hit = verified.get(token)
        if hit is not None and is_live(engine, prefix=prefix):
            return hit
        principal = authenticate(token, engine=engine, jwt_config=jwt_config)  # refuses a revoked key
        with verified_lock:
            verified[token] = principal
        return principal

    async def context(connection: HTTPConnection) -> Context:
        principal: Principal | None = None
        token = _token(connection)
        is_ws = connection.scope["type"] == "websocket"
        if token:
            try:
                principal = auth(token)
            except AuthError as e:
                if not is_ws:
                    raise HTTPException(
                        status_code=401, detail=str(e), headers={"WWW-Authenticate": "Bearer"}
                    ) from None
        elif not is_ws:
            request = connection
            wants_page = (
                isinstance(request, Request)
                and request.method == "GET"
                and "query" not in request.query_params
            )
            if not (graphiql and wants_page):
                raise HTTPException(
                    status_code=401,
                    detail="missing credentials: send 'Authorization: Bearer <API key sn_… or JWT>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        driver = state["driver"]
        ctx = Context(
            principal=principal,
            views=NetworkViews(driver, database=database, timeout_s=request_timeout_s),
            limits=limits or Limits(),
            engine=engine,
            ingest=ingest,
            risk_store_factory=(lambda: risk_store_factory(driver)) if risk_store_factory else None,
        )
        ctx.consumer_factory = consumer_factory
        ctx.topics = names
        ctx.connection_params = None
        return ctx

    app = FastAPI(title="supplynet", lifespan=lifespan, docs_url="/docs" if not production else None)
    schema = build_schema(
        production=production,
        max_depth=max_depth,
        max_cost=max_cost,
        mutation_rate=MutationRate(mutation_rate) if mutation_rate else None,
        metrics=metrics,
    )
    app.add_middleware(
        GraphQLFastPath,
        path="/graphql",
        schema=schema,
        context_getter=context,
        timeout_s=request_timeout_s,
    )
    app.add_middleware(  # outside the fast path: its limit holds there too
        BodyLimit, max_bytes=max_body_bytes, exempt=("/v1/events",) if ingest_producer_factory else ()
    )
    app.add_middleware(HttpMetrics, metrics=metrics)  # outermost: counts every answer, 413s included

    router = _Router(
        schema,
        context_getter=context,
        graphql_ide="graphiql" if graphiql else None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    router.authenticate_token = auth
    router.timeout_s = request_timeout_s
    app.include_router(router, prefix="/graphql")
    if ingest_producer_factory is not None:
        from api.policy import Action, may
        from connectors.http_router import IngestLimits, ingest_router

        app.include_router(
            ingest_router(
                producer=lambda: producers["raw"],
                authenticate=auth,
                may_send=lambda role: may(role, Action.INGEST),
                limits=ingest_limits or IngestLimits(),
            )
        )

    # The web console (console/, built with npm) at /console: static files only, data via /graphql.
    from api.console import mount_console

    mount_console(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        try:
            await state["driver"].verify_connectivity()
        except Exception as e:
            raise HTTPException(503, f"neo4j not reachable: {type(e).__name__}") from None
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
