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
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import graphql
import jwt
import orjson
import pydantic
import pytest
import websockets

from api.keys import create_key, revoke_key
from connectors.kafka import EventProducer, Record, ensure_topics
from connectors.record_store import RecordStore
from graph.mutations import to_mutations
from graph.registry import record_rows
from graph.writer import GraphWriter
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.changes_support import forget, project_events
from tests.integration.schema_matrix import (
    enterprise_fields,
    enterprise_paths,
    path_query,
    root_query,
    served_schema,
    string_arguments,
)
from tests.integration.test_api import (
    ISSUER,
    SECRET,
    CountingDriver,
    Server,
    _event,
    _jwt,
    counting_server,
    gql,
)
from tests.records_world import flow

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
                    "unit_price": 777.77,  # the commercial marker of orders P is not party to
                    "currency": "CNY",
                },
                o,
            )

        order("ord-u1-sib", self.U1, self.SIB)
        order("ord-u2-u1", self.U2, self.U1)
        # records the graph holds: certificates and disruptions, inside and outside the network
        for holder, cid in ((self.U1, f"{p}cert-u1"), (self.FAR, f"{p}{OUT}cert-far")):
            add(
                "certification.granted",
                {
                    "enterprise_id": holder,
                    "certificate_id": cid,
                    "standard": "IATF 16949",
                    "valid_until": "2030-01-31",  # far ahead: the test must not depend on today
                },
            )
        for target, did in (
            (self.U2, f"{p}dsr-u2"),
            (self.FAR, f"{p}{OUT}dsr-far"),
            (self.SIB, f"{p}{OUT}dsr-sib"),
        ):
            add(
                "disruption.reported",
                {
                    "disruption_id": did,
                    "kind": "fire",
                    "severity": "high",
                    "expected_recovery_days": 5,
                    "enterprise_id": target,
                },
            )
        # a disruption reaches a partner through a facility its network operates or a region its
        # network is in; the same on a site or a region outside stays hidden
        for fid, operator in ((f"{p}fac-u2", self.U2), (f"{p}{OUT}fac-far", self.FAR)):
            add(
                "facility.registered",
                {
                    "facility_id": fid,
                    "enterprise_id": operator,
                    "name": f"plant {fid[-6:]}",
                    "kind": "plant",
                    "region": self.region,
                },
            )
        for did, where in (
            (f"{p}dsr-fac-u2", {"facility_id": f"{p}fac-u2"}),
            (f"{p}{OUT}dsr-fac-far", {"facility_id": f"{p}{OUT}fac-far"}),
            (f"{p}dsr-region", {"region": self.region}),
            (f"{p}{OUT}dsr-region-far", {"region": f"{p}{OUT}region"}),
        ):
            add(
                "disruption.reported",
                {
                    "disruption_id": did,
                    "kind": "flood",
                    "severity": "medium",
                    "expected_recovery_days": 5,
                    **where,
                },
            )

        # A genealogy across the edge: FAR's raw lot -> U1's lot -> P's lot; U1's lot also went to SIB.
        self.lot_far, self.lot_u1, self.lot_p = f"{p}{OUT}lot-far", f"{p}lot-u1", f"{p}lot-p"

        def lot(lot_id: str, maker: str, inputs: list[str]) -> None:
            made = {"lot_id": lot_id, "sku": f"{p}sku-lot", "quantity": 10, "enterprise_id": maker}
            add("lot.produced", {**made, "inputs": [{"lot_id": i, "quantity": 5} for i in inputs]})

        lot(self.lot_far, self.FAR, [])
        lot(self.lot_u1, self.U1, [self.lot_far])
        lot(self.lot_p, self.P, [self.lot_u1])
        for lot_id, s, b in ((self.lot_u1, self.U1, self.SIB), (self.lot_p, self.P, self.D1)):
            add(
                "lot.shipped",
                {
                    "shipment_id": f"{p}shp-{b[-3:]}",
                    "supplier_id": s,
                    "buyer_id": b,
                    "lots": [{"lot_id": lot_id, "quantity": 10}],
                    "order_id": f"{p}ord-{b[-3:]}",
                },
            )
        # The installed base: U1's equipment at P (inside) and at SIB (outside); FAR's at U3 (its maker
        # outside); U2's at U1 with findings a partner that is neither may not read (marker 0.4321).
        self.eq_u1_p, self.eq_u2_u1 = f"{p}eq-u1-p", f"{p}eq-u2-u1"
        for eq, maker, customer in (
            (self.eq_u1_p, self.U1, self.P),
            (f"{p}{OUT}eq-u1-sib", self.U1, self.SIB),
            (f"{p}{OUT}eq-far-u3", self.FAR, self.U3),
            (self.eq_u2_u1, self.U2, self.U1),
        ):
            add(
                "equipment.installed",
                {
                    "equipment_id": eq,
                    "maker_id": maker,
                    "customer_id": customer,
                    "sku": f"{p}sku-eaf",
                    "serial": f"SN-{eq}",
                    "installed_on": "2025-03-01",
                },
            )
            wo = {"work_order_id": f"{eq}-wo", "equipment_id": eq, "customer_id": customer}
            add("maintenance.requested", {**wo, "reason": "routine"})
            # the marker only where P is not a party: a party reads its own findings
            party = self.P in (maker, customer)
            findings = "bearing play within tolerance" if party else "bearing play 0.4321 mm"
            add(
                "maintenance.completed",
                {**wo, "completed_on": "2026-05-02", "findings": findings, "parts_replaced": []},
            )
        self.events = evs
        # the record store's flow: P's own orders (its price), and orders among the others priced with
        # the commercial marker 777.77 (inside the network: redacted; outside: left out)
        own, _ = flow(f"{p}r1-", [self.U1], [self.P], orders=5, price=100.0)
        others, _ = flow(
            f"{p}r2-",
            [self.FAR, self.U3, self.U2, self.U1, self.Y],
            [self.U3, self.U2, self.U1, self.SIB, self.D1],
            orders=60,
            price=777.77,
        )
        self.records = own + others


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
                    # The matrix is about scope: deep generated paths must run, not be refused for
                    # their cost (the cost limit has its own tests in test_api_limits.py).
                    "max_cost": 10_000_000,
                    # ... and every mutation of the injection sweep must run, not be rate limited (the
                    # mutation rate has its own test in test_api_limits.py).
                    "mutation_rate": "100000/second",
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
    # As the project stage does: every event's records (orders among the graph's events too).
    graph_events = [decode_event(orjson.dumps(e)) for e in w.events]
    RecordStore(bootstrap.sql_engine(az_settings)).write(record_rows([*graph_events, *w.records]))
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
        f'{{ enterprise(id: "{w.U3}") {{ suppliers {{ share partner {{ {leaf} '
        "suppliers { partner { id } } } } } }",
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


