"""Telemetry benchmark: ``equipment.telemetry`` at a steady rate through the real stream (events.raw ->
pipeline worker: validate -> events.telemetry -> the service job; the project stage never sees a
reading), with the figures that matter: the rate offered
and absorbed, the consumer lag of each stage while it runs, the time to drain, the graph's node and
relationship counts before and after (readings must not grow the graph), and each process's CPU time
per reading (what it would take of a core at a given rate, whatever the machine's load).

    python -m bench.telemetry --rate 10000 --seconds 60 --equipment 1000    # the run docs/service.md reports
    python -m bench.telemetry --rate 10000 --seconds 60 --job-only          # the service job alone
    python -m bench.telemetry --rate 2000 --seconds 10 --equipment 100      # a quick run
    python -m bench.telemetry --rate 10000 --seconds 30 --workers 2         # two pipeline workers

Everything it writes has its own id prefix and topics, and is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from connectors.kafka import ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from streams.batches import kafka_group, validate_group
from streams.service import service_group
from supplynet import bootstrap
from supplynet.settings import Settings

METRICS = ("vibration-rms", "bearing-temp", "motor-current", "oil-pressure")


def _event(eid: str, type_: str, subject: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": eid,
            "source": "bench/telemetry",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": data,
        }
    )


async def _counts(settings: Settings, prefix: str) -> tuple[int, int]:
    """(nodes, relationships) of this run: nodes whose id or sku starts with ``prefix``, relationships
    with an end among them (the graph is shared with other runs)."""
    driver = bootstrap.async_driver(settings)
    try:
        res = await driver.execute_query(
            "MATCH (n) WHERE n.id STARTS WITH $p OR n.sku STARTS WITH $p "
            "OPTIONAL MATCH (n)-[r]-() RETURN count(DISTINCT n) AS n, count(DISTINCT r) AS r",
            p=prefix,
            database_=settings.neo4j.database,
        )
        return int(res.records[0]["n"]), int(res.records[0]["r"])
    finally:
        await driver.close()


async def _absorbed(settings: Settings, prefix: str) -> tuple[int, int]:
    """(readings the service job checkpointed, equipment with a health row) of this run."""
    driver = bootstrap.async_driver(settings)
    try:
        res = await driver.execute_query(
            "MATCH (q:Equipment) WHERE q.id STARTS WITH $p "
            "RETURN sum(coalesce(q.readings, 0)) AS n, count(q.health) AS h",
            p=prefix,
            database_=settings.neo4j.database,
        )
        return int(res.records[0]["n"] or 0), int(res.records[0]["h"])
    finally:
        await driver.close()


def _lag(settings: Settings, group: str, topic: str) -> int:
    """Records of ``topic`` the consumer group has not committed yet."""
    c = Consumer({**settings.kafka.librdkafka(), "group.id": group, "enable.auto.commit": False})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        tps = [TopicPartition(topic, p) for p in parts]
        committed = {tp.partition: tp.offset for tp in c.committed(tps, timeout=10)}
        lag = 0
        for tp in tps:
            high = c.get_watermark_offsets(tp, timeout=10)[1]
            done = committed.get(tp.partition, -1)
            lag += high - (done if done >= 0 else 0)
        return lag
    finally:
        c.close()


def _spawn(settings: Settings, app_id: str, role: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SUPPLYNET_SQL_URL": settings.database_url(),
        "SUPPLYNET_STREAM__APP_ID": app_id,
        "SUPPLYNET_STREAM__TOPIC_PREFIX": settings.stream.topic_prefix,
        "SUPPLYNET_STREAM__WEB_PORT": str(_free_port()),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker", "--role", role],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float | None:
    """CPU time (user + system) a running process used so far (Linux ``/proc``; else None)."""
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split() if proc else []
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run(
    rate: int, seconds: float, equipment: int, customers: int, *, job_only: bool = False, workers: int = 1
) -> dict[str, Any]:
    """``job_only``: no pipeline worker; readings go straight to ``events.telemetry`` with the validate
    stage's type header (the service job's own capacity). ``workers``: pipeline worker processes in
    one consumer group (they share the partitions of ``events.raw`` and ``events.valid``)."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bt{run_id}-"
    base = Settings()
    settings = base.model_copy(
        update={"stream": base.stream.model_copy(update={"topic_prefix": f"bench-tel-{run_id}."})}
    )
    names = bootstrap.topic_names(settings)
    ensure_topics(settings.kafka.librdkafka(), bootstrap.topic_specs(settings))
    asyncio.run(_migrate(settings))
    app_id = f"bench-tel-{run_id}"
    logs = Path(tempfile.mkdtemp(prefix="bench-telemetry-"))
    producer = Producer({**settings.kafka.librdkafka(), "linger.ms": 20, "compression.type": "lz4"})
    eqs = [(f"{prefix}eq-{i:05d}", f"{prefix}plant-{i % customers}") for i in range(equipment)]
    pipeline = (
        []
        if job_only
        else [_spawn(settings, app_id, "pipeline", logs / f"worker-{i}.log") for i in range(workers)]
    )
    topic = names.telemetry if job_only else names.raw
    headers = [("supplynet.event.type", b"equipment.telemetry")]
    job = _spawn(settings, app_id, "service", logs / "service.log")
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "equipment": equipment, "workers": workers}
    try:
        for i, (eq, customer) in enumerate(eqs):
            data = {
                "equipment_id": eq,
                "maker_id": f"{prefix}maker",
                "customer_id": customer,
                "sku": f"{prefix}EAF",
                "serial": f"SN{i}",
                "installed_on": "2025-01-01",
                "limits": [{"metric": m, "high": 100.0} for m in METRICS],
            }
            installed = _event(f"{eq}-inst", "equipment.installed", customer, data)
            producer.produce(
                topic, installed, customer, headers=[("supplynet.event.type", b"equipment.installed")]
            )
        producer.flush(30)
        deadline = time.monotonic() + 300
        # every equipment has a health row (the service job) and its links (the project stage: maker,
        # customer, product; a pipeline-less run has no project stage)
        links = 0 if job_only else 3 * equipment
        while (
            asyncio.run(_absorbed(settings, prefix))[1] < equipment
            or asyncio.run(_counts(settings, prefix))[1] < links
        ):
            if time.monotonic() > deadline:
                raise SystemExit(f"installed base not in the graph after 300 s; logs in {logs}")
            time.sleep(1)
        nodes0, rels0 = asyncio.run(_counts(settings, prefix))
        out["graph_before"] = {"nodes": nodes0, "relationships": rels0}
        print(
            f"installed base of {equipment} in the graph: {nodes0} nodes, {rels0} relationships", flush=True
        )

        out["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
        sent = 0
        lags: list[dict[str, int]] = []
        start = time.monotonic()
        tick = 0.05
        next_sample = start + 5
        while (now := time.monotonic()) - start < seconds:
            due = int((now - start + tick) * rate)
            while sent < due:
                eq, customer = eqs[sent % equipment]
                data = {
                    "equipment_id": eq,
                    "customer_id": customer,
                    "metric": METRICS[sent % len(METRICS)],
                    "value": 50.0 + (sent % 17),
                }
                try:
                    reading = _event(f"{prefix}r{sent}", "equipment.telemetry", customer, data)
                    producer.produce(topic, reading, customer, headers=headers)
                except BufferError:
                    producer.poll(0.05)
                    continue
                sent += 1
            producer.poll(0)
            if now >= next_sample:
                sample = {"at_s": round(now - start)}
                if not job_only:  # without the pipeline worker no one consumes events.raw
                    sample["validate"] = _lag(settings, validate_group(app_id), names.raw)
                    sample["project"] = _lag(settings, kafka_group(app_id), names.valid)
                sample["service"] = _lag(settings, service_group(app_id), names.telemetry)
                lags.append(sample)
                print(f"  {lags[-1]}", flush=True)
                next_sample += 5
            time.sleep(max(0.0, tick - (time.monotonic() - now)))
        producer.flush(60)
        produced_s = time.monotonic() - start
        out["offered_per_s"] = round(sent / produced_s)
        deadline = time.monotonic() + 600
        while (absorbed := asyncio.run(_absorbed(settings, prefix))[0]) < sent:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        drained_s = time.monotonic() - start
        out.update(
            sent=sent,
            absorbed=absorbed,
            absorbed_per_s=round(absorbed / drained_s),
            drain_after_produce_s=round(drained_s - produced_s, 1),
            lag=lags,
            max_lag={k: max((x[k] for x in lags), default=0) for k in lags[0] if k != "at_s"} if lags else {},
        )
        # CPU per reading: a figure of the code, unlike the rates, which follow the machine's load.
        for role, procs in (("pipeline", pipeline), ("service", [job])):
            cpus = [_cpu_seconds(proc) for proc in procs]
            if procs and None not in cpus:
                total = sum(c for c in cpus if c is not None)
                out[f"{role}_cpu_us_per_reading"] = round(total / (sent + equipment) * 1e6, 1)
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
        nodes1, rels1 = asyncio.run(_counts(settings, prefix))
        out["graph_after"] = {"nodes": nodes1, "relationships": rels1}
        return out
    finally:
        _stop(job)
        for proc in pipeline:
            _stop(proc)
        asyncio.run(_cleanup(settings, prefix, app_id))
        admin = AdminClient(settings.kafka.librdkafka())
        for fut in admin.delete_topics(
            [
                names.raw,
                names.valid,
                names.dlq,
                names.alerts,
                names.service_alerts,
                names.changes,
                names.telemetry,
            ]
        ).values():
            try:
                fut.result(30)
            except Exception as e:  # a topic left behind is reported, not fatal
                print(f"topic not deleted: {e}")


async def _migrate(settings: Settings) -> None:
    driver = bootstrap.async_driver(settings)
    try:
        await migrate(driver, database=settings.neo4j.database)
    finally:
        await driver.close()


async def _cleanup(settings: Settings, prefix: str, app_id: str) -> None:
    driver = bootstrap.async_driver(settings)
    try:
        await delete_by_prefix(driver, prefix, database=settings.neo4j.database)
        for group in (app_id, service_group(app_id)):
            await delete_offsets(driver, group, database=settings.neo4j.database)
    finally:
        await driver.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=10_000, help="readings per second offered")
    p.add_argument("--seconds", type=float, default=60.0, help="how long readings are offered")
    p.add_argument("--equipment", type=int, default=1000, help="installed equipment the readings spread over")
    p.add_argument("--customers", type=int, default=50, help="customers (Kafka keys) they are installed at")
    p.add_argument(
        "--job-only",
        action="store_true",
        help="readings straight to events.telemetry, no pipeline worker: the service job's own capacity",
    )
    p.add_argument("--workers", type=int, default=1, help="pipeline worker processes (one consumer group)")
    a = p.parse_args()
    out = run(a.rate, a.seconds, a.equipment, a.customers, job_only=a.job_only, workers=a.workers)
    before, after = out["graph_before"], out["graph_after"]
    print(orjson.dumps({k: v for k, v in out.items() if k != "lag"}, option=orjson.OPT_INDENT_2).decode())
    print(
        f"offered {out['offered_per_s']:,}/s for {a.seconds:g} s ({out['sent']:,} readings); absorbed "
        f"{out['absorbed']:,} at {out['absorbed_per_s']:,}/s (drained {out['drain_after_produce_s']} s after "
        f"the last); max lag {', '.join(f'{k} {v:,}' for k, v in out['max_lag'].items())}; "
        f"graph nodes {before['nodes']:,} -> {after['nodes']:,}, "
        f"relationships {before['relationships']:,} -> {after['relationships']:,}; CPU per reading: "
        f"pipeline worker(s) {out.get('pipeline_cpu_us_per_reading')} µs, service job "
        f"{out.get('service_cpu_us_per_reading')} µs; load average {out['load_average_start']} at the start, "
        f"{out['load_average']} at the end"
    )


if __name__ == "__main__":
    main()
