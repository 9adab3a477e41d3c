"""The ASGI app: GraphQL at ``/graphql`` (GraphiQL in development), health at ``/healthz``/``/readyz``.

Built by ``create_app`` with its adapters injected; one Neo4j driver and one SQL engine per process,
opened in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import neo4j
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from strawberry.fastapi import GraphQLRouter

from api.context import Context
from api.keys import verify_key
from api.schema import build_schema
from graph.views import GraphViews


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def create_app(
    *,
    driver_factory: Callable[[], neo4j.AsyncDriver],
    engine: Engine,
    database: str = "neo4j",
    graphiql: bool = True,
    production: bool = False,
    max_body_bytes: int = 1_048_576,
) -> FastAPI:
    state: dict[str, neo4j.AsyncDriver] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["driver"] = driver_factory()
        try:
            yield
        finally:
            await state["driver"].close()

    async def context(request: Request) -> Context:
        token = _token(request)
        principal = verify_key(engine, token=token) if token else None
        if principal is None:
            wants_page = request.method == "GET" and "query" not in request.query_params
            if not (graphiql and wants_page):
                raise HTTPException(
                    status_code=401,
                    detail="missing or invalid API key: send 'Authorization: Bearer sn_…'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Context(principal=principal, views=GraphViews(state["driver"], database=database))

    app = FastAPI(title="supplynet", lifespan=lifespan, docs_url="/docs" if not production else None)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"body exceeds {max_body_bytes} bytes"}, status_code=413)
        return await call_next(request)

    router: GraphQLRouter[Context, None] = GraphQLRouter(
        build_schema(production=production),
        context_getter=context,
        graphql_ide="graphiql" if graphiql else None,
    )
    app.include_router(router, prefix="/graphql")

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

    return app
