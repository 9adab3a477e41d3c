"""Real ``supplynet worker`` processes on a test's own topics: a worker killed with SIGKILL mid-run
and restarted, and two workers sharing the partitions, leave the same graph as one uninterrupted run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import neo4j
import pytest

from bench.workload import generate
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.writer import GraphWriter
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.test_projection import dump

pytestmark = pytest.mark.timeout(420)

PARTITIONS = 4
END = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


def _topics(settings: Settings, run: str) -> tuple[str, Topics]:
    prefix = f"t4-{run}."
    names = Topics.prefixed(prefix)
    ensure_topics(
        settings.kafka.librdkafka(),
        [
            TopicSpec(names.raw, 1),
            TopicSpec(names.valid, PARTITIONS),
            TopicSpec(names.dlq, 1),
            TopicSpec(names.alerts, 1),
            TopicSpec(names.changes, PARTITIONS),
            TopicSpec(names.telemetry, PARTITIONS),
        ],
    )
    return prefix, names


def _load(settings: Settings, topic: str, ids: str, n: int) -> dict[int, int]:
    """Produce the workload to ``topic``; return partition -> end offset."""
    # 400 enterprises keep the graph above 1,000 nodes now that the flow (orders, alarms, …) is records
    events = generate(prefix=ids, enterprises=400, events=n, end=END)
    producer = EventProducer(settings.kafka.librdkafka(), topic)
    delivered = producer.send_many(Record(key=e.key, value=e.value) for e in events)
    producer.close()
    ends: dict[int, int] = {}
    for d in delivered:
        ends[d.partition] = max(ends.get(d.partition, 0), d.offset + 1)
    return ends


def _spawn(settings: Settings, prefix: str, group: str, log: Path, n: int = 0) -> subprocess.Popen[bytes]:
    """Worker ``n`` of ``group``; a restarted worker keeps its number (its static membership id)."""
    env = {
        **os.environ,
        "SUPPLYNET_SQL_URL": settings.database_url(),
        "SUPPLYNET_STREAM__TOPIC_PREFIX": prefix,
        "SUPPLYNET_STREAM__APP_ID": group,
        "SUPPLYNET_STREAM__WEB_PORT": str(free_port()),
        "SUPPLYNET_STREAM__BATCH_SIZE": "100",
        "SUPPLYNET_STREAM__BATCH_SECONDS": "0.2",
        "SUPPLYNET_STREAM__INSTANCE_ID": f"{group}-{n}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _tail(log: Path, n: int = 3000) -> str:
    return log.read_text()[-n:]


async def _progress(writer: GraphWriter, group: str, topic: str) -> dict[int, int]:
    return await writer.stored_offsets(group, topic)


async def _await_offsets(
    writer: GraphWriter,
    group: str,
    topic: str,
    until: dict[int, int],
    procs: list[subprocess.Popen[bytes]],
    log: Path,
) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        stored = await _progress(writer, group, topic)
        if all(stored.get(p, 0) >= o for p, o in until.items()):
            return
        if any(p.poll() is not None for p in procs):
            pytest.fail(f"worker exited: {_tail(log)}")
        await asyncio.sleep(0.2)
    pytest.fail(f"offsets did not reach {until}: {await _progress(writer, group, topic)}; {_tail(log)}")


async def _run(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path, mode: str
) -> tuple[str, str, str]:
    tag = f"{run_id}-{mode}-{uuid.uuid4().hex[:4]}"
    prefix, names = _topics(stack, tag)
    ids = f"{tag}-"
    group = f"t4-{tag}"
    ends = _load(stack, names.valid, ids, 12000)  # > 1000 nodes: the flow is records, not nodes
    writer = GraphWriter(driver)
    log = tmp_path / f"{mode}.log"
    if mode == "two":
        procs = [_spawn(stack, prefix, group, log, 0), _spawn(stack, prefix, group, log, 1)]
    else:
        procs = [_spawn(stack, prefix, group, log)]
    try:
        if mode == "killed":
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                stored = await _progress(writer, group, names.valid)
                if sum(stored.values()) > 0:
                    break
                await asyncio.sleep(0.05)
            _kill(procs[0], signal.SIGKILL)
            stored = await _progress(writer, group, names.valid)
            assert 0 < sum(stored.values()) < sum(ends.values()), "the kill did not land mid-run"
            procs = [_spawn(stack, prefix, group, log)]
        await _await_offsets(writer, group, names.valid, ends, procs, log)
        stored = await _progress(writer, group, names.valid)
        assert stored == ends
    finally:
        for p in procs:
            _kill(p, signal.SIGTERM)
    return ids, group, _tail(log, 200_000)


async def test_a_killed_worker_and_two_workers_leave_the_graph_of_one_uninterrupted_worker(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path
) -> None:
    runs: dict[str, tuple[str, str, str]] = {}
    try:
        for mode in ("one", "killed", "two"):
            runs[mode] = await _run(stack, driver, run_id, tmp_path, mode)
        one = await dump(driver, runs["one"][0])
        assert len(one["nodes"]) > 1000
        for mode in ("killed", "two"):
            other = await dump(driver, runs[mode][0])
            assert one["nodes"].keys() == other["nodes"].keys(), mode
            for k in one["nodes"]:
                assert one["nodes"][k] == other["nodes"][k], (mode, k)
            assert one["relationships"] == other["relationships"], mode
        assert "starts at graph offset" in runs["killed"][2]  # the restarted worker sought to Neo4j's offsets
    finally:
        for ids, group, _ in runs.values():
            await delete_by_prefix(driver, ids)
            await delete_offsets(driver, group)
