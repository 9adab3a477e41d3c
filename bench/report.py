"""One benchmark report on a generated world (``python -m bench`` or ``supplynet bench``).

    python -m bench --size demo                                # 344 enterprises, ~64k events: ~10 min
    python -m bench --size 10k --events 150000 --requests 20   # 10,008 enterprises: ~30 min

Every figure stands beside its ceiling or peer, measured in the same run on the same events:

| benchmark | figure | ceiling or peer |
| --- | --- | --- |
| dedup | validate + dedup ledger, events/s | validate alone |
| ingest | HTTP ``POST /v1/events`` (NDJSON, 1,000 a request, 4 clients), events/s | the raw Kafka producer |
| projection | ``events.valid`` → worker → committed graph, events/s | the rows written straight to Neo4j |
| risk | full recompute against Neo4j (read, compute, write), s | the same compute in memory |
| api | ``riskyNodes(first: 50)`` over GraphQL/HTTP, p95 ms | the same store query on the bare driver |
| what-if | the flood ``whatIf`` over GraphQL/HTTP, p95 ms | the same scenario in memory |

It writes ``<out>/report-<size>.json`` (figures, machine, versions, commit, load average) and
``<out>/report-<size>.md`` (the table). The world has its own id prefix and topics, deleted at the end.
Needs the local stack (Kafka, Neo4j) up and ``supplynet init`` run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.http_ingest import http_clients, start_api
from bench.ingest import end_to_end
from bench.workload import Event as LoadEvent
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from connectors.world import generate
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.mutations import to_mutations
from graph.risk.store import RiskStore
from graph.risk.whatif import disrupted_set, what_if
from graph.writer import GraphWriter
from schema.validate import decode_event
from streams.dedup import SeenEvents
from streams.stages import Incoming, route
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings

BATCH = 1_000
PACKAGES = (
    "faust-streaming",
    "confluent-kafka",
    "neo4j",
    "strawberry-graphql",
    "fastapi",
    "igraph",
    "msgspec",
)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def row(
    bench: str, figure: str, value: float, unit: str, peer: str, peer_value: float, *, higher_is_better: bool
) -> dict[str, Any]:
    """One line of the report; ``ratio`` is figure / peer (events/s) or peer / figure (times): below 1
    means the figure is below its ceiling."""
    ratio = value / peer_value if higher_is_better else peer_value / value
    return {
        "bench": bench,
        "figure": figure,
        "value": value,
        "unit": unit,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
    }


# -- what the report says about where it ran -----------------------------------------------------------


def machine() -> dict[str, Any]:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def server_versions(settings: Settings) -> dict[str, str | None]:
    kafka = None
    cp = settings.cache_dir / "classpath" / "kafka.txt"
    if cp.exists():
        m = re.search(r"kafka_[\d.]+-([\d.]+)\.jar", cp.read_text())
        kafka = m.group(1) if m else None

    async def neo4j_version() -> str | None:
        driver = bootstrap.async_driver(settings)
        try:
            records, _, _ = await driver.execute_query(
                "CALL dbms.components() YIELD versions RETURN versions"
            )
            return str(records[0]["versions"][0])
        finally:
            await driver.close()

    return {"kafka": kafka, "neo4j": asyncio.run(neo4j_version())}


def versions(settings: Settings) -> dict[str, Any]:
    pkgs: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            pkgs[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            pkgs[p] = None
    return {"python": platform.python_version(), "packages": pkgs, **server_versions(settings)}


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


# -- the benchmarks --------------------------------------------------------------------------------------


def dedup(events: list[tuple[str, bytes]]) -> dict[str, Any]:
    msgs = [Incoming("events.raw", 0, i, s.encode(), v) for i, (s, v) in enumerate(events)]
    batches = [msgs[i : i + BATCH] for i in range(0, len(msgs), BATCH)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = bootstrap.sql_engine(Settings(sql_url=f"sqlite:///{tmp}/seen.db"))
        bootstrap.create_sql_tables(engine)
        seen = SeenEvents(engine, retention_days=14)
        t0 = time.perf_counter()
        for b in batches:
            route(b)
        alone = len(msgs) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in batches:
            verdict = seen.check(route(b).valid)
            seen.record(verdict.forward)
        ledger = len(msgs) / (time.perf_counter() - t0)
    return row(
        "dedup", "validate + dedup ledger (SQLite)", ledger, "events/s", "validate alone", alone,
        higher_is_better=True,
    )  # fmt: skip


def ingest(settings: Settings, events: list[tuple[str, bytes]], tag: str, tmp: Path) -> dict[str, Any]:
    """HTTP ingest beside the raw producer, into a throwaway topic (its own ids for each side)."""
    topic = Topics.prefixed(f"{tag}.").raw
    conf = settings.kafka.librdkafka()
    ensure_topics(conf, [TopicSpec(topic, settings.kafka.partitions)])
    from api.keys import create_key
    from schema.tables import Role

    sql = f"sqlite:///{tmp}/ingest.db"
    engine = bootstrap.sql_engine(Settings(sql_url=sql))
    bootstrap.create_sql_tables(engine)
    _, key = create_key(engine, name=tag, role=Role.ADMIN)
    producer = EventProducer(conf, topic)
    try:
        producer.send_many([Record(events[0][0].encode(), events[0][1])])  # connect, untimed
        t0 = time.perf_counter()
        for i in range(0, len(events), BATCH):
            producer.send_many([Record(s.encode(), v) for s, v in events[i : i + BATCH]])
        raw = len(events) / (time.perf_counter() - t0)
    finally:
        producer.close()
    http_events = [v.replace(b'"id":"', b'"id":"h', 1) for _, v in events]
    bodies = [b"\n".join(http_events[i : i + BATCH]) + b"\n" for i in range(0, len(http_events), BATCH)]
    port = free_port()
    env = {
        **os.environ,
        "SUPPLYNET_SQL_URL": sql,
        "SUPPLYNET_STREAM__TOPIC_PREFIX": f"{tag}.",
        "SUPPLYNET_INGEST__RATE_PER_SECOND": "100000",
        "SUPPLYNET_INGEST__BURST": "100000",
    }
    proc = start_api(env, port, 1, tmp / "ingest-api.log")
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(http_clients(url, key, bodies[:2], 2))  # warm-up, untimed (its events are sent twice)
        http, accepted = asyncio.run(http_clients(url, key, bodies, 4))
        assert accepted == len(events), (accepted, len(events))
    finally:
        stop(proc)
    return row(
        "ingest", "HTTP ingest, 1 uvicorn worker, 4 clients", http, "events/s",
        "raw Kafka producer, acks=all", raw, higher_is_better=True,
    )  # fmt: skip


async def projection(
    settings: Settings, writer: GraphWriter, tag: str, size: str, seed: int, cap: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Worker end to end on the world's events (prefix ``<tag>-e-``) beside writing the same events'
    rows straight to Neo4j (prefix ``<tag>-c-``) in the worker's batch size."""
    end = datetime.now(UTC).date()
    e2e_events = [
        LoadEvent(e.subject.encode(), e.value, 0, "", {}, "")
        for e in take(generate(size, seed, end, prefix=f"{tag}-e-").events(), cap)
    ]
    e2e = await end_to_end(settings, writer, e2e_events, 1, 2000, 0.5, tag)
    ceiling_events = [
        decode_event(e.value) for e in take(generate(size, seed, end, prefix=f"{tag}-c-").events(), cap)
    ]
    batches = [to_mutations(ceiling_events[i : i + 2000]) for i in range(0, len(ceiling_events), 2000)]
    t0 = time.perf_counter()
    for m in batches:
        await writer.write(m)
    ceiling = len(ceiling_events) / (time.perf_counter() - t0)
    return (
        row(
            "projection", "events.valid → worker → committed graph (1 worker, batches of 2,000)",
            e2e["steady_eps"], "events/s", "the same rows written straight to Neo4j", ceiling,
            higher_is_better=True,
        ),
        e2e,
    )  # fmt: skip


