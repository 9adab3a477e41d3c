"""The API's limits and operations over HTTP against the real stack: cost with variables, bounded size
arguments, the spec's operation choice, a time bound that cuts a slow query while others are served,
mutation rate, immediate key revocation, production mode, /metrics, a quiet log, and 503 while Neo4j
is down (the last test; it starts Neo4j again)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import neo4j
import orjson
import pytest
from pydantic import SecretStr

from api.keys import create_key, revoke_key
from schema.examples import example_event
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.integration.test_api import (  # the API tests' fixtures and helpers
    Server,
    World,
    _jwt,
    api_settings,
    error,
    gql,
    keys,
    server,
    world,
)

__all__ = ["api_settings", "keys", "server", "world"]

NESTED = "edges { node { suppliers { partner { suppliers { partner { id name } } } } } }"
LOOKUP = "query Lookup($id: ID!) { enterprise(id: $id) { id name } }"


def with_api(settings: Settings, **api: Any) -> Settings:
    return settings.model_copy(update={"api": settings.api.model_copy(update=api)})


# -- cost, sizes, operations -----------------------------------------------------------------------------


def test_a_page_size_from_a_variable_default_is_costed_like_a_literal(
    server: tuple[Server, Any], keys: dict[str, str]
) -> None:
    url, t = server[0].url, keys["analyst"]
    by_default = f"query($n: Int = 500) {{ a: enterprises(first: $n) {{ {NESTED} }} }}"
    literal = f"{{ a: enterprises(first: 500) {{ {NESTED} }} }}"
    for q in (by_default, literal):
        r = gql(url, t, q)
        body = r.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert "exceeds the limit of 50000" in body["errors"][0]["message"]
    costs = {gql(url, t, q).json()["errors"][0]["extensions"]["cost"] for q in (by_default, literal)}
    assert len(costs) == 1
    small = gql(url, t, f"query($n: Int = 5) {{ a: enterprises(first: $n) {{ {NESTED} }} }}").json()
    assert not small.get("errors")


def test_size_arguments_out_of_range_are_client_errors(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    url, t = server[0].url, keys["analyst"]
    q = "query($s: String!, $m: Int!) { productChain(sku: $s, maxNodes: $m) { sku } }"
    for m in (-1, 0, 10**9):
        msg = error(url, t, q, {"s": world.product, "m": m})
        assert msg == f"maxNodes must be between 1 and 20000, got {m} (Query.productChain)"
    got = gql(url, t, q, {"s": world.product, "m": 20_000}).json()
    assert not got.get("errors")
    assert {c["sku"] for c in got["data"]["productChain"]} >= {world.product, world.sku_part}
    assert error(url, t, "{ incidents(first: -5) { id } }").startswith("first must be between 1 and 1000")


def test_several_operations_need_an_operation_name(
    server: tuple[Server, Any], keys: dict[str, str], world: World
) -> None:
    url, h = server[0].url, {"Authorization": f"Bearer {keys['analyst']}"}
    doc = (
        f'query A {{ enterprise(id: "{world.A}") {{ id }} }} '
        f'query B {{ enterprise(id: "{world.B}") {{ id }} }}'
    )
    fast = httpx.post(f"{url}/graphql", json={"query": doc}, headers=h, timeout=30).json()
    routed = httpx.get(f"{url}/graphql", params={"query": doc}, headers=h, timeout=30).json()
    for body in (fast, routed):
        assert body["data"] is None
        assert body["errors"][0]["message"] == (
            "Must provide operation name if query contains multiple operations."
        )
    named = httpx.post(f"{url}/graphql", json={"query": doc, "operationName": "B"}, headers=h, timeout=30)
    assert named.json() == {"data": {"enterprise": {"id": world.B}}}


# -- time bound -----------------------------------------------------------------------------------------


@pytest.fixture
def deep_bom(api_settings: Settings, run_id: str) -> Iterator[str]:
    """A bill of materials 8 levels deep, 7 materials wide, every material a component of every material
    of the level above: 7^8 paths from the raw materials to the product (a minute and more of Neo4j's
    path expansion for ``productChain(tiers: 8)``). Yields the product's sku."""
    prefix = f"{run_id}-deepbom-"

    async def run(statement: str, **params: Any) -> None:
        driver = bootstrap.async_driver(api_settings)
        try:
            await driver.execute_query(statement, params)
        finally:
            await driver.close()

    asyncio.run(
        run(
            """UNWIND range(0, 8) AS level UNWIND range(0, 6) AS i WITH level, i WHERE level > 0 OR i = 0
               CREATE (:Material {sku: $p + level + '-' + i, level: level})""",
            p=prefix,
        )
    )
    asyncio.run(
        run(
            """MATCH (a:Material), (b:Material)
               WHERE a.sku STARTS WITH $p AND b.sku STARTS WITH $p AND a.level = b.level + 1
               CREATE (a)-[:COMPONENT_OF {qty: 1}]->(b)""",
            p=prefix,
        )
    )
    yield f"{prefix}0-0"

    async def clean() -> None:
        driver = bootstrap.async_driver(api_settings)
        try:
            await driver.execute_query(
                "MATCH (m:Material) WHERE m.sku STARTS WITH $p DETACH DELETE m", p=prefix
            )
        finally:
            await driver.close()

    asyncio.run(clean())


