"""The predictive-maintenance job (``supplynet worker --role service``): equipment telemetry, alarms,
installations and maintenance from ``events.telemetry`` folded into one health indicator per equipment
(``graph/health.py``), service alerts to ``service.alerts``, and at most one health row per equipment
and flush to the graph.

Why not a faust agent with a table: faust's per-event machinery was measured here at ≈ 135 µs per event
(``streams/batches.py``); at 10,000 readings/s that alone is more than a core. This job reads whole
batches with librdkafka and keeps its table in memory. Its topic, ``events.telemetry``, holds only
the types it folds (``streams.routing``): readings, which go nowhere else, and the validate stage's
copies of installations, alarms and completed maintenance, in their order on ``events.raw``.

Exactly once where it matters: every ``flush_seconds`` the health rows of the equipment that changed
and the job's offsets (group ``<app_id>-service``) commit in one Neo4j transaction; each row carries
the indicator's state (``healthState``), so a restarted job loads the state and resumes from exactly
the offsets it covers. Alerts of a flush are sent, and acknowledged by Kafka, before its checkpoint
commits: a crash in between re-raises them on replay with the same id (``<equipment>:<episode>``), so
alerts are at-least-once with a stable id to deduplicate on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from connectors.errors import DeliveryFailed, KafkaUnavailable
from connectors.kafka import EventProducer, Record
from graph.health import Band, Health, HealthSettings, Score
from graph.service import checkpoint, health_rows, load_health
from graph.writer import GraphWriter, Position
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.events import (
    EquipmentAlarm,
    EquipmentInstalled,
    EquipmentTelemetry,
    MaintenanceCompleted,
)
from schema.validate import decode_event
from streams.routing import SERVICE_TYPES

log = logging.getLogger(__name__)

TYPES = SERVICE_TYPES
"""The event types the job folds (all that ``events.telemetry`` holds); it skips any other one."""


def service_group(app_id: str) -> str:
    """The Kafka consumer group of the service job (and the group its offsets carry in the graph)."""
    return f"{app_id}-service"


@dataclass(frozen=True)
class ServiceAlert:
    """A service alert: the equipment, its parties and the indicator that crossed ``alert_below``."""

    id: str
    equipment_id: str
    maker_id: str | None
    customer_id: str | None
    facility_id: str | None
    severity: str
    health: float
    alarm_rate: float
    exceedance: float
    worst_metric: str | None
    reason: str
    raised_at: int
    """Event time (epoch ms) of the reading or alarm that raised it."""

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "equipmentId": self.equipment_id,
                "makerId": self.maker_id,
                "customerId": self.customer_id,
                "facilityId": self.facility_id,
                "severity": self.severity,
                "health": self.health,
                "alarmRate": self.alarm_rate,
                "exceedance": self.exceedance,
                "worstMetric": self.worst_metric,
                "reason": self.reason,
                "raisedAt": self.raised_at,
            }
        )


def alert_of(h: Health, sc: Score, settings: HealthSettings) -> ServiceAlert:
    return ServiceAlert(
        id=f"{h.equipment_id}:{h.episode}",
        equipment_id=h.equipment_id,
        maker_id=h.maker_id,
        customer_id=h.customer_id,
        facility_id=h.facility_id,
        severity="critical" if sc.health < settings.alert_below / 2 else "high",
        health=sc.health,
        alarm_rate=sc.alarm_rate,
        exceedance=sc.exceedance,
        worst_metric=sc.worst_metric,
        reason=sc.reason,
        raised_at=h.at_ms,
    )


@dataclass
class Table:
    """The job's per-equipment state and what changed since the last flush. ``apply`` is pure (no I/O)."""

    settings: HealthSettings
    equipment: dict[str, Health] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)

    def _of(self, equipment_id: str) -> Health:
        h = self.equipment.get(equipment_id)
        if h is None:
            h = self.equipment[equipment_id] = Health(equipment_id)
        return h

    def apply(self, ev: ValidEvent) -> ServiceAlert | None:
        """Fold one event; the alert it raises, if any."""
        d = ev.data
        t = ev.time_ms
        s = self.settings
        if isinstance(d, EquipmentTelemetry):
            h = self._of(d.equipment_id)
            h.reading(d.metric, d.value, t, s)
        elif isinstance(d, EquipmentAlarm):
            h = self._of(d.equipment_id)
            if h.customer_id is None:
                h.customer_id, h.facility_id = d.enterprise_id, d.facility_id
            h.alarm(d.severity.value, t, s)
        elif isinstance(d, EquipmentInstalled):
            h = self._of(d.equipment_id)
            bands = {x.metric: Band(x.low, x.high) for x in d.limits}
            h.installed(d.maker_id, d.customer_id, d.facility_id, bands)
        elif isinstance(d, MaintenanceCompleted):
            h = self._of(d.equipment_id)
            if d.restored:
                h.restored(t, s)
        else:
            return None
        h.last_event_id = ev.id
        self.changed.add(h.equipment_id)
        sc = h.step_alert(s)
        return alert_of(h, sc, s) if sc is not None else None

    def take_changed(self) -> list[Health]:
        out = [self.equipment[i] for i in sorted(self.changed)]
        self.changed.clear()
        return out


