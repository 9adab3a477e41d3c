"""The worker's full risk recompute against Neo4j, end to end, at 100,000 enterprises / ~1,000,000 links.

``bench/risk.py`` times the engine in memory; this runs what the ``risk_full`` timer runs
(``RiskService.full``): read the projection from Neo4j, recompute every score and the global
measures, write enterprise, link and facility scores back, send the alerts to Kafka and open their
incidents in the SQL store. It runs three times on the same graph and prints each step:

- **first run** — what a worker does after a start: it has written nothing yet, so every enterprise,
  link and facility score is written, and every score above the threshold alerts;
- **periodic, held network** — what the timer does every ``full_recompute_seconds``: everything is
  recomputed from the network the worker holds; only the enterprise scores are rewritten (links and
  facilities that did not move are skipped);
- **periodic, re-read** — the same, re-reading the projection first (every ``full_reload_every``-th).

The network is ``bench/risk.py``'s (``synthetic.network("cyclic", seed=5)``, KPIs on every link, 3% of
enterprises with an open disruption, one facility each) loaded under a run prefix
(``bench-rf-<hex>-``); the worker is scoped to that prefix, alerts go to a topic of the run's own.
Everything is deleted at the end (``--keep`` keeps the graph; ``--prefix`` reuses a kept one).

    .venv/bin/python -m bench.risk_full                 # 100k enterprises / ~1M links
    .venv/bin/python -m bench.risk_full --nodes 5000    # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka.admin import AdminClient
from neo4j import AsyncDriver
from sqlmodel import Session, col, delete

from connectors.kafka import EventProducer, TopicSpec, ensure_topics
from graph.kpis import ALARM_PROPERTIES
from graph.maintenance import delete_by_prefix
from graph.risk import synthetic
from graph.risk.facts import Network
from graph.risk.store import RiskStore
from schema.tables import RiskIncident
from streams.risk import RiskService
from supplynet import bootstrap
from supplynet.settings import Settings

BATCH = 5_000

_COUNT, _FACILITIES, _COUNTS = ALARM_PROPERTIES

ENTERPRISES = f"""
UNWIND $rows AS r
CREATE (e:Enterprise {{id: r.id, name: r.name, industry: r.industry, region: r.region, daysOfCover: r.cover,
                      coverSkus: r.coverSkus, coverDays: r.coverDays}})
CREATE (f:Facility {{id: r.id + '-f1', region: r.region}})-[:OPERATED_BY]->(e)
FOREACH (d IN r.disruptions |
  CREATE (:Disruption {{id: d.id, status: 'open', severity: d.severity, kind: d.kind,
                       expectedRecoveryDays: d.days}})-[:AFFECTS]->(e))
SET e.{_COUNT} = r.alarms,
    e.{_FACILITIES} = CASE WHEN r.alarms > 0 THEN [r.id + '-f1'] ELSE [] END,
    e.{_COUNTS} = CASE WHEN r.alarms > 0 THEN [r.alarms] ELSE [] END
"""
"""An enterprise with its facility, open disruptions and recent alarms (all at its facility), as the
projection leaves them: the alarms as the counts of its KPI row (``graph.kpis.alarm_kpis``)."""
LINKS = """
UNWIND $rows AS r
MATCH (a:Enterprise {id: r.s}), (b:Enterprise {id: r.b})
CREATE (a)-[:SUPPLIES {sku: r.sku, share: r.share, leadTimeDays: r.lt, otifRate90d: r.otif,
                       leadTimeMeanDays90d: r.ltMean, leadTimeP90Days90d: r.ltP90,
                       qualityIncidentRate90d: r.quality,
                       validFrom: date('2025-01-01')}]->(b)