def _running_chain_queries(settings: Settings) -> int:
    async def count() -> int:
        driver = bootstrap.async_driver(settings)
        try:
            records, _, _ = await driver.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery "
                "WHERE currentQuery CONTAINS $chain AND NOT currentQuery STARTS WITH 'SHOW' "
                "RETURN count(*) AS n",
                chain="COMPONENT_OF*0..8",
            )
            return int(records[0]["n"])
        finally:
            await driver.close()

    return asyncio.run(count())


def test_a_slow_query_is_cut_at_the_time_bound_and_others_are_served(
    api_settings: Settings, keys: dict[str, str], world: World, deep_bom: str
) -> None:
    # 10 s: long enough that the three lookups are answered while the slow query still runs, even on a
    # loaded machine (the bill of materials takes Neo4j over a minute).
    settings = with_api(api_settings, request_timeout_s=10.0)
    with Server(bootstrap.api_app(settings)) as srv:
        slow: dict[str, Any] = {}

        def run_slow() -> None:
            r = gql(
                srv.url,
                keys["analyst"],
                "query($s: String!) { productChain(sku: $s, tiers: 8) { sku } }",
                {"s": deep_bom},
            )
            slow["response"], slow["done"] = r, time.monotonic()

        thread = threading.Thread(target=run_slow)
        thread.start()
        time.sleep(0.5)
        lookups = [gql(srv.url, keys["analyst"], LOOKUP, {"id": world.A}) for _ in range(3)]
        served_at = time.monotonic()
        thread.join(60)
        assert not thread.is_alive()
        assert [r.json() for r in lookups] == [
            {"data": {"enterprise": {"id": world.A, "name": "武汉钢铁"}}}
        ] * 3
        assert served_at < slow["done"]  # the lookups were answered while the slow query ran
        body = slow["response"].json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT"
        # Neo4j stopped the transaction too (its own timeout, or the closed connection)
        deadline = time.monotonic() + 15
        while _running_chain_queries(api_settings) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _running_chain_queries(api_settings) == 0


# -- mutations, keys --------------------------------------------------------------------------------------


def test_mutations_are_rate_limited_per_key(
    api_settings: Settings, keys: dict[str, str], world: World, run_id: str
) -> None:
    settings = with_api(api_settings, mutation_rate="2/minute")
    other = create_key(bootstrap.sql_engine(api_settings), name=f"{run_id}-erp2", role=Role.ERP, source="s2")[
        1
    ]
    empty = "mutation { ingestEvents(events: []) { accepted } }"
    with Server(bootstrap.api_app(settings)) as srv:
        for _ in range(2):  # run (and refused by the resolver: nothing to send), not rate-limited
            r = gql(srv.url, keys["erp"], empty)
            assert (r.status_code, r.json()["errors"][0]["message"]) == (200, "events must not be empty")
        refused = gql(srv.url, keys["erp"], empty)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        err = refused.json()["errors"][0]
        assert err["extensions"]["code"] == "RATE_LIMITED"
        assert err["message"].startswith("mutation rate limit of 2/minute for this key reached; retry in")
        # queries are not counted, and another key has a window of its own
        assert gql(srv.url, keys["analyst"], LOOKUP, {"id": world.A}).status_code == 200
        assert gql(srv.url, other, empty).status_code == 200


def test_a_revoked_key_is_refused_on_the_next_request(
    server: tuple[Server, Any], api_settings: Settings, world: World, run_id: str
) -> None:
    engine = bootstrap.sql_engine(api_settings)
    row, token = create_key(engine, name=f"{run_id}-short-lived", role=Role.ANALYST)
    url = server[0].url
    assert gql(url, token, LOOKUP, {"id": world.A}).status_code == 200
    assert revoke_key(engine, prefix=row.prefix)
    r = gql(url, token, LOOKUP, {"id": world.A})
    assert (r.status_code, r.json()["detail"]) == (401, "unknown or revoked API key")


