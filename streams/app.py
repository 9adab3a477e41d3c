"""The faust app, built by ``create_app`` (never at import). Agents are thin: decode, call, ack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT

from streams import topics
from streams.pipeline import Pipeline
from streams.stages import Incoming

log = logging.getLogger(__name__)


def _take(stream: faust.StreamT[Any], max_: int, *, within: float) -> AsyncIterator[Sequence[EventT[Any]]]:
    """Batches of events (size- and time-bounded); their offsets are acked after the batch is handled."""
    # take_events lives on the concrete Stream, not on the StreamT interface faust types agents with.
    return cast(Stream[Any], stream).take_events(max_, within=within)


def _incoming(event: Any) -> Incoming:
    m = event.message
    return Incoming(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key, value=m.value)


def create_app(
    *,
    app_id: str,
    brokers: str,
    broker_credentials: Any,
    batch_size: int,
    batch_seconds: float,
    web_port: int,
    pipeline_factory: Callable[[], Pipeline],
) -> faust.App:
    """A faust app with two agents: ``validate`` (events.raw) and ``project`` (events.valid).

    ``pipeline_factory`` is called once, inside the worker's event loop, on the first batch.
    """
    app = faust.App(
        app_id,
        broker=[f"kafka://{b.strip()}" for b in brokers.split(",")],
        broker_credentials=broker_credentials,
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        topic_allow_declare=False,  # `supplynet init` owns topic creation and partition counts
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_host="127.0.0.1",
        web_port=web_port,
        web_bind="127.0.0.1",
    )
    raw = app.topic(topics.RAW, key_type=bytes, value_type=bytes)
    valid = app.topic(topics.VALID, key_type=bytes, value_type=bytes)
    state: dict[str, Pipeline] = {}

    def pipeline() -> Pipeline:
        if "p" not in state:
            state["p"] = pipeline_factory()
        return state["p"]

    async def validate(stream: faust.StreamT[Any]) -> None:
        async for batch in _take(stream, batch_size, within=batch_seconds):
            ok, bad = await pipeline().validate([_incoming(e) for e in batch])
            log.info("validate: %d valid, %d to DLQ", ok, bad)

    async def project(stream: faust.StreamT[Any]) -> None:
        async for batch in _take(stream, batch_size, within=batch_seconds):
            n = await pipeline().project([_incoming(e) for e in batch])
            log.info("project: %d events written to the graph", n)

    app.agent(raw, name="validate")(validate)
    app.agent(valid, name="project")(project)

    async def _close(sender: Any, *args: Any, **kwargs: Any) -> None:
        if "p" in state:
            state["p"].close()
            await state["p"].writer.driver.close()

    app.on_before_shutdown.connect(cast(Any, _close))

    return app