"""


def buyer_cover(net: Network) -> dict[str, dict[str, float]]:
    """buyer -> sku -> days of cover, from the first link of each (buyer, sku) that gives one: the graph
    keeps a link's cover on its buyer (``coverSkus`` / ``coverDays``), so links of one buyer and sku
    share it."""
    out: dict[str, dict[str, float]] = {}
    for lk in net.links:
        if lk.days_of_cover is not None:
            out.setdefault(lk.buyer, {}).setdefault(lk.sku, lk.days_of_cover)
    return out


async def load(driver: AsyncDriver, net: Network) -> float:
    """Write the network as the projector would have left it; returns the seconds it took."""
    t0 = time.perf_counter()
    cover = buyer_cover(net)
    ents = [
        {
            "id": e.id,
            "name": e.name,
            "industry": e.industry,
            "region": e.region,
            "cover": e.days_of_cover,
            "coverSkus": sorted(cover.get(e.id, {})),
            "coverDays": [cover[e.id][s] for s in sorted(cover.get(e.id, {}))],
            "disruptions": [
                {"id": d.id, "severity": d.severity, "kind": d.kind, "days": d.expected_recovery_days}
                for d in e.disruptions
            ],
            "alarms": e.recent_alarms,
        }
        for e in net.enterprises.values()
    ]
    links = [
        {
            "s": lk.supplier,
            "b": lk.buyer,
            "sku": lk.sku,
            "share": lk.share,
            "lt": lk.lead_time_days,
            "otif": lk.otif,
            "ltMean": lk.lead_time_mean,
            "ltP90": lk.lead_time_p90,
            "quality": lk.quality_incident_rate,
        }
        for lk in net.links
    ]
    for rows, query, what in ((ents, ENTERPRISES, "enterprises"), (links, LINKS, "links")):
        for i in range(0, len(rows), BATCH):
            await driver.execute_query(query, {"rows": rows[i : i + BATCH]})
            done = min(i + BATCH, len(rows))
            if done % (20 * BATCH) == 0 or done == len(rows):
                print(
                    f"  loaded {done:,} / {len(rows):,} {what} ({time.perf_counter() - t0:.0f} s)", flush=True
                )
    return time.perf_counter() - t0


class Steps:
    """Times the store's calls and the engine's recompute; ``take()`` hands over one run's figures."""

    def __init__(self, service: RiskService) -> None:
        self.times: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        store = service.store
        for name, label in (
            ("previous_scores", "read previous scores"),
            ("network", "read the projection"),
            ("write_scores", "write enterprise scores"),
            ("write_link_scores", "write link scores"),
            ("write_facility_scores", "write facility scores"),
        ):
            setattr(store, name, self._timed(label, getattr(store, name)))
        service._alert = self._timed("send alerts, open incidents", service._alert)  # type: ignore[method-assign]
        engine = service.engine
        full = engine.full

        def timed_full(network: Network) -> Any:
            t0 = time.perf_counter()
            try:
                return full(network)
            finally:
                self.times["recompute (engine, in a thread)"] = time.perf_counter() - t0

        engine.full = timed_full  # type: ignore[method-assign]

    def _timed(self, label: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            out = await fn(*args, **kwargs)
            self.times[label] = self.times.get(label, 0.0) + time.perf_counter() - t0
            if isinstance(out, int):
                self.rows[label] = out
            return out

        return run

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        out = self.times, self.rows
        self.times, self.rows = {}, {}
        return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--links-per-node", type=int, default=21)
    ap.add_argument("--skus", type=int, default=2_000)
    ap.add_argument("--keep", action="store_true", help="keep the graph (delete later by prefix)")
    ap.add_argument("--prefix", default=None, help="reuse a kept graph with this prefix (skips the load)")
    a = ap.parse_args()

    settings = Settings()
    prefix = a.prefix or f"bench-rf-{uuid.uuid4().hex[:6]}-"
    t0 = time.perf_counter()
    net = synthetic.network(
        "cyclic",
        a.nodes,
        seed=5,
        links_per_node=a.links_per_node,
        skus=a.skus,
        kpis=True,
        prefix=f"{prefix}E",
    )
    print(
        f"network: {len(net.enterprises):,} enterprises, {len(net.links):,} supply links, {a.skus:,} skus, "
        f"{len(net.enterprises):,} facilities (generated in {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    driver = bootstrap.async_driver(settings)
    sql = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(sql)
    conf = settings.kafka.librdkafka()
    topic = f"{prefix}alerts"
    ensure_topics(conf, [TopicSpec(topic, 1)])
    service = RiskService(
        store=RiskStore(driver, settings.risk, database=settings.neo4j.database),
        settings=settings.risk,
        alerts_out=EventProducer(conf, topic),
        sql=sql,
        scope=prefix,
    )
    try:
        if not a.prefix:
            print(f"loading into Neo4j under {prefix} …", flush=True)
            secs = await load(driver, net)
            print(f"loaded in {secs:.0f} s", flush=True)
        del net
        steps = Steps(service)
        runs: list[tuple[str, tuple[dict[str, float], dict[str, int]], Any]] = []
        for name, reload in (
            ("first run after a start", True),
            ("periodic, held network", False),
            ("periodic, re-read", True),
        ):
            print(f"{name} …", flush=True)
            run = await service.full(reload=reload)
            runs.append((name, steps.take(), run))
        labels = list(dict.fromkeys(k for _n, (times, _rows), _r in runs for k in times))
        width = max(len(k) for k in labels) + 2
        print()
        print(f"{'step':<{width}}" + "".join(f"{n:>28}" for n, _s, _r in runs))
        for k in labels:
            cells = []
            for _n, (times, rows), _r in runs:
                n = f" ({rows[k]:,})" if k in rows else ""
                cells.append(f"{times.get(k, 0.0):.1f} s{n}".rjust(28))
            print(f"{k:<{width}}" + "".join(cells))
        print(
            f"{'alerts sent, incidents opened':<{width}}"
            + "".join(f"{len(r.alerts):>28,}" for *_x, r in runs)
        )
        print(f"{'total (RiskService.full)':<{width}}" + "".join(f"{r.seconds:>26.1f} s" for *_x, r in runs))
        print(
            f"\npeak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
        )
    finally:
        service.close()
        if not a.keep:
            n = await delete_by_prefix(driver, prefix)
            print(f"deleted {n:,} nodes under {prefix}")
            AdminClient(conf).delete_topics([topic])
            with Session(sql) as session:
                session.exec(delete(RiskIncident).where(col(RiskIncident.enterprise_id).startswith(prefix)))
                session.commit()
        await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