# -- production mode ----------------------------------------------------------------------------------


def test_production_refuses_introspection_and_graphiql_and_masks_internal_errors(
    api_settings: Settings,
) -> None:
    # Neo4j refusing an unknown user is a real internal error: masked in production, shown in development.
    port = api_settings.neo4j.local_bolt_port
    refused_neo4j = api_settings.neo4j.model_copy(
        update={"uri": f"bolt://127.0.0.1:{port}", "user": "nobody", "password": SecretStr("wrong")}
    )
    dev = api_settings.model_copy(update={"neo4j": refused_neo4j})
    prod = dev.model_copy(update={"environment": "production"})  # JWT auth: SQLite is not touched
    admin = _jwt({"role": "admin"})
    with Server(bootstrap.api_app(prod)) as p, Server(bootstrap.api_app(dev)) as d:
        assert "introspection" in error(p.url, admin, "{ __schema { types { name } } }").lower()
        assert gql(d.url, admin, "{ __schema { queryType { name } } }").json() == {
            "data": {"__schema": {"queryType": {"name": "Query"}}}
        }
        page = {"Accept": "text/html"}
        assert httpx.get(f"{p.url}/graphql", headers=page, timeout=10).status_code in (401, 404)
        dev_page = httpx.get(f"{d.url}/graphql", headers=page, timeout=10)
        assert dev_page.status_code == 200
        assert "graphiql" in dev_page.text.lower()
        masked = gql(p.url, admin, '{ enterprise(id: "x") { id } }').json()["errors"][0]
        assert masked == {
            "message": "internal error; see the server log",
            "locations": [{"line": 1, "column": 3}],
            "path": ["enterprise"],
            "extensions": {"code": "INTERNAL_ERROR"},
        }
        shown = gql(d.url, admin, '{ enterprise(id: "x") { id } }').json()["errors"][0]
        assert shown["message"].startswith("internal error: AuthError:")
        assert shown["extensions"] == {"code": "INTERNAL_ERROR", "exception": "AuthError"}


# -- operations --------------------------------------------------------------------------------------------


