"""The worker's Prometheus metrics (``/metrics`` on the faust web port), in a registry of its own.

Stages report what they did per batch (``WorkerMetrics.batch``); what is cheaper to read than to
track — consumer lag per partition, KPI and risk freshness — is measured when the page is scraped
(``WorkerMetrics.scrape``). Names and labels are documented in the README ("Operating").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from streams.group_offsets import GroupOffsets

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format's content type."""

OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "validate": ("valid", "dlq", "duplicate"),
    "project": ("applied", "dlq"),
}
"""Per stage, what can become of an event: forwarded, dead-lettered, dropped as a redelivered copy."""

_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class ConsumedTopic:
    """A stage's consumer group and the topic it reads (its lag is measured per partition)."""

    stage: str
    group: str
    topic: str


class GroupLag:
    """Lag of consumer groups per partition: log end offset minus the group's committed offset.

    Read from the brokers, so it is the lag Kafka tooling shows, whichever client the stage uses: the
    log's ends through the admin API, the committed offsets through an idle consumer handle of each
    group (``streams.group_offsets``: the admin API's way crashes the process against a broker whose
    coordinator is still loading). A partition without a committed offset counts from its earliest
    offset. Blocking.
    """

    def __init__(self, conf: Mapping[str, Any], *, timeout_s: float = 5.0) -> None:
        self._admin = AdminClient(dict(conf))
        self._groups = GroupOffsets(conf)
        self._timeout_s = timeout_s

    def measure(self, consumed: ConsumedTopic) -> dict[int, int]:
        meta = self._admin.list_topics(consumed.topic, timeout=self._timeout_s).topics.get(consumed.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return {}
        tps = [TopicPartition(consumed.topic, p) for p in sorted(meta.partitions)]
        committed = {
            partition: offset
            for (_, partition), offset in self._groups.committed(
                consumed.group, tps, timeout_s=self._timeout_s
            ).items()
        }
        latest = self._offsets(tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        earliest = self._offsets(tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        out: dict[int, int] = {}
        for tp in tps:
            p = tp.partition
            start = committed.get(p, -1)
            if start < 0:
                start = earliest.get(p, 0)
            out[p] = max(latest.get(p, 0) - start, 0)
        return out

    def _offsets(self, tps: Sequence[TopicPartition], spec: OffsetSpec) -> dict[int, int]:
        futures = self._admin.list_offsets({tp: spec for tp in tps}, request_timeout=self._timeout_s)
        return {tp.partition: f.result(timeout=self._timeout_s).offset for tp, f in futures.items()}

    def close(self) -> None:
        """Close the groups' consumer handles."""
        self._groups.close()


LastRun = Callable[[], Awaitable[int | None]]
"""Returns the epoch ms of the last risk computation, or None if none is known."""


class WorkerMetrics:
    """Counters and histograms the stages feed, and gauges measured at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "supplynet_events", "Events a stage handled, by outcome", ["stage", "outcome"], registry=r
        )
        self.batch_size = Histogram(
            "supplynet_batch_size", "Events per batch", ["stage"], buckets=_SIZES, registry=r
        )
        self.batch_seconds = Histogram(
            "supplynet_batch_seconds",
            "Time to handle one batch: validate = validate and forward until Kafka acked; "
            "project = decode, map and commit to Neo4j",
            ["stage"],
            buckets=_SECONDS,
            registry=r,
        )
        self.lag = Gauge(
            "supplynet_consumer_lag",
            "Messages not yet committed by the stage's consumer group, per partition",
            ["stage", "topic", "partition"],
            registry=r,
        )
        self.risk_age = Gauge(
            "supplynet_risk_age_seconds",
            "Time since the newest risk score was computed (absent until one was)",
            registry=r,
        )
        self.scrape_errors = Counter(
            "supplynet_metrics_scrape_errors", "Scrape-time measurements that failed", ["what"], registry=r
        )
        for stage, outcomes in OUTCOMES.items():
            for outcome in outcomes:
                self.events.labels(stage, outcome)
            self.batch_size.labels(stage)
            self.batch_seconds.labels(stage)

    def batch(self, stage: str, *, size: int, seconds: float, **outcomes: int) -> None:
        """Record one batch of ``stage``: its size, how long it took, and its events per outcome."""
        self.batch_size.labels(stage).observe(size)
        self.batch_seconds.labels(stage).observe(seconds)
        for outcome, n in outcomes.items():
            if n:
                self.events.labels(stage, outcome).inc(n)

    async def scrape(
        self,
        *,
        lag: GroupLag | None = None,
        consumed: Sequence[ConsumedTopic] = (),
        risk: LastRun | None = None,
    ) -> bytes:
        """Measure the scrape-time gauges, then render every metric (Prometheus text format).

        A measurement that fails is counted in ``supplynet_metrics_scrape_errors`` and leaves its
        gauges as they were; the page is always served.
        """
        now_ms = time.time() * 1000
        if lag is not None:
            for c in consumed:
                try:
                    per_partition = await asyncio.to_thread(lag.measure, c)
                except Exception as e:  # a broker away must not break the page
                    self._failed("lag", e)
                    continue
                for partition, n in per_partition.items():
                    self.lag.labels(c.stage, c.topic, str(partition)).set(n)
        if risk is not None:
            try:
                last = await risk()
                if last is not None:
                    self.risk_age.set(max(now_ms - last, 0) / 1000)
            except Exception as e:
                self._failed("risk", e)
        return generate_latest(self.registry)

    def _failed(self, what: str, e: BaseException) -> None:
        self.scrape_errors.labels(what).inc()
        log.debug("metrics: %s not measured (%s)", what, e)
