"""The record views over HTTP GraphQL against the real stack: the record store (SQLite and PostgreSQL)
written through ``connectors.record_store`` from catalog events, certificates and disruptions projected
into Neo4j; keyset pages that concatenate to the whole ordered list, filters, a partner's scope; and
the cursors of ``riskyNodes``, ``exposures`` and ``soleSources``.

The world: suppliers S0..S2 and buyers B0..B2 (all supplying each other's skus as the flow says), a
partner B0 whose network (3 tiers) holds S0..S2 and B0 but not B1, B2 (its suppliers' other buyers).
A star H → K0..K11 (each K's only supplier of its sku) serves the what-if and sole-source pages.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import orjson
import pydantic
import pytest
from sqlalchemy import create_engine, make_url, text

from api.keys import create_key
from connectors.record_store import RecordStore
from graph.mutations import to_mutations
from graph.registry import record_rows
from graph.writer import GraphWriter
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.test_api import ISSUER, SECRET, _event, counting_server, data, error
from tests.records_world import flow

AS_OF = date(2026, 3, 20)


class RecordsWorld:
    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-rec-"
        self.p = p
        self.S = [f"{p}s{i}" for i in range(3)]
        self.B = [f"{p}b{i}" for i in range(3)]
        self.H = f"{p}hub"
        self.K = [f"{p}k{i:02d}" for i in range(12)]
        self.region = f"{p}region"
        evs: list[dict[str, Any]] = []

        def add(t: str, d: dict[str, Any]) -> None:
            ev = _event(run_id, 9000 + len(evs), t, d)
            ev["id"] = f"{p}ev{len(evs)}"
            evs.append(ev)

        for eid in [*self.S, *self.B, self.H, *self.K]:
            add(
                "partner.registered",
                {
                    "enterprise_id": eid,
                    "name": eid,
                    "industry": "steel",
                    "region": self.region,
                    "country": "CN",
                },
            )
        for s in self.S:
            for b in self.B:
                add(
                    "supply.agreed",
                    {
                        "supplier_id": s,
                        "buyer_id": b,
                        "sku": f"{p}sku-0",
                        "share": 0.3,
                        "lead_time_days": 7,
                        "valid_from": "2025-01-01",
                    },
                )
        for n, k in enumerate(self.K):
            add(
                "supply.agreed",
                {
                    "supplier_id": self.H,
                    "buyer_id": k,
                    "sku": f"{p}star-{n}",
                    "share": 1.0,
                    "lead_time_days": 7,
                    "valid_from": "2025-01-01",
                },
            )
            add(
                "supply.agreed",
                {
                    "supplier_id": k,
                    "buyer_id": self.B[0],
                    "sku": f"{p}part-{n}",
                    "share": 1.0,
                    "lead_time_days": 7,
                    "valid_from": "2025-01-01",
                },
            )
        today = date.today()
        self.expiry: dict[str, date] = {}
        for n in range(9):
            cid = f"{p}cert-{n}"
            until = today + timedelta(days=10 * n + (n % 3))
            self.expiry[cid] = until
            add(
                "certification.granted",
                {
                    "enterprise_id": (self.S + self.B)[n % 6],
                    "certificate_id": cid,
                    "standard": "ISO 9001",
                    "valid_until": until.isoformat(),
                },
            )
        self.holder = {f"{p}cert-{n}": (self.S + self.B)[n % 6] for n in range(9)}
        for n in range(6):
            add(
                "disruption.reported",
                {
                    "disruption_id": f"{p}dsr-{n}",
                    "kind": "flood",
                    "severity": "high",
                    "expected_recovery_days": 3,
                    "enterprise_id": (self.S + self.B)[n],
                },
            )
        add("disruption.resolved", {"disruption_id": f"{p}dsr-0"})
        self.events = evs
        self.records, self.truth = flow(p, self.S, self.B, orders=240)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rec_settings(request: pytest.FixtureRequest, stack: Settings, run_id: str) -> Iterator[Settings]:
    """The API's settings over a record store of its own: an SQLite file, or a fresh PostgreSQL database."""
    sql_url, drop = stack.sql_url, None
    if request.param == "postgres":
        base = make_url(request.getfixturevalue("postgres_url"))
        name = f"rec_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        sql_url, drop = base.set(database=name).render_as_string(hide_password=False), name
    s = stack.model_copy(
        update={
            "sql_url": sql_url,
            "api": stack.api.model_copy(
                update={
                    "jwt_issuer": ISSUER,
                    "jwt_audience": "supplynet",
                    "jwt_hs256_secret": pydantic.SecretStr(SECRET),
                    "partner_tiers": 3,
                }
            ),
        }
    )
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    yield s
    if drop is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{drop}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def rworld(rec_settings: Settings, run_id: str) -> RecordsWorld:
    w = RecordsWorld(run_id)

    async def load() -> None:
        driver = bootstrap.async_driver(rec_settings)
        try:
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
            scores = {eid: round(0.9 - 0.05 * (n // 2), 2) for n, eid in enumerate(w.K)}  # ties in pairs
            await driver.execute_query(
                "UNWIND $rows AS r MATCH (e:Enterprise {id: r.id}) SET e.riskScore = r.score",
                rows=[{"id": k, "score": v} for k, v in scores.items()],
            )
        finally:
            await driver.close()

    asyncio.run(load())
    RecordStore(bootstrap.sql_engine(rec_settings)).write(record_rows(w.records))
    return w


@pytest.fixture(scope="module")
def rserver(rec_settings: Settings, rworld: RecordsWorld) -> Iterator[str]:
    for srv, _ in counting_server(rec_settings):
        yield srv.url


@pytest.fixture(scope="module")
def rkeys(rec_settings: Settings, rworld: RecordsWorld, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(rec_settings)
    tag = uuid.uuid4().hex[:6]
    return {
        "admin": create_key(engine, name=f"{run_id}-{tag}-rec-admin", role=Role.ADMIN)[1],
        "analyst": create_key(engine, name=f"{run_id}-{tag}-rec-analyst", role=Role.ANALYST)[1],
        "partner": create_key(
            engine, name=f"{run_id}-{tag}-rec-p", role=Role.PARTNER, enterprise_id=rworld.B[0]
        )[1],
    }


def pages(url: str, token: str, root: str, args: str, fields: str, first: int) -> list[dict[str, Any]]:
    """Every node of a connection, page by page (``first`` a page); checks the cursors chain."""
    q = f"""query($after: String) {{ {root}(first: {first}, after: $after{", " + args if args else ""}) {{
      edges {{ cursor node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
    out: list[dict[str, Any]] = []
    after = None
    for _ in range(10_000):
        conn = data(url, token, q, {"after": after})[root]
        assert len(conn["edges"]) <= first
        out += [e["node"] for e in conn["edges"]]
        if conn["edges"]:
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            return out
        assert conn["edges"]
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("pages never ended")


def _mine(w: RecordsWorld, ids: list[str]) -> list[str]:
    return [i for i in ids if i.startswith(w.p)]


@pytest.mark.parametrize("first", [1, 9, 500])
def test_order_pages_over_http_concatenate_to_the_whole_ordered_list(
    rserver: str, rkeys: dict[str, str], rworld: RecordsWorld, first: int
) -> None:
    w = rworld
    supplier = w.S[1]
    got = [
        o["orderId"]
        for o in pages(rserver, rkeys["analyst"], "orders", f'supplierId: "{supplier}"', "orderId", first)
    ]
    want = sorted(o for o, t in w.truth.orders.items() if t.supplier == supplier)
    assert got == want
    everything = [o["orderId"] for o in pages(rserver, rkeys["admin"], "orders", "", "orderId", 97)]
    assert len(everything) == len(set(everything)) and everything == sorted(everything)
    assert _mine(w, everything) == sorted(w.truth.orders)


def test_order_filters_over_http(rserver: str, rkeys: dict[str, str], rworld: RecordsWorld) -> None:
    w, t = rworld, rworld.truth.orders.values()
    key = rkeys["analyst"]

    def ids(args: str) -> list[str]:
        return _mine(w, [o["orderId"] for o in pages(rserver, key, "orders", args, "orderId", 25)])

    late = sorted(o.order_id for o in t if o.late(AS_OF))
    assert late and ids(f'lateOnly: true, asOf: "{AS_OF}"') == late
    assert ids(f'status: DELIVERED, lateOnly: true, asOf: "{AS_OF}", buyerId: "{w.B[2]}"') == sorted(
        o.order_id for o in t if o.status == "delivered" and o.late(AS_OF) and o.buyer == w.B[2]
    )
    assert ids(f'sku: "{w.p}sku-2", status: CANCELLED') == sorted(
        o.order_id for o in t if o.sku == f"{w.p}sku-2" and o.status == "cancelled"
    )
    # an order-date range pages by (order date, id)
    assert ids('orderedFrom: "2026-03-04", orderedTo: "2026-03-06"') == [
        o.order_id
        for o in sorted(t, key=lambda o: (o.ordered_on, o.order_id))
        if date(2026, 3, 4) <= o.ordered_on <= date(2026, 3, 6)
    ]
    row = data(
        rserver,
        key,
        f'{{ orders(first: 1, supplierId: "{w.S[0]}", status: DELIVERED, lateOnly: true, asOf: "{AS_OF}") '
        "{ edges { node { orderId status late dueDate deliveredOn unitPrice currency redacted } } } }",
    )["orders"]["edges"][0]["node"]
    truth = w.truth.orders[row["orderId"]]
    assert row == {
        "orderId": truth.order_id,
        "status": "DELIVERED",
        "late": True,
        "dueDate": truth.due.isoformat(),
        "deliveredOn": truth.delivered_on.isoformat() if truth.delivered_on else None,
        "unitPrice": 100.0,
        "currency": "CNY",
        "redacted": [],
    }


def test_shipments_stock_capacity_incidents_alarms_over_http(
    rserver: str, rkeys: dict[str, str], rworld: RecordsWorld
) -> None:
    w, truth, key = rworld, rworld.truth, rkeys["admin"]
    got = pages(
        rserver, key, "shipments", f'supplierId: "{w.S[2]}", delayedOnly: true', "shipmentId delayed", 4
    )
    assert [s["shipmentId"] for s in got] == sorted(
        s for s, (sup, _, delayed) in truth.shipments.items() if delayed and sup == w.S[2]
    )
    assert all(s["delayed"] for s in got)
    stock = pages(
        rserver, key, "stock", f'enterpriseId: "{w.B[1]}"', "enterpriseId sku siteId daysOfCover", 2
    )
    assert [(s["enterpriseId"], s["sku"], s["siteId"]) for s in stock] == sorted(
        k for k in truth.stock if k[0] == w.B[1]
    )
    for s in stock:
        assert s["daysOfCover"] == pytest.approx(truth.stock[(s["enterpriseId"], s["sku"], s["siteId"])])
    low = pages(rserver, key, "stock", "maxDaysOfCover: 25", "enterpriseId sku siteId", 3)
    assert [
        (s["enterpriseId"], s["sku"], s["siteId"]) for s in low if s["enterpriseId"].startswith(w.p)
    ] == sorted(k for k, c in truth.stock.items() if c is not None and c <= 25)
    spare = pages(
        rserver,
        key,
        "capacity",
        f'enterpriseId: "{w.S[0]}", minSpareCapacity: 1000',
        "sku siteId spareCapacity",
        2,
    )
    assert [(w.S[0], c["sku"], c["siteId"]) for c in spare] == sorted(
        k for k, v in truth.capacity.items() if k[0] == w.S[0] and v >= 1000
    )
    incidents = pages(rserver, key, "qualityIncidents", f'supplierId: "{w.S[1]}"', "incidentId", 2)
    assert [i["incidentId"] for i in incidents] == sorted(
        q for q, (s, _) in truth.quality.items() if s == w.S[1]
    )
    alarms = pages(rserver, key, "equipmentAlarms", "", "alarmId enterpriseId", 3)
    assert _mine(w, [a["alarmId"] for a in alarms]) == sorted(truth.alarms)


def test_certificates_expiring_within_n_days_soonest_first(
    rserver: str, rkeys: dict[str, str], rworld: RecordsWorld
) -> None:
    w = rworld
    today = date.today()
    got = pages(
        rserver, rkeys["analyst"], "certificates", "expiringWithinDays: 45", "id validUntil daysToExpiry", 2
    )
    mine = [c for c in got if c["id"].startswith(w.p)]
    want = sorted(
        ((u, c) for c, u in w.expiry.items() if today <= u <= today + timedelta(days=45)),
        key=lambda x: (x[0], x[1]),
    )
    assert [(c["validUntil"], c["id"]) for c in mine] == [(u.isoformat(), c) for u, c in want]
    assert [c["daysToExpiry"] for c in mine] == [(u - today).days for u, _ in want]
    one = pages(rserver, rkeys["analyst"], "certificates", f'enterpriseId: "{w.S[0]}"', "id", 1)
    assert [c["id"] for c in one] == sorted(
        (c for c, h in w.holder.items() if h == w.S[0]), key=lambda c: (w.expiry[c], c)
    )


def test_open_disruptions_and_a_partners_scope(
    rserver: str, rkeys: dict[str, str], rworld: RecordsWorld
) -> None:
    w = rworld
    open_ids = _mine(
        w, [d["id"] for d in pages(rserver, rkeys["analyst"], "disruptions", "", "id status", 2)]
    )
    assert open_ids == [f"{w.p}dsr-{n}" for n in range(1, 6)]
    every = _mine(
        w, [d["id"] for d in pages(rserver, rkeys["analyst"], "disruptions", "state: ALL", "id", 4)]
    )
    assert every == [f"{w.p}dsr-{n}" for n in range(6)]
    # the partner B0: S0..S2 and B0 are in its network, B1 and B2 (its suppliers' other buyers) are not
    seen = _mine(
        w, [d["id"] for d in pages(rserver, rkeys["partner"], "disruptions", "", "id enterpriseIds", 2)]
    )
    assert seen == [f"{w.p}dsr-{n}" for n in (1, 2, 3)]
    orders = pages(
        rserver, rkeys["partner"], "orders", "", "orderId supplierId buyerId unitPrice redacted", 50
    )
    assert [o["orderId"] for o in orders] == sorted(o for o, t in w.truth.orders.items() if t.buyer == w.B[0])
    assert all(o["unitPrice"] == 100.0 and o["redacted"] == [] for o in orders)  # its own orders
    assert error(
        rserver, rkeys["partner"], f'{{ stock(enterpriseId: "{w.B[1]}") {{ edges {{ cursor }} }} }}'
    ) == (f"enterprise {w.B[1]} is outside your network (3 tiers around {w.B[0]})")
    stock = pages(rserver, rkeys["partner"], "stock", "", "enterpriseId", 7)
    assert {s["enterpriseId"] for s in stock} == {*w.S, w.B[0]}
    # its pages merge one index range per network supplier: small pages chain without gaps or
    # duplicates and hold no order, shipment or incident outside its network
    network = {*w.S, w.B[0]}
    for first in (1, 7):
        got = pages(rserver, rkeys["partner"], "orders", "", "orderId supplierId buyerId", first)
        assert [o["orderId"] for o in got] == [o["orderId"] for o in orders]
        assert all({o["supplierId"], o["buyerId"]} <= network for o in got)
    week = pages(
        rserver,
        rkeys["partner"],
        "orders",
        'orderedFrom: "2026-03-04", orderedTo: "2026-03-06"',
        "orderId orderedOn",
        4,
    )
    assert [(o["orderedOn"], o["orderId"]) for o in week] == sorted(
        (t.ordered_on.isoformat(), o)
        for o, t in w.truth.orders.items()
        if t.buyer == w.B[0] and date(2026, 3, 4) <= t.ordered_on <= date(2026, 3, 6)
    )
    assert week
    delayed = pages(rserver, rkeys["partner"], "shipments", "delayedOnly: true", "shipmentId buyerId", 3)
    assert [d["shipmentId"] for d in delayed] == sorted(
        sid for sid, (_, b, late) in w.truth.shipments.items() if late and b == w.B[0]
    )
    incidents = pages(rserver, rkeys["partner"], "qualityIncidents", "", "incidentId buyerId", 2)
    assert [i["incidentId"] for i in incidents] == sorted(
        q for q, (_, b) in w.truth.quality.items() if b == w.B[0]
    )


def test_risky_nodes_sole_sources_and_exposures_go_on_with_cursors(
    rserver: str, rkeys: dict[str, str], rworld: RecordsWorld
) -> None:
    w, key = rworld, rkeys["analyst"]
    q = """query($after: String) {
      riskyNodes(first: 5, region: "%s", after: $after) { enterpriseId score cursor } }"""
    whole = data(
        rserver, key, f'{{ riskyNodes(first: 1000, region: "{w.region}") {{ enterpriseId score }} }}'
    )["riskyNodes"]
    assert len(whole) == 12
    got: list[dict[str, Any]] = []
    after = None
    while True:
        page = data(rserver, key, q % w.region, {"after": after})["riskyNodes"]
        got += [{"enterpriseId": r["enterpriseId"], "score": r["score"]} for r in page]
        if len(page) < 5:
            break
        after = page[-1]["cursor"]
    assert got == whole

    report = """query($after: String) { sourcingReport(enterpriseId: "%s", tiers: 2) {
      soleSources(first: 5, after: $after) { sku buyer { id } cursor } } }"""
    full = data(rserver, key, (report % w.B[0]).replace("first: 5", "first: 5000"))["sourcingReport"][
        "soleSources"
    ]
    assert len(full) >= 12
    got, after = [], None
    while True:
        page = data(rserver, key, report % w.B[0], {"after": after})["sourcingReport"]["soleSources"]
        got += page
        if len(page) < 5:
            break
        after = page[-1]["cursor"]
    assert [(s["sku"], s["buyer"]["id"]) for s in got] == [(s["sku"], s["buyer"]["id"]) for s in full]

    what_if = """query($after: String) { whatIf(enterprises: ["%s"], days: 60, tiers: 2) {
      affectedCount exposures(first: 4, after: $after) { enterprise { id } cursor } } }"""
    full_exp = data(rserver, key, (what_if % w.H).replace("first: 4", "first: 5000"))["whatIf"]["exposures"]
    assert len(full_exp) >= 12
    got, after = [], None
    while True:
        page = data(rserver, key, what_if % w.H, {"after": after})["whatIf"]["exposures"]
        got += page
        if len(page) < 4:
            break
        after = page[-1]["cursor"]
    assert [e["enterprise"]["id"] for e in got] == [e["enterprise"]["id"] for e in full_exp]


def test_bad_cursors_and_page_sizes_are_refused(rserver: str, rkeys: dict[str, str]) -> None:
    key = rkeys["analyst"]
    assert error(rserver, key, '{ orders(after: "nope") { edges { cursor } } }') == (
        "invalid cursor: pass an endCursor this API returned"
    )
    stock_cursor = data(rserver, key, "{ stock(first: 1) { pageInfo { endCursor } } }")["stock"]["pageInfo"][
        "endCursor"
    ]
    assert error(rserver, key, f'{{ orders(after: "{stock_cursor}") {{ edges {{ cursor }} }} }}') == (
        "this cursor was made for 'stock', not orders"
    )
    by_id = data(rserver, key, "{ orders(first: 1) { pageInfo { endCursor } } }")["orders"]["pageInfo"][
        "endCursor"
    ]
    assert error(
        rserver, key, f'{{ orders(orderedFrom: "2026-03-01", after: "{by_id}") {{ edges {{ cursor }} }} }}'
    ) == ("this cursor was made for 'orders', not ordersByDate")
    assert error(rserver, key, "{ shipments(first: 501) { edges { cursor } } }") == (
        "first must be between 1 and 500, got 501 (Query.shipments)"
    )