class ServiceJob:
    """Consumes ``topic`` in batches into a ``Table``; flushes alerts, then health rows with offsets.

    ``run`` returns after ``stop`` (the state folded so far is flushed first).
    """

    def __init__(
        self,
        *,
        writer: GraphWriter,
        alerts_out: EventProducer,
        conf: Mapping[str, Any],
        app_id: str,
        topic: str,
        settings: HealthSettings,
        batch_size: int,
        batch_seconds: float,
        flush_seconds: float,
    ) -> None:
        self.writer = writer
        self.alerts_out = alerts_out
        self.topic = topic
        self.group = service_group(app_id)
        self.table = Table(settings)
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.flush_seconds = flush_seconds
        self.conf = {
            **conf,
            "group.id": self.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,  # Kafka's offsets follow the graph's (lag monitoring)
            "partition.assignment.strategy": "cooperative-sticky",
            "queued.max.messages.kbytes": 16_384,
        }
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[ServiceAlert] = []
        self._offsets: dict[int, int] = {}
        self._sequence = 0
        self.absorbed = 0
        self.skipped = 0

    def stop(self) -> None:
        self._stopping.set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._loop is not None
        stored = asyncio.run_coroutine_threadsafe(
            self.writer.stored_offsets(self.group, self.topic), self._loop
        ).result(timeout=120)
        for tp in partitions:
            if tp.partition in stored:
                tp.offset = stored[tp.partition]
        log.info("service: partitions assigned: %s", sorted(tp.partition for tp in partitions))
        consumer.incremental_assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_unassign(partitions)

    def fold(self, messages: Sequence[Message]) -> None:
        """Fold a batch into the table; bad bytes are skipped with a log line (validate already sent
        them to the DLQ: ``events.telemetry`` holds only events that passed)."""
        for m in messages:
            p, o = m.partition() or 0, m.offset() or 0
            self._offsets[p] = max(self._offsets.get(p, 0), o + 1)
            try:
                ev = decode_event(m.value() or b"", max_future=None)
            except EventRejected as e:
                log.warning("service: skipped an event at %s[%d]@%d: %s", m.topic(), p, o, e.describe())
                continue
            if ev.type not in TYPES:
                self.skipped += 1
                continue
            alert = self.table.apply(ev)
            self.absorbed += 1
            if alert is not None:
                self._pending.append(alert)

    async def flush(self, consumer: Consumer | None = None) -> int:
        """Send the pending alerts (acknowledged), then commit the changed health rows with the
        offsets they cover; the number of health rows written. ``consumer``'s Kafka offsets then
        follow the graph's (lag monitoring; never the source of truth)."""
        if self._pending:
            alerts = self._pending
            records = [
                Record(a.equipment_id.encode(), a.to_json(), [("severity", a.severity.encode())])
                for a in alerts
            ]
            await asyncio.to_thread(self.alerts_out.send_many, records)  # raises: kept, sent next flush
            self._pending = []
            log.info("service: %d alert(s) sent", len(alerts))
        changed = self.table.take_changed()
        if not changed and not self._offsets:
            return 0
        self._sequence += 1
        rows = health_rows(
            changed, self.table.settings, flushed_ms=int(time.time() * 1000), sequence=self._sequence
        )
        offsets = [Position(self.group, self.topic, p, o) for p, o in sorted(self._offsets.items())]
        await checkpoint(self.writer, rows, offsets)
        self._offsets.clear()
        if consumer is not None and offsets:
            try:
                consumer.store_offsets(
                    offsets=[TopicPartition(p.topic, p.partition, p.offset) for p in offsets]
                )
            except KafkaException as e:  # a partition revoked meanwhile: the graph holds the truth
                log.debug("service: offsets not stored in Kafka (%s)", e)
        return len(changed)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.table.equipment = await load_health(self.writer.driver, database=self.writer.database)
        log.info("service: %d equipment loaded", len(self.table.equipment))
        thread = ThreadPoolExecutor(1, thread_name_prefix="service-consumer")
        consumer = Consumer(self.conf)
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_flush = time.monotonic()
        try:
            while not self._stopping.is_set():
                messages = await asyncio.wrap_future(
                    thread.submit(consumer.consume, self.batch_size, self.batch_seconds)
                )
                good = []
                for m in messages:
                    err = m.error()
                    if err is None:
                        good.append(m)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("service: consumer error: %s", err)
                self.fold(good)
                if time.monotonic() - last_flush >= self.flush_seconds:
                    try:
                        await self.flush(consumer)
                    except (KafkaUnavailable, DeliveryFailed) as e:
                        # Nothing was checkpointed: the alerts and the offsets wait for the next flush.
                        log.warning("service: alerts not delivered (%s); trying again next flush", e)
                    last_flush = time.monotonic()
            await self.flush(consumer)
        finally:
            thread.submit(consumer.close).result(timeout=60)
            thread.shutdown()
            self.alerts_out.close()
