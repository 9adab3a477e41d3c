"""Nothing accepted is ever lost, however long Kafka is away, and a crashed worker resumes at once.

Real broker, real workers, real API: the broker is SIGKILLed for longer than every client timeout
(message.timeout.ms of the stage's producers, the HTTP ingest's Kafka wait, the group session timeout)
while a stream is being validated, then started again on the same data. Every event reaches
``events.valid`` or ``events.dlq``, every event HTTP answered "accepted" for reaches the graph, the
validate stage's committed offsets never pass a record it had not forwarded, and the graph equals an
uninterrupted projection of the same events.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import neo4j
import pytest
from confluent_kafka.admin import AdminClient

from api.keys import create_key
from bench.workload import Event, generate
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from connectors.record_store import RecordStore
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.writer import GraphWriter
from schema.examples import example_event
from schema.tables import Role
from streams.batches import validate_group
from streams.projection import Projector
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.integration.conftest import crash_server
from tests.integration.test_projection import dump, incoming, project_all
from tests.integration.topic_reader import committed, ends, event_id, read_all
from tests.integration.worker_proc import spawn_api, spawn_worker, stop

pytestmark = pytest.mark.timeout(600)

PARTITIONS = 2
END = datetime(2026, 9, 1, tzinfo=UTC)
ENTERPRISES = 200
"""Enough for > 500 nodes in the reference graph now that the flow (orders, alarms, …) is records."""
SOURCE = "sap-ecc/wisco"
OUTAGE_S = 62.0
"""Longer than every client timeout: the stage's message.timeout.ms (15 s), HTTP ingest's Kafka wait
(``ingest.kafka_timeout_s``, 10 s) and a consumer group's session timeout (45 s)."""


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


@dataclass
class Run:
    """One test's own topics, ids and consumer group; the workload is loaded into its raw topic."""

    settings: Settings
    tag: str
    names: Topics
    ids: str
    group: str
    events: list[Event]
    expected: set[str]

    @property
    def prefix(self) -> str:
        return f"t5-{self.tag}."

    def worker(self, log: Path, **extra: str) -> subprocess.Popen[bytes]:
        return spawn_worker(
            self.settings,
            self.group,
            log,
            SUPPLYNET_STREAM__TOPIC_PREFIX=self.prefix,
            SUPPLYNET_STREAM__BATCH_SIZE="250",
            **extra,
        )

    def forwarded(self) -> set[str]:
        """Ids in events.valid or events.dlq."""
        out = read_all(self.settings, self.names.valid) + read_all(self.settings, self.names.dlq)
        return {i for i in (event_id(m) for m in out) if i is not None}

    def unforwarded_below_commit(self) -> list[tuple[int, int]]:
        """(partition, offset) of raw records below the validate stage's committed offsets that are in
        neither events.valid nor events.dlq. Offsets are read first, so whatever was forwarded before
        they were committed is in the output topics by the time those are read."""
        commits = committed(self.settings, validate_group(self.group), self.names.raw, PARTITIONS)
        raw = read_all(self.settings, self.names.raw)
        forwarded = self.forwarded()
        return [
            (m.partition() or 0, m.offset() or 0)
            for m in raw
            if (m.offset() or 0) < commits.get(m.partition() or 0, 0) and event_id(m) not in forwarded
        ]


def _invalid(run: str, n: int) -> bytes:
    e = example_event("inventory.reported", event_id=f"{run}bad-{n}")
    e["data"]["on_hand"] = -1  # refused by the contract: goes to events.dlq
    return msgspec.json.encode(e)


