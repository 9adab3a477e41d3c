"""The project stage's record writes wait out an unavailable store (here: SQLite locked by another
writer) instead of failing the batch, and then write everything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from sqlalchemy import create_engine, func, select, text

from connectors.record_store import RecordStore
from schema.examples import example_event
from schema.records import StockRecord
from schema.validate import decode_event
from streams.recording import RecordWriter
from supplynet.bootstrap import create_sql_tables


async def test_a_locked_store_holds_the_batch_until_it_is_free_then_writes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_engine(url, connect_args={"timeout": 0.05})  # "database is locked" after 50 ms
    create_sql_tables(engine)
    events = []
    for i in range(5):
        doc = example_event("inventory.reported", event_id=f"inv-{i}")
        doc["data"]["sku"] = f"sku-{i}"
        doc["subject"] = doc["data"]["enterprise_id"]
        events.append((i, decode_event(orjson.dumps(doc))))
    writer: RecordWriter[int] = RecordWriter(RecordStore(engine), max_backoff_s=0.2)
    blocker = create_engine(url).connect()
    blocker.execute(text("BEGIN EXCLUSIVE"))
    try:
        task = asyncio.create_task(writer.write(events))
        await asyncio.sleep(1.0)
        assert not task.done(), "the write gave up or got through a locked store"
    finally:
        blocker.execute(text("ROLLBACK"))
        blocker.close()
    assert (await asyncio.wait_for(task, 10)).refused == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StockRecord)).scalar_one() == 5  # type: ignore[arg-type]
