"""GraphQL API benchmark: each main view through GraphQL over HTTP and the same Cypher through the bare
driver, side by side in one run, with their ratio; then requests/s of an enterprise lookup.

The graph: ``--enterprises`` enterprises in clusters of six layers (layer k buys from layer k-1 of its
cluster), plus one big cluster whose 5-tier upstream view has about 5,000 nodes, plus cross-cluster
links from raw-material suppliers; ``--links`` links in all. Every id starts with a run prefix
(``bench-api-<hex>-``) and everything is deleted by prefix at the end (``--keep`` to keep it).

    .venv/bin/python -m bench.api                      # 100k enterprises / 1M links
    .venv/bin/python -m bench.api --scale 0.05         # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import neo4j

from api.keys import create_key
from graph.views import NETWORK_QUERIES, search_query
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings

LAYERS = 6
BIG_BRANCHING = (5, 5, 5, 6, 6)  # the big component: a 5-tier upstream view of 5,406 enterprises
BIG_SIZE = 1 + 5 + 25 + 125 + 750 + 4500
BATCH = 10_000


def build(
    n_enterprises: int, n_links: int, prefix: str, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """(enterprises, links, focal ids by view) for the benchmark graph. Pure, deterministic."""
    rng = random.Random(seed)  # noqa: S311 (a benchmark graph, not a secret)
    big = BIG_SIZE if n_enterprises >= 4 * BIG_SIZE else 0
    rest = n_enterprises - big
    cluster = 60
    n_clusters = max(1, rest // cluster)
    per_layer = cluster // LAYERS
    ents: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    industries = ("steel", "chemical", "machinery", "automotive", "electronics", "non-ferrous")

    def eid(c: str, layer: int, i: int) -> str:
        return f"{prefix}{c}-{layer}-{i}"

    def add_cluster(c: str, size: int, in_degree: int) -> None:
        for layer in range(LAYERS):
            for i in range(size):
                ents.append(
                    {
                        "id": eid(c, layer, i),
                        "name": f"企业 {c}-{layer}-{i}",
                        "industry": industries[layer],
                        "region": f"region-{rng.randrange(30)}",
                        "riskScore": round(rng.random(), 3),
                    }
                )
        for layer in range(1, LAYERS):
            for i in range(size):
                for s in rng.sample(range(size), min(in_degree, size)):
                    links.append(_link(rng, eid(c, layer - 1, s), eid(c, layer, i), f"sku-{layer}"))

    def add_tree(c: str) -> None:
        # The big component: the OEM at tier 0, each enterprise buying from its own 5-6 suppliers one
        # tier up plus one shared supplier: 1 + 5 + 25 + 125 + 750 + 4500 = 5,406 enterprises in 5 tiers.
        layer = [eid(c, 0, 0)]
        ents.append(
            {
                "id": layer[0],
                "name": f"企业 {c}",
                "industry": "automotive",
                "region": "region-0",
                "riskScore": 0.5,
            }
        )
        for depth, branching in enumerate(BIG_BRANCHING, start=1):
            nxt = []
            for i, buyer in enumerate(layer):
                for j in range(branching):
                    sid = eid(c, depth, i * branching + j)
                    nxt.append(sid)
                    ents.append(
                        {
                            "id": sid,
                            "name": f"企业 {sid[-12:]}",
                            "industry": industries[depth],
                            "region": f"region-{rng.randrange(30)}",
                            "riskScore": round(rng.random(), 3),
                        }
                    )
                    links.append(_link(rng, sid, buyer, f"sku-{depth}"))
            for buyer in layer:
                links.append(_link(rng, rng.choice(nxt), buyer, f"sku-{depth}-shared"))
            layer = nxt

    in_degree = max(1, round((n_links * 0.9 - 2 * big) / max(1, n_clusters * per_layer * 5)))
    for c in range(n_clusters):
        add_cluster(f"c{c}", per_layer, in_degree)
    if big:
        add_tree("big")
    # Cross-cluster links: raw-material suppliers (layer 0, leaves upstream) to other clusters' layer 1.
    while len(links) < n_links:
        a, b = rng.randrange(n_clusters), rng.randrange(n_clusters)
        links.append(
            _link(
                rng,
                eid(f"c{a}", 0, rng.randrange(per_layer)),
                eid(f"c{b}", 1, rng.randrange(per_layer)),
                "sku-x",
            )
        )
    focal = {
        "small": eid("c0", LAYERS - 1, 0),
        "raw": eid("c0", 0, 0),
        "big": eid("big", 0, 0) if big else eid("c1", LAYERS - 1, 0),
    }
    return ents, links[:n_links] if len(links) > n_links else links, focal


def _link(rng: random.Random, a: str, b: str, sku: str) -> dict[str, Any]:
    return {
        "a": a,
        "b": b,
        "sku": sku,
        "share": round(rng.random(), 2),
        "leadTimeDays": rng.randrange(3, 60),
        "unitPrice": round(rng.uniform(10, 1000), 2),
        "otifRate90d": round(rng.uniform(0.7, 1.0), 3),
    }


LOAD_ENTERPRISES = """
UNWIND $rows AS r
CREATE (e:Enterprise {id: r.id, name: r.name, industry: r.industry, region: r.region, riskScore: r.riskScore})
"""
LOAD_LINKS = """
UNWIND $rows AS r
MATCH (a:Enterprise {id: r.a}), (b:Enterprise {id: r.b})
CREATE (a)-[:SUPPLIES {sku: r.sku, share: r.share, leadTimeDays: r.leadTimeDays, unitPrice: r.unitPrice,
                        otifRate90d: r.otifRate90d, validFrom: date('2025-01-01')}]->(b)
