"""Putting a test's events into the graph the way the project stage does, publishing ``graph.changes``
(what the ``graphChanges`` subscription and live risk read) on the settings' topics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from connectors.kafka import EventProducer
from connectors.record_store import RecordStore
from graph.maintenance import delete_offsets
from graph.writer import GraphWriter
from streams.projection import Projected, Projector
from streams.stages import Incoming
from supplynet import bootstrap
from supplynet.settings import Settings


async def project_events(settings: Settings, events: Sequence[dict[str, Any]], *, group: str) -> Projected:
    """Project ``events`` (JSON envelopes) in one batch, records and flow KPIs included (an order moves
    its supplier's and link's KPIs); returns once the graph committed them and Kafka
    acknowledged their ``graph.changes`` records. The group's stored offsets are forgotten after."""
    names = bootstrap.topic_names(settings)
    conf = settings.kafka.librdkafka()
    driver = bootstrap.async_driver(settings)
    dlq, changes = EventProducer(conf, names.dlq), EventProducer(conf, names.changes)
    try:
        projector = Projector(
            writer=GraphWriter(driver),
            dlq_out=dlq,
            group=group,
            changes_out=changes,
            records=RecordStore(bootstrap.sql_engine(settings)),  # as the worker: flow KPIs are reported
        )
        batch = [
            Incoming(names.valid, 0, i, str(e["subject"]).encode(), orjson.dumps(e))
            for i, e in enumerate(events)
        ]
        done = await projector.project(batch)
        await projector.flush()
        return done
    finally:
        await delete_offsets(driver, group)
        await driver.close()
        dlq.close()
        changes.close()


async def forget(settings: Settings, *, ids: Sequence[str] = (), skus: Sequence[str] = ()) -> None:
    """Delete what a test projected into a shared world: nodes by id, supply links by sku."""
    driver = bootstrap.async_driver(settings)
    try:
        await driver.execute_query("MATCH ()-[s:SUPPLIES]->() WHERE s.sku IN $skus DELETE s", skus=list(skus))
        await driver.execute_query("MATCH (n) WHERE n.id IN $ids DETACH DELETE n", ids=list(ids))
    finally:
        await driver.close()
