"""The demo world through the real stack: `supplynet generate --to kafka` -> worker -> Neo4j counts."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import neo4j
import pytest

from connectors.kafka import ensure_topics
from graph.maintenance import delete_by_prefix
from supplynet import bootstrap
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.integration.worker_proc import running_worker, subprocess_env

pytestmark = pytest.mark.timeout(900)

COUNTS = {
    "enterprises": "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN count(e) AS n",
    "facilities": "MATCH (f:Facility) WHERE f.id STARTS WITH $p RETURN count(f) AS n",
    "supply_links": "MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise) WHERE s.id STARTS WITH $p "
    "AND b.id STARTS WITH $p RETURN count(x) AS n",
}
"""The master data, sent first: what the graph must hold once the worker is past the first ~5,000 events
(the year of operations after it takes minutes more on a busy two-core machine)."""


@pytest.fixture(scope="module")
def kafka_and_neo4j(settings: Settings) -> Settings:
    """Only the servers this test needs (idempotent; left running, like the session's stack)."""
    from supplynet.cli import run_init

    StackManager(settings, echo=lambda m: print(f"[stack] {m}")).up(["kafka", "neo4j"])
    run_init(settings)
    return settings


@pytest.fixture
def world_prefix(run_id: str) -> str:
    return f"wd{run_id}{uuid.uuid4().hex[:4]}-"


@pytest.fixture
async def graph(kafka_and_neo4j: Settings, world_prefix: str) -> AsyncIterator[neo4j.AsyncDriver]:
    """A driver; afterwards the test's data is deleted by prefix."""
    d = bootstrap.async_driver(kafka_and_neo4j)
    yield d
    await delete_by_prefix(d, world_prefix)
    await d.close()


async def counts(driver: neo4j.AsyncDriver, prefix: str) -> dict[str, int]:
    out = {}
    for what, query in COUNTS.items():
        records, _, _ = await driver.execute_query(query, p=prefix)
        out[what] = int(records[0]["n"])
    return out


async def test_the_demo_world_streamed_to_kafka_lands_in_the_graph(
    kafka_and_neo4j: Settings,
    graph: neo4j.AsyncDriver,
    world_prefix: str,
    run_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver, prefix = graph, world_prefix
    # topics of this test's own: a new consumer group would otherwise first replay what earlier runs left
    topic_prefix = f"world-{run_id}-{prefix}"
    stack = kafka_and_neo4j.model_copy(
        update={"stream": kafka_and_neo4j.stream.model_copy(update={"topic_prefix": topic_prefix})}
    )
    ensure_topics(stack.kafka.librdkafka(), bootstrap.topic_specs(stack))
    monkeypatch.setenv("SUPPLYNET_STREAM__TOPIC_PREFIX", topic_prefix)
    manifest_path = tmp_path / "manifest.json"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "supplynet", "generate", "--size", "demo", "--seed", "3", "--prefix", prefix,
         "--to", "kafka", "--manifest", str(manifest_path)],
        env=subprocess_env(stack), capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    expected = {k: manifest["counts"][k] for k in COUNTS}
    with running_worker(stack, f"supplynet-test-world-{run_id}", tmp_path / "worker.log"):
        deadline = time.monotonic() + 600
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            seen = await counts(driver, prefix)
            if seen == expected:
                break
            await asyncio.sleep(3)
    assert seen == expected, (tmp_path / "worker.log").read_text(encoding="utf-8")[-3000:]
    planted = manifest["planted"]
    records, _, _ = await driver.execute_query(
        "MATCH (e:Enterprise)-[:LOCATED_IN]->(:Region {name: $region}) WHERE e.id STARTS WITH $p "
        "RETURN count(e) AS n",
        p=prefix,
        region=planted["region_flood"]["region"],
    )
    assert records[0]["n"] == len(planted["region_flood"]["enterprises"])
    sole = planted["sole_sources"][0]
    records, _, _ = await driver.execute_query(
        "MATCH (s:Enterprise)-[:SUPPLIES {sku: $sku}]->(b:Enterprise {id: $buyer}) "
        "RETURN collect(s.id) AS ids",
        sku=sole["sku"],
        buyer=sole["buyers"][0],
    )
    assert records[0]["ids"] == [sole["supplier"]]
    records, _, _ = await driver.execute_query(
        "MATCH (m:Material) WHERE m.sku IN $skus RETURN count(m) AS n",
        skus=["PHOSPHORIC-ACID", "WAFER-200MM"],
    )
    assert records[0]["n"] == 2