"""
DELETE = """
MATCH (e:Enterprise) WHERE e.id STARTS WITH $prefix
CALL (e) { DETACH DELETE e } IN TRANSACTIONS OF 2000 ROWS
"""


async def load(driver: neo4j.AsyncDriver, ents: list[dict[str, Any]], links: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(ents), BATCH):
        await driver.execute_query(LOAD_ENTERPRISES, {"rows": ents[i : i + BATCH]})
    for i in range(0, len(links), BATCH):
        await driver.execute_query(LOAD_LINKS, {"rows": links[i : i + BATCH]})
    return time.perf_counter() - t0


async def delete(driver: neo4j.AsyncDriver, prefix: str) -> None:
    async with driver.session() as s:
        result = await s.run(DELETE, prefix=prefix)
        await result.consume()


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] * 1000


NET_Q = """query($id: ID!, $t: Int!, $m: Int!) { %s(id: $id, tiers: $t, maxNodes: $m) {
  nodeCount edgeCount payload } }"""
LOOKUP_Q = "query($id: ID!) { enterprise(id: $id) { id name industry region riskScore } }"
SEARCH_Q = """query($r: String) { enterprises(first: 50, region: $r, orderBy: RISK_DESC) {
  totalCount edges { cursor node { id name riskScore } } } }"""


async def measure(
    client: httpx.AsyncClient,
    driver: neo4j.AsyncDriver,
    token: str,
    views: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]],
    n: int,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    print(
        f"{'view':34} {'size':>12} {'gql p50':>8} {'gql p95':>8} "
        f"{'drv p50':>8} {'drv p95':>8} {'p95 ratio':>9}"
    )
    for name, query, variables, cypher, params in views:
        gql: list[float] = []
        drv: list[float] = []
        size = ""
        for i in range(n + 3):  # interleaved, first 3 warm-up
            t0 = time.perf_counter()
            r = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
            t1 = time.perf_counter()
            body = r.json()
            if body.get("errors"):
                raise SystemExit(f"{name}: {body['errors']}")
            t2 = time.perf_counter()
            res = await driver.execute_query(cypher, params, routing_=neo4j.RoutingControl.READ)
            t3 = time.perf_counter()
            [dict(rec) for rec in res.records]
            if i >= 3:
                gql.append(t1 - t0)
                drv.append(t3 - t2)
            if not size:
                d = next(iter(body["data"].values()))
                size = f"{d['nodeCount']}n/{d['edgeCount']}e" if d and "nodeCount" in d else "1 row"
                if d is None:
                    raise SystemExit(f"{name}: no answer for {variables}")
        print(
            f"{name:34} {size:>12} {pct(gql, 50):8.1f} {pct(gql, 95):8.1f} {pct(drv, 50):8.1f} "
            f"{pct(drv, 95):8.1f} {pct(gql, 95) / pct(drv, 95):9.2f}"
        )


async def throughput(url: str, token: str, ids: list[str], seconds: float, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            r = await client.post(
                "/graphql", json={"query": LOOKUP_Q, "variables": {"id": ids[i % len(ids)]}}, headers=headers
            )
            r.raise_for_status()
            done += 1
            i += 7

    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        return done / (time.perf_counter() - t0)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k enterprises / 1M links")
    ap.add_argument("--requests", type=int, default=100, help="timed requests per view and side")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the API under test")
    ap.add_argument("--keep", action="store_true", help="keep the graph (delete later by prefix)")
    ap.add_argument("--prefix", default=None, help="reuse a kept graph with this prefix (skips the load)")
    args = ap.parse_args()

    settings = Settings()
    prefix = args.prefix or f"bench-api-{uuid.uuid4().hex[:6]}-"
    n_ent, n_links = int(100_000 * args.scale), int(1_000_000 * args.scale)
    ents, links, focal = build(n_ent, n_links, prefix)
    driver = bootstrap.async_driver(settings)
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    _, token = create_key(engine, name=f"{prefix}bench", role=Role.ANALYST)
    port = 18000 + os.getpid() % 1000
    proc = None
    try:
        if not args.prefix:
            secs = await load(driver, ents, links)
            print(f"loaded {len(ents):,} enterprises and {len(links):,} links under {prefix} in {secs:.0f}s")
        env = {**os.environ, "SUPPLYNET_API__PORT": str(port), "SUPPLYNET_API__WORKERS": str(args.workers)}
        log = Path(settings.state_dir) / f"bench-api-{port}.log"
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any timing)
            [sys.executable, "-m", "supplynet", "serve"],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                async with httpx.AsyncClient() as probe:
                    if (await probe.get(f"{url}/healthz", timeout=1)).status_code == 200:
                        break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        today = date.today()
        views = [
            (
                "enterprise lookup",
                LOOKUP_Q,
                {"id": focal["small"]},
                "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
                "RETURN e {.id, .name, .industry, .region, .riskScore} AS e",
                {"ids": [focal["small"]]},
            ),
            (
                "upstream 5 tiers",
                NET_Q % "upstream",
                {"id": focal["small"], "t": 5, "m": 5000},
                NETWORK_QUERIES[("UPSTREAM", 5)],
                {"id": focal["small"], "asOf": today, "cap": 25_000},
            ),
            (
                "downstream 5 tiers (raw supplier)",
                NET_Q % "downstream",
                {"id": focal["raw"], "t": 5, "m": 5000},
                NETWORK_QUERIES[("DOWNSTREAM", 5)],
                {"id": focal["raw"], "asOf": today, "cap": 25_000},
            ),
            (
                "upstream 5 tiers, big cluster",
                NET_Q % "upstream",
                {"id": focal["big"], "t": 5, "m": 5000},
                NETWORK_QUERIES[("UPSTREAM", 5)],
                {"id": focal["big"], "asOf": today, "cap": 25_000},
            ),
            (
                "enterprise search (region, risk)",
                SEARCH_Q,
                {"r": "region-3"},
                search_query("RISK_DESC", frozenset({"region"}), after=False),
                {
                    "name": None,
                    "industry": None,
                    "region": "region-3",
                    "riskMin": None,
                    "riskMax": None,
                    "scope": None,
                    "afterKey": None,
                    "afterId": None,
                    "limit": 51,
                },
            ),
        ]
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await measure(client, driver, token, views, args.requests)
        ids = [e["id"] for e in ents[:: max(1, len(ents) // 5000)]]
        rps = await throughput(url, token, ids, seconds=10, concurrency=16)
        print(
            f"enterprise lookup: {rps:,.0f} requests/s with {args.workers} uvicorn worker(s), "
            "16 concurrent clients, "
            f"{os.cpu_count()} cores shared with Neo4j and the client"
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if not args.keep:
            t0 = time.perf_counter()
            await delete(driver, prefix)
            print(f"deleted {prefix}* in {time.perf_counter() - t0:.0f}s")
        await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
