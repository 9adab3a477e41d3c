"""Through the real pipeline (Kafka -> worker -> Neo4j): master data keeps its owner, and an event
dated further ahead than the clock skew is refused at validation; both land in the DLQ with why."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.kafka import Record
from graph.maintenance import delete_by_prefix
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.worker_proc import own_topics, running_worker

pytestmark = pytest.mark.timeout(300)


def dlq_records(settings: Settings, event_ids: set[str], timeout_s: float = 90) -> dict[str, Any]:
    """event id -> (headers, value) of its DLQ records, once every id in ``event_ids`` was found."""
    names = bootstrap.topic_names(settings)
    consumer = Consumer(
        {
            **settings.kafka.librdkafka(),
            "group.id": f"dlq-reader-{time.time_ns()}",
            "enable.auto.commit": False,
        }
    )
    meta = consumer.list_topics(names.dlq, timeout=10).topics[names.dlq]
    consumer.assign([TopicPartition(names.dlq, p, 0) for p in meta.partitions])
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not event_ids <= found.keys():
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            headers = {k: v for k, v in (msg.headers() or [])}
            eid = (headers.get("supplynet.event.id") or b"").decode()
            if eid in event_ids:
                found[eid] = (headers, msg.value())
    finally:
        consumer.close()
    missing = event_ids - found.keys()
    assert not missing, f"not in {names.dlq} within {timeout_s}s: {missing}"
    return found


async def test_a_foreign_source_cannot_rewrite_an_enterprise_nor_date_its_change_ahead(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    prefix = f"md{run_id}-"
    stack = own_topics(stack, f"md-{run_id}.")
    ent = f"{prefix}wisco"
    now = datetime.now(UTC)

    def update(eid: str, source: str, name: str, at: datetime) -> dict[str, Any]:
        return envelope(
            eid=f"{prefix}{eid}",
            type_="partner.updated",
            subject=ent,
            data={"enterprise_id": ent, "name": name},
            time=at,
            source=source,
        )

    registered = envelope(
        eid=f"{prefix}reg",
        type_="partner.registered",
        subject=ent,
        data={"enterprise_id": ent, "name": "武汉钢铁", "industry": "steel", "region": "湖北省 武汉市"},
        time=now - timedelta(minutes=10),
        source="erp-a",
    )
    ahead = update("ahead", "erp-b", "future name", now + timedelta(hours=23, minutes=50))
    foreign = update("foreign", "erp-b", "hijacked", now - timedelta(minutes=5))
    own = update("own", "erp-a", "宝武武钢", now - timedelta(minutes=4))
    admin = update("admin", "supplynet-admin", "宝武集团武钢", now - timedelta(minutes=3))
    events = [registered, ahead, foreign, own, admin]

    producer = bootstrap.producer(stack, bootstrap.topic_names(stack).raw)
    producer.send_many([Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in events])
    producer.close()
    driver = bootstrap.async_driver(stack)
    log = tmp_path / "worker.log"
    try:
        with running_worker(stack, f"md-{run_id}", log) as proc:
            deadline = time.monotonic() + 150
            row: dict[str, Any] = {}
            while time.monotonic() < deadline:
                rec, _, _ = await driver.execute_query(
                    "MATCH (x:Enterprise {id: $e}) RETURN x.name AS name, x.ownerSource AS owner, "
                    "x.lastSource AS last",
                    e=ent,
                )
                row = rec[0].data() if rec else {}
                if row.get("name") == "宝武集团武钢":
                    break
                assert proc.poll() is None, log.read_text()[-3000:]
                await asyncio.sleep(0.5)
            assert row == {"name": "宝武集团武钢", "owner": "erp-a", "last": "supplynet-admin"}, (
                log.read_text()[-3000:]
            )
            dead = dlq_records(stack, {ahead["id"], foreign["id"]})
    finally:
        await delete_by_prefix(driver, prefix)
        await driver.close()

    headers, value = dead[foreign["id"]]
    assert headers["supplynet.stage"] == b"project"
    assert headers["supplynet.field"] == b"$.source"
    assert b"owned by source 'erp-a'" in headers["supplynet.reason"]
    assert b"'erp-b'" in headers["supplynet.reason"]

    headers, value = dead[ahead["id"]]
    assert headers["supplynet.stage"] == b"validate"
    assert headers["supplynet.field"] == b"$.time"
    assert b"in the future" in headers["supplynet.reason"]
    assert msgspec.json.decode(value) == ahead  # the original bytes: replayable once its time has come