async def risk_and_api(
    settings: Settings, tag: str, flood: list[str], tmp: Path, requests: int
) -> list[dict[str, Any]]:
    """Full recompute against Neo4j vs in memory; riskyNodes and the flood whatIf over GraphQL vs the
    store query on the bare driver and the scenario in memory. On the projection's world (``<tag>-e-``)."""
    from api.keys import create_key
    from schema.tables import Role
    from streams.risk import RiskService

    scope = f"{tag}-e-"
    sql = f"sqlite:///{tmp}/risk.db"
    own = settings.model_copy(update={"sql_url": sql})
    engine = bootstrap.sql_engine(own)
    bootstrap.create_sql_tables(engine)
    alerts = Topics.prefixed(f"{tag}.").alerts
    ensure_topics(settings.kafka.librdkafka(), [TopicSpec(alerts, 1)])
    driver = bootstrap.async_driver(settings)
    store = RiskStore(driver, settings.risk, database=settings.neo4j.database)
    service = RiskService(
        store=store,
        settings=settings.risk,
        alerts_out=bootstrap.producer(settings, alerts),
        sql=engine,
        scope=scope,
    )
    out: list[dict[str, Any]] = []
    try:
        run = await service.full(reload=True)
        network = service.engine.network
        t0 = time.perf_counter()
        service.engine.full(network)
        in_memory = time.perf_counter() - t0
        out.append(
            row(
                "risk", f"full recompute against Neo4j ({run.scored} enterprises: read, compute, write)",
                run.seconds, "s", "the same compute in memory", in_memory, higher_is_better=False,
            )
        )  # fmt: skip
        _, key = create_key(engine, name=tag, role=Role.ANALYST)
        port = free_port()
        env = {**os.environ, "SUPPLYNET_SQL_URL": sql}
        proc = start_api(env, port, 1, tmp / "api.log")
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:

                async def gql(query: str, variables: dict[str, Any]) -> None:
                    r = await http.post(url, json={"query": query, "variables": variables})
                    body = r.json()
                    if r.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"GraphQL answered {r.status_code}: {body}")

                risky_q = "query($n: Int!) { riskyNodes(first: $n) { enterpriseId name score factors } }"
                api = await timed(lambda: gql(risky_q, {"n": 50}), requests)
                bare = await timed(lambda: store.risky(limit=50), requests)
                out.append(
                    row(
                        "api", "riskyNodes(first: 50) over GraphQL/HTTP, p95", api * 1000, "ms",
                        "RiskStore.risky on the bare driver, p95", bare * 1000, higher_is_better=False,
                    )
                )  # fmt: skip
                what_q = (
                    "query($e: [ID!], $d: Float!) { whatIf(enterprises: $e, days: $d, tiers: 4) "
                    "{ affectedCount byTier { tier affected } exposures(first: 20) { tier timeToSurvive } } }"
                )
                api = await timed(lambda: gql(what_q, {"e": flood, "d": 30.0}), max(5, requests // 5))
                hit = disrupted_set(network, enterprises=flood)

                async def in_memory_what_if() -> None:
                    what_if(network, hit, 30.0, settings.risk)

                mem = await timed(in_memory_what_if, max(5, requests // 5))
                out.append(
                    row(
                        "what-if", f"flood whatIf ({len(flood)} enterprises out, 30 days), GraphQL/HTTP, p95",
                        api * 1000, "ms", "the same scenario in memory, p95", mem * 1000,
                        higher_is_better=False,
                    )
                )  # fmt: skip
        finally:
            stop(proc)
    finally:
        service.alerts_out.close()
        await driver.close()
    return out


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> float:
    """p95 seconds of ``n`` calls after two untimed ones."""
    for _ in range(2):
        await call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        times.append(time.perf_counter() - t0)
    return pct(times, 0.95)


# -- plumbing --------------------------------------------------------------------------------------------


def take(events: Any, cap: int) -> list[Any]:
    out = []
    for e in events:
        if cap and len(out) >= cap:
            break
        out.append(e)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def markdown(report: dict[str, Any]) -> str:
    m, v = report["machine"], report["versions"]
    pk = ", ".join(f"{k} {x}" for k, x in v["packages"].items() if x)
    lines = [
        f"Generated world `{report['size']}` (seed {report['seed']}): {report['world']['enterprises']:,} "
        f"enterprises, {report['world']['supply_links']:,} supply links, {report['world']['events']:,} "
        f"events used. `{report['command']}` at commit `{report['commit']['commit'][:10]}`"
        f"{' (uncommitted changes)' if report['commit']['dirty'] else ''}, {report['finished']}.",
        "",
        "| benchmark | figure | value | ceiling or peer (same run) | value | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        fmt = "{:,.0f}" if r["unit"] == "events/s" else "{:,.1f}" if r["unit"] == "ms" else "{:,.2f}"
        lines.append(
            f"| {r['bench']} | {r['figure']} | {fmt.format(r['value'])} {r['unit']} | {r['peer']} | "
            f"{fmt.format(r['peer_value'])} {r['unit']} | {r['ratio']:.2f} |"
        )
    lines += [
        "",
        f"Ratio: the figure over its ceiling (events/s) or the ceiling's time over the figure's (s, ms); "
        f"1.0 means as fast as the ceiling. Machine: {m['cores']} cores, {m['memory_gib']} GiB, load average "
        f"{m['load_average_start'][0]:.1f} at the start and {m['load_average'][0]:.1f} at the end "
        f"(other work shared it). Python {v['python']}, Kafka {v['kafka']}, Neo4j {v['neo4j']}; {pk}.",
    ]
    return "\n".join(lines) + "\n"


async def graph_cleanup(settings: Settings, tag: str) -> None:
    driver = bootstrap.async_driver(settings)
    try:
        for p in (f"{tag}-e-", f"{tag}-c-"):
            await delete_by_prefix(driver, p)
    finally:
        await driver.close()


def delete_topics(settings: Settings, topics: list[str]) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(settings.kafka.librdkafka())
    existing = set(admin.list_topics(timeout=10).topics)
    gone = [t for t in topics if t in existing]
    if gone:
        for fut in admin.delete_topics(gone).values():
            fut.result(30)


def report(size: str, seed: int, cap: int, requests: int, out: Path, command: str) -> dict[str, Any]:
    """Run every benchmark on the world of ``size``; write ``out/report-<size>.{json,md}``."""
    settings = Settings()
    tag = f"bench{uuid.uuid4().hex[:6]}"
    load_start = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    gen = generate(size, seed, datetime.now(UTC).date(), prefix=f"{tag}-g-")
    t0 = time.perf_counter()
    events = [(e.subject, e.value) for e in take(gen.events(), cap)]
    gen_eps = len(events) / (time.perf_counter() - t0)
    print(f"world {size}: {len(events):,} events generated at {gen_eps:,.0f} events/s ({tag})", flush=True)
    results: list[dict[str, Any]] = []
    topics = [Topics.prefixed(f"{tag}.").raw, Topics.prefixed(f"{tag}.").alerts]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        try:
            print("dedup …", flush=True)
            results.append(dedup(events))
            print("ingest …", flush=True)
            results.append(ingest(settings, events, tag, tmp))
            flood = [
                f"{tag}-e-{e.removeprefix(f'{tag}-g-')}"
                for e in gen.manifest()["planted"]["region_flood"]["enterprises"]
            ]

            async def graph_side() -> list[dict[str, Any]]:
                driver = bootstrap.async_driver(settings)
                await migrate(driver)
                try:
                    print("projection …", flush=True)
                    proj, e2e = await projection(settings, GraphWriter(driver), tag, size, seed, cap)
                    topics.extend(e2e["topics"])
                finally:
                    await driver.close()
                print("risk and api …", flush=True)
                return [proj, *await risk_and_api(settings, tag, flood, tmp, requests)]

            results += asyncio.run(graph_side())
        finally:
            asyncio.run(graph_cleanup(settings, tag))
            delete_topics(settings, topics)
    manifest = gen.manifest()
    result = {
        "size": size,
        "seed": seed,
        "command": command,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "world": {
            "enterprises": manifest["counts"]["enterprises"],
            "supply_links": manifest["counts"]["supply_links"],
            "events": len(events),
            "generated_events_per_s": round(gen_eps),
        },
        "results": results,
        "machine": {**machine(), "load_average_start": load_start},
        "versions": versions(settings),
        "commit": commit(),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"report-{size}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (out / f"report-{size}.md").write_text(markdown(result))
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", default="demo", choices=["demo", "10k", "100k"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", type=int, default=0, help="use the world's first N events (0: all)")
    ap.add_argument("--requests", type=int, default=50, help="timed requests per API figure")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args(argv)
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    result = report(args.size, args.seed, args.events, args.requests, args.out, command.strip())
    print(markdown(result))
    print(f"wrote {args.out}/report-{args.size}.json and .md")
