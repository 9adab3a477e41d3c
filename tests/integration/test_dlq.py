"""`supplynet dlq list | show | replay` against the real Kafka, worker and Neo4j."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from connectors.kafka import Record
from streams import topics
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, event_id, header, read_from
from tests.integration.worker_proc import running_worker, subprocess_env

pytestmark = pytest.mark.timeout(240)


def dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supplynet", "dlq", *args],
        env=subprocess_env(settings, COLUMNS="300"),
        capture_output=True,
        text=True,
        timeout=90,
    )


def supply_link(settings: Settings, supplier: str, buyer: str) -> dict[str, Any] | None:
    async def query() -> dict[str, Any] | None:
        driver = bootstrap.async_driver(settings)
        try:
            records, _, _ = await driver.execute_query(
                "MATCH (:Enterprise {id: $supplier})-[s:SUPPLIES]->(:Enterprise {id: $buyer}) "
                "RETURN s.share AS share, s.lastEventId AS lastEventId",
                supplier=supplier,
                buyer=buyer,
            )
            return dict(records[0]) if records else None
        finally:
            await driver.close()

    return asyncio.run(query())


def test_a_dead_letter_is_listed_shown_fixed_and_replayed_into_the_graph(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    t = datetime.now(UTC).replace(microsecond=0)
    mill, oem, eid = f"{run_id}-wisco", f"{run_id}-dongfeng", f"{run_id}-supply-1"
    partners = [
        envelope(eid=f"{run_id}-p{i}", type_="partner.registered", subject=e, time=t, data=d)
        for i, (e, d) in enumerate(
            [
                (mill, {"enterprise_id": mill, "name": "武汉钢铁", "industry": "steel"}),
                (oem, {"enterprise_id": oem, "name": "东风汽车", "industry": "automotive"}),
            ]
        )
    ]
    supply = {"supplier_id": mill, "buyer_id": oem, "sku": "HRC-Q235", "share": 1.7, "lead_time_days": 21}
    bad = envelope(eid=eid, type_="supply.agreed", subject=oem, time=t, data=supply)
    fixed = envelope(eid=eid, type_="supply.agreed", subject=oem, time=t, data={**supply, "share": 0.7})
    dlq_start, valid_start, raw_start = (
        ends(stack, topics.DLQ),
        ends(stack, topics.VALID),
        ends(stack, topics.RAW),
    )
    producer = bootstrap.producer(stack, topics.RAW)
    producer.send_many([Record(e["subject"].encode(), msgspec.json.encode(e)) for e in [*partners, bad]])

    with running_worker(stack, f"supplynet-test-dlq-{run_id}", tmp_path / "worker.log"):
        [letter] = read_from(stack, topics.DLQ, dlq_start, keep=lambda m: event_id(m) == eid, done=bool)
        address = f"{letter.partition()}:{letter.offset()}"

        listed = dlq(stack, "list", "--since", "30m", "--type", "supply.agreed", "--limit", "500")
        assert listed.returncode == 0, listed.stderr
        [row] = [line for line in listed.stdout.splitlines() if eid in line]
        assert address in row
        assert "$.data.share" in row
        assert "<= 1.0" in row

        shown = dlq(stack, "show", address)
        assert shown.returncode == 0, shown.stderr
        assert "__connect.errors.topic" in shown.stdout
        assert "events.raw" in shown.stdout
        assert '"share": 1.7' in shown.stdout

        wrong = tmp_path / "wrong.json"
        wrong.write_bytes(msgspec.json.encode({**fixed, "id": "another-id"}))
        refused = dlq(stack, "replay", address, "--fixed", str(wrong))
        assert refused.returncode == 1
        assert "must keep the id" in refused.stderr

        corrected = tmp_path / "fixed.json"
        corrected.write_bytes(msgspec.json.encode(fixed))
        replayed = dlq(stack, "replay", address, "--fixed", str(corrected))
        assert replayed.returncode == 0, replayed.stderr
        [raw] = read_from(
            stack,
            topics.RAW,
            raw_start,
            keep=lambda m: header(m, "supplynet.replayed-from") is not None and event_id(m) == eid,
            done=bool,
        )
        assert header(raw, "supplynet.replayed-from") == f"events.dlq/{letter.partition()}/{letter.offset()}"

        deadline = time.monotonic() + 90
        link = None
        while time.monotonic() < deadline and not link:
            link = supply_link(stack, mill, oem)
            time.sleep(0.5)
        assert link == {"share": 0.7, "lastEventId": eid}

        # replaying the same letter again is idempotent: events.valid still has the event once
        assert dlq(stack, "replay", address, "--fixed", str(corrected)).returncode == 0
        valid = read_from(
            stack, topics.VALID, valid_start, keep=lambda m: event_id(m) == eid, done=bool, settle_s=4
        )
        assert len(valid) == 1
    producer.close()
