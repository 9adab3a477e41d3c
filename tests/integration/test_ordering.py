"""Last-writer-wins order at the edges of the envelope, through the real projection into Neo4j:
sequences past 10 digits, and versions stored before they were widened (the migration)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import neo4j
import pytest

from connectors.kafka import EventProducer, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import version_repad_statements
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import Industry, PartnerRegistered, PartnerUpdated
from streams.projection import Projector
from streams.stages import Incoming
from supplynet.settings import Settings

T = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def dlq_out(stack: Settings, run_id: str) -> Iterator[EventProducer]:
    topic = f"ord-{run_id}-{uuid.uuid4().hex[:6]}.events.dlq"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1)])
    producer = EventProducer(stack.kafka.librdkafka(), topic)
    yield producer
    producer.close()


def _update(eid: str, enterprise: str, name: str, sequence: int) -> ValidEvent:
    return ValidEvent(
        id=eid,
        source="sap",
        type="partner.updated",
        time=T,
        subject=enterprise,
        sequence=sequence,
        data=PartnerUpdated(enterprise_id=enterprise, name=name),
    )


def _msg(ev: ValidEvent, offset: int) -> Incoming:
    return Incoming("ord.events.valid", 0, offset, ev.subject.encode(), ev.to_json())


async def _name(driver: neo4j.AsyncDriver, enterprise: str) -> str:
    rec, _, _ = await driver.execute_query("MATCH (x:Enterprise {id: $e}) RETURN x.name AS n", e=enterprise)
    return str(rec[0]["n"])


@pytest.mark.parametrize("newest_first", [True, False])
async def test_sequence_ten_billion_beats_9_999_999_999_at_the_same_time(
    driver: neo4j.AsyncDriver, prefix: str, dlq_out: EventProducer, newest_first: bool
) -> None:
    ent = f"{prefix}seq"
    group = f"{prefix}group"
    proj = Projector(writer=GraphWriter(driver), dlq_out=dlq_out, group=group)
    older = _update(f"{prefix}e1", ent, "9,999,999,999", 9_999_999_999)
    newer = _update(f"{prefix}e0", ent, "10,000,000,000", 10_000_000_000)  # its id sorts first too
    first, second = (newer, older) if newest_first else (older, newer)
    try:
        await proj.project([_msg(first, 0)])
        await proj.project([_msg(second, 1)])
        assert await _name(driver, ent) == "10,000,000,000"
    finally:
        await delete_offsets(driver, group)


async def test_versions_stored_with_ten_digit_sequences_are_widened_and_keep_their_order(
    driver: neo4j.AsyncDriver, prefix: str, dlq_out: EventProducer
) -> None:
    ent = f"{prefix}old"
    group = f"{prefix}group"
    t_ms = int(T.timestamp() * 1000)
    old_version = f"{t_ms:015d}:{5:010d}:{prefix}legacy"
    await driver.execute_query(
        "CREATE (x:Enterprise {id: $e, name: 'legacy', industry: 'steel', nameV: $v, industryV: $v, "
        "lastVersion: $v})-[:LOCATED_IN {lastVersion: $v}]->(:Region {name: $r})",
        e=ent,
        v=old_version,
        r=f"{prefix}region",
    )
    async with driver.session() as session:
        for statement in version_repad_statements():
            await (await session.run(statement)).consume()
    rec, _, _ = await driver.execute_query(
        "MATCH (x:Enterprise {id: $e})-[l:LOCATED_IN]->() RETURN x.nameV AS n, x.lastVersion AS last, "
        "l.lastVersion AS link",
        e=ent,
    )
    widened = f"{t_ms:015d}:{5:019d}:{prefix}legacy"
    assert rec[0].data() == {"n": widened, "last": widened, "link": widened}

    proj = Projector(writer=GraphWriter(driver), dlq_out=dlq_out, group=group)
    try:
        await proj.project([_msg(_update(f"{prefix}e4", ent, "seq 4", 4), 0)])
        assert await _name(driver, ent) == "legacy"  # sequence 4 < 5: older than what is stored
        await proj.project([_msg(_update(f"{prefix}e6", ent, "seq 6", 6), 1)])
        assert await _name(driver, ent) == "seq 6"
        registered = ValidEvent(
            id=f"{prefix}r",
            source="sap",
            type="partner.registered",
            time=T,
            subject=ent,
            sequence=5,
            data=PartnerRegistered(enterprise_id=ent, name="r", industry=Industry.MACHINERY),
        )
        await proj.project([_msg(registered, 2)])  # (T, 5, "<prefix>r") > (T, 5, "<prefix>legacy")
        rec, _, _ = await driver.execute_query("MATCH (x:Enterprise {id: $e}) RETURN x.industry AS i", e=ent)
        assert rec[0]["i"] == "machinery"
    finally:
        await delete_offsets(driver, group)
        await delete_by_prefix(driver, prefix)
        await driver.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=prefix)
