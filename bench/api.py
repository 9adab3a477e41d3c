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
from collections.abc import Awaitable, Callable, Collection
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import neo4j
import orjson

from api.keys import create_key
from connectors.capacity_reports import capacity_sites
from graph.risk.settings import RiskSettings
from graph.risk_views import RiskViews, critical_nodes, sourcing_report
from graph.views import NETWORK_QUERIES, NetworkViews, read_records, search_query
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
WHAT_IF_Q = """query($e: [ID!], $r: String, $t: Int!) {
  whatIf(enterprises: $e, region: $r, days: 30, tiers: $t) {
  affectedCount products byTier { tier affected stopSupplying maxShortfallDays }
  exposures(first: 100) { enterprise { id name } tier shortfallDays timeToSurvive timeToRecover
    alternatives { sku suppliers { id } } } } }"""
CRITICAL_Q = """query($id: ID!) { criticalNodes(id: $id, tiers: 5) { nodeCount method
  cutVertices(first: 100) { id tier betweenness } topBetweenness(first: 20) { id betweenness } } }"""
SOURCING_Q = """query($id: ID!) { sourcingReport(enterpriseId: $id, tiers: 5) { soleSourceCount
  soleSources(first: 100) { sku buyer { id } supplier { id } }
  concentration(first: 100) { sku hhi topRegion topShare } } }"""


