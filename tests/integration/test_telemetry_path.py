"""The telemetry path on the real stack: events.raw -> the validate stage -> events.telemetry -> the service
job. Readings never reach events.valid (the project stage never reads one); a bad reading is
dead-lettered naming the event, field and reason; a duplicate by id is not counted twice; a killed
pipeline worker and service job resume without losing a reading; the graph does not grow.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.kafka import EventProducer, Record
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.test_service import spawn_service_job
from tests.integration.topic_reader import header, read_all
from tests.integration.worker_proc import own_topics, spawn_worker, stop

pytestmark = pytest.mark.timeout(600)

EQUIPMENT = 4
METRICS = ("vibration-rms", "bearing-temp")


def _event(eid: str, type_: str, subject: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": eid,
            "source": "test/telemetry-path",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": data,
        }
    )


async def _query(settings: Settings, query: str, **params: Any) -> list[dict[str, Any]]:
    driver = bootstrap.async_driver(settings)
    try:
        result = await driver.execute_query(query, params, database_=settings.neo4j.database)
        return [dict(r) for r in result.records]
    finally:
        await driver.close()


@dataclass
class Path_:
    settings: Settings
    prefix: str
    group: str
    logs: Path
    equipment: list[tuple[str, str]]
    worker: subprocess.Popen[bytes] | None = None
    job: subprocess.Popen[bytes] | None = None
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    graph_before: tuple[int, int] = (0, 0)
    next_reading: int = 0

    def start(self) -> None:
        self.worker = spawn_worker(self.settings, self.group, self.logs / "worker.log", web_port=free_port())
        self.job = spawn_service_job(self.settings, self.group, self.logs / "service.log")

    def send(self, records: list[Record]) -> None:
        EventProducer(self.settings.kafka.librdkafka(), bootstrap.topic_names(self.settings).raw).send_many(
            records
        )

    def readings(self, n: int) -> list[Record]:
        """``n`` new valid readings, spread over the equipment (counted in ``sent``)."""
        out = []
        for _ in range(n):
            i = self.next_reading
            self.next_reading += 1
            eq, customer = self.equipment[i % EQUIPMENT]
            data = {"equipment_id": eq, "customer_id": customer, "metric": METRICS[i % 2], "value": 50.0}
            out.append(
                Record(customer.encode(), _event(f"{self.prefix}r{i}", "equipment.telemetry", customer, data))
            )
            self.sent[eq] += 1
        return out

    def absorbed(self) -> dict[str, int]:
        rows = asyncio.run(
            _query(
                self.settings,
                "MATCH (q:Equipment) WHERE q.id STARTS WITH $p AND q.health IS NOT NULL "
                "RETURN q.id AS id, q.readings AS n",
                p=self.prefix,
            )
        )
        return {r["id"]: int(r["n"] or 0) for r in rows}

    def graph(self) -> tuple[int, int]:
        """(nodes, relationships) of this test: nodes whose id or sku starts with its prefix."""
        (row,) = asyncio.run(
            _query(
                self.settings,
                "MATCH (n) WHERE n.id STARTS WITH $p OR n.sku STARTS WITH $p "
                "OPTIONAL MATCH (n)-[r]-() RETURN count(DISTINCT n) AS n, count(DISTINCT r) AS r",
                p=self.prefix,
            )
        )
        return int(row["n"]), int(row["r"])

    def wait(self, done: Any, what: str, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            for name, proc in (("worker", self.worker), ("service", self.job)):
                assert proc is not None and proc.poll() is None, (self.logs / f"{name}.log").read_text()[
                    -3000:
                ]
            assert time.monotonic() < deadline, (
                f"{what}: not within {timeout_s} s; absorbed {self.absorbed()} of {dict(self.sent)}; "
                f"service log: {(self.logs / 'service.log').read_text()[-2000:]}"
            )
            time.sleep(0.5)


@pytest.fixture(scope="module")
def path(stack: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path_]:
    settings = own_topics(stack, f"tel-{run_id}.")

    async def schema() -> None:
        driver = bootstrap.async_driver(settings)
        try:
            await migrate(driver, database=settings.neo4j.database)
        finally:
            await driver.close()

    asyncio.run(schema())
    prefix = f"{run_id}-tel-"
    eqs = [(f"{prefix}eq-{i}", f"{prefix}plant-{i % 2}") for i in range(EQUIPMENT)]
    p = Path_(settings, prefix, f"supplynet-test-tel-{run_id}", tmp_path_factory.mktemp("tel"), eqs)
    installs = [
        Record(
            customer.encode(),
            _event(
                f"{eq}-inst",
                "equipment.installed",
                customer,
                {
                    "equipment_id": eq,
                    "maker_id": f"{prefix}maker",
                    "customer_id": customer,
                    "sku": f"{prefix}EAF",
                    "serial": f"SN{i}",
                    "installed_on": "2025-01-01",
                    "limits": [{"metric": m, "high": 100.0} for m in METRICS],
                },
            ),
        )
        for i, (eq, customer) in enumerate(eqs)
    ]
    p.start()
    try:
        p.send(installs)
        # the service job has every installation (health rows), the project stage its nodes and links
        # (maker, customer, product: no facility given)
        p.wait(lambda: len(p.absorbed()) == EQUIPMENT and p.graph()[1] >= 3 * EQUIPMENT, "installations")
        p.graph_before = p.graph()
        yield p
    finally:
        for proc in (p.job, p.worker):
            if proc is not None:
                stop(proc)

        async def clean() -> None:
            driver = bootstrap.async_driver(settings)
            try:
                await delete_by_prefix(driver, prefix, database=settings.neo4j.database)
            finally:
                await driver.close()

        asyncio.run(clean())


def test_readings_reach_the_service_job_alone_bad_ones_are_dead_lettered_duplicates_count_once(
    path: Path_,
) -> None:
    names = bootstrap.topic_names(path.settings)
    good = path.readings(400)
    bad_id = f"{path.prefix}bad-1"
    eq, customer = path.equipment[0]
    bad = Record(
        customer.encode(),
        _event(
            bad_id,
            "equipment.telemetry",
            customer,
            {"equipment_id": eq, "customer_id": customer, "metric": "bearing-temp", "value": "hot"},
        ),
    )
    duplicate = good[0]  # the same reading again, by id and bytes: redelivered, not counted twice
    path.send([*good[:200], bad, *good[200:], duplicate])
    path.wait(lambda: path.absorbed() == dict(path.sent), "400 readings")
    time.sleep(3)  # later flushes add nothing: the duplicate was dropped
    assert path.absorbed() == dict(path.sent)

    dead = [m for m in read_all(path.settings, names.dlq) if header(m, "supplynet.event.id") == bad_id]
    assert len(dead) == 1
    (m,) = dead
    assert header(m, "supplynet.field") == "$.data.value"
    assert header(m, "supplynet.reason") == "Expected `float`, got `str`"
    message = header(m, "__connect.errors.exception.message") or ""
    assert bad_id in message and "$.data.value" in message and "equipment.telemetry" in message

    valid_types = collections.Counter(
        header(m, "supplynet.event.type") for m in read_all(path.settings, names.valid)
    )
    assert valid_types == {"equipment.installed": EQUIPMENT}, "readings never reach events.valid"
    ids = [orjson.loads(m.value() or b"")["id"] for m in read_all(path.settings, names.telemetry)]
    readings = [i for i in ids if i.startswith(f"{path.prefix}r")]
    assert sorted(readings) == sorted(f"{path.prefix}r{i}" for i in range(400)), "each reading forwarded once"
    assert len(ids) - len(readings) == EQUIPMENT, "the installations' copies"
    assert bad_id not in ids
    assert path.graph() == path.graph_before, "readings write no node or relationship"


def test_a_killed_pipeline_worker_and_service_job_resume_without_losing_a_reading(path: Path_) -> None:
    before = sum(path.absorbed().values())
    path.send(path.readings(3000))
    path.wait(lambda: sum(path.absorbed().values()) >= before + 300, "the first readings")
    assert path.worker is not None and path.job is not None
    for proc in (path.worker, path.job):  # mid-stream: batches in flight and state since the last flush lost
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    path.start()
    path.send(path.readings(1000))
    path.wait(
        lambda: all(path.absorbed().get(eq, 0) >= n for eq, n in path.sent.items()),
        "every reading after restart",
    )
    time.sleep(3)
    absorbed = path.absorbed()
    # Nothing lost. Counted once, except what a killed worker forwarded but had not yet recorded in its
    # dedup ledger (forwarded again on restart, docs/service.md): at most one batch.
    assert all(absorbed[eq] >= n for eq, n in path.sent.items()), (absorbed, path.sent)
    assert sum(absorbed.values()) - sum(path.sent.values()) <= 500, (absorbed, path.sent)
    assert path.graph() == path.graph_before
