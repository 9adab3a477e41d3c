"""The risk process (``supplynet worker --role risk``): live risk in a process and consumer group of its
own, so risk work never holds up validation or projection.

Why its own process: inside the validate/project worker the risk agent shared faust's one consumer;
while it waited (for ``RiskStore.facts_of``, for a full recompute) faust stopped feeding every other
stream ("Stream stopped processing, or is slow for TP(events.raw, 2)"), and its CPU work shared the
worker's GIL. Here it has its own GIL, its own consumer (group ``<app_id>-risk``, librdkafka, whose
heartbeats run in C threads) and a lower CPU priority (``risk.nice``).

Work sharing between several risk processes:
- **incremental** — each rescores what the graph commits of the partitions of ``graph.changes`` it
  owns changed (records are keyed by the subject of their events, like ``events.valid``), in slices
  of at most ``risk.incremental_slice`` enterprises. A record is published only after its commit, so
  nothing waits for the projector; offsets are stored only after the rescoring (at-least-once: a
  record read twice rescores the same ids again, which is idempotent);
- **full recompute** — once per period of ``full_recompute_seconds`` across the group: the process
  that inserts the period's row in the SQL store (``claim_period``) runs it; every
  ``full_reload_every``-th period re-reads the projection (every period when the winner shares the
  changes' partitions with other processes: its model missed theirs), and the other processes then
  refresh the model they hold (read and compute, no writes, no alerts);
- **alerts** — every cause is claimed in SQL before it is sent (``graph/risk/coordination.py``).

While a recompute or refresh runs, the loop keeps polling Kafka and collects what the batches touch;
it rescores all of it right after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from sqlalchemy import Engine
from sqlmodel import Session

from graph.risk.coordination import claim_period, finish_period
from streams.risk import RiskService, Touched, touched_by_changes

log = logging.getLogger(__name__)


SLICES_PER_POLL = 10
"""Most rescoring slices between two polls of the consumer."""


def risk_group(app_id: str) -> str:
    """The Kafka consumer group (and SQL coordination group) of the risk processes."""
    return f"{app_id}-risk"


@dataclass
class Status:
    """What ``/healthz`` reports."""

    partitions: list[int] = field(default_factory=list)
    loaded: bool = False
    pending_enterprises: int = 0
    last_batch_at: float | None = None
    full_running: bool = False
    full_periods: list[int] = field(default_factory=list)
    """Periods whose full recompute this process ran."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "loaded": self.loaded,
            "pendingEnterprises": self.pending_enterprises,
            "lastBatchAt": self.last_batch_at,
            "fullRunning": self.full_running,
            "fullPeriods": self.full_periods[-10:],
        }


