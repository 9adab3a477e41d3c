"""``POST /v1/events``: the FastAPI adapter over ``connectors.http_ingest`` (auth, limits, status codes).

No ``from __future__ import annotations`` here: FastAPI resolves the dependencies of the local
functions below from their annotations at definition time.
"""

import gc
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from connectors.http_ingest import (
    JSON,
    NDJSON,
    BodyUnreadable,
    Caller,
    IngestUnavailable,
    Sender,
    TokenBucket,
    UnsupportedMediaType,
    ingest,
)
from schema.tables import Role
from schema.validate import MAX_FUTURE


@dataclass(frozen=True)
class IngestLimits:
    """Largest body (413 above), per-key rate limit (429 above) as a token bucket; how far an event's
    time may be ahead of the clock (refused per event above)."""

    max_body_bytes: int = 16 * 1024 * 1024
    rate_per_second: float = 50.0
    burst: int = 100
    max_future: timedelta = MAX_FUTURE


class FieldErrorModel(BaseModel):
    field: str | None = Field(description="JSON path of the offending field, e.g. `$.data.share`")
    reason: str = Field(description="What is wrong, in words an integrator can act on")
    error_class: str = Field(
        description="contract, encoding, size, version, duplicate (id repeated in this request) or "
        "source (the envelope's source is not the key's)"
    )


class EventResultModel(BaseModel):
    index: int = Field(description="Position of the event in the request, from 0")
    id: str | None = Field(description="The event's id, when it could be read")
    status: str = Field(description="`accepted` (Kafka acknowledged it) or `rejected`")
    errors: list[FieldErrorModel] = Field(description="Why it was rejected (empty when accepted)")


class IngestReportModel(BaseModel):
    accepted: int
    rejected: int
    events: list[EventResultModel]


DESCRIPTION = f"""
Send events from an ERP. The body is either a JSON array of events (`Content-Type: {JSON}`) or one
event per line (`Content-Type: {NDJSON}`), UTF-8. Each event is a CloudEvents 1.0 envelope of the
supplynet catalog (see the event docs and the JSON Schemas from `supplynet schema export`).

Every event is checked on its own; the answer (200) lists every event of the request in order, with
its index, its id and `accepted` or `rejected`. A rejected event names the field (JSON path), the
reason and an error class; fix and resend only those. An event is reported `accepted` only after
Kafka acknowledged it (idempotent producer, `acks=all`): resending an accepted event is harmless, it
is deduplicated by `id`. An id used twice in one request: the second is rejected.

Authentication: `Authorization: Bearer <API key>` (or `X-API-Key`). An `erp` key may only send events
whose `source` is the key's own source; an `admin` key any source; other roles get 403.

Other answers: 400 body unreadable as a whole, 401 no or unknown key, 403 role may not ingest,
413 body too large, 415 unsupported Content-Type, 429 rate limit (wait `Retry-After` seconds),
503 Kafka unavailable — nothing of the request was accepted; retry later.
"""

_EXAMPLE_EVENT = {
    "specversion": "1.0",
    "id": "wisco-inv-000123",
    "source": "sap-ecc/wisco",
    "type": "inventory.reported",
    "time": "2026-06-01T08:30:00+08:00",
    "subject": "wisco",
    "data": {"...": "payload of inventory.reported"},
}

_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"type": "array", "items": {"type": "object"}}, "example": [_EXAMPLE_EVENT]},
            NDJSON: {"schema": {"type": "string"}, "example": '{"specversion":"1.0","id":"…"}\n'},
        },
    }
}

_bearer = HTTPBearer(auto_error=False, description="API key `sn_…` (or a JWT when configured)")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key `sn_…`")
_encode = msgspec.json.Encoder()


def ingest_router(
    *,
    producer: Callable[[], Sender],
    authenticate: Callable[[str], Caller],
    may_send: Callable[[Role], bool],
    limits: IngestLimits = IngestLimits(),
) -> APIRouter:
    """The router; ``authenticate`` raises on an unknown credential, ``producer`` gives the live one,
    ``may_send`` says which roles may send events (the API's one policy layer decides; not this router)."""
    bucket = TokenBucket(limits.rate_per_second, limits.burst)
    # The app's long-lived objects (GraphQL schema, drivers) are built by now: keep them out of every
    # garbage collection, which otherwise rescans them while a batch allocates thousands of objects.
    gc.freeze()
    router = APIRouter(tags=["ingest"])

    async def caller(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> tuple[str, Caller]:
        token = bearer.credentials if bearer is not None else api_key
        if not token:
            raise HTTPException(
                401,
                "missing credentials: send 'Authorization: Bearer <API key>'",
                {"WWW-Authenticate": "Bearer"},
            )
        try:
            who = await run_in_threadpool(authenticate, token)
        except Exception as e:  # the authenticator's refusal (never echoes the secret)
            raise HTTPException(401, str(e), {"WWW-Authenticate": "Bearer"}) from None
        if not may_send(who.role):
            senders = " or ".join(r.value for r in Role if may_send(r))
            raise HTTPException(403, f"a {who.role.value} key may not send events ({senders} only)")
        return token, who

    @router.post(
        "/v1/events",
        summary="Send a batch of events (JSON array or NDJSON)",
        description=DESCRIPTION,
        response_model=IngestReportModel,
        openapi_extra=_OPENAPI_BODY,
        responses={
            400: {"description": "Body unreadable as a whole"},
            401: {"description": "No or unknown API key"},
            403: {"description": "This key's role may not send events"},
            413: {"description": "Body larger than the limit"},
            415: {"description": "Content-Type not application/json or application/x-ndjson"},
            429: {"description": "Rate limit of this key; retry after `Retry-After` seconds"},
            503: {"description": "Kafka unavailable: nothing of this request was accepted; retry later"},
        },
    )
    async def post_events(request: Request, who: Annotated[tuple[str, Caller], Depends(caller)]) -> Response:
        token, principal = who
        wait = bucket.take(token)
        if wait > 0:
            raise HTTPException(
                429,
                f"rate limit of {limits.rate_per_second:g} requests/s for this key; retry later",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
            raise HTTPException(413, f"body exceeds the limit of {limits.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise HTTPException(413, f"body exceeds the limit of {limits.max_body_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        content_type = request.headers.get("content-type")
        try:
            report = await run_in_threadpool(
                partial(ingest, max_future=limits.max_future), body, content_type, principal, producer()
            )
        except UnsupportedMediaType as e:
            raise HTTPException(415, str(e)) from None
        except BodyUnreadable as e:
            raise HTTPException(400, str(e)) from None
        except IngestUnavailable as e:
            raise HTTPException(503, str(e), {"Retry-After": "5"}) from None
        return Response(_encode.encode(report), media_type=JSON)

    return router
