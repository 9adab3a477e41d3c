"""The worker's faust app, built by ``create_app`` (never at import). Its stages are tasks: thin loops
that read a batch, call a plain function, and commit only what that function finished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import faust

from graph.freshness import risk_computed_at
from streams.batches import BatchProjection, kafka_group, validate_group
from streams.memory import return_freed_memory
from streams.metrics import CONTENT_TYPE, ConsumedTopic, GroupLag, WorkerMetrics
from streams.pipeline import Pipeline
from streams.projection import Projector
from streams.topics import Topics
from streams.validation import BatchValidation

log = logging.getLogger(__name__)


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
    consumer_conf: Mapping[str, Any] | None = None,
    admin_sources: Sequence[str] = (),
    metrics: WorkerMetrics | None = None,
    stall_seconds: float = 300.0,
    instance_id: str | None = None,
    session_timeout_s: float = 20.0,
    retention: Callable[[], None] | None = None,
    graph_retention: Callable[[asyncio.Lock | None], Awaitable[object]] | None = None,
    retention_seconds: float = 3600.0,
    datadir: Path | str | None = None,
) -> faust.App:
    """The worker: the validate stage (events.raw), the project stage (events.valid) — its KPIs are
    written with each batch — and retention of the record store (``retention``, blocking: run in a
    thread) and of the graph (``graph_retention``, awaited: async I/O only), in that order.
    Never live risk: that is the risk process's (``streams/risk_process.py``), in a group of its own.

    ``pipeline_factory`` is called once, inside the worker's event loop, on first use. Both stages
    read whole batches with librdkafka (configured by ``consumer_conf``, default: just the brokers),
    as static group members ``instance_id`` when given. Validate commits a batch only after Kafka
    acknowledged its forward, waiting out any outage (``streams/validation.py``); project's
    partitions start at the offsets stored in Neo4j with the graph (``streams/batches.py``).
    ``datadir`` is where faust makes its (here empty) table folders; by default ``<app_id>-data`` in
    the working folder, so the worker passes one under the state folder.
    """
    names = topic_names or Topics()
    if datadir is not None:  # faust makes only the last folder of it
        Path(datadir).mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=[f"kafka://{b.strip()}" for b in brokers.split(",")],
        broker_credentials=broker_credentials,
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=str(datadir or "{conf.id}-data"),  # faust's own default when none is given
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
                writer=p.writer,
                dlq_out=p.dlq_out,
                group=app_id,
                admin_sources=admin_sources,
                records=p.records,
                changes_out=p.changes_out,
            )
        return projectors["p"]

    conf = consumer_conf or {"bootstrap.servers": brokers}
    validation = BatchValidation(
        conf=conf,
        app_id=app_id,
        topic=names.raw,
        pipeline=pipeline,
        batch_size=batch_size,
        batch_seconds=batch_seconds,
        instance_id=instance_id,
        session_timeout_s=session_timeout_s,
    )
    projection = BatchProjection(
        conf=conf,
        app_id=app_id,
        topic=names.valid,
        projector=projector,
        batch_size=batch_size,
        batch_seconds=batch_seconds,
        metrics=metrics,
        instance_id=instance_id,
        session_timeout_s=session_timeout_s,
    )
    running: dict[str, asyncio.Task[None]] = {}
    lags: dict[str, GroupLag] = {}

    async def validate() -> None:
        running["v"] = asyncio.current_task()  # type: ignore[assignment]
        await validation.run()

    async def project() -> None:
        running["t"] = asyncio.current_task()  # type: ignore[assignment]
        await projection.run()

    app.task(validate)
    app.task(project)
    # No faust agent reads a topic (both stages read with librdkafka): faust's own Kafka consumer and
    # producer would have nothing to do, and its consumer refuses an empty subscription. The web
    # endpoint (/metrics), the tasks and the timers are what faust hosts.
    app.boot_strategy = app.BootStrategy(app, enable_kafka_consumer=False, enable_kafka_producer=False)

    async def retain_records() -> None:
        # Record-store retention (connectors/retention.py) off the event loop, then the graph's
        # (graph/retention.py) on its async driver, every retention_seconds; one failing skips neither.
        while retention is not None or graph_retention is not None:
            await asyncio.sleep(retention_seconds)
            if retention is not None:
                try:
                    await asyncio.to_thread(retention)
                except Exception:
                    log.exception("retention failed; next attempt in %.0f s", retention_seconds)
            if graph_retention is not None:
                try:
                    # its deletes take turns with this worker's graph writes (graph/retention.py)
                    await graph_retention(state["p"].writer.serial if "p" in state else None)
                except Exception:
                    log.exception("graph retention failed; next attempt in %.0f s", retention_seconds)

    app.task(retain_records)

    async def trim_heap() -> None:
        # Batches of thousands of events are freed in the middle of malloc's heap, which glibc keeps
        # resident until asked (streams/memory.py): every 2 s, in a thread (a trim takes 30-80 ms).
        while True:
            await asyncio.sleep(2.0)
            await asyncio.to_thread(return_freed_memory)

    app.task(trim_heap)

    async def _close(sender: Any, *args: Any, **kwargs: Any) -> None:
        validation.stop()  # forwards and commits the batch in flight
        projection.stop()  # commits the batch in flight
        if "v" in running:
            # A batch still waiting for Kafka after 30 s is cut short: uncommitted, it is read again.
            _, pending = await asyncio.wait([running["v"]], timeout=30)
            for task in pending:
                task.cancel()
            await asyncio.wait([running["v"]], timeout=30)
        if "t" in running:
            await asyncio.wait([running["t"]], timeout=60)
        if "p" in state:
            state["p"].close()
            await state["p"].writer.driver.close()
        if "lag" in lags:
            lags["lag"].close()

    app.on_before_shutdown.connect(cast(Any, _close))

    if metrics is not None:  # GET /metrics on the web port: Prometheus text (streams/metrics.py)
        consumed = (
            ConsumedTopic("validate", validate_group(app_id), names.raw),
            ConsumedTopic("project", kafka_group(app_id), names.valid),
        )

        async def metrics_page(web: Any, request: Any) -> Any:
            if "lag" not in lags:  # the admin client is made on first scrape, never at build time
                lags["lag"] = GroupLag(consumer_conf or {"bootstrap.servers": brokers})
            writer = state["p"].writer if "p" in state else None

            async def risk_at() -> int | None:
                return await risk_computed_at(writer.driver, database=writer.database) if writer else None

            body = await metrics.scrape(
                lag=lags["lag"],
                consumed=consumed,
                risk=risk_at if writer else None,
            )
            # aiohttp refuses a charset in content_type=; the exposition format names one.
            return web.bytes(body, headers={"Content-Type": CONTENT_TYPE})

        app.page("/metrics", name="metrics")(metrics_page)

    return app
