"""Risk never holds up validation or projection: event -> committed graph latency with risk off and with
the risk process live and recomputing everything, side by side in one run, on a graph made of real
multi-echelon supply chains; then incremental rescoring on that graph.

    .venv/bin/python -m bench.risk_isolation                      # ~11,000 enterprises, 20 ev/s, 60 s
    .venv/bin/python -m bench.risk_isolation --enterprises 3000 --seconds 20       # a quick run
    .venv/bin/python -m bench.risk_isolation --chains /path/to/willems2008

The graph: ``bench/willems.py`` (Willems 2008's chains, read at run time from ``--chains``), loaded
under a run prefix. A ``supplynet worker`` (pipeline) of the run's own runs throughout. Probes are
``partner.registered`` events for distinct enterprises of that graph, sent to ``events.raw`` at a
steady rate; an event has reached the graph when the enterprise's ``lastEventId`` is its id (polled
every 50 ms). Phase 1: risk off. Phase 2: a ``supplynet worker --role risk`` of the run's own, whose
full recompute (re-reading the projection) is due every ``--full-seconds``, so one is running nearly all
the time; the probes also make it rescore incrementally. Then, in this process: a ``RiskService`` on
the same graph times ``touched`` for single enterprises (read facts, rescore, write, claim alerts), and
the links read of ``RiskStore.facts_of`` against the query it replaced. Everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from neo4j import AsyncDriver
from sqlmodel import Session, col, delete

from bench import willems
from bench.risk_full import load
from connectors.kafka import EventProducer, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.risk.coordination import full_runs
from graph.risk.settings import RiskSettings
from graph.risk.store import LINKS_OF, RiskStore
from schema.envelope import ValidEvent
from schema.events import Industry, PartnerRegistered
from schema.tables import RiskAlertState, RiskFullRun, RiskIncident
from streams.risk import RiskService, Touched
from streams.risk_process import risk_group
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings

OLD_LINKS_OF = """
UNWIND $ids AS id
MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise)
WHERE (s.id = id OR b.id = id) AND (x.validTo IS NULL OR x.validTo >= date())
RETURN DISTINCT s.id AS supplier, [b.id, x.sku] AS link
"""
"""The links read ``RiskStore.facts_of`` used before (an ``OR`` over both ends: a scan per id)."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quantiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return (float("nan"), float("nan"))
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[98]


class Processes:
    def __init__(self, env: dict[str, str], tag: str) -> None:
        self.env = env
        self.tag = tag
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, role: str, **extra: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
        env = {**self.env, "SUPPLYNET_STREAM__WEB_PORT": str(_free_port()), **extra}
        log = Path(tempfile.gettempdir()) / f"{self.tag}-{role}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "supplynet", "worker", "--role", role, "--loglevel", "info"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print(f"  started {role} worker (pid {proc.pid}, log {log})", flush=True)
        self.procs.append(proc)
        return proc, env

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for p in self.procs:
            self.stop(p)


def _health(env: dict[str, str]) -> dict[str, Any]:
    try:
        url = f"http://127.0.0.1:{env['SUPPLYNET_RISK__WEB_PORT']}/healthz"
        with urllib.request.urlopen(url, timeout=2) as r:
            body: dict[str, Any] = orjson.loads(r.read())
            return body
    except OSError:
        return {}


