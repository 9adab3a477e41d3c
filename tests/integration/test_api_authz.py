"""Authorization of the GraphQL API against the real stack (Neo4j + Kafka), generated from the schema.

The matrix walks the schema (``api.schema``): every root query field, every nested path from it that
reaches an ``Enterprise`` (up to a depth), written plainly, with fragments and with aliases; every role
(admin, analyst, erp, a partner asking inside and outside its network); and every kind of bad
credential. A root field without a case here fails ``test_every_root_field_has_a_case``, so a new
field is covered the day it is added. Then the partner's subscriptions over graphql-transport-ws, and
Cypher injection through every String/ID argument of every root field.

The world (partner tiers = 3), material flowing left to right::

    FAR → U3 → U2 → U1 → P → D1          P: the partner's enterprise
                   U1 → SIB               SIB: a sibling customer of P's supplier (outside)
                    Y → D1                Y: another supplier of P's customer (outside)

In the partner's network: P, U1, U2, U3 (tier 3), D1. Outside: FAR (tier 4), SIB, Y, LONE. Every id and
name outside carries the marker ``zzout``; every link P is not a party to carries commercial markers
(share 0.4321, unit price 777.77, annual volume 424242, currency XTS) that a partner must never read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pydantic
import pytest
import websockets

from api.keys import create_key, revoke_key
from connectors.kafka import EventProducer, Record, ensure_topics
from graph.mutations import to_mutations
from graph.writer import GraphWriter
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.test_api import (
    ISSUER,
    SECRET,
    CountingDriver,
    Server,
    _event,
    counting_server,
    gql,
)

OUT = "zzout"
MARKERS = ("0.4321", "777.77", "424242", "XTS")
"""Commercial terms of links the partner is not a party to, as they appear in a JSON answer."""


class AuthzWorld:
    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-az-"
        self.p = p
        self.P, self.U1, self.U2, self.U3, self.D1 = (p + x for x in ("p", "u1", "u2", "u3", "d1"))
        self.FAR, self.SIB, self.Y, self.LONE = (p + OUT + x for x in ("far", "sib", "y", "lone"))
        self.inside = [self.P, self.U1, self.U2, self.U3, self.D1]
        self.outside = [self.FAR, self.SIB, self.Y, self.LONE]
        self.region = f"{p}region"
        evs: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}

        def add(t: str, d: dict[str, Any], name: str | None = None) -> None:
            ev = _event(run_id, 7000 + len(evs), t, d)
            ev["id"] = f"{p}ev{len(evs)}"
            evs.append(ev)
            if name:
                self.ids[name] = ev["id"]

        for eid in self.inside + self.outside:
            label = f"外部 {OUT.upper()} {eid[-4:]}" if OUT in eid else f"伙伴 {eid[-2:]}"
            add(
                "partner.registered",
                {
                    "enterprise_id": eid,
                    "name": label,
                    "industry": "steel",
                    "region": self.region,
                    "country": "CN",
                },
            )

        def supply(s: str, b: str, name: str) -> None:
            party = self.P in (s, b)
            add(
                "supply.agreed",
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": f"{p}sku-{name}",
                    "share": 0.9 if party else 0.4321,
                    "lead_time_days": 14,
                    "valid_from": "2025-01-01",
                    "unit_price": 100.0 if party else 777.77,
                    "currency": "CNY" if party else "XTS",
                    "annual_volume": 1000 if party else 424242,
                },
                name,
            )

        supply(self.FAR, self.U3, "far-u3")
        supply(self.U3, self.U2, "u3-u2")
        supply(self.U2, self.U1, "u2-u1")
        supply(self.U1, self.P, "u1-p")
        supply(self.P, self.D1, "p-d1")
        supply(self.U1, self.SIB, "u1-sib")
        supply(self.Y, self.D1, "y-d1")

        def order(o: str, s: str, b: str) -> None:
            add(
                "order.placed",
                {
                    "order_id": f"{p}{o}",
                    "buyer_id": b,
                    "supplier_id": s,
                    "sku": f"{p}sku-{o}",
                    "quantity": 10,
                    "requested_date": "2026-07-01",
                },
                o,
            )

        order("ord-u1-sib", self.U1, self.SIB)
        order("ord-u2-u1", self.U2, self.U1)
        self.events = evs


@pytest.fixture(scope="module")
def az_settings(stack: Settings, run_id: str) -> Settings:
    s = stack.model_copy(
        update={
            "api": stack.api.model_copy(
                update={
                    "jwt_issuer": ISSUER,
                    "jwt_audience": "supplynet",
                    "jwt_hs256_secret": pydantic.SecretStr(SECRET),
                    "partner_tiers": 3,
                }
            ),
            "stream": stack.stream.model_copy(update={"topic_prefix": f"aztest-{run_id}."}),
        }
    )
    ensure_topics(s.kafka.librdkafka(), bootstrap.topic_specs(s))
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    return s


@pytest.fixture(scope="module")
def azworld(az_settings: Settings, run_id: str) -> AuthzWorld:
    w = AuthzWorld(run_id)

    async def load() -> None:
        driver = bootstrap.async_driver(az_settings)
        try:
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
        finally:
            await driver.close()

    asyncio.run(load())
    return w


@pytest.fixture(scope="module")
def azserver(az_settings: Settings, azworld: AuthzWorld) -> Iterator[tuple[Server, CountingDriver]]:
    yield from counting_server(az_settings)


@pytest.fixture(scope="module")
def azkeys(az_settings: Settings, azworld: AuthzWorld, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(az_settings)
    revoked, revoked_token = create_key(engine, name=f"{run_id}-az-revoked", role=Role.ADMIN)
    assert revoke_key(engine, prefix=revoked.prefix)
    return {
        "admin": create_key(engine, name=f"{run_id}-az-admin", role=Role.ADMIN)[1],
        "analyst": create_key(engine, name=f"{run_id}-az-analyst", role=Role.ANALYST)[1],
        "erp": create_key(engine, name=f"{run_id}-az-erp", role=Role.ERP, source="sap/az")[1],
        "partner": create_key(engine, name=f"{run_id}-az-p", role=Role.PARTNER, enterprise_id=azworld.P)[1],
        "revoked": revoked_token,
    }


def _answer(url: str, token: str, query: str) -> dict[str, Any]:
    r = gql(url, token, query)
    assert r.status_code == 200, (query, r.text)
    return dict(r.json())


def _leaks(body: dict[str, Any]) -> list[str]:
    """Out-of-network ids or names and others' commercial terms found in an answer's data."""
    text = orjson.dumps(body.get("data")).decode()
    return [m for m in (OUT, *MARKERS) if m.lower() in text.lower()]


# -- the findings, each first as a failing test --------------------------------------------------------


def test_partner_cannot_reach_outside_its_network_through_nesting_fragments_or_aliases(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, t, w = azserver[0].url, azkeys["partner"], azworld
    leaf = "id name riskScore kpis { openOrders }"
    chains = [
        f'{{ enterprise(id: "{w.P}") {{ {a} {{ partner {{ {b} {{ partner {{ {leaf} }} }} }} }} }} }}'
        for a, b in (("suppliers", "customers"), ("customers", "suppliers"))
    ]
    others = [
        f'{{ enterprise(id: "{w.U3}") {{ suppliers {{ share partner {{ {leaf} suppliers {{ partner {{ id }} }} }} }} }} }}',
        f"""{{ enterprise(id: "{w.P}") {{ ...Up }} }}
            fragment Up on Enterprise {{ suppliers {{ partner {{ ... on Enterprise {{ customers {{
              partner {{ ...Leaf }} }} }} }} }} }}
            fragment Leaf on Enterprise {{ {leaf} }}""",
        f"""{{ a: enterprise(id: "{w.D1}") {{ b: suppliers {{ c: partner {{ d: name e: id
              f: customers {{ g: partner {{ h: name }} }} }} }} }} }}""",
        f"""{{ enterprises(first: 5, region: "{w.region}") {{ edges {{ node {{ customers {{ partner {{
              suppliers {{ partner {{ id name }} }} }} }} }} }} }} }}""",
    ]
    for query in [*chains, *others]:
        body = _answer(url, t, query)
        assert not body.get("errors"), body
        assert _leaks(body) == [], (query, body["data"])
    # what an analyst reads through the same chain (so the partner's answers above are not empty by
    # accident): the sibling and the far supplier
    body = _answer(
        url, azkeys["analyst"], f'{{ enterprise(id: "{w.U3}") {{ suppliers {{ partner {{ id }} }} }} }}'
    )
    assert body["data"]["enterprise"]["suppliers"] == [{"partner": {"id": w.FAR}}]


def test_partner_timeline_lists_only_links_and_orders_inside_its_network(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, w = azserver[0].url, azworld
    q = f'{{ enterpriseTimeline(id: "{w.U1}") {{ eventId writes }} }}'
    seen = {
        e["eventId"]: e["writes"] for e in _answer(url, azkeys["analyst"], q)["data"]["enterpriseTimeline"]
    }
    assert {w.ids["u1-sib"], w.ids["ord-u1-sib"], w.ids["u2-u1"], w.ids["ord-u2-u1"]} <= set(seen)
    body = _answer(url, azkeys["partner"], q)
    assert not body.get("errors"), body
    mine = {e["eventId"]: e["writes"] for e in body["data"]["enterpriseTimeline"]}
    assert w.ids["u1-sib"] not in mine
    assert w.ids["ord-u1-sib"] not in mine
    assert {w.ids["u2-u1"], w.ids["u1-p"], w.ids["ord-u2-u1"]} <= set(mine)
    assert _leaks(body) == []


async def _subscribe(url: str, token: str, query: str) -> Any:
    ws = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    )
    await ws.send(orjson.dumps({"type": "connection_init", "payload": {"token": token}}).decode())
    ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).decode())
    return ws


async def _next(ws: Any) -> dict[str, Any]:
    msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
    assert msg["type"] == "next", msg
    return dict(msg["payload"])


def _valid(ev: dict[str, Any]) -> Record:
    """One key for all: one partition, so the subscriber reads them in the order sent."""
    return Record(key=b"authz", value=orjson.dumps(ev))


def test_partner_graph_changes_stay_inside_its_network_whatever_tiers_it_asks(
    azserver: tuple[Server, Any], azkeys: dict[str, str], az_settings: Settings, azworld: AuthzWorld
) -> None:
    w, names = azworld, bootstrap.topic_names(az_settings)

    def ev(n: int, event_type: str, **data: Any) -> dict[str, Any]:
        e = example_event(event_type, event_id=f"{w.p}gc-{n}")
        e["data"].update(data)
        e["subject"] = e["data"]["buyer_id"]
        return e

    async def run() -> None:
        q = f'subscription {{ graphChanges(enterpriseId: "{w.P}", tiers: 8) {{ eventId }} }}'
        sub = await _subscribe(azserver[0].url, azkeys["partner"], q)
        await asyncio.sleep(2)
        EventProducer(az_settings.kafka.librdkafka(), names.valid).send_many(
            [
                _valid(ev(1, "order.placed", order_id=f"{w.p}o-far", supplier_id=w.FAR, buyer_id=w.U3)),
                _valid(ev(2, "supply.agreed", supplier_id=w.FAR, buyer_id=w.LONE, sku=f"{w.p}far-lone")),
                _valid(ev(3, "supply.agreed", supplier_id=w.SIB, buyer_id=w.Y, sku=f"{w.p}sib-y")),
                # a new supplier of U2 (tier 2) is tier 3: inside; a new supplier of U3 is tier 4: outside
                _valid(ev(4, "supply.agreed", supplier_id=f"{w.p}new4", buyer_id=w.U3, sku=f"{w.p}n4")),
                _valid(ev(5, "supply.agreed", supplier_id=f"{w.p}new3", buyer_id=w.U2, sku=f"{w.p}n3")),
                _valid(ev(6, "order.placed", order_id=f"{w.p}o-in", supplier_id=w.U2, buyer_id=w.U1)),
            ]
        )
        got = [(await _next(sub))["data"]["graphChanges"]["eventId"] for _ in range(2)]
        assert got == [f"{w.p}gc-5", f"{w.p}gc-6"]
        await sub.close()

    asyncio.run(run())


def test_partner_risk_alerts_carry_factors_of_its_own_enterprise_only(
    azserver: tuple[Server, Any], azkeys: dict[str, str], az_settings: Settings, azworld: AuthzWorld
) -> None:
    w, names = azworld, bootstrap.topic_names(az_settings)
    factors = {"performance": {"score": 0.9, "reasons": ["otif 0.4321 over 90 days"]}}

    def alert(n: int, eid: str) -> dict[str, Any]:
        return {
            "id": f"{w.p}al-{n}",
            "enterprise": eid,
            "severity": "high",
            "score": 0.8,
            "reason": "threshold",
            "summary": "risk score 0.80 crossed 0.70: performance 0.90 (otif 0.4321 over 90 days)",
            "factors": factors,
            "affectedCount": 2,
        }

    async def run() -> None:
        q = "subscription { riskAlerts { id enterpriseId score summary factors redacted } }"
        sub = await _subscribe(azserver[0].url, azkeys["partner"], q)
        await asyncio.sleep(2)
        EventProducer(az_settings.kafka.librdkafka(), names.alerts).send_many(
            [Record(key=None, value=orjson.dumps(alert(n, e))) for n, e in enumerate((w.FAR, w.U1, w.P))]
        )
        other = (await _next(sub))["data"]["riskAlerts"]
        assert (other["id"], other["factors"], other["redacted"]) == (
            f"{w.p}al-1",
            None,
            ["factors", "summary"],
        )
        assert "0.4321" not in other["summary"]
        own = (await _next(sub))["data"]["riskAlerts"]
        assert (own["id"], own["factors"], own["redacted"]) == (f"{w.p}al-2", factors, [])
        await sub.close()

    asyncio.run(run())