@pytest.fixture
def run(stack: Settings, run_id: str) -> Iterator[Run]:
    tag = f"{run_id}-{uuid.uuid4().hex[:4]}"
    names = Topics.prefixed(f"t5-{tag}.")
    ensure_topics(
        stack.kafka.librdkafka(),
        [
            TopicSpec(names.raw, PARTITIONS),
            TopicSpec(names.valid, PARTITIONS),
            TopicSpec(names.dlq, 1),
            TopicSpec(names.alerts, 1),
            TopicSpec(names.changes, PARTITIONS),
            TopicSpec(names.telemetry, PARTITIONS),
        ],
    )
    ids = f"{tag}-"
    events = generate(prefix=ids, enterprises=ENTERPRISES, events=5_000, end=END)
    bad = [_invalid(ids, n) for n in range(5)]
    producer = EventProducer(stack.kafka.librdkafka(), names.raw)
    producer.send_many([*(Record(e.key, e.value) for e in events), *(Record(b"x", v) for v in bad)])
    producer.close()
    expected = {i for i in (msgspec.json.decode(e.value)["id"] for e in events)} | {
        f"{ids}bad-{n}" for n in range(5)
    }
    yield Run(stack, tag, names, ids, f"t5-{tag}", events, expected)
    AdminClient(stack.kafka.librdkafka()).delete_topics(
        [names.raw, names.valid, names.dlq, names.alerts, names.changes, names.telemetry]
    )


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _until(
    what: str, check: Any, timeout_s: float, procs: list[subprocess.Popen[bytes]], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        if any(p.poll() is not None for p in procs):
            pytest.fail(f"worker exited: {_tail(log)}")
        await asyncio.sleep(0.2)
    pytest.fail(f"{what} not within {timeout_s:.0f}s; {_tail(log)}")


async def _drained(run: Run, driver: neo4j.AsyncDriver, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until every expected id is forwarded and the graph holds all of events.valid; the validate
    stage's commits are checked against what was forwarded on the way."""
    deadline = time.monotonic() + 180
    missing: set[str] = run.expected
    while time.monotonic() < deadline:
        assert run.unforwarded_below_commit() == [], "validate committed past records it never forwarded"
        missing = run.expected - run.forwarded()
        if not missing:
            break
        if proc.poll() is not None:
            pytest.fail(f"worker exited: {_tail(log)}")
        await asyncio.sleep(1.0)
    assert not missing, (
        f"{len(missing)} event(s) never reached events.valid or events.dlq, e.g. {sorted(missing)[:5]}"
    )
    writer = GraphWriter(driver)
    valid_ends = {p: o for p, o in ends(run.settings, run.names.valid).items() if o}

    async def projected() -> bool:
        stored = await writer.stored_offsets(run.group, run.names.valid)
        return all(stored.get(p, 0) >= o for p, o in valid_ends.items())

    await _until("the graph holding all of events.valid", projected, 180, [proc], log)


async def _same_graph_as_uninterrupted(run: Run, driver: neo4j.AsyncDriver, stack: Settings) -> None:
    """The run's subgraph equals the same events projected in one uninterrupted pass."""
    reference = f"{run.tag}r-"
    again = generate(prefix=reference, enterprises=ENTERPRISES, events=len(run.events), end=END)
    dlq_out = EventProducer(stack.kafka.librdkafka(), run.names.dlq)
    writer = GraphWriter(driver)
    store = RecordStore(bootstrap.sql_engine(stack))  # the workers' store: flow KPIs come from its buckets
    try:
        await project_all(
            Projector(writer=writer, dlq_out=dlq_out, group=f"{run.group}-ref", records=store),
            incoming(again),
            1000,
        )
        got, want = await dump(driver, run.ids), await dump(driver, reference)
        assert len(want["nodes"]) > 500
        # Stock is a record: the workers wrote no STOCKS; their batches gave the enterprises their cover.
        assert not any(k[0] == "STOCKS" for k in got["relationships"])
        covered = [
            p for (label, _), p in got["nodes"].items() if label == "Enterprise" and dict(p).get("coverSkus")
        ]
        assert len(covered) > 5
        assert got["nodes"].keys() == want["nodes"].keys()
        for k in want["nodes"]:
            assert got["nodes"][k] == want["nodes"][k], k
        assert got["relationships"] == want["relationships"]
    finally:
        dlq_out.close()
        await delete_by_prefix(driver, reference)
        await delete_offsets(driver, f"{run.group}-ref")


async def _mid_run(run: Run, total: int) -> int:
    """Wait until validation is under way (some of the stream forwarded, not all); return how much."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = sum(ends(run.settings, run.names.valid).values())
        if done > 0:
            assert done < total, "the stream was validated before the crash could land mid-run"
            return done
        await asyncio.sleep(0.05)
    pytest.fail("validation did not start within 120 s")


def _rejoin_s(log: Path, stage: str) -> float:
    """Seconds from the last worker's faust start to ``stage`` having its partitions (from its log)."""
    started: datetime | None = None
    assigned: datetime | None = None
    for line in log.read_text(errors="replace").splitlines():
        at = line[1:24] if line.startswith("[20") else ""
        if "[^Worker]: Starting" in line:
            started, assigned = datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f"), None
        elif f"{stage}: partitions assigned" in line and started is not None and assigned is None:
            assigned = datetime.strptime(at, "%Y-%m-%d %H:%M:%S,%f")
    return (assigned - started).total_seconds() if started and assigned else float("nan")


def _partner(run: str, n: int) -> dict[str, Any]:
    e = example_event("partner.registered", event_id=f"{run}http-{n}")
    e["source"] = SOURCE
    e["data"]["enterprise_id"] = e["subject"] = f"{run}http-ent-{n}"
    return e


class Ingest:
    """An ERP posting to HTTP ingest; remembers every event it was told was accepted."""

    def __init__(self, url: str, key: str, ids: str) -> None:
        self.url, self.key, self.ids = url, key, ids
        self.accepted: set[str] = set()
        self.n = 0

    def post(self, count: int = 3) -> httpx.Response:
        events = [_partner(self.ids, self.n + i) for i in range(count)]
        self.n += count
        r = httpx.post(
            f"{self.url}/v1/events",
            content=msgspec.json.encode(events),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
            timeout=120,
        )
        if r.status_code == 200:
            self.accepted |= {e["id"] for e in r.json()["events"] if e["status"] == "accepted"}
        return r

    async def enterprises_in_graph(self, driver: neo4j.AsyncDriver) -> set[str]:
        records, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p AND e.name IS NOT NULL "
            "RETURN e.lastEventId AS id",
            p=f"{self.ids}http-ent-",
        )
        return {r["id"] for r in records}


async def test_a_broker_crashed_longer_than_every_timeout_loses_nothing_that_was_accepted(
    stack: Settings, driver: neo4j.AsyncDriver, run: Run, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    api, url = spawn_api(stack, tmp_path / "api.log", SUPPLYNET_STREAM__TOPIC_PREFIX=run.prefix)
    erp = Ingest(
        url,
        create_key(bootstrap.sql_engine(stack), name=f"erp-{run.tag}", role=Role.ERP, source=SOURCE)[1],
        f"{run.tag}h-",  # apart from the workload's ids: not part of the graph compared with the reference
    )
    proc: subprocess.Popen[bytes] | None = None
    try:
        before = erp.post()
        assert before.status_code == 200, before.text
        proc = run.worker(log)
        await _mid_run(run, len(run.expected))
        crash_server(stack, "kafka")
        down_at = time.monotonic()

        during = erp.post()
        assert during.status_code == 503, during.text
        assert int(during.headers["Retry-After"]) >= 1
        assert "Kafka" in during.json()["detail"]
        assert "none was accepted" in during.json()["detail"]

        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        StackManager(stack).up(["kafka"])
        print(f"\nbroker down for {time.monotonic() - down_at:.0f} s (SIGKILL to ready again)")
        for _ in range(20):  # an ERP retries a 503 after Retry-After seconds
            after = erp.post()
            if after.status_code != 503:
                break
            await asyncio.sleep(int(after.headers["Retry-After"]))
        assert after.status_code == 200, after.text
        run.expected |= erp.accepted

        await _drained(run, driver, proc, log)

        async def http_in_graph() -> bool:
            return await erp.enterprises_in_graph(driver) >= erp.accepted

        await _until("every HTTP-accepted event in the graph", http_in_graph, 60, [proc], log)
        assert len(erp.accepted) >= 6
        await _same_graph_as_uninterrupted(run, driver, stack)
    finally:
        if proc is not None:
            stop(proc)
        stop(api)
        await delete_by_prefix(driver, run.ids)
        await delete_by_prefix(driver, erp.ids)
        await delete_offsets(driver, run.group)


async def test_a_worker_killed_mid_stream_resumes_within_seconds_and_loses_nothing(
    stack: Settings, driver: neo4j.AsyncDriver, run: Run, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    instance = {"SUPPLYNET_STREAM__INSTANCE_ID": f"{run.tag}-w0"}
    proc = run.worker(log, **instance)
    writer = GraphWriter(driver)
    try:
        await _mid_run(run, len(run.expected))
        stop(proc, 9)
        killed_at = time.monotonic()
        forwarded = sum(ends(stack, run.names.valid).values())
        projected = sum((await writer.stored_offsets(run.group, run.names.valid)).values())
        proc = run.worker(log, **instance)

        async def validating() -> bool:
            return sum(ends(stack, run.names.valid).values()) > forwarded

        async def projecting() -> bool:
            return sum((await writer.stored_offsets(run.group, run.names.valid)).values()) > projected

        await _until("validation resuming", validating, 180, [proc], log)
        validate_s = time.monotonic() - killed_at
        await _until("projection resuming", projecting, 180, [proc], log)
        project_s = time.monotonic() - killed_at
        await _drained(run, driver, proc, log)
        drained_s = time.monotonic() - killed_at
        validate_rejoin, project_rejoin = _rejoin_s(log, "validate"), _rejoin_s(log, "project")
        print(
            f"\nworker SIGKILL: validate resumed {validate_s:.1f} s and project {project_s:.1f} s after the "
            f"kill; the new process had its partitions {validate_rejoin:.1f} s (validate) and "
            f"{project_rejoin:.1f} s (project) after faust started; drained {drained_s:.1f} s after the kill"
        )
        await _same_graph_as_uninterrupted(run, driver, stack)
        # Static membership: the restarted worker takes its partitions back at once, instead of waiting
        # out the dead member's session (faust 60 s, librdkafka 45 s). Measured from the new process's
        # own start, so neither a slow interpreter start nor a slow first Neo4j write counts.
        assert validate_rejoin < 15 and project_rejoin < 15
    finally:
        stop(proc)
        await delete_by_prefix(driver, run.ids)
        await delete_offsets(driver, run.group)