def test_metrics_count_operations_latency_errors_and_ingest(
    api_settings: Settings, keys: dict[str, str], world: World, run_id: str
) -> None:
    with Server(bootstrap.api_app(api_settings)) as srv:
        for _ in range(3):
            gql(srv.url, keys["analyst"], LOOKUP, {"id": world.A})
        error(srv.url, keys["analyst"], '{ productChain(sku: "x", maxNodes: -1) { sku } }')
        for i in range(5):  # client-chosen names: bounded (the first 100 get a label of their own)
            gql(srv.url, keys["analyst"], f"query Name{i} {{ __typename }}")
        good = example_event("supply.agreed", event_id=f"{run_id}-metrics-1")
        bad = example_event("supply.agreed", event_id=f"{run_id}-metrics-2")
        bad["data"]["share"] = 7
        r = httpx.post(
            f"{srv.url}/v1/events",
            content=orjson.dumps([good, bad]),
            headers={"Authorization": f"Bearer {keys['erp']}", "Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        good["id"], bad["id"] = f"{run_id}-metrics-3", f"{run_id}-metrics-4"
        ingest = "mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted } }"
        assert gql(srv.url, keys["erp"], ingest, {"e": [good, bad]}).status_code == 200
        text = httpx.get(f"{srv.url}/metrics", timeout=10).text
    assert 'supplynet_graphql_operations_total{operation="Lookup",type="query"} 3.0' in text
    assert 'supplynet_graphql_operation_seconds_count{operation="Lookup",type="query"} 3.0' in text
    assert 'supplynet_graphql_operation_seconds_bucket{le="0.5",operation="Lookup",type="query"}' in text
    assert (
        'supplynet_graphql_errors_total{code="ARGUMENT_OUT_OF_RANGE",operation="anonymous",type="query"} 1.0'
        in text
    )
    assert 'supplynet_graphql_operations_total{operation="Name4",type="query"} 1.0' in text
    assert 'supplynet_http_responses_total{route="/graphql",status="200"}' in text
    assert 'supplynet_ingest_events_total{outcome="accepted",via="http"} 1.0' in text
    assert 'supplynet_ingest_events_total{outcome="refused",via="http"} 1.0' in text
    assert 'supplynet_ingest_events_total{outcome="accepted",via="graphql"} 1.0' in text
    assert 'supplynet_ingest_events_total{outcome="refused",via="graphql"} 1.0' in text


def test_the_driver_does_not_log_unknown_property_keys_as_warnings(
    api_settings: Settings, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = f"MATCH (e:Enterprise) WHERE e.id = $id RETURN e.neverSeen{run_id} AS x"

    async def read(driver: neo4j.AsyncDriver) -> None:
        try:
            await driver.execute_query(query, id="x")
        finally:
            await driver.close()

    with caplog.at_level(logging.INFO, logger="neo4j.notifications"):
        uri, auth = bootstrap.neo4j_auth(api_settings)
        asyncio.run(read(neo4j.AsyncGraphDatabase.driver(uri, auth=auth)))
        unfiltered = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert unfiltered, "an unfiltered driver logs the notification (the check below can fail)"
        caplog.clear()
        asyncio.run(read(bootstrap.async_driver(api_settings)))
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_healthy_api_logs_no_warnings(
    server: tuple[Server, Any], keys: dict[str, str], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every view once (each of its Cypher reads), refusals included: nothing at WARNING or above."""
    url, t = server[0].url, keys["admin"]
    views = [
        (
            "query($id: ID!) { enterprise(id: $id) { id suppliers { sku riskFactors partner { id } } "
            "customers { sku } kpis { openOrders daysOfCover } } }",
            {"id": world.B},
        ),
        ('{ enterprises(first: 5, name: "wuhan", orderBy: NAME) { totalCount edges { node { id } } } }', {}),
        (
            "query($id: ID!) { upstream(id: $id, tiers: 5) { nodeCount } downstream(id: $id) { nodeCount } }",
            {"id": world.B},
        ),
        (
            "query($a: ID!, $b: ID!) { paths(source: $a, target: $b) { nodes { id } } }",
            {"a": world.F, "b": world.C},
        ),
        (
            "query($s: String!) { productChain(sku: $s, tiers: 8) { sku suppliers { id } } }",
            {"s": world.product},
        ),
        ("query($id: ID!) { supplierKpis(id: $id) { openOrders } }", {"id": world.A}),
        ("{ designProjects { id revisions { id } changeRequests { id } } }", {}),
        (
            "query($c: ID!) { changeImpact(changeRequestId: $c) { affectedSkus suppliers { id } } }",
            {"c": world.change},
        ),
        ('{ candidatePartners(capability: "stamping") { enterprise { id } } }', {}),
        ("query($id: ID!) { enterpriseTimeline(id: $id) { eventId } }", {"id": world.B}),
        (
            "query($s: ID!, $b: ID!) { linkTimeline(supplierId: $s, buyerId: $b) { eventId } }",
            {"s": world.A, "b": world.B},
        ),
        ("{ riskyNodes(first: 5) { enterprise { id } } incidents(first: 5) { id } }", {}),
        ('{ productChain(sku: "x", maxNodes: -1) { sku } }', {}),
        ('{ enterprise(id: "x") { noSuchField } }', {}),
    ]
    with caplog.at_level(logging.INFO):
        for q, v in views:
            r = gql(url, t, q, v)
            assert r.status_code == 200, r.text
    loud = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == []


# -- Neo4j down (last: it stops and starts the stack's Neo4j) ------------------------------------------


@pytest.mark.timeout(600)
def test_graphql_says_503_graph_store_unavailable_while_neo4j_is_down(
    server: tuple[Server, Any], keys: dict[str, str], api_settings: Settings, world: World
) -> None:
    manager = StackManager(api_settings, echo=lambda m: print(f"[stack] {m}"))
    if not manager.managed("neo4j"):
        pytest.skip("Neo4j is a configured server, not the local stack's: not stopped by a test")
    url, t = server[0].url, keys["analyst"]
    assert gql(url, t, LOOKUP, {"id": world.A}).status_code == 200
    manager.down(["neo4j"])
    try:
        r = gql(url, t, LOOKUP, {"id": world.A})
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        err = r.json()["errors"][0]
        assert err["message"] == "graph store unavailable: Neo4j does not answer; retry in 5 s"
        assert err["extensions"] == {"code": "GRAPH_STORE_UNAVAILABLE", "retryAfter": 5}
        routed = httpx.get(
            f"{url}/graphql",
            params={"query": LOOKUP, "variables": orjson.dumps({"id": world.A}).decode()},
            headers={"Authorization": f"Bearer {t}"},
            timeout=30,
        )
        assert (routed.status_code, routed.headers["Retry-After"]) == (503, "5")
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 503
    finally:
        manager.up(["neo4j"])
    deadline = time.monotonic() + 60
    while gql(url, t, LOOKUP, {"id": world.A}).status_code != 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert gql(url, t, LOOKUP, {"id": world.A}).json() == {
        "data": {"enterprise": {"id": world.A, "name": "武汉钢铁"}}
    }