class RiskProcess:
    """Consumes the risk input in batches and drives a ``RiskService``; ``run`` returns after ``stop``."""

    def __init__(
        self,
        *,
        service: RiskService,
        conf: Mapping[str, Any],
        app_id: str,
        topic: str,
        sql: Engine,
        full_seconds: float,
        reload_every: int,
        batch_size: int,
        batch_seconds: float,
        slice_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.group = risk_group(app_id)
        self.topic = topic
        self.sql = sql
        self.full_seconds = full_seconds
        self.reload_every = reload_every
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.slice_size = slice_size
        self.clock = clock
        self.holder = f"{socket.gethostname()}/{os.getpid()}"
        self.status = Status()
        self._conf = {
            **conf,
            "group.id": self.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,  # stored once the batch is rescored
            "partition.assignment.strategy": "cooperative-sticky",
            "queued.max.messages.kbytes": 16_384,
        }
        self._stopping = asyncio.Event()
        self._partition_count: int | None = None

    def stop(self) -> None:
        """Ask ``run`` to return: the consumer leaves the group (its partitions move at once)."""
        self._stopping.set()

    def _assigned(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        self.status.partitions = sorted({*self.status.partitions, *(p.partition for p in parts)})
        try:
            topic = consumer.list_topics(self.topic, timeout=10.0).topics[self.topic]
            self._partition_count = len(topic.partitions)
        except KafkaException as e:  # unknown: the model counts as partial (re-read every period)
            log.info("risk: partitions of %s not known (%s)", self.topic, e)
        self._follow_all()

    def _revoked(self, consumer: Consumer, parts: list[TopicPartition]) -> None:
        gone = {p.partition for p in parts}
        self.status.partitions = [p for p in self.status.partitions if p not in gone]
        self._follow_all()

    def _follow_all(self) -> None:
        """Whether this process reads every partition of the changes: only then does the model it holds
        see every change (``RiskService.partial``)."""
        held = len(self.status.partitions)
        self.service.partial = self._partition_count is None or held < self._partition_count

    async def run(self) -> None:
        consumer = Consumer(self._conf)
        consumer.subscribe([self.topic], on_assign=self._assigned, on_revoke=self._revoked)
        pending = Touched()
        last: dict[int, int] = {}
        period_seen = -1
        recompute: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                msgs: list[Message] = await asyncio.to_thread(
                    consumer.consume, self.batch_size, self.batch_seconds
                )
                ok = [m for m in msgs if m.error() is None]
                for m in msgs:
                    if m.error() is not None:
                        log.warning("risk: consumer error: %s", m.error())
                for m in ok:
                    p, o = m.partition() or 0, m.offset() or 0
                    last[p] = max(last.get(p, -1), o)
                if ok:
                    pending.update(touched_by_changes(m.value() or b"" for m in ok))
                    self.status.last_batch_at = self.clock()
                self.status.pending_enterprises = len(pending.enterprises)

                period = int(self.clock() // self.full_seconds)
                if recompute is None and period != period_seen:
                    period_seen = period
                    recompute = asyncio.create_task(self._period(period))
                if recompute is not None and recompute.done():
                    if recompute.exception() is not None:
                        log.error("risk: full recompute failed", exc_info=recompute.exception())
                    recompute = None
                self.status.full_running = recompute is not None
                self.status.loaded = self.service.loaded

                if last and recompute is None and self.service.loaded:
                    try:
                        pending = await self._rescore(pending)
                    except Exception:  # Neo4j or Kafka away: keep the ids and offsets, try again
                        log.exception("risk: rescoring failed; trying again")
                        await asyncio.sleep(1.0)
                        continue
                    if not pending:  # everything up to ``last`` is rescored
                        self._store(consumer, last)
                        last = {}
        finally:
            if recompute is not None:
                recompute.cancel()
            await asyncio.to_thread(consumer.close)

    async def _rescore(self, touched: Touched) -> Touched:
        """Rescore ``touched`` (committed: it came from ``graph.changes``), in slices of ``slice_size``
        enterprises and at most ``SLICES_PER_POLL`` slices before Kafka is polled again (a backlog never
        keeps the consumer from polling past ``max.poll.interval.ms``); returns what is left."""
        scored = alerts = 0
        t0 = time.perf_counter()
        parts = list(touched.slices(self.slice_size))
        for part in parts[:SLICES_PER_POLL]:
            if part:
                run = await self.service.touched(part)
                scored, alerts = scored + run.scored, alerts + len(run.alerts)
        left = Touched(set().union(*(p.enterprises for p in parts[SLICES_PER_POLL:])))
        if touched:
            log.info(
                "risk: %d scores, %d alerts in %.2f s (%d enterprises left)",
                scored,
                alerts,
                time.perf_counter() - t0,
                len(left.enterprises),
            )
        return left

    def _store(self, consumer: Consumer, last: dict[int, int]) -> None:
        try:
            consumer.store_offsets(offsets=[TopicPartition(self.topic, p, o + 1) for p, o in last.items()])
        except KafkaException as e:  # the partition moved to another process meanwhile: it rescores again
            log.info("risk: offsets not stored (%s)", e)

    async def _period(self, period: int) -> None:
        """The group's full recompute of ``period`` if this process wins it; otherwise refresh the held
        model when the period re-reads the projection (or nothing is held yet).

        A process that shares the changes with others re-reads the projection for every recompute it
        wins: the model it holds missed the changes the others rescored, and a recompute from it would
        write their enterprises' old scores back (and re-arm alerts they just raised)."""
        reload = period % self.reload_every == 0

        def claim() -> bool:
            with Session(self.sql) as session:
                return claim_period(session, group=self.group, period=period, holder=self.holder)

        if await asyncio.to_thread(claim):
            run = await self.service.full(reload=reload or self.service.partial or not self.service.loaded)
            self.status.full_periods.append(period)

            def finish() -> None:
                with Session(self.sql) as session:
                    finish_period(
                        session, group=self.group, period=period, scored=run.scored, alerts=len(run.alerts)
                    )

            await asyncio.to_thread(finish)
            log.info(
                "risk: full recompute of period %d, %d scores, %d alerts in %.1f s",
                period,
                run.scored,
                len(run.alerts),
                run.seconds,
            )
        elif reload or not self.service.loaded:
            run = await self.service.load()
            log.info(
                "risk: model refreshed (period %d), %d scores in %.1f s", period, run.scored, run.seconds
            )


async def serve_health(process: RiskProcess, *, host: str, port: int) -> Any:
    """``GET /healthz`` (JSON status) on ``host:port``; returns the aiohttp runner (``await .cleanup()``)."""
    from aiohttp import web

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **process.status.as_dict()})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
