"""The faust app, built by ``create_app`` (never at import). Agents are thin: decode, call, ack."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT

from streams.pipeline import Pipeline
from streams.projection import Projected, Projector
from streams.stages import Incoming
from streams.topics import Topics

log = logging.getLogger(__name__)


def _take(stream: faust.StreamT[Any], max_: int, *, within: float) -> AsyncIterator[Sequence[EventT[Any]]]:
    """Batches of events (size- and time-bounded); their offsets are acked after the batch is handled."""
    # take_events lives on the concrete Stream, not on the StreamT interface faust types agents with.
    return cast(Stream[Any], stream).take_events(max_, within=within)


def _log_projected(done: Projected) -> None:
    log.info("project: %d events applied, %d to DLQ", done.applied, done.dead_lettered)


def stream_has_more(stream: faust.StreamT[Any]) -> bool:
    """Whether more events are already buffered for ``stream`` (else: commit now, don't wait)."""
    channel: Any = cast(Stream[Any], stream).channel
    queue = getattr(channel, "queue", None)
    return bool(queue is not None and queue.qsize())


def _incoming(event: Any) -> Incoming:
    m = event.message
    return Incoming(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key, value=m.value)


def _seek_to_graph(app: faust.App, topic: str, projector: Callable[[], Projector]) -> None:
    """Make the consumer start each assigned partition of ``topic`` at the offset stored in Neo4j.

    faust seeks every assigned partition to Kafka's committed offset after a rebalance
    (``Consumer.perform_seek``, called by its recovery service once the ``on_partitions_assigned``
    signal was handled), which would override a seek done in the signal. So the consumer's
    ``perform_seek`` is wrapped once: after faust's seek, partitions with a stored offset are sought
    there, and faust's commit bookkeeping is told that offset is committed, so its own commits carry
    on from there. Neo4j is the source of truth: it holds exactly what the graph applied.
    """
    consumer: Any = app.consumer
    if getattr(consumer, "_supplynet_graph_seek", False):
        return
    original = consumer.perform_seek

    async def perform_seek() -> None:
        await original()
        assigned = {tp for tp in consumer.assignment() if tp.topic == topic}
        if not assigned:
            return
        stored = await projector().stored_offsets(topic)
        for tp in sorted(assigned):
            offset = stored.get(tp.partition)
            if offset is not None:
                await consumer.seek(tp, offset)
                consumer._committed_offset[tp] = offset
                log.info("project: %s[%d] starts at graph offset %d", tp.topic, tp.partition, offset)

    consumer.perform_seek = perform_seek
    consumer._supplynet_graph_seek = True


def create_app(
    *,
    app_id: str,
    brokers: str,
    broker_credentials: Any,
    batch_size: int,
    batch_seconds: float,
    web_port: int,
    pipeline_factory: Callable[[], Pipeline],
    topic_names: Topics | None = None,
    risk: Callable[[faust.App, faust.TopicT], None] | None = None,
    kpi_seconds: float = 1.0,
    kpi_batch: int = 250,
) -> faust.App:
    """A faust app with two agents: ``validate`` (events.raw) and ``project`` (events.valid).

    ``pipeline_factory`` is called once, inside the worker's event loop, on first use. The project
    agent's partitions start at the offsets stored in Neo4j with the graph (see ``_seek_to_graph``).
    """
    names = topic_names or Topics()
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
    raw = app.topic(names.raw, key_type=bytes, value_type=bytes)
    valid = app.topic(names.valid, key_type=bytes, value_type=bytes)
    state: dict[str, Pipeline] = {}
    projectors: dict[str, Projector] = {}

    def pipeline() -> Pipeline:
        if "p" not in state:
            state["p"] = pipeline_factory()
        return state["p"]

    def projector() -> Projector:
        if "p" not in projectors:
            p = pipeline()
            projectors["p"] = Projector(writer=p.writer, dlq_out=p.dlq_out, group=app_id)
        return projectors["p"]

    async def validate(stream: faust.StreamT[Any]) -> None:
        async for batch in _take(stream, batch_size, within=batch_seconds):
            ok, bad = await pipeline().validate([_incoming(e) for e in batch])
            log.info("validate: %d valid, %d to DLQ", ok, bad)

    async def project(stream: faust.StreamT[Any]) -> None:
        # Two batches in flight: the next one is decoded and mapped while Neo4j writes this one
        # (the worker's CPU and Neo4j's overlap). Commits stay in order, one at a time. Acking a
        # batch before its graph commit is safe: the graph's own offsets are where a partition
        # restarts (``_seek_to_graph``), and a replay is a no-op.
        writing: asyncio.Task[Projected] | None = None
        try:
            async for batch in _take(stream, batch_size, within=batch_seconds):
                prepared = await projector().prepare([_incoming(e) for e in batch])
                if writing is not None:
                    _log_projected(await writing)
                writing = asyncio.ensure_future(projector().commit(prepared))
                if not stream_has_more(stream):
                    _log_projected(await writing)
                    writing = None
        finally:
            if writing is not None:
                _log_projected(await writing)

    app.agent(raw, name="validate")(validate)
    app.agent(valid, name="project")(project)
    if risk is not None:  # live risk scores and alerts: streams.risk.register
        risk(app, valid)

    async def refresh_kpis() -> None:
        if "p" in state:  # nothing to refresh before the first batch
            n = await projector().refresh_kpis(limit=kpi_batch, rounds=1)
            if n:
                log.info("project: KPIs of %d enterprise(s) refreshed", n)

    app.timer(kpi_seconds, name="refresh_kpis")(refresh_kpis)

    async def _close(sender: Any, *args: Any, **kwargs: Any) -> None:
        if "p" in state:
            state["p"].close()
            await state["p"].writer.driver.close()

    app.on_before_shutdown.connect(cast(Any, _close))

    async def _assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        _seek_to_graph(app, names.valid, projector)

    app.on_partitions_assigned.connect(cast(Any, _assigned))

    return app
