"""The worker's faust app, built by ``create_app`` (never at import). Agents are thin: decode, call, ack."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT

from graph.freshness import risk_computed_at
from streams.batches import BatchProjection, kafka_group
from streams.metrics import CONTENT_TYPE, ConsumedTopic, GroupLag, WorkerMetrics
from streams.pipeline import Pipeline
from streams.projection import Projector
from streams.stages import Incoming
from streams.topics import Topics

log = logging.getLogger(__name__)


async def _take(
    stream: faust.StreamT[Any], max_: int, *, within: float
) -> AsyncIterator[Sequence[EventT[Any]]]:
    """Batches of events (size- and time-bounded); their offsets are acked after the batch is handled.

    Each batch also counts as inbound activity of its partitions for faust's stall detector:
    ``take_events`` reads the channel directly and skips the sensor that records it, so with input
    waiting faust logged "Stream has not started processing TP(...)" as an ERROR every few seconds
    once the worker had run ``stream.stall_seconds``, though the stage was working.
    """
    # take_events lives on the concrete Stream, not on the StreamT interface faust types agents with.
    inbound = stream.app.monitor.stream_inbound_time
    async for batch in cast(Stream[Any], stream).take_events(max_, within=within):
        now = time.monotonic()
        for tp in {e.message.tp for e in batch}:
            inbound[tp] = now
        yield batch


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
    topic_names: Topics | None = None,
    kpi_seconds: float = 1.0,
    kpi_batch: int = 250,
    consumer_conf: Mapping[str, Any] | None = None,
    admin_sources: Sequence[str] = (),
    metrics: WorkerMetrics | None = None,
    stall_seconds: float = 300.0,
) -> faust.App:
    """The worker: the ``validate`` agent (events.raw), the project stage (events.valid), the KPI timer.
    Never live risk: that is the risk process's (``streams/risk_process.py``), in a group of its own.

    ``pipeline_factory`` is called once, inside the worker's event loop, on first use. The project
    stage reads whole batches with librdkafka (``streams/batches.py``, configured by
    ``consumer_conf``, default: just the brokers); its partitions start at the offsets stored in
    Neo4j with the graph.
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
        stream_processing_timeout=stall_seconds,
        broker_commit_livelock_soft_timeout=stall_seconds,
        producer_acks=-1,
        web_host="127.0.0.1",
        web_port=web_port,
        web_bind="127.0.0.1",
    )
    raw = app.topic(names.raw, key_type=bytes, value_type=bytes)
    state: dict[str, Pipeline] = {}
    projectors: dict[str, Projector] = {}

    def pipeline() -> Pipeline:
        if "p" not in state:
            state["p"] = pipeline_factory()
        return state["p"]

    def projector() -> Projector:
        if "p" not in projectors:
            p = pipeline()
            projectors["p"] = Projector(
                writer=p.writer, dlq_out=p.dlq_out, group=app_id, admin_sources=admin_sources
            )
        return projectors["p"]

    async def validate(stream: faust.StreamT[Any]) -> None:
        async for batch in _take(stream, batch_size, within=batch_seconds):
            ok, bad = await pipeline().validate([_incoming(e) for e in batch])
            log.info("validate: %d valid, %d to DLQ", ok, bad)

    projection = BatchProjection(
        conf=consumer_conf or {"bootstrap.servers": brokers},
        app_id=app_id,
        topic=names.valid,
        projector=projector,
        batch_size=batch_size,
        batch_seconds=batch_seconds,
        metrics=metrics,
    )
    running: dict[str, asyncio.Task[None]] = {}

    async def project() -> None:
        running["t"] = asyncio.current_task()  # type: ignore[assignment]
        await projection.run()

    app.agent(raw, name="validate")(validate)
    app.task(project)

    async def refresh_kpis() -> None:
        # Marked KPIs are refreshed behind the batches: one round of ``kpi_batch`` enterprises per
        # ``kpi_seconds`` while batches are flowing (KPI work then takes a bounded share of Neo4j),
        # back-to-back rounds for most of the tick while the project stage is idle, so a backlog
        # left by a flood drains at full speed once the flood is over.
        running["kpi"] = asyncio.current_task()  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(kpi_seconds)
            if "p" not in state:  # nothing to refresh before the first batch
                continue
            deadline = loop.time() + 0.9 * kpi_seconds
            n = 0
            while True:
                done = await projector().refresh_kpis(limit=kpi_batch, rounds=1)
                n += done
                if done < kpi_batch or projection.busy(within=kpi_seconds) or loop.time() > deadline:
                    break
            if n:
                log.info("project: KPIs of %d enterprise(s) refreshed", n)

    app.task(refresh_kpis)

    async def _close(sender: Any, *args: Any, **kwargs: Any) -> None:
        if "kpi" in running:  # before the driver closes under it (a round is safe to cut short)
            running["kpi"].cancel()
            await asyncio.wait([running["kpi"]], timeout=30)
        projection.stop()  # commits the batch in flight, then leaves the group
        if "t" in running:
            await asyncio.wait([running["t"]], timeout=60)
        if "p" in state:
            state["p"].close()
            await state["p"].writer.driver.close()

    app.on_before_shutdown.connect(cast(Any, _close))

    if metrics is not None:  # GET /metrics on the web port: Prometheus text (streams/metrics.py)
        consumed = (
            ConsumedTopic("validate", app_id, names.raw),
            ConsumedTopic("project", kafka_group(app_id), names.valid),
        )
        lags: dict[str, GroupLag] = {}

        async def metrics_page(web: Any, request: Any) -> Any:
            if "lag" not in lags:  # the admin client is made on first scrape, never at build time
                lags["lag"] = GroupLag(consumer_conf or {"bootstrap.servers": brokers})
            writer = state["p"].writer if "p" in state else None

            async def risk_at() -> int | None:
                return await risk_computed_at(writer.driver, database=writer.database) if writer else None

            body = await metrics.scrape(
                lag=lags["lag"],
                consumed=consumed,
                kpis=writer.kpi_backlog if writer else None,
                risk=risk_at if writer else None,
            )
            # aiohttp refuses a charset in content_type=; the exposition format names one.
            return web.bytes(body, headers={"Content-Type": CONTENT_TYPE})

        app.page("/metrics", name="metrics")(metrics_page)

    return app
