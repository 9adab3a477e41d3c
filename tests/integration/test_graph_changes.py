"""``graph.changes`` against the real Neo4j and Kafka: only what the graph applied is published (an
event older than stored, a duplicate and a dead-lettered event publish nothing), and what a worker
committed but was SIGKILLed before publishing is published by its successor from the outbox."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import neo4j
import orjson
import pytest
from confluent_kafka.admin import AdminClient

from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.writer import GraphWriter
from schema import changes
from schema.changes import GraphChanges
from schema.envelope import ValidEvent
from schema.events import Industry, PartnerRegistered, PartnerUpdated, SupplyAgreed
from schema.examples import example_event
from streams.projection import Projector
from streams.stages import Incoming
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, read_from
from tests.integration.worker_proc import spawn_worker, stop

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


@pytest.fixture
def topics(stack: Settings, run_id: str) -> Iterator[tuple[str, str]]:
    """(graph.changes, events.dlq) of this test."""
    tag = f"gc-{run_id}-{uuid.uuid4().hex[:6]}"
    names = (f"{tag}.graph.changes", f"{tag}.events.dlq")
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(n, 1) for n in names])
    yield names
    AdminClient(stack.kafka.librdkafka()).delete_topics(list(names))


def _valid(eid: str, data: Any, at: int, *, source: str = "sap", subject: str | None = None) -> ValidEvent:
    return ValidEvent(
        id=eid,
        source=source,
        type=data.TYPE,
        time=T0 + timedelta(seconds=at),
        subject=subject or data.enterprise_id,
        sequence=0,
        data=data,
    )


def _msg(ev: ValidEvent, offset: int) -> Incoming:
    return Incoming(
        topic="test.events.valid", partition=0, offset=offset, key=ev.subject.encode(), value=ev.to_json()
    )


def _records(settings: Settings, topic: str, starts: dict[int, int], n: int) -> list[GraphChanges]:
    """The records after ``starts``: ``n`` of them, then 3 s more to see that no other comes."""
    got = read_from(settings, topic, starts, done=lambda out: len(out) >= n, settle_s=3.0, timeout_s=60)
    return [changes.decode(m.value() or b"") for m in got]


def _summary(records: list[GraphChanges]) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """(event, kind, id, change, aspects) of every node and link change, sorted."""
    out = [(n.event, n.kind, n.id, n.change.value, tuple(n.aspects)) for r in records for n in r.nodes]
    out += [
        (lk.event, lk.kind, f"{lk.start}->{lk.end}", lk.change.value, tuple(lk.aspects))
        for r in records
        for lk in r.links
    ]
    return sorted(out)


async def _outbox(driver: neo4j.AsyncDriver, group: str) -> int:
    rec, _, _ = await driver.execute_query(
        "MATCH (o:ChangeOutbox) WHERE o.group = $g RETURN count(o) AS n", g=group
    )
    return int(rec[0]["n"])


async def test_only_what_the_graph_applied_is_published_each_change_with_its_event(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, topics: tuple[str, str]
) -> None:
    changes_topic, dlq_topic = topics
    conf = stack.kafka.librdkafka()
    p = f"{run_id}-gc{uuid.uuid4().hex[:4]}-"
    group = f"{p}group"
    proj = Projector(
        writer=GraphWriter(driver),
        dlq_out=EventProducer(conf, dlq_topic),
        group=group,
        changes_out=EventProducer(conf, changes_topic),
    )
    e, buyer = f"{p}mill", f"{p}maker"
    reg = _valid(f"{p}reg", PartnerRegistered(enterprise_id=e, name="武汉钢铁", industry=Industry.STEEL), 0)
    new = _valid(f"{p}new", PartnerUpdated(enterprise_id=e, name="宝武武钢"), 20)
    older = _valid(f"{p}older", PartnerUpdated(enterprise_id=e, name="旧名"), 10)
    foreign = _valid(f"{p}foreign", PartnerUpdated(enterprise_id=e, name="冒名"), 30, source="other-erp")
    supply = _valid(
        f"{p}supply",
        SupplyAgreed(supplier_id=e, buyer_id=buyer, sku=f"{p}HRC", share=1.0, lead_time_days=7),
        40,
        subject=buyer,
    )
    poison_data = msgspec.structs.replace(reg.data, enterprise_id=f"{p}poison")
    setattr(poison_data, "name", {"not": "a string"})  # noqa: B010  (Neo4j refuses a map property)
    poison = _valid(f"{p}poison", poison_data, 50)
    starts = ends(stack, changes_topic)
    try:
        await proj.project([_msg(reg, 0), _msg(new, 1)])
        first = _records(stack, changes_topic, starts, 1)
        # One folded row: the newer event's name is the one applied, the registration's other aspects.
        assert _summary(first) == [
            (new.id, "enterprises", e, "changed", ("name",)),
            (reg.id, "enterprises", e, "created", ("industry", "country", "capabilities")),
        ]
        (record,) = first
        assert record.key == e and [ev.id for ev in record.events] == [reg.id, new.id]
        assert record.nodes[0].enterprises == [e]
        assert abs((record.committed_at - datetime.now(UTC)).total_seconds()) < 60

        starts = ends(stack, changes_topic)
        await proj.project([_msg(older, 2)])  # older than the stored name: nothing applied
        await proj.project([_msg(reg, 3), _msg(new, 4)])  # duplicates: nothing applied
        refused = await proj.project([_msg(foreign, 5)])  # another source's master data: dead-lettered
        assert refused.dead_lettered == 1
        done = await proj.project([_msg(supply, 6), _msg(poison, 7)])  # the graph refuses the poison
        assert (done.applied, done.dead_lettered) == (1, 1)
        later = _records(stack, changes_topic, starts, 1)
        assert _summary(later) == [
            (supply.id, "supplies", f"{e}->{buyer}", "created", ("agreed", "validity"))
        ]
        assert later[0].key == buyer
        await proj.flush()
        assert await _outbox(driver, group) == 0
    finally:
        await delete_by_prefix(driver, p)
        await delete_offsets(driver, group)


async def test_changes_a_killed_worker_committed_but_never_published_are_published_after_its_restart(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, tmp_path: Path
) -> None:
    """The worker commits a batch while ``graph.changes`` does not exist (Kafka cannot take the
    records), is SIGKILLed, the topic appears, and its restart publishes the batch from the outbox."""
    tag = f"gck{run_id}{uuid.uuid4().hex[:4]}"
    settings = stack.model_copy(
        update={"stream": stack.stream.model_copy(update={"topic_prefix": f"{tag}."})}
    )
    names = bootstrap.topic_names(settings)
    group, p = f"{tag}-worker", f"{tag}-"
    conf = stack.kafka.librdkafka()
    ensure_topics(conf, [s for s in bootstrap.topic_specs(settings) if s.name != names.changes])
    log = tmp_path / "worker.log"
    event = example_event("partner.registered", event_id=f"{p}reg")
    event["data"].update(enterprise_id=f"{p}mill")
    event["subject"] = f"{p}mill"
    proc = spawn_worker(settings, group, log)
    try:
        EventProducer(conf, names.raw).send_many([Record(f"{p}mill".encode(), orjson.dumps(event))])
        deadline = time.monotonic() + 180
        while await _outbox(driver, group) == 0:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.5)
        stop(proc, signal.SIGKILL)
        rec, _, _ = await driver.execute_query(
            "MATCH (x:Enterprise {id: $e}) RETURN x.name AS n", e=f"{p}mill"
        )
        assert rec and rec[0]["n"], "the batch was committed before the kill"

        ensure_topics(conf, [s for s in bootstrap.topic_specs(settings) if s.name == names.changes])
        starts = ends(stack, names.changes)
        proc = spawn_worker(settings, group, log)
        (record,) = _records(stack, names.changes, starts, 1)
        region = event["data"]["region"]
        assert _summary([record]) == [
            (f"{p}reg", "enterprise_region", f"{p}mill->{region}", "created", ("region",)),
            (
                f"{p}reg",
                "enterprises",
                f"{p}mill",
                "created",
                ("name", "industry", "country", "capabilities"),
            ),
        ]
        assert record.key == f"{p}mill"
        deadline = time.monotonic() + 60
        while await _outbox(driver, group):  # the restarted worker also empties the outbox
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.5)
        assert "committed but not sent" in log.read_text()
    finally:
        stop(proc)
        await delete_by_prefix(driver, p)
        await delete_offsets(driver, group)
        AdminClient(conf).delete_topics([s.name for s in bootstrap.topic_specs(settings)])