def test_partner_graph_changes_stay_inside_its_network_whatever_tiers_it_asks(
    azserver: tuple[Server, Any], azkeys: dict[str, str], az_settings: Settings, azworld: AuthzWorld
) -> None:
    w = azworld

    def ev(n: int, event_type: str, **data: Any) -> dict[str, Any]:
        e = example_event(event_type, event_id=f"{w.p}gc-{n}")
        e["data"].update(data)
        e["subject"] = e["data"]["buyer_id"]
        return e

    async def run() -> None:
        q = (
            f'subscription {{ graphChanges(enterpriseId: "{w.P}", tiers: 8) '
            "{ eventId nodes { label key } relationships { start end } } }"
        )
        sub = await _subscribe(azserver[0].url, azkeys["partner"], q)
        await asyncio.sleep(2)
        # Through the projector: the subscription streams what the graph committed (graph.changes).
        await project_events(
            az_settings,
            [
                # Orders are records (kept in the store): ids outside the world's prefix, so the record
                # views' tests of this world see only the world's own orders.
                ev(1, "order.placed", order_id=f"gc-{w.p}o-far", supplier_id=w.FAR, buyer_id=w.U3),
                ev(2, "supply.agreed", supplier_id=w.FAR, buyer_id=w.LONE, sku=f"{w.p}far-lone"),
                ev(3, "supply.agreed", supplier_id=w.SIB, buyer_id=w.Y, sku=f"{w.p}sib-y"),
                # a new supplier of U2 (tier 2) is tier 3: inside; a new supplier of U3 is tier 4: outside
                ev(4, "supply.agreed", supplier_id=f"{w.p}new4", buyer_id=w.U3, sku=f"{w.p}n4"),
                ev(5, "supply.agreed", supplier_id=f"{w.p}new3", buyer_id=w.U2, sku=f"{w.p}n3"),
                ev(6, "order.placed", order_id=f"gc-{w.p}o-in", supplier_id=w.U2, buyer_id=w.U1),
            ],
            group=f"{w.p}gc",
        )
        got = [(await _next(sub))["data"]["graphChanges"] for _ in range(2)]
        # Records are keyed by subject (several partitions): the two may come in either order.
        assert sorted(g["eventId"] for g in got) == [f"{w.p}gc-5", f"{w.p}gc-6"]
        assert all(_leaks({"data": g}) == [] for g in got)  # no other network's ids on any change
        await sub.close()

    try:
        asyncio.run(run())
    finally:
        asyncio.run(
            forget(
                az_settings,
                ids=[f"{w.p}new4", f"{w.p}new3"],
                skus=[f"{w.p}far-lone", f"{w.p}sib-y", f"{w.p}n4", f"{w.p}n3"],
            )
        )


