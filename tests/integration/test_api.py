"""The GraphQL API over HTTP and websockets against the real stack: every query, mutation and
subscription, every role, every limit (each refusal with a clear error), and bounded round trips."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import jwt
import orjson
import pytest
import uvicorn
import websockets
from sqlmodel import Session

from api.keys import create_key
from connectors.kafka import EventProducer, Record, ensure_topics
from graph.mutations import to_mutations
from graph.risk.alerts import Alert
from graph.risk.incidents import open_incident
from graph.writer import GraphWriter
from schema.events import CATALOG
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.changes_support import forget, project_events
from tests.integration.topic_reader import ends, read_from

SECRET = "test-secret-" + "x" * 32
ISSUER = "https://idp.test"


class CountingDriver:
    """Wraps the app's Neo4j driver and counts the Cypher round trips it makes."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self.calls = 0

    async def execute_query(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await self._driver.execute_query(*args, **kwargs)

    def session(self, *args: Any, **kwargs: Any) -> Any:
        return _CountingSession(self, self._driver.session(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)


class _CountingSession:
    """A session that counts each query it runs on its driver's counter (one round trip each)."""

    def __init__(self, counter: CountingDriver, session: Any) -> None:
        self._counter = counter
        self._session = session

    async def __aenter__(self) -> _CountingSession:
        await self._session.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.__aexit__(*exc)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.calls += 1
        return await self._session.run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("API did not start")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _event(run_id: str, n: int, event_type: str, data: dict[str, Any], **env: Any) -> dict[str, Any]:
    ev = example_event(event_type, event_id=f"{run_id}-api-{n}")
    ev["data"] = data
    ev["subject"] = data[CATALOG[event_type].SUBJECT]
    ev.update(env)
    return ev


class World:
    """The test's own network: F → E → A → B → C (supply chain), D registered apart, a BOM, a project."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-api-"
        self.p = p
        self.A, self.B, self.C, self.D, self.E, self.F = (p + x for x in ("a", "b", "c", "d", "e", "f"))
        self.sku_steel, self.sku_part, self.product = p + "steel", p + "part", p + "car"
        names = {
            self.A: ("武汉钢铁", "steel"),
            self.B: ("东风零部件", "machinery"),
            self.C: ("东风汽车", "automotive"),
            self.D: ("宝山钢铁", "steel"),
            self.E: ("鞍山矿业", "non-ferrous"),
            self.F: ("Far Away Mine", "other"),
        }
        evs: list[dict[str, Any]] = []
        n = 0

        def add(t: str, data: dict[str, Any], **env: Any) -> None:
            nonlocal n
            n += 1
            evs.append(_event(run_id, n, t, data, **env))

        for eid, (name, industry) in names.items():
            add(
                "partner.registered",
                {
                    "enterprise_id": eid,
                    "name": name,
                    "industry": industry,
                    "region": f"{p}region",
                    "country": "CN",
                    "capabilities": ["stamping"] if eid == self.B else ["hot-rolled coil"],
                },
            )

        def supply(s: str, b: str, sku: str, share: float, valid_from: str = "2026-01-01") -> None:
            add(
                "supply.agreed",
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": sku,
                    "share": share,
                    "lead_time_days": 14,
                    "valid_from": valid_from,
                    "unit_price": 100.0,
                    "currency": "CNY",
                    "annual_volume": 1000,
                },
            )

        supply(self.F, self.E, p + "ore", 1.0)
        supply(self.E, self.A, p + "ore", 0.8)
        supply(self.A, self.B, self.sku_steel, 0.6)
        supply(self.B, self.C, self.sku_part, 1.0, valid_from="2026-06-01")
        add("bom.defined", {"product_sku": self.product, "components": [{"sku": self.sku_part, "qty": 4}]})
        add(
            "bom.defined", {"product_sku": self.sku_part, "components": [{"sku": self.sku_steel, "qty": 2.5}]}
        )
        self.project, self.change = p + "proj", p + "ecr"
        add(
            "design.project.created",
            {"project_id": self.project, "name": "EV", "owner_id": self.C, "product_sku": self.product},
        )
        add("design.partner.joined", {"project_id": self.project, "enterprise_id": self.B, "role": "tier1"})
        add(
            "design.revision.published",
            {
                "project_id": self.project,
                "revision_id": p + "r1",
                "label": "R1",
                "changed_components": [{"sku": self.sku_part, "change": "modified", "qty": 4}],
            },
        )
        add(
            "design.change.requested",
            {
                "project_id": self.project,
                "change_id": self.change,
                "affected_skus": [self.sku_steel],
                "reason": "stronger steel",
                "required_by": "2026-12-01",
            },
        )
        add(
            "certification.granted",
            {
                "enterprise_id": self.B,
                "certificate_id": p + "cert",
                "standard": f"IATF {p}",
                "issuer": "TÜV",
                "valid_from": "2025-01-01",
                "valid_until": "2030-01-01",
            },
        )
        self.events = evs


@pytest.fixture(scope="module")
def api_settings(stack: Settings, run_id: str) -> Settings:
    s = stack.model_copy(
        update={
            "api": stack.api.model_copy(
                update={
                    "jwt_issuer": ISSUER,
                    "jwt_audience": "supplynet",
                    "jwt_hs256_secret": __import__("pydantic").SecretStr(SECRET),
                    "max_body_bytes": 20_000,
                    "partner_tiers": 3,
                }
            ),
            "stream": stack.stream.model_copy(update={"topic_prefix": f"apitest-{run_id}."}),
        }
    )
    ensure_topics(s.kafka.librdkafka(), bootstrap.topic_specs(s))
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    return s


@pytest.fixture(scope="module")
def world(api_settings: Settings, run_id: str) -> World:
    w = World(run_id)

    async def load() -> None:
        driver = bootstrap.async_driver(api_settings)
        try:
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
        finally:
            await driver.close()

    asyncio.run(load())
    return w


def counting_server(settings: Settings) -> Iterator[tuple[Server, CountingDriver]]:
    """The API app served in-process, its Neo4j driver wrapped to count round trips."""
    holder: dict[str, CountingDriver] = {}
    original = bootstrap.async_driver

    def counting(settings: Settings) -> Any:
        holder["d"] = CountingDriver(original(settings))
        return holder["d"]

    bootstrap.async_driver = counting  # type: ignore[assignment]
    try:
        srv = Server(bootstrap.api_app(settings))
        srv.__enter__()
    finally:
        bootstrap.async_driver = original  # type: ignore[assignment]
    yield srv, holder["d"]
    srv.__exit__()


@pytest.fixture(scope="module")
def server(api_settings: Settings, world: World) -> Iterator[tuple[Server, CountingDriver]]:
    yield from counting_server(api_settings)


@pytest.fixture(scope="module")
def keys(api_settings: Settings, world: World, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(api_settings)
    out = {}
    for role in (Role.ADMIN, Role.ANALYST):
        out[role.value] = create_key(engine, name=f"{run_id}-{role.value}", role=role)[1]
    out["erp"] = create_key(engine, name=f"{run_id}-erp", role=Role.ERP, source="sap-ecc/wisco")[1]
    out["partner"] = create_key(engine, name=f"{run_id}-p", role=Role.PARTNER, enterprise_id=world.C)[1]
    return out


def _jwt(claims: dict[str, Any]) -> str:
    base = {"iss": ISSUER, "aud": "supplynet", "sub": "jwt-user", "exp": int(time.time()) + 300}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def gql(url: str, token: str | None, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )


def data(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = gql(url, token, query, variables)
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


def error(url: str, token: str | None, query: str, variables: dict[str, Any] | None = None) -> str:
    r = gql(url, token, query, variables)
    body = r.json()
    assert body.get("errors"), body
    return str(body["errors"][0]["message"])


# -- security ------------------------------------------------------------------------------------------


def test_requests_without_or_with_bad_credentials_are_refused(server: tuple[Server, Any]) -> None:
    url = server[0].url
    r = gql(url, None, '{ enterprise(id: "x") { id } }')
    assert r.status_code == 401
    assert "missing credentials" in r.json()["detail"]
    r = gql(url, "sn_deadbeef_nope", '{ enterprise(id: "x") { id } }')
    assert (r.status_code, r.json()["detail"]) == (401, "unknown or revoked API key")
    forged = jwt.encode(
        {"iss": ISSUER, "aud": "supplynet", "sub": "x", "role": "admin", "exp": int(time.time()) + 60},
        "wrong-secret-" + "y" * 32,
        algorithm="HS256",
    )
    r = gql(url, forged, '{ enterprise(id: "x") { id } }')
    assert r.status_code == 401
    assert "Signature verification failed" in r.json()["detail"]


def test_jwt_roles_work_like_keys(server: tuple[Server, Any], world: World) -> None:
    url = server[0].url
    got = data(
        url, _jwt({"role": "analyst"}), "query($id: ID!) { enterprise(id: $id) { name } }", {"id": world.A}
    )
    assert got["enterprise"]["name"] == "武汉钢铁"
    msg = error(url, _jwt({"role": "erp", "source": "s"}), '{ enterprise(id: "x") { id } }')
    assert msg == "role erp may not do this (allowed: admin, analyst, partner)"


def test_limits_refuse_with_clear_errors(server: tuple[Server, Any], keys: dict[str, str]) -> None:
    url, t = server[0].url, keys["analyst"]
    deep = '{ enterprise(id: "x") { ' + "suppliers { partner { " * 6 + "id" + " } }" * 6 + " } }"
    assert "exceeds maximum operation depth" in error(url, t, deep)
    aliases = "{ " + " ".join(f'a{i}: enterprise(id: "x") {{ id }}' for i in range(20)) + " }"
    assert "aliases found" in error(url, t, aliases)
    tokens = '{ enterprise(id: "x") { ' + "id " * 2100 + "} }"
    assert "token limit" in error(url, t, tokens).lower() or "tokens" in error(url, t, tokens)
    costly = "{ enterprises(first: 500) { edges { node { suppliers { partner { customers { sku } } } } } } }"
    assert "query cost" in error(url, t, costly)
    assert "exceeds the limit of 50000" in error(url, t, costly)
    assert "tiers must be between 1 and 8" in error(url, t, '{ upstream(id: "x", tiers: 9) { tiers } }')
    # Body size: by Content-Length, and a chunked body (no Content-Length) refused while read.
    big = {"query": "{ __typename }", "pad": "x" * 30_000}
    r = httpx.post(f"{url}/graphql", json=big, headers={"Authorization": f"Bearer {t}"}, timeout=10)
    assert r.status_code == 413
    assert r.json()["detail"] == "request body exceeds the limit of 20000 bytes"

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}'

    r = httpx.post(
        f"{url}/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {t}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413
    assert "exceeds the limit" in r.json()["detail"]


def test_introspection_is_off_in_production(api_settings: Settings, keys: dict[str, str]) -> None:
    prod = api_settings.model_copy(update={"environment": "production", "sql_url": "postgresql://unused/x"})
    # The production app refuses introspection; its SQL engine is not touched by this query (JWT auth).
    app = bootstrap.api_app(prod.model_copy(update={"sql_url": api_settings.sql_url}))
    with Server(app) as srv:
        msg = error(srv.url, _jwt({"role": "admin"}), "{ __schema { types { name } } }")
        assert "introspection" in msg.lower()
        assert srv.url
        assert httpx.get(f"{srv.url}/graphql", timeout=5).status_code in (401, 404, 405)


def test_internal_errors_are_masked(server: tuple[Server, Any], keys: dict[str, str]) -> None:
    # A cursor that decodes but carries a key of the wrong type makes Cypher fail inside the resolver.
    import base64

    bad = base64.urlsafe_b64encode(orjson.dumps(["ID", 1, "x"])).decode()
    q = "query($c: String) { enterprises(first: 2, after: $c, orderBy: NAME) { totalCount } }"
    msg = error(server[0].url, keys["analyst"], q, {"c": bad})
    assert msg == "cursor was made for orderBy ID, not NAME"


# -- queries -------------------------------------------------------------------------------------------


def test_enterprise_with_suppliers_customers_and_kpis(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    q = """query($id: ID!) { enterprise(id: $id) { id name industry
        suppliers { sku share unitPrice redacted partner { id name } }
        customers { sku partner { id } } kpis { openOrders } } }"""
    e = data(server[0].url, keys["analyst"], q, {"id": world.B})["enterprise"]
    assert e["name"] == "东风零部件"
    assert e["suppliers"] == [
        {
            "sku": world.sku_steel,
            "share": 0.6,
            "unitPrice": 100.0,
            "redacted": [],
            "partner": {"id": world.A, "name": "武汉钢铁"},
        }
    ]
    assert e["customers"] == [{"sku": world.sku_part, "partner": {"id": world.C}}]
    assert e["kpis"] is not None


def test_enterprise_search_pages_with_keyset_cursors(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    q = """query($r: String, $after: String, $name: String, $ind: String) {
      enterprises(first: 2, after: $after, region: $r, name: $name, industry: $ind, orderBy: NAME) {
        totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    region = f"{world.p}region"
    while True:
        page = data(server[0].url, keys["analyst"], q, {"r": region, "after": after})["enterprises"]
        assert page["totalCount"] == 6
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted([world.A, world.B, world.C, world.D, world.E, world.F])
    assert len(set(seen)) == 6
    steel = data(server[0].url, keys["analyst"], q, {"r": region, "ind": "steel"})["enterprises"]
    assert {e["node"]["id"] for e in steel["edges"]} == {world.A, world.D}
    chinese = data(server[0].url, keys["analyst"], q, {"r": region, "name": "东风"})["enterprises"]
    assert chinese["totalCount"] == 2


NET = """query($id: ID!, $t: Int!, $asOf: Date) { %s(id: $id, tiers: $t, asOf: $asOf) {
  nodeCount truncated nodes { id tier } edges { supplierId buyerId sku share redacted } payload } }"""


def test_upstream_and_downstream_views_with_tiers_and_as_of(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    url, t = server[0].url, keys["analyst"]
    up = data(url, t, NET % "upstream", {"id": world.C, "t": 4})["upstream"]
    assert {n["id"]: n["tier"] for n in up["nodes"]} == {
        world.C: 0,
        world.B: 1,
        world.A: 2,
        world.E: 3,
        world.F: 4,
    }
    assert {(e["supplierId"], e["buyerId"]) for e in up["edges"]} == {
        (world.B, world.C),
        (world.A, world.B),
        (world.E, world.A),
        (world.F, world.E),
    }
    assert len(up["payload"]["nodes"]) == 5
    assert up["payload"]["edges"][0]["validFrom"][:4] == "2026"
    two = data(url, t, NET % "upstream", {"id": world.C, "t": 2})["upstream"]
    assert two["nodeCount"] == 3
    # Before B → C was agreed (valid from 2026-06-01) C had no suppliers.
    past = data(url, t, NET % "upstream", {"id": world.C, "t": 4, "asOf": "2026-03-01"})["upstream"]
    assert [n["id"] for n in past["nodes"]] == [world.C]
    down = data(url, t, NET % "downstream", {"id": world.E, "t": 3})["downstream"]
    assert {n["id"]: n["tier"] for n in down["nodes"]} == {world.E: 0, world.A: 1, world.B: 2, world.C: 3}


def test_paths_product_chain_design_candidates_timeline(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    url, t = server[0].url, keys["analyst"]
    paths = data(
        url,
        t,
        "query($a: ID!, $b: ID!) { paths(source: $a, target: $b) { nodes { id } edges { sku } } }",
        {"a": world.E, "b": world.C},
    )["paths"]
    assert [[n["id"] for n in p["nodes"]] for p in paths] == [[world.E, world.A, world.B, world.C]]
    chain = data(
        url,
        t,
        "query($s: String!) { productChain(sku: $s) { sku level raw usedIn suppliers { id } } }",
        {"s": world.product},
    )["productChain"]
    assert [(c["sku"], c["level"], c["raw"]) for c in chain] == [
        (world.product, 0, False),
        (world.sku_part, 1, False),
        (world.sku_steel, 2, True),
    ]
    assert chain[2]["suppliers"] == [{"id": world.A}]
    assert chain[1]["suppliers"] == [{"id": world.B}]
    projects = data(
        url,
        t,
        """query($id: ID!) { designProjects(id: $id) { id ownerId participants { enterpriseId role }
          revisions { id changes { sku change } } changeRequests { id affectedSkus } } }""",
        {"id": world.project},
    )["designProjects"]
    assert projects[0]["ownerId"] == world.C
    assert projects[0]["participants"] == [{"enterpriseId": world.B, "role": "tier1"}]
    assert projects[0]["revisions"][0]["changes"] == [{"sku": world.sku_part, "change": "modified"}]
    impact = data(
        url,
        t,
        "query($id: ID!) { changeImpact(changeRequestId: $id) { affectedSkus suppliers { id } "
        "downstreamProducts } }",
        {"id": world.change},
    )["changeImpact"]
    assert impact["affectedSkus"] == [world.sku_steel]
    assert impact["suppliers"] == [{"id": world.A}]
    assert impact["downstreamProducts"] == sorted([world.sku_part, world.product])
    cands = data(
        url,
        t,
        "query($c: String, $r: String) { candidatePartners(certification: $c, region: $r) "
        "{ enterprise { id } certifications } }",
        {"c": f"IATF {world.p}", "r": f"{world.p}region"},
    )["candidatePartners"]
    assert [c["enterprise"]["id"] for c in cands] == [world.B]
    tl = data(url, t, "query($id: ID!) { enterpriseTimeline(id: $id) { eventId writes } }", {"id": world.B})
    ids = {e["eventId"] for e in tl["enterpriseTimeline"]}
    assert f"{world.p}1" not in ids
    assert any(i.startswith(world.p) for i in ids)
    link = data(
        url,
        t,
        "query($s: ID!, $b: ID!) { linkTimeline(supplierId: $s, buyerId: $b) { eventId writes } }",
        {"s": world.A, "b": world.B},
    )["linkTimeline"]
    assert len(link) == 1
    assert link[0]["writes"] == [
        f"SUPPLIES:{world.sku_steel}:agreed",
        f"SUPPLIES:{world.sku_steel}:validity",
    ]
    kpis = data(url, t, "query($id: ID!) { supplierKpis(id: $id) { openOrders } }", {"id": world.A})
    assert kpis["supplierKpis"] is not None


def test_partner_sees_its_network_with_others_terms_hidden(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    url, t = server[0].url, keys["partner"]  # partner C, 3 tiers: sees B, A, E; not F (tier 4), not D
    up = data(url, t, NET % "upstream", {"id": world.C, "t": 5})["upstream"]
    assert {n["id"] for n in up["nodes"]} == {world.C, world.B, world.A, world.E}
    edges = {(e["supplierId"], e["buyerId"]): e for e in up["edges"]}
    assert edges[(world.B, world.C)]["share"] == 1.0
    assert edges[(world.B, world.C)]["redacted"] == []
    assert edges[(world.A, world.B)]["share"] is None
    assert edges[(world.A, world.B)]["redacted"] == ["share", "unitPrice", "annualVolume", "currency"]
    msg = error(url, t, "query($id: ID!) { enterprise(id: $id) { id } }", {"id": world.F})
    assert msg == f"enterprise {world.F} is outside your network (3 tiers around {world.C})"
    found = data(
        url, t, "query($r: String) { enterprises(region: $r) { totalCount } }", {"r": f"{world.p}region"}
    )
    assert found["enterprises"]["totalCount"] == 4
    assert data(url, t, "{ designProjects { id } }")["designProjects"] == [
        {"id": world.project}
    ]  # it owns it


# -- mutations -----------------------------------------------------------------------------------------

INGEST = """mutation($e: [JSON!]!) {
  ingestEvents(events: $e) { accepted refused { index eventId field reason } } }"""


def test_ingest_events_goes_to_events_raw_and_refuses_bad_ones(
    server: tuple[Server, Any], keys: dict[str, str], api_settings: Settings, run_id: str
) -> None:
    url = server[0].url
    raw_topic = bootstrap.topic_names(api_settings).raw
    starts = ends(api_settings, raw_topic)
    good = example_event("supply.agreed", event_id=f"{run_id}-ing-1")
    bad = example_event("supply.agreed", event_id=f"{run_id}-ing-2")
    bad["data"]["share"] = 7
    other_source = example_event("supply.agreed", event_id=f"{run_id}-ing-3")
    other_source["source"] = "someone-else"
    out = data(url, keys["erp"], INGEST, {"e": [good, bad, other_source]})["ingestEvents"]
    assert out["accepted"] == [f"{run_id}-ing-1"]
    assert out["refused"][0]["index"] == 1
    assert out["refused"][0]["eventId"] == f"{run_id}-ing-2"
    assert out["refused"][0]["field"] == "$.data.share"
    assert out["refused"][1] == {
        "index": 2,
        "eventId": f"{run_id}-ing-3",
        "field": "$.source",
        "reason": "source 'someone-else' is not this key's source 'sap-ecc/wisco'",
    }
    got = read_from(api_settings, raw_topic, starts, done=lambda ms: len(ms) >= 1)
    assert [orjson.loads(m.value())["id"] for m in got] == [f"{run_id}-ing-1"]
    assert "may not do this" in error(url, keys["analyst"], INGEST, {"e": [good]})


def test_report_and_resolve_disruption_become_events(
    server: tuple[Server, Any], keys: dict[str, str], api_settings: Settings, world: World
) -> None:
    url = server[0].url
    raw_topic = bootstrap.topic_names(api_settings).raw
    starts = ends(api_settings, raw_topic)
    rep = data(
        url,
        keys["analyst"],
        """mutation($id: String!, $e: String) { reportDisruption(disruptionId: $id, kind: "fire",
           severity: "high", expectedRecoveryDays: 5, enterpriseId: $e) }""",
        {"id": f"{world.p}dsr", "e": world.A},
    )["reportDisruption"]
    res = data(
        url,
        keys["analyst"],
        'mutation($id: String!) { resolveDisruption(disruptionId: $id, note: "ok") }',
        {"id": f"{world.p}dsr"},
    )["resolveDisruption"]
    got = read_from(api_settings, raw_topic, starts, done=lambda ms: len(ms) >= 2)
    evs = [orjson.loads(m.value()) for m in got]
    assert [(e["id"], e["type"]) for e in evs] == [(rep, "disruption.reported"), (res, "disruption.resolved")]
    assert evs[0]["data"]["enterprise_id"] == world.A
    msg = error(
        url,
        keys["analyst"],
        'mutation { reportDisruption(disruptionId: "x", kind: "meteor", '
        'severity: "high", expectedRecoveryDays: 1, region: "r") }',
    )
    assert msg.startswith("event refused: $.data.kind")


def test_incident_workflow(
    server: tuple[Server, Any], keys: dict[str, str], api_settings: Settings, run_id: str
) -> None:
    engine = bootstrap.sql_engine(api_settings)
    alert = Alert(
        id=f"{run_id}-alert",
        severity="high",
        enterprise=f"{run_id}-x",
        score=0.8,
        previous_score=0.2,
        reason="threshold",
        summary="score crossed 0.7",
        factors={},
    )
    with Session(engine) as s:
        inc_id = open_incident(s, alert=alert).id
    url, t = server[0].url, keys["analyst"]
    fields = "{ id state owner notes }"
    assert (
        data(url, t, f"mutation($i: Int!) {{ confirmIncident(id: $i) {fields} }}", {"i": inc_id})[
            "confirmIncident"
        ]["state"]
        == "confirmed"
    )
    assert (
        data(url, t, f'mutation($i: Int!) {{ assignIncident(id: $i, owner: "li") {fields} }}', {"i": inc_id})[
            "assignIncident"
        ]["owner"]
        == "li"
    )
    noted = data(
        url, t, f'mutation($i: Int!) {{ annotateIncident(id: $i, note: "called") {fields} }}', {"i": inc_id}
    )
    assert "called" in noted["annotateIncident"]["notes"]
    assert (
        data(url, t, f"mutation($i: Int!) {{ closeIncident(id: $i) {fields} }}", {"i": inc_id})[
            "closeIncident"
        ]["state"]
        == "restored"
    )
    msg = error(url, t, f"mutation($i: Int!) {{ confirmIncident(id: $i) {fields} }}", {"i": inc_id})
    assert "cannot move from restored to confirmed" in msg
    listed = data(url, t, "query($e: ID) { incidents(enterpriseId: $e) { id state } }", {"e": f"{run_id}-x"})
    assert listed["incidents"] == [{"id": inc_id, "state": "restored"}]


# -- subscriptions -------------------------------------------------------------------------------------


async def _subscribe(url: str, payload: dict[str, Any], query: str, variables: dict[str, Any]) -> Any:
    ws = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    )
    await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
    ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    await ws.send(
        orjson.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        ).decode()
    )
    return ws


async def _next(ws: Any) -> dict[str, Any]:
    msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
    assert msg["type"] == "next", msg
    return dict(msg["payload"])


def test_subscriptions_need_credentials_at_connection_init(server: tuple[Server, Any]) -> None:
    async def run() -> None:
        ws = await websockets.connect(
            server[0].url.replace("http", "ws") + "/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        )
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {"token": "sn_bad_bad"}}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403

    asyncio.run(run())


def test_graph_changes_and_risk_alerts_stream_from_kafka(
    server: tuple[Server, Any], keys: dict[str, str], api_settings: Settings, world: World, run_id: str
) -> None:
    names = bootstrap.topic_names(api_settings)
    conf = api_settings.kafka.librdkafka()

    async def run() -> None:
        gc = await _subscribe(
            server[0].url,
            {"authorization": f"Bearer {keys['partner']}"},
            """subscription($id: ID!) { graphChanges(enterpriseId: $id, tiers: 2) {
                eventId nodes { label key } relationships { type start end key } } }""",
            {"id": world.C},
        )
        alerts = await _subscribe(
            server[0].url,
            {"token": keys["analyst"]},
            'subscription { riskAlerts(filter: {minSeverity: "high"}) { id enterpriseId severity score } }',
            {},
        )
        await asyncio.sleep(2)  # both consumers positioned at the end
        outside = example_event("supply.agreed", event_id=f"{run_id}-gc-0")
        outside["data"].update(supplier_id=f"{run_id}-zz1", buyer_id=f"{run_id}-zz2")
        inside = example_event("supply.agreed", event_id=f"{run_id}-gc-1")
        inside["data"].update(supplier_id=f"{run_id}-new", buyer_id=world.B, sku=f"{run_id}-bolt")
        outside["subject"], inside["subject"] = f"{run_id}-zz2", world.B
        # Through the projector: the subscription streams what the graph committed (graph.changes).
        await project_events(api_settings, [outside, inside], group=f"{run_id}-api-gc")
        low = {"id": f"{run_id}-a1", "enterprise": world.A, "severity": "medium", "score": 0.5}
        high = {"id": f"{run_id}-a2", "enterprise": world.A, "severity": "critical", "score": 0.95}
        EventProducer(conf, names.alerts).send_many(
            [Record(key=None, value=orjson.dumps(a)) for a in (low, high)]
        )
        change = (await _next(gc))["data"]["graphChanges"]
        assert change["eventId"] == f"{run_id}-gc-1"
        assert change["relationships"] == [
            {"type": "SUPPLIES", "start": f"{run_id}-new", "end": world.B, "key": f"{run_id}-bolt"}
        ]
        alert = (await _next(alerts))["data"]["riskAlerts"]
        assert alert == {"id": f"{run_id}-a2", "enterpriseId": world.A, "severity": "critical", "score": 0.95}
        await gc.close()
        await alerts.close()

    try:
        asyncio.run(run())
    finally:
        asyncio.run(
            forget(
                api_settings,
                ids=[f"{run_id}-zz1", f"{run_id}-zz2", f"{run_id}-new"],
                skus=[f"{run_id}-bolt", example_event("supply.agreed")["data"]["sku"]],
            )
        )


# -- no N+1 --------------------------------------------------------------------------------------------


def test_round_trips_are_bounded_and_independent_of_result_size(
    server: tuple[Server, CountingDriver], keys: dict[str, str], world: World
) -> None:
    srv, driver = server
    q = """query($r: String, $n: Int!) { enterprises(first: $n, region: $r) { edges { node { id
          suppliers { sku partner { name } } customers { sku } kpis { openOrders } } } } }"""

    def trips(n: int) -> int:
        before = driver.calls
        got = data(srv.url, keys["analyst"], q, {"r": f"{world.p}region", "n": n})
        assert len(got["enterprises"]["edges"]) == n
        return driver.calls - before

    assert trips(1) == trips(6) == 4  # search, suppliers, customers, kpis: one batched read each
    before = driver.calls
    data(srv.url, keys["analyst"], NET % "upstream", {"id": world.C, "t": 5})
    assert driver.calls - before == 1
    assert date.today()  # the views default to today


def test_requests_outside_the_fast_path_get_the_routers_answers(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    """``api.app.GraphQLFastPath`` serves plain JSON posts; anything else reaches strawberry's router."""
    url, h = server[0].url, {"Authorization": f"Bearer {keys['analyst']}"}
    post = lambda body: httpx.post(  # noqa: E731
        f"{url}/graphql", content=body, headers={**h, "content-type": "application/json"}, timeout=30
    )
    r = post(b"{not json")
    assert (r.status_code, r.text) == (400, "Unable to parse request body as JSON")
    r = post(orjson.dumps([{"query": "{ __typename }"}]))
    assert r.status_code == 400
    assert "batch" in r.text.lower()
    r = post(orjson.dumps({"query": "subscription { riskAlerts { id } }"}))
    assert r.json()["data"] is None and r.json()["errors"]  # subscriptions are served over websockets
    # an unknown operation name: nothing ran, the router explains
    r = post(orjson.dumps({"query": "query A { __typename }", "operationName": "B"}))
    assert r.status_code == 400
    assert "B" in r.text
    # the same query through the fast path (JSON) and the router (GET) answers alike
    q = "query($id: ID!) { enterprise(id: $id) { id name } }"
    fast = post(orjson.dumps({"query": q, "variables": {"id": world.A}})).json()
    slow = httpx.get(
        f"{url}/graphql",
        params={"query": q, "variables": orjson.dumps({"id": world.A}).decode()},
        headers=h,
        timeout=30,
    ).json()
    assert fast == slow == {"data": {"enterprise": {"id": world.A, "name": "武汉钢铁"}}}