class Http:
    """A lean HTTP/1.1 keep-alive client (one connection, Content-Length bodies).

    httpx spends ~2.5 ms of client CPU per request on this machine (GET /healthz: 2.6 ms through
    httpx, 0.6 ms through this client), which would be charged to the API's latency.
    """

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n"
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: dict[str, Any]) -> bytes:
        try:
            return await self._post(body)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()  # the server closed an idle keep-alive connection: once more
            return await self._post(body)

    async def _post(self, body: dict[str, Any]) -> bytes:
        if self.conn is None:
            self.conn = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.conn
        data = orjson.dumps(body)
        writer.write(
            f"{self.head}content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        payload = await reader.readexactly(length)
        if status != 200:
            raise SystemExit(f"HTTP {status}: {payload[:300]!r}")
        return payload

    async def close(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None


DriverSide = Callable[[], Awaitable[Any]]


def _size(d: Any) -> str:
    if d is None:
        return "none"
    if "nodeCount" in d and "edgeCount" in d:
        return f"{d['nodeCount']}n/{d['edgeCount']}e"
    if "nodeCount" in d:
        return f"{d['nodeCount']}n"
    if "affectedCount" in d:
        return f"{d['affectedCount']} hit"
    if "soleSourceCount" in d:
        return f"{d['soleSourceCount']} sole"
    if "edges" in d:
        return f"{len(d['edges'])} rows"
    return "1 row"


async def measure(
    client: Http,
    views: list[tuple[str, str, dict[str, Any], DriverSide]],
    n: int,
    httpx_client: httpx.AsyncClient | None = None,
) -> None:
    """Per view: GraphQL over HTTP and the driver side, interleaved (first 3 of each are warm-up)."""
    print(
        f"{'view':38} {'size':>12} {'gql p50':>8} {'gql p95':>8} "
        f"{'drv p50':>8} {'drv p95':>8} {'p95 ratio':>9} {'n':>4}"
    )
    for name, query, variables, driver_side in views:
        gql: list[float] = []
        drv: list[float] = []
        size = ""
        reps = n
        i = 0
        while i < reps + 3:
            t0 = time.perf_counter()
            if httpx_client is not None:
                raw = (
                    await httpx_client.post("/graphql", json={"query": query, "variables": variables})
                ).content
            else:
                raw = await client.post({"query": query, "variables": variables})
            t1 = time.perf_counter()
            body = orjson.loads(raw)
            if body.get("errors"):
                raise SystemExit(f"{name}: {body['errors']}")
            t2 = time.perf_counter()
            await driver_side()
            t3 = time.perf_counter()
            if i == 0 and t3 - t0 > 1.0:
                reps = max(10, n // 5)  # a view of seconds: fewer rounds (the table says how many)
            if i >= 3:
                gql.append(t1 - t0)
                drv.append(t3 - t2)
            i += 1
            if not size:
                size = _size(next(iter(body["data"].values())))
                if size == "none":
                    raise SystemExit(f"{name}: no answer for {variables}")
        print(
            f"{name:38} {size:>12} {pct(gql, 50):8.1f} {pct(gql, 95):8.1f} {pct(drv, 50):8.1f} "
            f"{pct(drv, 95):8.1f} {pct(gql, 95) / pct(drv, 95):9.2f} {len(gql):4}"
        )


async def throughput(port: int, token: str, ids: list[str], seconds: float, concurrency: int) -> float:
    """Enterprise lookups per second over ``concurrency`` keep-alive connections."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        c = Http(port, token)
        i = k
        try:
            while time.perf_counter() < deadline:
                await c.post({"query": LOOKUP_Q, "variables": {"id": ids[i % len(ids)]}})
                done += 1
                i += 7
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / (time.perf_counter() - t0)


def cypher(driver: neo4j.AsyncDriver, query: str, params: dict[str, Any]) -> DriverSide:
    """The bare driver running ``query`` in one auto-commit read, as the API does (records as dicts)."""

    async def run() -> Any:
        return await read_records(driver, "neo4j", query, params)

    return run


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
        views_ = NetworkViews(driver)
        risk = RiskViews(driver)
        rs = RiskSettings()

        async def critical() -> Any:
            found = await views_.network(
                focal=focal["big"], direction="UPSTREAM", tiers=5, as_of=today, max_nodes=5000
            )
            assert found is not None
            return await asyncio.to_thread(critical_nodes, found[0], found[1], rs)

        async def sourcing() -> Any:
            found = await views_.network(
                focal=focal["big"], direction="UPSTREAM", tiers=5, as_of=today, max_nodes=5000
            )
            assert found is not None
            buyers = {x["id"] for x in found[0] if x["tier"] < 5}
            return await asyncio.to_thread(
                sourcing_report, found[0], found[1], buyers=buyers, truncated=False
            )

        async def capacity(pairs: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
            return await asyncio.to_thread(capacity_sites, engine, pairs)

        def what_if(enterprises: list[str], region: str | None, tiers: int) -> DriverSide:
            async def run() -> Any:
                return await risk.what_if(
                    enterprises=enterprises,
                    facilities=[],
                    region=region,
                    days=30.0,
                    tiers=tiers,
                    as_of=today,
                    settings=rs,
                    max_disrupted=5000,
                    max_affected=5000,
                    alternatives=3,
                    capacity=capacity,  # the API's lookup: spare capacity from the record store
                )

            return run

        lookup_cypher = (
            "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
            "RETURN e {.id, .name, .industry, .region, .riskScore} AS e"
        )
        views: list[tuple[str, str, dict[str, Any], DriverSide]] = [
            (
                "enterprise lookup",
                LOOKUP_Q,
                {"id": focal["small"]},
                cypher(driver, lookup_cypher, {"ids": [focal["small"]]}),
            ),
            (
                "upstream 5 tiers",
                NET_Q % "upstream",
                {"id": focal["small"], "t": 5, "m": 5000},
                cypher(
                    driver,
                    NETWORK_QUERIES[("UPSTREAM", 5)],
                    {"id": focal["small"], "asOf": today, "cap": 25_000},
                ),
            ),
            (
                "downstream 5 tiers (raw supplier)",
                NET_Q % "downstream",
                {"id": focal["raw"], "t": 5, "m": 5000},
                cypher(
                    driver,
                    NETWORK_QUERIES[("DOWNSTREAM", 5)],
                    {"id": focal["raw"], "asOf": today, "cap": 25_000},
                ),
            ),
            (
                "upstream 5 tiers, big cluster",
                NET_Q % "upstream",
                {"id": focal["big"], "t": 5, "m": 5000},
                cypher(
                    driver,
                    NETWORK_QUERIES[("UPSTREAM", 5)],
                    {"id": focal["big"], "asOf": today, "cap": 25_000},
                ),
            ),
            (
                "enterprise search (region, risk)",
                SEARCH_Q,
                {"r": "region-3"},
                cypher(
                    driver,
                    search_query("RISK_DESC", frozenset({"region"}), after=False),
                    {"region": "region-3", "afterKey": None, "afterId": None, "limit": 51},
                ),
            ),
            (
                "what-if, raw supplier, 30 days",
                WHAT_IF_Q,
                {"e": [focal["raw"]], "t": 4},
                what_if([focal["raw"]], None, 4),
            ),
            (
                "what-if, region-3, 30 days, 2 tiers",
                WHAT_IF_Q,
                {"r": "region-3", "t": 2},
                what_if([], "region-3", 2),
            ),
            ("critical nodes, big cluster", CRITICAL_Q, {"id": focal["big"]}, critical),
            ("sourcing report, big cluster", SOURCING_Q, {"id": focal["big"]}, sourcing),
        ]
        print(
            "GraphQL: POST over HTTP with a lean keep-alive client; driver: the same Cypher (risk views: the "
            "same reads and analyses in-process)"
        )
        client = Http(port, token)
        try:
            await measure(client, views, args.requests)
        finally:
            await client.close()
        async with httpx.AsyncClient(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as hc:
            print("the lookup again through httpx (its client cost, ~2.5 ms, counts as GraphQL time):")
            await measure(client, views[:1], args.requests, httpx_client=hc)
        ids = [e["id"] for e in ents[:: max(1, len(ents) // 5000)]]
        rps = await throughput(port, token, ids, seconds=10, concurrency=16)
        print(
            f"enterprise lookup: {rps:,.0f} requests/s with {args.workers} uvicorn worker(s), "
            "16 concurrent keep-alive connections, "
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
