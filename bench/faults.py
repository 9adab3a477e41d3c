"""Fault drills: the pipeline under crashes and outages, compared with an uninterrupted reference.

    python -m bench.faults --events 200000                  # every scenario (heavy: run it alone)
    python -m bench.faults --events 5000 --only worker-kill poison
    SUPPLYNET_KAFKA__LOCAL_BROKERS=3 python -m bench.faults  # also the broker-loss scenario

One workload (``bench/workload.py``) is fed at a steady rate into events.raw of topics of each
scenario's own (``<tag>.<scenario>.events.raw``), under ids of its own (``<tag>-<scenario>-``), through
real ``supplynet worker`` processes (validate + project). The reference runs it without faults; each
scenario injects its faults at seeded points and is then compared with the reference by canonical
dump of the graph (``graph/canonical.py``): ``lost`` counts nodes and relationships of the reference
that are missing or differ, ``duplicated`` those beyond it. Recovery after each fault: seconds from
the fault's end until every partition with work waiting moved again (resume), and until the backlog
left at the fault's end (events.raw validated, then events.valid projected) was drained.
Everything is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import msgspec
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table

from bench.workload import generate
from connectors.errors import KafkaUnavailable
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from graph.canonical import Dump, canonical_dump, compare
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.writer import GraphWriter
from streams.batches import validate_group
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager

PLACEHOLDER = "-RUNX-"
END = datetime(2026, 9, 1, tzinfo=UTC)
SCENARIOS = (
    "worker-kill",
    "two-workers",
    "neo4j-kill",
    "kafka-outage",
    "broker-kill",
    "bridge-kill",
    "dup-reorder",
    "poison",
)
console = Console()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Id(msgspec.Struct):
    id: str = ""


_ids = msgspec.json.Decoder(_Id)


# -- measurements ----------------------------------------------------------------------------------


@dataclass
class Recovery:
    """One fault: when it began and ended, when projection resumed and the backlog was drained."""

    label: str
    began: float
    ended: float | None = None
    resumed: float | None = None
    drained: float | None = None
    # the state at the fault's end the drain is measured against
    graph_at_end: dict[int, int] | None = None
    valid_at_end: dict[int, int] | None = None
    raw_at_end: dict[int, int] | None = None
    valid_target: dict[int, int] | None = None

    def text(self) -> str:
        if self.ended is None:
            return f"{self.label}: not ended"
        resume = f"{self.resumed - self.ended:.1f}" if self.resumed is not None else "-"
        drain = f"{self.drained - self.ended:.1f}" if self.drained is not None else "-"
        return f"{self.label}: {resume}/{drain}s"


@dataclass
class Outcome:
    scenario: str
    events: int = 0
    faults: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    dlq: int = 0
    dlq_expected: int = 0
    recoveries: list[Recovery] = field(default_factory=list)
    longest_stall_s: float = 0.0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    dump_size: int = 0


def _ge(have: dict[int, int], want: dict[int, int]) -> bool:
    return all(have.get(p, 0) >= o for p, o in want.items())


class Monitor:
    """Samples the graph's stored offsets and the topics' ends twice a second; closes recoveries."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.graph: dict[int, int] = {}
        self.valid_end: dict[int, int] = {}
        self.raw_end: dict[int, int] = {}
        self.raw_done: dict[int, int] = {}
        self.kafka_ok = False
        self.recoveries: list[Recovery] = []
        self.history: list[tuple[float, int, bool]] = []  # (time, projected, work waiting)
        self._consumer = self._new_consumer()
        self._kafka_failures = 0
        self._stop = False

    def _new_consumer(self) -> Consumer:
        return Consumer(
            {
                **self.run.settings.kafka.librdkafka(),
                # The validate stage's group on events.raw: read its commits, never join.
                "group.id": validate_group(self.run.group),
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )

    def _kafka(self) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
        parts = range(self.run.partitions)
        valid = {
            p: self._consumer.get_watermark_offsets(TopicPartition(self.run.names.valid, p), 1.0, False)[1]
            for p in parts
        }
        raw = {
            p: self._consumer.get_watermark_offsets(TopicPartition(self.run.names.raw, p), 1.0, False)[1]
            for p in parts
        }
        committed = self._consumer.committed([TopicPartition(self.run.names.raw, p) for p in parts], 2.0)
        done = {tp.partition: max(0, tp.offset) for tp in committed}
        return valid, raw, done

    async def sample(self) -> None:
        now = time.monotonic()
        with contextlib.suppress(Exception):  # Neo4j away: keep the last known offsets
            self.graph = await asyncio.wait_for(
                self.run.writer.stored_offsets(self.run.group, self.run.names.valid), 20
            )
        try:
            self.valid_end, self.raw_end, self.raw_done = await asyncio.wait_for(
                asyncio.to_thread(self._kafka), 30
            )
            self.kafka_ok, self._kafka_failures = True, 0
        except Exception:  # Kafka away: a sample without its offsets
            self.kafka_ok = False
            self._kafka_failures += 1
            if self._kafka_failures % 10 == 0:  # a client that lost every broker may not come back
                old, self._consumer = self._consumer, self._new_consumer()
                with contextlib.suppress(Exception):
                    old.close()
        waiting = not _ge(self.graph, self.valid_end) or not _ge(self.raw_done, self.raw_end)
        self.history.append((now, sum(self.graph.values()), waiting))
        for r in self.recoveries:
            self._advance(r, now)

    def _advance(self, r: Recovery, now: float) -> None:
        if r.ended is None or r.drained is not None:
            return
        if r.graph_at_end is None:
            r.graph_at_end = dict(self.graph)
        if r.raw_at_end is None and self.kafka_ok:
            r.valid_at_end, r.raw_at_end = dict(self.valid_end), dict(self.raw_end)
        if r.raw_at_end is None or r.valid_at_end is None:
            return
        if r.resumed is None:
            waiting = [p for p, o in r.valid_at_end.items() if o > r.graph_at_end.get(p, 0)]
            moved = [p for p, o in self.graph.items() if o > r.graph_at_end.get(p, 0)]
            # every partition that had work waiting moved; with none waiting, any partition
            if (waiting and set(waiting) <= set(moved)) or (not waiting and moved):
                r.resumed = now
        if r.valid_target is None and self.kafka_ok and _ge(self.raw_done, r.raw_at_end):
            r.valid_target = dict(self.valid_end)
        if r.valid_target is not None and _ge(self.graph, r.valid_target):
            r.drained = now
            if r.resumed is None:
                r.resumed = now

    async def loop(self) -> None:
        while not self._stop:
            try:
                await asyncio.wait_for(self.sample(), 60)
            except Exception as e:  # the sampler must outlive any one failed sample
                console.print(f"  sample failed: {e!r}")
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stop = True
        self._consumer.close()

    def begin(self, label: str) -> Recovery:
        r = Recovery(label=label, began=time.monotonic())
        self.recoveries.append(r)
        console.print(f"  [yellow]fault[/yellow] {label}")
        return r

    def end(self, r: Recovery) -> None:
        r.ended = time.monotonic()
        console.print(f"  fault over after {r.ended - r.began:.1f}s: {r.label}")

    def startup(self) -> float | None:
        """Seconds from the first sample to the first projected batch."""
        moved = [t for t, projected, _ in self.history if projected > 0]
        return moved[0] - self.history[0][0] if moved else None

    def longest_stall(self) -> float:
        """Longest time the projection did not move while work was waiting, once it had started."""
        longest, since, last = 0.0, None, -1
        for t, projected, waiting in self.history:
            if projected == 0:
                continue
            if projected != last or not waiting:
                since, last = (t if waiting else None), projected
                continue
            if since is not None:
                longest = max(longest, t - since)
        return longest


# -- feeders ---------------------------------------------------------------------------------------


class Feeder(threading.Thread):
    """Sends records at ``rate`` per second in slices of a tenth of a second; a refused slice is
    sent again (as an ERP would) until it is accepted. ``accepted`` counts acknowledged records."""

    def __init__(self, records: Sequence[Record], rate: int) -> None:
        super().__init__(daemon=True)
        self.records = records
        self.rate = rate
        self.accepted = 0
        self.refusals = 0
        self.done = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def send(self, chunk: Sequence[Record]) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Release the client."""

    def run(self) -> None:
        step = max(1, self.rate // 10)
        started = time.monotonic()
        try:
            i = 0
            while i < len(self.records) and not self.stopping.is_set():
                chunk = self.records[i : i + step]
                if self.send(chunk):
                    i += len(chunk)
                    self.accepted = i
                    due = started + i / self.rate
                    time.sleep(max(0.0, due - time.monotonic()))
                else:
                    self.refusals += 1
                    time.sleep(1.0)
                    started = time.monotonic() - i / self.rate  # keep the pace, not a burst to catch up
        except BaseException as e:  # reported by the harness
            self.error = e
        finally:
            self.close()
            self.done.set()

    async def reached(self, fraction: float) -> None:
        while self.accepted < fraction * len(self.records) and not self.done.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the count is kept by the feeding thread


class KafkaFeeder(Feeder):
    def __init__(self, settings: Settings, topic: str, records: Sequence[Record], rate: int) -> None:
        super().__init__(records, rate)
        self.producer = EventProducer(settings.kafka.librdkafka(), topic, timeout_s=30)

    def send(self, chunk: Sequence[Record]) -> bool:
        try:
            self.producer.send_many(chunk)
            return True
        except KafkaUnavailable:
            return False

    def close(self) -> None:
        self.producer.close()


class HttpFeeder(Feeder):
    """POSTs NDJSON to ``/v1/events``; a 503 (Kafka did not acknowledge) or no answer is a refusal."""

    def __init__(self, url: str, token: str, records: Sequence[Record], rate: int) -> None:
        super().__init__(records, rate)
        self.client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            timeout=60,
        )
        self.status: dict[int, int] = {}
        self.accepted_ids: set[str] = set()

    def send(self, chunk: Sequence[Record]) -> bool:
        try:
            r = self.client.post("/v1/events", content=b"\n".join(rec.value for rec in chunk))
        except httpx.HTTPError:
            self.status[0] = self.status.get(0, 0) + 1
            return False
        self.status[r.status_code] = self.status.get(r.status_code, 0) + 1
        if r.status_code != 200:
            return False
        for e in r.json()["events"]:
            if e["status"] == "accepted":
                self.accepted_ids.add(e["id"])
        return True

    def close(self) -> None:
        self.client.close()


class PulsarFeeder(Feeder):
    def __init__(self, settings: Settings, topic: str, records: Sequence[Record], rate: int) -> None:
        super().__init__(records, rate)
        import pulsar

        self.client = pulsar.Client(settings.pulsar.service_url(), operation_timeout_seconds=30)
        self.producer = self.client.create_producer(
            topic, batching_enabled=True, batching_max_publish_delay_ms=5
        )

    def send(self, chunk: Sequence[Record]) -> bool:
        for rec in chunk:
            self.producer.send_async(rec.value, None, partition_key=rec.key.decode() if rec.key else None)
        self.producer.flush()
        return True

    def close(self) -> None:
        self.producer.close()
        self.client.close()


# -- one scenario's run ----------------------------------------------------------------------------


class Run:
    """A scenario's own topics, ids, consumer group, SQL store and processes."""

    def __init__(self, ctx: Context, code: str) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.code = code
        self.ids = f"{ctx.tag}-{code}-"
        self.topic_prefix = f"{ctx.tag}.{code}."
        self.names = Topics.prefixed(self.topic_prefix)
        self.group = f"{ctx.tag}-{code}"
        self.partitions = ctx.settings.kafka.partitions
        self.sql_url = f"sqlite:///{ctx.tmp / code}.db"
        self.log = ctx.tmp / f"{code}.log"
        self.writer = ctx.writer
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.feeders: list[Feeder] = []
        self.monitor: Monitor | None = None
        self.outcome = Outcome(scenario=code)
        self.expected_dlq = 0
        self.settle: Callable[[], Awaitable[None]] | None = None
        """Waits, after the feeders are done, until a stage in front of events.raw forwarded all."""

    def create_topics(self) -> None:
        k = self.settings.kafka
        isr = {"min.insync.replicas": str(k.min_insync())}
        ensure_topics(
            k.librdkafka(),
            [
                TopicSpec(name, n, k.replication(), isr)
                for name, n in (
                    (self.names.raw, self.partitions),
                    (self.names.valid, self.partitions),
                    (self.names.dlq, 1),
                    (self.names.alerts, 1),
                    (self.names.changes, self.partitions),
                    (self.names.telemetry, self.partitions),
                )
            ],
        )
        n = self.names
        self.ctx.topics += [n.raw, n.valid, n.dlq, n.alerts, n.changes, n.telemetry]
        self.ctx.groups.append(self.group)

    def env(self, **extra: str) -> dict[str, str]:
        k = self.settings.kafka
        return {
            **os.environ,
            **({"SUPPLYNET_KAFKA__BOOTSTRAP": k.bootstrap} if k.bootstrap else {}),
            "SUPPLYNET_KAFKA__LOCAL_PORT": str(k.local_port),
            "SUPPLYNET_KAFKA__LOCAL_CONTROLLER_PORT": str(k.local_controller_port),
            "SUPPLYNET_KAFKA__LOCAL_BROKERS": str(k.local_brokers),
            "SUPPLYNET_SQL_URL": self.sql_url,
            "SUPPLYNET_STREAM__TOPIC_PREFIX": self.topic_prefix,
            "SUPPLYNET_STREAM__APP_ID": self.group,
            "SUPPLYNET_STREAM__WEB_PORT": str(_free_port()),
            "SUPPLYNET_STREAM__BATCH_SIZE": "1000",
            "SUPPLYNET_STREAM__BATCH_SECONDS": "0.2",
            **extra,
        }

    def popen(self, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "supplynet", *args],
                env=self.env(**extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        proc = self.popen(["worker", "--loglevel", "info"])
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def records(self) -> list[Record]:
        """The workload under this run's ids."""
        old, new = PLACEHOLDER.encode(), f"-{self.code}-".encode()
        return [
            Record(key=(r.key or b"").replace(old, new), value=r.value.replace(old, new))
            for r in self.ctx.workload
        ]

    def feed_kafka(self, records: Sequence[Record]) -> Feeder:
        feeder = KafkaFeeder(self.settings, self.names.raw, records, self.ctx.rate)
        self.outcome.events = len(records)
        self.feeders.append(feeder)
        feeder.start()
        return feeder

    def supervise(self) -> None:
        """A worker that exited by itself is restarted (what systemd or Kubernetes would do)."""
        exited = [proc for proc in self.workers if proc.poll() is not None]
        for proc in exited:
            self.workers.remove(proc)
            self.outcome.notes.append(f"a worker exited by itself (code {proc.returncode}); restarted")
            self.spawn_worker()

    async def wait_drained(self, timeout_s: float) -> bool:
        """Every feeder done, then everything produced validated and projected (stable for 2 s)."""
        assert self.monitor is not None
        deadline = time.monotonic() + timeout_s
        while any(not f.done.is_set() for f in self.feeders):
            self.supervise()
            await asyncio.sleep(0.5)
        if self.settle is not None:
            await self.settle()
        now = time.monotonic()
        final = Recovery(label="feed end", began=now, ended=now)
        self.monitor.recoveries.append(final)
        while time.monotonic() < deadline:
            self.supervise()
            if final.drained is not None:
                await asyncio.sleep(2)
                await self.monitor.sample()
                if _ge(self.monitor.graph, self.monitor.valid_end) and _ge(
                    self.monitor.raw_done, self.monitor.raw_end
                ):
                    self.monitor.recoveries.remove(final)
                    return True
                final.drained = final.valid_target = None
            await asyncio.sleep(0.5)
        self.monitor.recoveries.remove(final)
        return False

    async def stop(self) -> None:
        for f in self.feeders:
            f.stopping.set()
        for proc in [*self.workers, *self.others]:
            self.kill(proc, signal.SIGTERM)


@dataclass
class Context:
    settings: Settings
    tag: str
    tmp: Path
    rate: int
    seed: int
    outage_s: float
    writer: GraphWriter
    kafka_stack: StackManager
    """Kills and starts the Kafka nodes (a test may run a cluster of its own in another state dir)."""
    workload: list[Record] = field(default_factory=list)
    reference: Dump | None = None
    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)


# -- scenarios -------------------------------------------------------------------------------------

Drive = Callable[[Run, random.Random], Awaitable[None]]


async def reference(run: Run, rnd: random.Random) -> None:
    run.spawn_worker()
    run.feed_kafka(run.records())


async def worker_kill(run: Run, rnd: random.Random) -> None:
    """One worker, SIGKILLed five times at random points of the feed and started again at once."""
    assert run.monitor is not None
    run.spawn_worker()
    feeder = run.feed_kafka(run.records())
    for i, point in enumerate(sorted(rnd.uniform(0.05, 0.95) for _ in range(5)), start=1):
        await feeder.reached(point)
        r = run.monitor.begin(f"kill {i} at {point:.0%}")
        run.kill(run.workers.pop(), signal.SIGKILL)
        run.outcome.faults.append(f"worker SIGKILL at {point:.0%}")
        run.spawn_worker()
        run.monitor.end(r)
        while r.resumed is None and r.drained is None:  # noqa: ASYNC110  (set by the monitor's samples)
            await asyncio.sleep(0.2)  # the next kill hits a worker that works


async def two_workers(run: Run, rnd: random.Random) -> None:
    """Two workers share the partitions; one is SIGKILLed and not restarted (rebalance)."""
    assert run.monitor is not None
    run.spawn_worker()
    run.spawn_worker()
    feeder = run.feed_kafka(run.records())
    point = rnd.uniform(0.2, 0.8)
    await feeder.reached(point)
    r = run.monitor.begin(f"one of two workers killed at {point:.0%}")
    run.kill(run.workers.pop(rnd.randrange(2)), signal.SIGKILL)
    run.outcome.faults.append(f"worker 1 of 2 SIGKILL at {point:.0%}")
    run.monitor.end(r)


async def neo4j_kill(run: Run, rnd: random.Random) -> None:
    """Neo4j SIGKILLed mid-stream and started again (recovery of its transaction log included)."""
    assert run.monitor is not None
    manager = StackManager(run.settings, echo=lambda m: None)
    run.spawn_worker()
    feeder = run.feed_kafka(run.records())
    point = rnd.uniform(0.2, 0.6)
    await feeder.reached(point)
    r = run.monitor.begin(f"neo4j SIGKILL at {point:.0%}")
    await asyncio.to_thread(manager.kill, "neo4j")
    run.outcome.faults.append(f"neo4j SIGKILL at {point:.0%} + restart")
    await asyncio.to_thread(manager.up, ["neo4j"])
    run.outcome.notes.append(f"neo4j down (kill to ready) {time.monotonic() - r.began:.1f}s")
    run.monitor.end(r)


async def kafka_outage(run: Run, rnd: random.Random) -> None:
    """Events arrive over HTTP ingest; every Kafka node is SIGKILLed for ``outage_s`` (longer than
    every client timeout) and started again. The client resends what was refused (503)."""
    assert run.monitor is not None
    from api.keys import create_key
    from schema.tables import Role

    settings = run.settings.model_copy(update={"sql_url": run.sql_url})
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    _, token = create_key(engine, name=f"faults-{run.code}", role=Role.ADMIN)
    port = _free_port()
    api = run.popen(["serve"], SUPPLYNET_API__PORT=str(port), SUPPLYNET_API__ACCESS_LOG="false")
    run.others.append(api)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            answer = await asyncio.to_thread(httpx.get, f"{url}/healthz", timeout=2)
            if answer.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or api.poll() is not None:
            raise RuntimeError(f"the API did not start; see {run.log}")
        await asyncio.sleep(0.5)
    run.spawn_worker()
    records = run.records()
    feeder = HttpFeeder(url, token, records, run.ctx.rate)
    run.outcome.events = len(records)
    run.feeders.append(feeder)
    feeder.start()
    manager = run.ctx.kafka_stack
    point = rnd.uniform(0.2, 0.5)
    await feeder.reached(point)
    r = run.monitor.begin(f"kafka SIGKILL at {point:.0%} for {run.ctx.outage_s:.0f}s")
    for node in manager.nodes("kafka"):
        await asyncio.to_thread(manager.kill, node)
    run.outcome.faults.append(
        f"kafka ({len(manager.nodes('kafka'))} node(s)) SIGKILL {run.ctx.outage_s:.0f}s"
    )
    await asyncio.sleep(run.ctx.outage_s)
    await asyncio.to_thread(manager.up, ["kafka"])
    run.outcome.notes.append(f"kafka down (kill to ready) {time.monotonic() - r.began:.1f}s")
    run.monitor.end(r)
    await asyncio.to_thread(feeder.done.wait)
    refused = {k: v for k, v in feeder.status.items() if k != 200}
    run.outcome.notes.append(
        f"HTTP: {feeder.status.get(200, 0)} requests answered 200, refused {refused} (0 = no answer), "
        f"{len(feeder.accepted_ids)} events accepted"
    )
    raw_ids = set(read_ids(run.settings, run.names.raw))
    missing = feeder.accepted_ids - raw_ids
    run.outcome.notes.append(f"accepted over HTTP but not in events.raw: {len(missing)}")


async def broker_kill(run: Run, rnd: random.Random) -> None:
    """One of three Kafka nodes SIGKILLed mid-stream (replication 3, min.insync.replicas 2), started
    again 30 s later: no loss, and no pause beyond leader election (see the longest stall)."""
    assert run.monitor is not None
    manager = run.ctx.kafka_stack
    nodes = manager.nodes("kafka")
    run.spawn_worker()
    feeder = run.feed_kafka(run.records())
    point = rnd.uniform(0.2, 0.6)
    node = rnd.choice(nodes)
    await feeder.reached(point)
    r = run.monitor.begin(f"{node} SIGKILL at {point:.0%}")
    await asyncio.to_thread(manager.kill, node)
    run.outcome.faults.append(f"{node} SIGKILL at {point:.0%}, back 30s later")
    run.monitor.end(r)  # the fault, for the clients, is over once the leaders moved
    await asyncio.sleep(30)
    await asyncio.to_thread(manager.up, [node])


async def bridge_kill(run: Run, rnd: random.Random) -> None:
    """Events arrive on a Pulsar topic through ``supplynet bridge pulsar``, SIGKILLed mid-stream and
    started again: what it had not acked in Pulsar is delivered again (the graph ignores repeats)."""
    assert run.monitor is not None
    topic = f"persistent://public/default/{run.ctx.tag}-{run.code}"
    records = run.records()
    feeder = PulsarFeeder(run.settings, topic, records, run.ctx.rate)

    def bridge() -> subprocess.Popen[bytes]:
        proc = run.popen(["bridge", "pulsar", "--topic", topic, "--subscription", run.group])
        run.others.append(proc)
        return proc

    async def settle() -> None:
        """Until the bridge's subscription has nothing left to forward."""
        stats = f"{run.ctx.settings.pulsar.admin_url or ''}"
        path = topic.removeprefix("persistent://")
        url = stats or f"http://127.0.0.1:{run.settings.pulsar.local_web_port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                r = await asyncio.to_thread(httpx.get, f"{url}/admin/v2/persistent/{path}/stats", timeout=10)
                sub = r.json()["subscriptions"].get(run.group, {})
                if r.status_code == 200 and sub.get("msgBacklog", 1) == 0:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(1)

    run.settle = settle
    proc = bridge()
    run.spawn_worker()
    run.outcome.events = len(records)
    run.feeders.append(feeder)
    feeder.start()
    point = rnd.uniform(0.2, 0.8)
    await feeder.reached(point)
    r = run.monitor.begin(f"bridge SIGKILL at {point:.0%}")
    run.kill(proc, signal.SIGKILL)
    run.others.remove(proc)
    run.outcome.faults.append(f"pulsar bridge SIGKILL at {point:.0%} + restart")
    bridge()
    run.monitor.end(r)


async def dup_reorder(run: Run, rnd: random.Random) -> None:
    """Every event sent twice, the whole feed shuffled."""
    records = run.records() * 2
    rnd.shuffle(records)
    run.spawn_worker()
    run.feed_kafka(records)
    run.outcome.faults.append(f"every event twice, shuffled ({len(records)} sent)")


def poison_events(ids: str, count: int) -> list[Record]:
    """``count`` events the validate stage must dead-letter, four kinds in turn."""
    out = []
    for i in range(count):
        eid, subject = f"{ids}poison{i}", f"{ids}ent{i % 50}"
        base = {"specversion": "1.0", "id": eid, "source": "bench-erp", "time": "2026-06-01T00:00:00Z"}
        kind = i % 4
        if kind == 0:
            value = f'{{"id": "{eid}", "type": "order.placed", "data": {{'.encode()  # cut short
        elif kind == 1:
            data = {"supplier_id": f"{ids}ent1", "buyer_id": subject, "sku": f"{ids}sku1", "share": 1.7}
            value = msgspec.json.encode(
                {**base, "type": "supply.agreed", "subject": subject, "data": {**data, "lead_time_days": 9}}
            )
        elif kind == 2:
            value = msgspec.json.encode({**base, "type": "order.teleported", "subject": subject, "data": {}})
        else:
            value = msgspec.json.encode(
                {**base, "type": "inventory.reported", "subject": subject, "data": {"enterprise_id": subject}}
            )
        out.append(Record(key=subject.encode(), value=value))
    return out


async def poison(run: Run, rnd: random.Random) -> None:
    """1 % of the feed is poison (cut-short JSON, a contract breach, an unknown type, a missing
    field): all of it in the DLQ with a reason, every valid event applied."""
    records = run.records()
    bad = poison_events(run.ids, max(1, len(records) // 100))
    for rec in bad:
        records.insert(rnd.randrange(len(records) + 1), rec)
    run.expected_dlq = len(bad)
    run.spawn_worker()
    run.feed_kafka(records)
    run.outcome.faults.append(f"{len(bad)} poison events (1 %)")


DRIVES: dict[str, Drive] = {
    "worker-kill": worker_kill,
    "two-workers": two_workers,
    "neo4j-kill": neo4j_kill,
    "kafka-outage": kafka_outage,
    "broker-kill": broker_kill,
    "bridge-kill": bridge_kill,
    "dup-reorder": dup_reorder,
    "poison": poison,
}


# -- reading topics back -----------------------------------------------------------------------------


def read_topic(
    settings: Settings, topic: str, timeout_s: float = 120
) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """Every record of ``topic`` from its start to its current end: (value, headers)."""
    consumer = Consumer(
        {
            **settings.kafka.librdkafka(),
            "group.id": f"faults-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10, False)[1] for p in md.partitions
        }
        todo = {p for p, e in ends.items() if e > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        out: list[tuple[bytes, list[tuple[str, bytes]]]] = []
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error():
                    continue
                p, o = m.partition() or 0, m.offset() or 0
                if o < ends[p]:
                    headers = cast(list[tuple[str, bytes]], m.headers() or [])
                    out.append((m.value() or b"", headers))
                if o >= ends[p] - 1:
                    todo.discard(p)
        return out
    finally:
        consumer.close()


def read_ids(settings: Settings, topic: str) -> list[str]:
    ids = []
    for value, _ in read_topic(settings, topic):
        try:
            ids.append(_ids.decode(value).id)
        except msgspec.DecodeError:
            continue
    return ids


# -- the harness -------------------------------------------------------------------------------------


async def execute(ctx: Context, code: str, drive: Drive, *, drain_timeout_s: float) -> Outcome:
    run = Run(ctx, code)
    ctx.runs.append(run)
    console.rule(f"{code}  (ids {run.ids}, topics {run.topic_prefix}*)")
    run.create_topics()
    rnd = random.Random(f"{ctx.seed}-{code}")  # noqa: S311  (reproducible fault points)
    run.monitor = Monitor(run)
    sampler = asyncio.create_task(run.monitor.loop())
    started = time.monotonic()
    try:
        await drive(run, rnd)
        drained = await run.wait_drained(drain_timeout_s)
        run.outcome.wall_s = time.monotonic() - started
        if not drained:
            run.outcome.notes.append(f"not drained within {drain_timeout_s:.0f}s of the feed's end")
        for f in run.feeders:
            if f.error is not None:
                run.outcome.notes.append(f"feeder failed: {f.error!r}")
            if f.refusals:
                run.outcome.notes.append(f"{f.refusals} slices refused and sent again")
    finally:
        run.monitor.stop()
        sampler.cancel()
        await run.stop()
    out = run.outcome
    out.recoveries = run.monitor.recoveries
    out.longest_stall_s = run.monitor.longest_stall()
    startup = run.monitor.startup()
    out.notes.append(
        f"first batch projected {startup:.1f}s after the start" if startup else "nothing projected"
    )
    dump = await canonical_dump(ctx.writer.driver, run.ids)
    out.dump_size = dump.size
    if ctx.reference is None:
        ctx.reference = dump
    else:
        diff = compare(ctx.reference, dump)
        out.lost, out.duplicated = diff.lost, diff.extra
        if diff.kinds:
            out.notes.append("diff by kind: " + ", ".join(f"{k} {n}" for k, n in diff.kinds.most_common()))
        out.notes += [f"diff: {e}" for e in diff.examples]
    letters = read_topic(ctx.settings, run.names.dlq)
    out.dlq, out.dlq_expected = len(letters), run.expected_dlq
    unexplained = [v for v, h in letters if not dict(h).get("supplynet.reason")]
    if unexplained:
        out.notes.append(f"{len(unexplained)} DLQ records without a supplynet.reason header")
    valid_ids = read_ids(ctx.settings, run.names.valid)
    expected = {msgspec.json.decode(r.value)["id"] for r in run.records()}
    out.notes.append(
        f"events.valid: {len(expected - set(valid_ids))} events never validated, "
        f"{len(valid_ids) - len(set(valid_ids))} forwarded twice"
    )
    console.print(
        f"  done in {out.wall_s:.1f}s: lost {out.lost}, duplicated {out.duplicated}, "
        f"DLQ {out.dlq} ({out.dlq_expected}), longest stall {out.longest_stall_s:.1f}s; "
        f"recovery {', '.join(r.text() for r in out.recoveries) or '-'}; {'; '.join(out.notes)}",
        highlight=False,
    )
    return out


def table(outcomes: Sequence[Outcome]) -> Table:
    t = Table(title="supplynet fault drills (graph compared with the uninterrupted reference)")
    for col in (
        "scenario",
        "events",
        "faults injected",
        "lost",
        "duplicated",
        "DLQ (expected)",
        "recovery: resume/drain after each fault",
        "longest stall",
        "wall",
    ):
        t.add_column(col)
    for o in outcomes:
        if o.skipped:
            t.add_row(o.scenario, "-", f"skipped: {o.skipped}", "-", "-", "-", "-", "-", "-")
            continue
        t.add_row(
            o.scenario,
            f"{o.events:,}",
            "\n".join(o.faults) or "none",
            str(o.lost) if o.scenario != "reference" else f"({o.dump_size:,} entities)",
            str(o.duplicated),
            f"{o.dlq} ({o.dlq_expected})",
            "\n".join(r.text() for r in o.recoveries) or "-",
            f"{o.longest_stall_s:.1f}s",
            f"{o.wall_s:.0f}s",
        )
    return t


def _skip_reason(ctx: Context, code: str) -> str | None:
    manager = StackManager(ctx.settings, echo=lambda m: None)
    if code == "broker-kill" and len(ctx.kafka_stack.nodes("kafka")) < 3:
        return "needs 3 local Kafka nodes (SUPPLYNET_KAFKA__LOCAL_BROKERS=3, stack up --kafka-brokers 3)"
    if code in ("broker-kill", "kafka-outage", "neo4j-kill"):
        server = "neo4j" if code == "neo4j-kill" else "kafka"
        if not (ctx.kafka_stack if server == "kafka" else manager).managed(server):
            return f"{server} is a configured server; only the local stack's can be killed"
    if code == "bridge-kill" and not all(s.answers for s in manager.status(["pulsar"])):
        return "Pulsar does not answer (supplynet stack up pulsar)"
    return None


async def drill(
    settings: Settings,
    *,
    events: int,
    only: Sequence[str] = SCENARIOS,
    enterprises: int | None = None,
    rate: int | None = None,
    seed: int = 7,
    outage_s: float = 65.0,
    keep: bool = False,
    drain_timeout_s: float = 900.0,
    kafka_stack: StackManager | None = None,
) -> list[Outcome]:
    """Run the reference and the chosen scenarios; return their outcomes (reference first).

    ``kafka_stack`` operates the Kafka nodes of ``settings.kafka`` (default: the local stack's).
    """
    tag = f"flt{uuid.uuid4().hex[:6]}"
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)  # "property does not exist yet"
    driver = bootstrap.async_driver(settings)
    await migrate(driver)
    ctx = Context(
        settings=settings,
        tag=tag,
        tmp=Path(tempfile.mkdtemp(prefix=f"{tag}-")),
        rate=rate or min(2000, max(100, events // 25)),
        seed=seed,
        outage_s=outage_s,
        writer=GraphWriter(driver),
        kafka_stack=kafka_stack or StackManager(settings, echo=lambda m: None),
    )
    console.print(
        f"{tag}: {events:,} events at {ctx.rate:,}/s, scenarios {', '.join(only)}; logs in {ctx.tmp}"
    )
    workload = generate(
        prefix=f"{tag}{PLACEHOLDER}",
        enterprises=enterprises or max(50, events // 100),
        events=events,
        end=END,
    )
    ctx.workload = [Record(key=e.key, value=e.value) for e in workload]
    outcomes: list[Outcome] = []
    try:
        outcomes.append(await execute(ctx, "reference", reference, drain_timeout_s=drain_timeout_s))
        for code in only:
            reason = _skip_reason(ctx, code)
            if reason:
                outcomes.append(Outcome(scenario=code, skipped=reason))
                continue
            outcomes.append(await execute(ctx, code, DRIVES[code], drain_timeout_s=drain_timeout_s))
    finally:
        if not keep:
            console.print("deleting the drills' data ...")
            for run in ctx.runs:
                await delete_by_prefix(driver, run.ids)
            for group in ctx.groups:
                await delete_offsets(driver, group)
            if ctx.topics:
                admin = AdminClient(settings.kafka.librdkafka())
                for fut in admin.delete_topics(ctx.topics).values():
                    try:
                        fut.result(60)
                    except KafkaException as e:
                        console.print(f"topic not deleted: {e}")
        await driver.close()
    return outcomes


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--enterprises", type=int, default=0, help="default: events / 100")
    ap.add_argument("--rate", type=int, default=0, help="events/s fed (default: events / 25, ≤ 2,000)")
    ap.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--outage-seconds", type=float, default=65.0, help="Kafka outage (≥ 60: every timeout)")
    ap.add_argument("--keep", action="store_true", help="keep the data (default: delete it)")
    args = ap.parse_args()
    outcomes = asyncio.run(
        drill(
            Settings(),
            events=args.events,
            only=args.only,
            enterprises=args.enterprises or None,
            rate=args.rate or None,
            seed=args.seed,
            outage_s=args.outage_seconds,
            keep=args.keep,
        )
    )
    Console(width=max(console.width, 180)).print(table(outcomes))
    for o in outcomes:
        for note in o.notes:
            console.print(f"{o.scenario}: {note}", highlight=False)


if __name__ == "__main__":
    cli()