async def _until(ok: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ok() and time.monotonic() < deadline:  # noqa: ASYNC110 (polling another process)
        await asyncio.sleep(0.1)


def _probe(enterprise: str, region: str | None, industry: str | None) -> ValidEvent:
    return ValidEvent(
        id=f"probe-{uuid.uuid4().hex}",
        source="bench-risk-isolation",
        type="partner.registered",
        time=datetime.now(UTC),
        subject=enterprise,
        sequence=0,
        data=PartnerRegistered(
            enterprise_id=enterprise,
            name=enterprise.rsplit("-", 1)[-1],
            industry=Industry(industry or "other"),
            region=region,
        ),
    )


async def probe_latency(
    settings: Settings,
    driver: AsyncDriver,
    topic: str,
    targets: list[tuple[str, str | None, str | None]],
    *,
    rate: float,
    risk_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send one probe per target at ``rate``/s; seconds from send to the graph holding it."""
    producer = Producer({**settings.kafka.librdkafka(), "linger.ms": 1, "acks": "all"})
    pending: dict[str, tuple[str, float]] = {}  # event id -> (enterprise, sent at)
    latencies: list[float] = []
    busy = polls = 0
    t0 = time.perf_counter()
    last_health = 0.0
    i = 0
    while i < len(targets) or pending:
        now = time.perf_counter()
        due = min(len(targets), int((now - t0) * rate) + 1)
        while i < due:
            ent, region, industry = targets[i]
            ev = _probe(ent, region, industry)
            producer.produce(topic, ev.to_json(), ent.encode())
            pending[ev.id] = (ent, time.time())
            i += 1
        producer.poll(0)
        if pending:
            rows = [{"id": e, "ev": k} for k, (e, _) in pending.items()]
            recs, _, _ = await driver.execute_query(
                "UNWIND $rows AS r MATCH (e:Enterprise {id: r.id}) WHERE e.lastEventId = r.ev "
                "RETURN r.ev AS ev",
                rows=rows,
            )
            arrived = time.time()
            for r in recs:
                latencies.append(arrived - pending.pop(r["ev"])[1])
        if risk_env is not None and now - last_health > 0.5:
            last_health = now
            polls += 1
            busy += bool(_health(risk_env).get("fullRunning"))
        if now - t0 > len(targets) / rate + 120:
            break
        await asyncio.sleep(0.05)
    producer.flush(10)
    p50, p99 = _quantiles(latencies)
    return {
        "sent": len(targets),
        "arrived": len(latencies),
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "full_running_share": busy / polls if polls else float("nan"),
    }


class _StepTimes:
    """Per rescoring run, the seconds spent in each store call, the engine and the alerts."""

    STORE = ("disruption_targets", "enterprises_in", "facts_of", "facilities_of", "write_scores")
    STORE += ("write_link_scores", "write_facility_scores")

    def __init__(self, svc: RiskService) -> None:
        self.runs: list[dict[str, float]] = [{}]
        self.saved: list[tuple[Any, str, Any]] = []
        for name in self.STORE:
            self._wrap(svc.store, name, is_async=True)
        self._wrap(svc, "_alert", is_async=True)
        self._wrap(svc.engine, "rescore", is_async=False)

    def _wrap(self, obj: Any, name: str, *, is_async: bool) -> None:
        fn = getattr(obj, name)
        self.saved.append((obj, name, fn))

        def add(t0: float) -> None:
            run = self.runs[-1]
            run[name] = run.get(name, 0.0) + time.perf_counter() - t0

        if is_async:

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    add(t0)

            setattr(obj, name, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    add(t0)

            setattr(obj, name, timed)

    def next_run(self) -> None:
        self.runs.append({})

    def restore(self) -> None:
        for obj, name, fn in self.saved:
            setattr(obj, name, fn)

    def summary(self) -> dict[str, tuple[float, float]]:
        runs = [r for r in self.runs if r]
        names = dict.fromkeys(k for r in runs for k in r)
        return {k: _quantiles([r.get(k, 0.0) for r in runs]) for k in names}


async def incremental(
    settings: Settings, driver: AsyncDriver, prefix: str, alerts_topic: str, ids: list[str], n: int
) -> dict[str, Any]:
    """``RiskService.touched`` for ``n`` single enterprises, one at a time, after a full recompute."""
    sql = bootstrap.sql_engine(settings)
    svc = RiskService(
        store=RiskStore(driver, RiskSettings(), database=settings.neo4j.database),
        settings=RiskSettings(),
        alerts_out=EventProducer(settings.kafka.librdkafka(), alerts_topic),
        sql=sql,
        scope=prefix,
    )
    try:
        t = time.perf_counter()
        await svc.full(reload=True)
        full_s = time.perf_counter() - t
        times: list[float] = []
        scored: list[int] = []
        steps = _StepTimes(svc)
        for eid in random.Random(11).sample(ids, n):  # noqa: S311 (benchmark sample)
            t = time.perf_counter()
            run = await svc.touched(Touched(enterprises={eid}))
            times.append(time.perf_counter() - t)
            scored.append(run.scored)
            steps.next_run()
        steps.restore()
        batch: list[float] = []
        for k in range(3):
            some = set(random.Random(k).sample(ids, 1000))  # noqa: S311 (benchmark sample)
            t = time.perf_counter()
            await svc.touched(Touched(enterprises=some))
            batch.append(time.perf_counter() - t)
    finally:
        svc.close()
    p50, p99 = _quantiles(times)
    return {
        "steps": steps.summary(),
        "full_s": full_s,
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000,
        "scored_median": statistics.median(scored),
        "scored_max": max(scored),
        "batch_1000_s": statistics.median(batch),
    }


async def links_read(driver: AsyncDriver, ids: list[str]) -> tuple[float, float]:
    """Seconds to read the links of ``ids``: the query ``facts_of`` used before, and today's."""
    out = []
    for q in (OLD_LINKS_OF, LINKS_OF):
        t = time.perf_counter()
        await driver.execute_query(q, ids=ids)
        out.append(time.perf_counter() - t)
    return out[0], out[1]


async def main(a: argparse.Namespace) -> None:
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)  # properties no row has yet
    settings = Settings()
    tag = f"bench-ri-{uuid.uuid4().hex[:6]}"
    prefix = f"{tag}-"
    names = Topics.prefixed(f"{tag}.")
    group = f"{tag}-worker"
    conf = settings.kafka.librdkafka()
    t = time.perf_counter()
    net = willems.network(Path(a.chains), target=a.enterprises, prefix=prefix)
    chains = willems.pick(willems.chain_sizes(Path(a.chains)), a.enterprises)
    print(
        f"graph: {len(net.enterprises):,} enterprises, {len(net.links):,} supply links from Willems chains "
        f"{', '.join(chains)} ({time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    driver = bootstrap.async_driver(settings)
    await migrate(driver)
    sql = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(sql)
    ensure_topics(
        conf,
        [
            TopicSpec(n, settings.kafka.partitions)
            for n in (names.raw, names.valid, names.changes, names.telemetry)
        ]
        + [TopicSpec(names.dlq, 1), TopicSpec(names.alerts, 1)],
    )
    procs = Processes(
        {
            **os.environ,
            "SUPPLYNET_SQL_URL": settings.database_url(),
            "SUPPLYNET_STREAM__TOPIC_PREFIX": f"{tag}.",
            "SUPPLYNET_STREAM__APP_ID": group,
            "SUPPLYNET_RISK__LIVE": "true",
            "SUPPLYNET_RISK__SCOPE": prefix,
        },
        tag,
    )
    try:
        print(f"loading into Neo4j under {prefix} …", flush=True)
        await load(driver, net)
        procs.spawn("pipeline")
        rng = random.Random(5)  # noqa: S311 (benchmark sample)
        ents = sorted(net.enterprises)
        sample = rng.sample(ents, min(len(ents), 2 * int(a.rate * a.seconds) + 20))
        targets = [(e, net.enterprises[e].region, net.enterprises[e].industry) for e in sample]
        half = len(targets) // 2
        print("warming up the pipeline worker …", flush=True)
        await asyncio.sleep(10)
        await probe_latency(settings, driver, names.raw, targets[half - 10 : half], rate=a.rate)

        print(f"phase 1: risk off, {a.rate:g} events/s for {a.seconds} s …", flush=True)
        off = await probe_latency(settings, driver, names.raw, targets[: half - 10], rate=a.rate)

        print("phase 2: starting the risk process, waiting for its first full recompute …", flush=True)
        risk, env = procs.spawn(
            "risk",
            SUPPLYNET_RISK__WEB_PORT=str(_free_port()),
            SUPPLYNET_RISK__FULL_RECOMPUTE_SECONDS=str(a.full_seconds),
            SUPPLYNET_RISK__FULL_RELOAD_EVERY="1",
        )
        await _until(lambda: bool(_health(env).get("loaded")), 600)
        await _until(lambda: bool(_health(env).get("fullRunning")), 600)
        print(
            f"phase 2: risk live, full recompute running, {a.rate:g} events/s for {a.seconds} s …", flush=True
        )
        live = await probe_latency(settings, driver, names.raw, targets[half:], rate=a.rate, risk_env=env)
        with Session(sql) as session:
            runs = full_runs(session, group=risk_group(group))
        durations = [(r.finished_at - r.started_at).total_seconds() for r in runs if r.finished_at]
        procs.stop(risk)

        print("incremental rescoring in this process …", flush=True)
        inc = await incremental(settings, driver, prefix, names.alerts, ents, a.incremental)
        some = rng.sample(ents, 200)
        old_s, new_s = await links_read(driver, some)

        print()
        print(f"{'event -> committed graph':<44}{'risk off':>14}{'risk live + full':>18}{'ratio':>8}")
        for k, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")):
            print(f"{'  ' + label:<44}{off[k]:>11.0f} ms{live[k]:>15.0f} ms{live[k] / off[k]:>8.2f}")
        print(
            f"{'  events sent / arrived':<44}{off['sent']:>8} / {off['arrived']:<5}"
            f"{live['sent']:>10} / {live['arrived']:<5}"
        )
        print(f"{'  share of phase 2 with a full recompute running':<44}{live['full_running_share']:>32.0%}")
        print(
            f"{'  full recomputes during phase 2 (each)':<44}"
            f"{len(durations):>10}  ({', '.join(f'{d:.1f}' for d in sorted(durations)[-5:])} s)"
        )
        print()
        print(
            f"incremental rescoring, one enterprise ({a.incremental} runs, "
            f"after a {inc['full_s']:.1f} s full recompute):"
        )
        print(
            f"  p50 {inc['p50_ms']:.0f} ms, p99 {inc['p99_ms']:.0f} ms; "
            f"rescored median {inc['scored_median']:.0f}, max {inc['scored_max']}"
        )
        for step, (q50, q99) in inc["steps"].items():
            print(f"    {step:<24} p50 {q50 * 1000:>8.1f} ms   p99 {q99 * 1000:>8.1f} ms")
        print(f"  a batch of 1,000 touched enterprises: {inc['batch_1000_s']:.2f} s (median of 3)")
        print(
            f"links read of facts_of, 200 ids: before {old_s:.2f} s, now {new_s:.3f} s ({old_s / new_s:.0f}x)"
        )
    finally:
        procs.stop_all()
        n = await delete_by_prefix(driver, prefix)
        await driver.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=prefix)
        await delete_offsets(driver, group)
        with Session(sql) as session:
            session.exec(delete(RiskFullRun).where(col(RiskFullRun.group_id) == risk_group(group)))
            session.exec(delete(RiskAlertState).where(col(RiskAlertState.enterprise_id).startswith(prefix)))
            session.exec(delete(RiskIncident).where(col(RiskIncident.enterprise_id).startswith(prefix)))
            session.commit()
        AdminClient(conf).delete_topics(
            [names.raw, names.valid, names.dlq, names.alerts, names.changes, names.telemetry]
        )
        print(f"deleted {n:,} nodes under {prefix}")
        await driver.close()


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", default=str(willems.DEFAULT_DIR), help="the Willems 2008 data set's folder")
    ap.add_argument("--enterprises", type=int, default=11_000)
    ap.add_argument("--rate", type=float, default=20.0, help="probe events per second")
    ap.add_argument("--seconds", type=int, default=60, help="length of each phase")
    ap.add_argument(
        "--full-seconds", type=float, default=2.0, help="the risk process's full recompute period"
    )
    ap.add_argument("--incremental", type=int, default=200, help="single-enterprise rescorings timed")
    asyncio.run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