def test_partner_region_network_holds_its_network_only_with_others_terms_redacted(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, w = azserver[0].url, azworld
    q = f"""{{ regionNetwork(region: "{w.region}", outside: true) {{ truncated memberCount
      nodes {{ id inRegion }} edges {{ supplierId buyerId share unitPrice redacted }} }} }}"""
    staff = _answer(url, azkeys["analyst"], q)["data"]["regionNetwork"]
    assert {n["id"] for n in staff["nodes"]} == set(w.inside) | set(w.outside)  # all in the one region
    assert all(n["inRegion"] for n in staff["nodes"]) and staff["memberCount"] == 9
    assert (w.FAR, w.U3) in {(e["supplierId"], e["buyerId"]) for e in staff["edges"]}
    body = _answer(url, azkeys["partner"], q)
    assert not body.get("errors"), body
    view = body["data"]["regionNetwork"]
    assert {n["id"] for n in view["nodes"]} == set(w.inside)
    links = {(e["supplierId"], e["buyerId"]): e for e in view["edges"]}
    assert set(links) == {(w.U3, w.U2), (w.U2, w.U1), (w.U1, w.P), (w.P, w.D1)}
    assert links[(w.U1, w.P)]["share"] == 0.9 and links[(w.U1, w.P)]["redacted"] == []
    assert links[(w.U3, w.U2)]["share"] is None
    assert links[(w.U3, w.U2)]["redacted"] == ["share", "unitPrice", "annualVolume", "currency"]
    assert _leaks(body) == []


def test_partner_graph_changes_of_a_region_stay_inside_its_network(
    azserver: tuple[Server, Any], azkeys: dict[str, str], az_settings: Settings, azworld: AuthzWorld
) -> None:
    w = azworld
    newcomer, elsewhere = f"{w.p}{OUT}newcomer", f"{w.p}{OUT}elsewhere"

    def ev(n: int, event_type: str, subject: str, **data: Any) -> dict[str, Any]:
        e = example_event(event_type, event_id=f"{w.p}gcr-{n}")
        e["data"].update(data)
        e["subject"] = subject
        return e

    async def run() -> None:
        q = f'subscription {{ graphChanges(region: "{w.region}", tiers: 1) {{ eventId }} }}'
        partner = await _subscribe(azserver[0].url, azkeys["partner"], q)
        analyst = await _subscribe(azserver[0].url, azkeys["analyst"], q)
        await asyncio.sleep(2)
        await project_events(
            az_settings,
            [
                # an enterprise registering in the region joins it (outside the partner's network)
                ev(1, "partner.registered", newcomer, enterprise_id=newcomer, region=w.region),
                ev(2, "partner.registered", elsewhere, enterprise_id=elsewhere, region=f"{w.p}{OUT}region"),
                ev(3, "order.placed", w.U1, order_id=f"gcr-{w.p}o-in", supplier_id=w.U2, buyer_id=w.U1),
            ],
            group=f"{w.p}gcr",
        )
        await project_events(
            az_settings,
            [ev(4, "order.placed", w.P, order_id=f"gcr-{w.p}o-p", supplier_id=w.U1, buyer_id=w.P)],
            group=f"{w.p}gcr2",
        )
        staff = {(await _next(analyst))["data"]["graphChanges"]["eventId"] for _ in range(3)}
        assert staff == {f"{w.p}gcr-1", f"{w.p}gcr-3", f"{w.p}gcr-4"}
        mine = [(await _next(partner))["data"]["graphChanges"] for _ in range(2)]
        assert sorted(g["eventId"] for g in mine) == [f"{w.p}gcr-3", f"{w.p}gcr-4"]
        await partner.close()
        await analyst.close()

    try:
        asyncio.run(run())
    finally:
        asyncio.run(forget(az_settings, ids=[newcomer, elsewhere]))


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


def test_partner_installed_base_stops_at_its_network_and_hides_others_findings(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, w = azserver[0].url, azworld
    fields = "id customerId maintenanceHistory { findings redacted }"
    q = f'{{ installedBase(makerId: "{w.U1}") {{ {fields} }} }}'
    staff = {e["id"] for e in _answer(url, azkeys["analyst"], q)["data"]["installedBase"]}
    assert staff == {w.eq_u1_p, f"{w.p}{OUT}eq-u1-sib"}
    body = _answer(url, azkeys["partner"], q)
    assert [e["id"] for e in body["data"]["installedBase"]] == [w.eq_u1_p]
    # P is the customer: it reads its own equipment's findings
    assert body["data"]["installedBase"][0]["maintenanceHistory"] == [
        {"findings": "bearing play within tolerance", "redacted": []}
    ]
    q = f'{{ customerEquipment(customerId: "{w.U1}") {{ {fields} }} }}'
    body = _answer(url, azkeys["partner"], q)
    assert body["data"]["customerEquipment"] == [
        {
            "id": w.eq_u2_u1,
            "customerId": w.U1,
            "maintenanceHistory": [{"findings": None, "redacted": ["findings", "partsReplaced"]}],
        }
    ]
    staff_view = _answer(url, azkeys["analyst"], q)["data"]["customerEquipment"]
    assert staff_view[0]["maintenanceHistory"][0]["findings"] == "bearing play 0.4321 mm"


def test_partner_service_alerts_only_for_equipment_inside_its_network(
    azserver: tuple[Server, Any], azkeys: dict[str, str], az_settings: Settings, azworld: AuthzWorld
) -> None:
    w, names = azworld, bootstrap.topic_names(az_settings)

    def alert(n: int, maker: str, customer: str) -> Record:
        a = {
            "id": f"{w.p}sa-{n}",
            "equipmentId": f"{w.p}eq-{n}",
            "makerId": maker,
            "customerId": customer,
            "severity": "high",
            "health": 0.2,
            "alarmRate": 1.0,
            "exceedance": 0.3,
            "reason": "vibration-rms outside its band",
            "raisedAt": 1,
        }
        return Record(key=None, value=orjson.dumps(a))

    async def run() -> None:
        q = "subscription { serviceAlerts { id makerId customerId } }"
        sub = await _subscribe(azserver[0].url, azkeys["partner"], q)
        await asyncio.sleep(2)
        EventProducer(az_settings.kafka.librdkafka(), names.service_alerts).send_many(
            [alert(1, w.U1, w.SIB), alert(2, w.FAR, w.U3), alert(3, w.U1, w.P)]
        )
        got = (await _next(sub))["data"]["serviceAlerts"]
        assert got == {"id": f"{w.p}sa-3", "makerId": w.U1, "customerId": w.P}
        await sub.close()
        refused = await _subscribe(
            azserver[0].url,
            azkeys["partner"],
            f'subscription {{ serviceAlerts(customerId: "{w.SIB}") {{ id }} }}',
        )
        msg = orjson.loads(await asyncio.wait_for(refused.recv(), 30))
        assert msg["type"] == "error" or msg["payload"].get("errors"), msg
        await refused.close()

    asyncio.run(run())


# -- the generated matrix --------------------------------------------------------------------------------

NETWORK = ("admin", "analyst", "partner")
STAFF = ("admin", "analyst")


@dataclass(frozen=True)
class Case:
    """How to call a root field: arguments inside the partner's network and outside it, and who may."""

    inside: str
    outside: str
    roles: tuple[str, ...]


def cases(w: AuthzWorld) -> dict[str, list[Case]]:
    """One or more cases per root query field; a field missing here fails the matrix."""

    def pair(arg: str, inside: str, outside: str, rest: str = "", roles: tuple[str, ...] = NETWORK) -> Case:
        tail = f", {rest}" if rest else ""
        return Case(f'{arg}: "{inside}"{tail}', f'{arg}: "{outside}"{tail}', roles)

    return {
        "enterprise": [pair("id", w.P, w.FAR)],
        "enterprises": [
            Case(f'first: 5, region: "{w.region}"', f'first: 5, name: "{OUT}", region: "{w.region}"', NETWORK)
        ],
        "upstream": [pair("id", w.P, w.FAR, "tiers: 4, maxNodes: 50")],
        "downstream": [pair("id", w.U3, w.SIB, "tiers: 4, maxNodes: 50")],
        # a region names no enterprise: a partner gets the region's enterprises inside its network
        "regionNetwork": [
            Case(
                f'region: "{w.region}", maxNodes: 50',
                f'region: "{w.region}", maxNodes: 50, outside: true',
                NETWORK,
            )
        ],
        "paths": [Case(f'source: "{w.U3}", target: "{w.P}"', f'source: "{w.FAR}", target: "{w.P}"', NETWORK)],
        "productChain": [pair("sku", f"{w.p}sku-u1-p", f"{w.p}sku-far-u3", "maxNodes: 50", STAFF)],
        "supplierKpis": [pair("id", w.U1, w.Y), pair("id", w.U1, w.Y, 'asOf: "2026-06-30"')],
        "linkKpis": [
            Case(
                f'supplierId: "{w.U1}", buyerId: "{w.P}", sku: "{w.p}sku-u1-p"',
                f'supplierId: "{w.FAR}", buyerId: "{w.U3}", sku: "{w.p}sku-far-u3"',
                NETWORK,
            )
        ],
        "networkKpis": [Case("", "", STAFF), Case("groupBy: REGION", "groupBy: INDUSTRY", STAFF)],
        "designProjects": [
            pair("enterpriseId", w.P, w.FAR, "first: 5"),
            Case("first: 5", "first: 5", NETWORK),
        ],
        "changeImpact": [pair("changeRequestId", f"{w.p}ecr", f"{w.p}{OUT}ecr", "")],
        # crowd design names no enterprise: a partner gets its own, its network's and eligible calls
        "designCalls": [Case("first: 5", "first: 5", NETWORK)],
        "designProposals": [Case("first: 5", "first: 5", NETWORK)],
        "candidatePartners": [
            pair("region", w.region, w.region, "first: 5"),
            pair("nearId", w.P, w.FAR, f'sku: "{w.p}sku-u1-p", quantityPerDay: 10'),
        ],
        "reSourcing": [
            pair("buyerId", w.P, w.FAR, f'sku: "{w.p}sku-u1-p", quantityPerDay: 10'),
            pair(
                "lostSupplierId", w.U1, w.FAR, f'buyerId: "{w.P}", sku: "{w.p}sku-far-u3", quantityPerDay: 10'
            ),
        ],
        "enterpriseTimeline": [pair("id", w.U1, w.SIB)],
        "linkTimeline": [
            Case(
                f'supplierId: "{w.U1}", buyerId: "{w.P}"',
                f'supplierId: "{w.U1}", buyerId: "{w.SIB}"',
                NETWORK,
            )
        ],
        "riskyNodes": [pair("focalId", w.P, w.FAR, "first: 5"), Case("first: 5", "first: 5", STAFF)],
        "incidents": [pair("enterpriseId", w.P, w.FAR, "first: 5", STAFF)],
        "whatIf": [
            Case(
                f'enterprises: ["{w.U3}"], days: 30, maxAffected: 50',
                f'enterprises: ["{w.FAR}"], days: 30, maxAffected: 50',
                NETWORK,
            )
        ],
        "sourcingReport": [
            pair("enterpriseId", w.P, w.FAR, "maxEnterprises: 50"),
            pair("productSku", f"{w.p}sku-u1-p", f"{w.p}sku-far-u3", "", STAFF),
        ],
        "criticalNodes": [pair("id", w.P, w.FAR, "maxEnterprises: 50")],
        "dataMap": [Case("", "", NETWORK)],  # names no enterprise: a partner's figures cover its network
        # record views: by an enterprise filter (outside: refused), and unfiltered (filtered to the network)
        **{
            root: [pair(arg, inside, w.FAR, "first: 100"), Case("first: 100", "first: 100", NETWORK)]
            for root, arg, inside in (
                ("orders", "supplierId", w.U2),
                ("shipments", "buyerId", w.U1),
                ("stock", "enterpriseId", w.U1),
                ("capacity", "enterpriseId", w.U2),
                ("qualityIncidents", "supplierId", w.U2),
                ("equipmentAlarms", "enterpriseId", w.U2),
                ("certificates", "enterpriseId", w.U1),
                ("disruptions", "enterpriseId", w.U2),
            )
        },
        "traceBack": [pair("lot", w.lot_p, w.lot_far, "maxDepth: 5, maxNodes: 50")],
        "traceForward": [pair("lot", w.lot_u1, w.lot_far, "maxDepth: 5, maxNodes: 50")],
        "recallScope": [Case(f'lots: ["{w.lot_u1}"]', f'lots: ["{w.lot_far}", "{w.lot_u1}"]', NETWORK)],
        "installedBase": [pair("makerId", w.U1, w.FAR), pair("makerId", w.U2, w.FAR)],
        "customerEquipment": [pair("customerId", w.U3, w.SIB), pair("customerId", w.U1, w.SIB)],
    }


def _refusal(role: str, roles: tuple[str, ...]) -> str:
    return f"role {role} may not do this (allowed: {', '.join(roles)})"


def test_every_root_field_has_a_case_and_every_enterprise_field_is_walked(azworld: AuthzWorld) -> None:
    schema = served_schema()
    assert schema.query_type is not None
    roots = set(schema.query_type.fields)
    missing = roots - set(cases(azworld))
    assert not missing, f"root fields without an authorization case in this module: {sorted(missing)}"
    assert set(cases(azworld)) <= roots, "cases for root fields that are gone"
    walked = {s for f in schema.query_type.fields.values() for p in enterprise_paths(f) for s in p}
    unwalked = enterprise_fields(schema) - walked - {("Query", r) for r in roots}
    assert not unwalked, f"fields returning Enterprise that no generated path reaches: {sorted(unwalked)}"
    assert schema.subscription_type is not None
    assert set(schema.subscription_type.fields) == {"riskAlerts", "graphChanges", "serviceAlerts"}, (
        "a new subscription needs its partner test over graphql-transport-ws here"
    )


@pytest.mark.timeout(600)  # hundreds of requests on a shared machine
def test_every_role_on_every_root_field(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, schema = azserver[0].url, served_schema()
    checked = 0
    for root, root_cases in cases(azworld).items():
        for case in root_cases:
            query = root_query(schema, root, case.inside)
            for role in ("admin", "analyst", "erp", "partner"):
                body = _answer(url, azkeys[role], query)
                if role in case.roles:
                    assert not body.get("errors"), (role, query, body)
                    if role == "partner":
                        assert _leaks(body) == [], (query, body["data"])
                else:
                    assert [e["message"] for e in body["errors"]] == [_refusal(role, case.roles)], (
                        role,
                        query,
                    )
                checked += 1
            if "partner" in case.roles:  # the partner naming enterprises outside its network
                body = _answer(url, azkeys["partner"], root_query(schema, root, case.outside))
                for e in body.get("errors") or []:
                    assert "is outside your network" in e["message"], (root, body)
                assert _leaks(body) == [], (root, case.outside, body["data"])
    assert checked >= 4 * len(cases(azworld))


@pytest.mark.parametrize("credential", ["none", "bad key", "revoked key", "expired JWT", "forged JWT"])
def test_every_root_field_refuses_missing_bad_expired_and_revoked_credentials(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld, credential: str
) -> None:
    url, schema = azserver[0].url, served_schema()
    token, detail = {
        "none": (None, "missing credentials"),
        "bad key": ("sn_deadbeef_nope", "unknown or revoked API key"),
        "revoked key": (azkeys["revoked"], "unknown or revoked API key"),
        "expired JWT": (_jwt({"role": "admin", "exp": int(time.time()) - 30}), "Signature has expired"),
        "forged JWT": (
            jwt.encode(
                {
                    "iss": ISSUER,
                    "aud": "supplynet",
                    "sub": "x",
                    "role": "admin",
                    "exp": int(time.time()) + 60,
                },
                "forged-" + "y" * 32,
                algorithm="HS256",
            ),
            "Signature verification failed",
        ),
    }[credential]
    for root, root_cases in cases(azworld).items():
        r = gql(url, token, root_query(schema, root, root_cases[0].inside))
        assert r.status_code == 401, (root, r.text)
        assert detail in r.json()["detail"], (root, r.text)


@pytest.mark.timeout(600)  # hundreds of requests on a shared machine
def test_partner_reads_nothing_outside_its_network_along_any_generated_path(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    """Every path to an Enterprise from every root the partner may call, plain, with fragments and with
    aliases: nothing outside its network, no one else's terms. The same plain paths read by an admin
    do reach outside (so an empty answer is not why the partner's pass)."""
    url, schema = azserver[0].url, served_schema()
    assert schema.query_type is not None
    admin_reached_outside, ran, too_costly = 0, 0, 0
    for root, root_cases in cases(azworld).items():
        for case in root_cases:
            if "partner" not in case.roles:
                continue
            for path in enterprise_paths(schema.query_type.fields[root]):
                for style in ("plain", "fragments", "aliases"):
                    pq = path_query(schema, root, case.inside, path, style)
                    body = _answer(url, azkeys["partner"], pq.text)
                    messages = [e["message"] for e in body.get("errors") or []]
                    if any("query cost" in m for m in messages):
                        too_costly += 1  # refused before anything ran: nothing read
                        continue
                    assert not messages, (pq.text, messages)
                    assert _leaks(body) == [], (pq.text, body["data"])
                    ran += 1
                    if style == "plain":
                        admin_reached_outside += bool(_leaks(_answer(url, azkeys["admin"], pq.text)))
    assert ran > 100
    assert too_costly < ran / 4
    assert admin_reached_outside >= 5


# -- Cypher injection ----------------------------------------------------------------------------------

INJECTIONS = (
    "x' }) DETACH DELETE n //",
    'x" }) MATCH (n) DETACH DELETE n //',
    "x`) DETACH DELETE n //",
    "') RETURN 1 UNION MATCH (n) DETACH DELETE n RETURN 1 //",
    "$id",
    "{id: $id}",
)


def _graph_size(settings: Settings) -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        driver = bootstrap.async_driver(settings)
        try:
            nodes, _, _ = await driver.execute_query("MATCH (n) RETURN count(n) AS c")
            rels, _, _ = await driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS c")
            return int(nodes[0]["c"]), int(rels[0]["c"])
        finally:
            await driver.close()

    return asyncio.run(count())


def _with_argument(args: str, name: str, literal: str) -> str:
    """``args`` (a GraphQL argument list) with ``name`` set to ``literal``."""
    kept = [a for a in graphql.parse(f"{{ f({args}) }}").definitions[0].selection_set.selections[0].arguments]  # type: ignore[attr-defined]
    rest = ", ".join(graphql.print_ast(a) for a in kept if a.name.value != name)
    return f"{name}: {literal}" + (f", {rest}" if rest else "")


@pytest.mark.timeout(600)  # hundreds of requests on a shared machine
def test_cypher_injection_through_every_string_argument_changes_nothing(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld, az_settings: Settings
) -> None:
    url, schema = azserver[0].url, served_schema()
    assert schema.query_type is not None and schema.mutation_type is not None
    before = _graph_size(az_settings)
    tried = 0
    calls: list[tuple[str, str, graphql.GraphQLField, str]] = [
        ("query", root, schema.query_type.fields[root], c[0].inside) for root, c in cases(azworld).items()
    ]
    mutation_args = {
        "reportDisruption": 'disruptionId: "d", kind: "fire", severity: "high", expectedRecoveryDays: 1',
        "resolveDisruption": 'disruptionId: "d"',
        "confirmIncident": "id: -1",
        "assignIncident": 'id: -1, owner: "o"',
        "annotateIncident": 'id: -1, note: "n"',
        "closeIncident": 'id: -1, outcome: "restored"',
        "createDesignProject": 'projectId: "p", name: "n", ownerId: "o"',
        "inviteDesignPartner": 'projectId: "p", enterpriseId: "e", role: "oem"',
        "publishDesignRevision": 'projectId: "p", revisionId: "r", label: "l", uri: "u", contentHash: "h"',
        "raiseChangeRequest": 'projectId: "p", changeId: "c", affectedSkus: ["k"], reason: "r"',
        "answerChangeRequest": 'changeId: "c", decision: "accepted", enterpriseId: "e"',
        "openDesignCall": 'projectId: "p", callId: "c", task: "t", deadline: "2030-01-01T00:00:00Z"',
        "submitDesignProposal": 'callId: "c", proposalId: "p", summary: "s", enterpriseId: "e"',
        "evaluateDesignProposal": 'callId: "c", proposalId: "p", score: 1',
        "awardDesignCall": 'callId: "c", proposalId: "p"',
    }
    for root, f in schema.mutation_type.fields.items():
        if root != "ingestEvents":  # JSON events, validated by the event contracts
            calls.append(("mutation", root, f, mutation_args[root]))
    texts: list[str] = []
    for kind, root, field, args in calls:
        for name, is_list in string_arguments(field):
            for payload in INJECTIONS:
                literal = orjson.dumps(payload).decode()
                call = f"{root}({_with_argument(args, name, f'[{literal}]' if is_list else literal)})"
                texts.append(
                    f"{{ {call} {{ __typename }} }}"  # the resolver runs whatever is selected
                    if kind == "query"
                    else (f"mutation {{ {call} " + ("{ id }" if "Incident" in root else "") + " }")
                )
    # Four at a time: the calls are independent, and one by one they were a minute of CI.
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda text: _answer(url, azkeys["admin"], text), texts))
    for text, body in zip(texts, bodies, strict=True):
        for e in body.get("errors") or []:
            m = e["message"]
            leaked = "internal error" in m or "neo4j" in m.lower() or "cypher" in m.lower()
            assert not leaked, (text, m)
        tried += 1
    assert tried >= 6 * 30
    assert _graph_size(az_settings) == before


MUTATIONS = {
    "ingestEvents": ("events: []", ("admin", "erp")),
    "reportDisruption": (
        'disruptionId: "d", kind: "meteor", severity: "high", expectedRecoveryDays: 1',
        ("admin", "analyst", "erp"),
    ),
    "resolveDisruption": ('disruptionId: ""', ("admin", "analyst", "erp")),
    "confirmIncident": ("id: -1", STAFF),
    "assignIncident": ('id: -1, owner: "o"', STAFF),
    "annotateIncident": ('id: -1, note: "n"', STAFF),
    "closeIncident": ("id: -1", STAFF),
    "createDesignProject": ('projectId: "", name: "n"', ("admin", "partner")),
    "inviteDesignPartner": ('projectId: "", enterpriseId: "", role: "oem"', ("admin", "partner")),
    "publishDesignRevision": (
        'projectId: "", revisionId: "", label: "", uri: "", contentHash: ""',
        ("admin", "partner"),
    ),
    "raiseChangeRequest": ('projectId: "", changeId: "", affectedSkus: [], reason: ""', ("admin", "partner")),
    "answerChangeRequest": ('changeId: "", decision: "accepted"', ("admin", "partner")),
    "openDesignCall": (
        'projectId: "", callId: "", task: "", deadline: "2030-01-01T00:00:00Z"',
        ("admin", "partner"),
    ),
    "submitDesignProposal": ('callId: "", proposalId: "", summary: ""', ("admin", "partner")),
    "evaluateDesignProposal": ('callId: "", proposalId: "", score: 1', ("admin", "partner")),
    "awardDesignCall": ('callId: "", proposalId: ""', ("admin", "partner")),
}


def test_every_role_on_every_mutation(azserver: tuple[Server, Any], azkeys: dict[str, str]) -> None:
    """Arguments that fail after the role check: a permitted role gets that failure, the others the refusal
    (nothing is sent or changed either way)."""
    schema = served_schema()
    assert schema.mutation_type is not None
    assert set(schema.mutation_type.fields) == set(MUTATIONS), "a new mutation needs its case here"
    for root, (args, roles) in MUTATIONS.items():
        text = f"mutation {{ {root}({args}) " + ("{ id }" if "Incident" in root else "") + " }"
        text = text.replace("ingestEvents(events: []) ", "ingestEvents(events: []) { accepted } ")
        for role in ("admin", "analyst", "erp", "partner"):
            messages = [
                e["message"] for e in _answer(azserver[0].url, azkeys[role], text).get("errors") or []
            ]
            assert messages, (root, role)
            if role in roles:
                assert "may not do this" not in messages[0], (root, role, messages)
            else:
                assert messages == [_refusal(role, roles)], (root, role, messages)


def test_partner_subscriptions_refuse_a_focal_outside_its_network_and_erp_keys(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    async def refusal(token: str, query: str) -> str:
        ws = await _subscribe(azserver[0].url, token, query)
        msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        await ws.close()
        assert msg["type"] == "next" and msg["payload"]["data"] is None, msg  # nothing delivered
        return str(msg["payload"]["errors"][0]["message"])

    async def run() -> None:
        w = azworld
        q = f'subscription {{ graphChanges(enterpriseId: "{w.FAR}") {{ eventId }} }}'
        expected = f"enterprise {w.FAR} is outside your network (3 tiers around {w.P})"
        assert await refusal(azkeys["partner"], q) == expected
        assert await refusal(azkeys["erp"], "subscription { riskAlerts { id } }") == _refusal("erp", NETWORK)

    asyncio.run(run())


# -- record views ----------------------------------------------------------------------------------------


def test_partner_record_views_keep_its_network_and_hide_prices_of_orders_it_is_not_party_to(
    azserver: tuple[Server, Any], azkeys: dict[str, str], azworld: AuthzWorld
) -> None:
    url, w = azserver[0].url, azworld
    inside = set(w.inside)
    q = """query($after: String) { orders(first: 500, after: $after) { edges { node {
      orderId supplierId buyerId unitPrice currency redacted } } pageInfo { hasNextPage endCursor } } }"""

    def read(role: str) -> list[dict[str, Any]]:
        """This world's orders, page by page (the store holds other tests' orders too)."""
        out: list[dict[str, Any]] = []
        after = None
        while True:
            r = gql(url, azkeys[role], q, {"after": after})
            body = r.json()
            assert r.status_code == 200 and not body.get("errors"), r.text
            conn = body["data"]["orders"]
            out += [e["node"] for e in conn["edges"] if e["node"]["orderId"].startswith(w.p)]
            if not conn["pageInfo"]["hasNextPage"]:
                return out
            after = conn["pageInfo"]["endCursor"]

    everything = read("admin")
    assert any(OUT in o["supplierId"] or OUT in o["buyerId"] for o in everything)  # there is outside to see
    assert {o["unitPrice"] for o in everything} == {100.0, 777.77}
    mine = read("partner")
    assert mine == [
        {
            **o,
            **(
                {"unitPrice": None, "currency": None, "redacted": ["unitPrice", "currency"]}
                if w.P not in (o["supplierId"], o["buyerId"])
                else {}
            ),
        }
        for o in everything
        if {o["supplierId"], o["buyerId"]} <= inside
    ]
    assert {o["unitPrice"] for o in mine if w.P in (o["supplierId"], o["buyerId"])} == {100.0}
    assert any(o["redacted"] for o in mine)

    def ids(role: str, root: str, field: str) -> set[str]:
        """Every row of the list, page by page (the graph and store hold other tests' rows too)."""
        out: set[str] = set()
        q = f"""query($after: String) {{ {root}(first: 500, after: $after) {{ edges {{ node {{ {field} }} }}
          pageInfo {{ hasNextPage endCursor }} }} }}"""
        after = None
        while True:
            r = gql(url, azkeys[role], q, {"after": after})
            assert r.status_code == 200 and not r.json().get("errors"), r.text
            conn = r.json()["data"][root]
            out |= {e["node"][field] for e in conn["edges"] if e["node"][field].startswith(w.p)}
            if not conn["pageInfo"]["hasNextPage"]:
                return out
            after = conn["pageInfo"]["endCursor"]

    for root, field, outside_id in (
        ("certificates", "id", f"{w.p}{OUT}cert-far"),
        ("disruptions", "id", f"{w.p}{OUT}dsr-far"),
        ("stock", "enterpriseId", w.FAR),
        ("equipmentAlarms", "enterpriseId", w.FAR),
    ):
        assert outside_id in ids("analyst", root, field), root
        seen = ids("partner", root, field)
        assert seen and not any(OUT in i for i in seen), (root, seen)
    assert ids("partner", "disruptions", "id") == {f"{w.p}dsr-u2", f"{w.p}dsr-fac-u2", f"{w.p}dsr-region"}
