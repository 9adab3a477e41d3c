"""HTTP ingest benchmark: ``POST /v1/events`` beside the raw confluent-kafka producer, same events, one run.

    python -m bench.http_ingest --events 100000                 # 2 uvicorn workers, 8 clients
    python -m bench.http_ingest --events 100000 --workers 1 --clients 4

(a) raw: ``EventProducer.send_many`` in batches of 1,000, ``acks=all``, each batch acknowledged before the
next. (b) HTTP: NDJSON bodies of 1,000 events, ``--clients`` concurrent clients, an erp API key, against
a uvicorn subprocess (uvloop, httptools, ``--workers`` processes); an event counts once the server
answered ``accepted`` (= Kafka acknowledged it). Events come from ``bench.workload`` (the whole catalog,
Chinese names). Both write to a throwaway topic behind its own prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if not __package__:  # run as `python bench/http_ingest.py`: the repo root, not bench/, comes first
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
import msgspec
from confluent_kafka.admin import AdminClient

from api.keys import create_key
from bench.workload import Event, generate
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from schema.tables import Role
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings

BATCH = 1000


class _Report(msgspec.Struct):
    accepted: int
    rejected: int


def raw_producer(settings: Settings, topic: str, events: list[Event]) -> float:
    """Events/s of send_many in batches of BATCH (each batch acknowledged before the next)."""
    producer = EventProducer(settings.kafka.librdkafka(), topic)
    try:
        producer.send_many([Record(events[0].key, events[0].value)])  # connect + metadata, untimed
        t0 = time.perf_counter()
        for i in range(0, len(events), BATCH):
            producer.send_many([Record(e.key, e.value) for e in events[i : i + BATCH]])
        return len(events) / (time.perf_counter() - t0)
    finally:
        producer.close()


async def http_clients(url: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    """Events/s over ``clients`` concurrent posters, and how many events the server accepted."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    accepted = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    decoder = msgspec.json.Decoder(_Report)

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
            while not queue.empty():
                body = queue.get_nowait()
                r = await http.post("/v1/events", content=body)
                r.raise_for_status()
                rep = decoder.decode(r.content)
                if rep.rejected:
                    raise AssertionError(f"{rep.rejected} event(s) rejected: {r.text[:500]}")
                accepted += rep.accepted

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted / (time.perf_counter() - t0), accepted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "uvicorn", "supplynet.asgi:app", "--port", str(port)]
    args += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    proc = subprocess.Popen(
        args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise SystemExit(f"API did not start: {log.read_text()[-2000:]}")


def main(args: argparse.Namespace) -> None:
    tag = f"bench-http-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        sql = f"sqlite:///{tmp}/bench.db"
        settings = Settings(sql_url=sql, stream={"topic_prefix": f"{tag}."})
        topics = Topics.prefixed(f"{tag}.")
        conf = settings.kafka.librdkafka()
        ensure_topics(conf, [TopicSpec(topics.raw, settings.kafka.partitions)])
        engine = bootstrap.sql_engine(settings)
        bootstrap.create_sql_tables(engine)
        _, key = create_key(engine, name=tag, role=Role.ERP, source="bench-erp")
        events = generate(prefix=f"{tag}-", enterprises=max(100, args.events // 100), events=args.events)
        # HTTP gets the same events under other ids (one topic, no id sent twice)
        http_events = [e.value.replace(b'"id":"', b'"id":"h', 1) for e in events]
        bodies = [b"\n".join(http_events[i : i + BATCH]) + b"\n" for i in range(0, len(http_events), BATCH)]
        port = args.port or _free_port()
        env = {
            **os.environ,
            "SUPPLYNET_SQL_URL": sql,
            "SUPPLYNET_STREAM__TOPIC_PREFIX": f"{tag}.",
            "SUPPLYNET_INGEST__RATE_PER_SECOND": "100000",
            "SUPPLYNET_INGEST__BURST": "100000",
        }
        proc = start_api(env, port, args.workers, Path(tmp) / "api.log")
        try:
            print(f"{len(events):,} events ({len(set(e.type for e in events))} types), batches of {BATCH}")
            # warm-up: every worker's producer connects, untimed
            asyncio.run(http_clients(f"http://127.0.0.1:{port}", key, bodies[:4], 4))
            raw = raw_producer(settings, topics.raw, events)
            http, accepted = asyncio.run(http_clients(f"http://127.0.0.1:{port}", key, bodies, args.clients))
            assert accepted == len(events), (accepted, len(events))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
            admin = AdminClient(conf)
            for fut in admin.delete_topics([topics.raw]).values():
                fut.result(30)
    ratio = http / raw
    print()
    print(f"{'path':<62} {'events/s':>10}")
    print(f"{'(a) raw EventProducer.send_many, 1,000/batch, acks=all':<62} {raw:>10,.0f}")
    print(
        f"{f'(b) HTTP NDJSON 1,000/request, {args.clients} clients, {args.workers} uvicorn worker(s)':<62} "
        f"{http:>10,.0f}"
    )
    print(f"{'ratio HTTP / raw':<62} {ratio:>10.2f}")
    print()
    print(
        f"HTTP ingest {http:,.0f} events/s vs raw producer {raw:,.0f} events/s: ratio {ratio:.2f} "
        f"(target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'}). CPU count {os.cpu_count()}; the clients "
        "share the machine with the server."
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    ap.add_argument("--port", type=int, default=0, help="API port (0 = a free one)")
    main(ap.parse_args())
