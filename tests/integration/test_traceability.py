"""Lot traceability end to end: an EPCIS 2.0 document set (every lot event kind) -> `supplynet ingest`
-> Kafka -> worker -> Neo4j -> ``traceBack`` / ``traceForward`` / ``recallScope`` over GraphQL, for
staff and for a partner whose view stops at its network's edge.

The genealogy (tests/data/epcis/traceability.json), ``RUN`` replaced by this run's id::

    mine: ORE1 ─┐                       ┌─ COIL1 ─(pallet PAL1, PO-COIL)→ oem: B1 → dealer
                ├→ mill: HEAT1 → mill: ─┤                           └→ oem: B2
  cokery: COKE1 ┘                       └─ COIL2 → press

Supply links (the partner scope): mine → mill, cokery → mill, mill → oem, oem → dealer, mill → press.
The partner is the oem with ``partner_tiers`` 1: it sees mill, oem and dealer; not mine, cokery, press.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest

from api.keys import create_key
from bench.trace import load, map_walk, same_answer
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.trace import Genealogy, LotTrace, Visibility
from schema.tables import Role
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.test_api import ISSUER, SECRET, Server, counting_server, gql

pytestmark = pytest.mark.timeout(300)
DOCUMENT = Path(__file__).parents[1] / "data" / "epcis" / "traceability.json"


class Names:
    def __init__(self, run: str) -> None:
        self.run = run
        party = f"pgln:6901234.{run}-"
        self.mine, self.cokery, self.mill, self.oem, self.dealer, self.press = (
            party + x for x in ("mine", "cokery", "mill", "oem", "dealer", "press")
        )
        self.ore = f"lgtin:6901234.000011.{run}-ORE1"
        self.coke = f"lgtin:6901234.000022.{run}-COKE1"
        self.heat = f"lgtin:6901234.000033.{run}-HEAT1"
        self.coil1 = f"lgtin:6901234.012345.{run}-COIL1"
        self.coil2 = f"lgtin:6901234.012345.{run}-COIL2"
        self.b1 = f"sgtin:6901234.099999.{run}-B1"
        self.b2 = f"sgtin:6901234.099999.{run}-B2"
        self.po_coil = f"6901234000001:{run}-PO-COIL"


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000


def _master_data(n: Names) -> bytes:
    t = datetime.fromisoformat("2026-06-01T08:00:00+08:00")
    evs = []
    for e in (n.mine, n.cokery, n.mill, n.oem, n.dealer, n.press):
        evs.append(
            envelope(
                eid=f"{n.run}-tr-{e}",
                type_="partner.registered",
                subject=e,
                time=t,
                data={"enterprise_id": e, "name": e, "industry": "steel"},
            )
        )
    for s, b in ((n.mine, n.mill), (n.cokery, n.mill), (n.mill, n.oem), (n.oem, n.dealer), (n.mill, n.press)):
        evs.append(
            envelope(
                eid=f"{n.run}-tr-{s}-{b}",
                type_="supply.agreed",
                subject=b,
                time=t,
                data={"supplier_id": s, "buyer_id": b, "sku": "steel", "share": 0.5, "lead_time_days": 7},
            )
        )
    return b"\n".join(msgspec.json.encode(e) for e in evs) + b"\n"


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "SUPPLYNET_SQL_URL": settings.database_url(), "COLUMNS": "200", **extra}


@pytest.fixture(scope="module")
def names(run_id: str) -> Names:
    return Names(f"{run_id}tr")


@pytest.fixture(scope="module")
def tr_settings(stack: Settings) -> Settings:
    api = stack.api.model_copy(
        update={
            "jwt_issuer": ISSUER,
            "jwt_audience": "supplynet",
            "jwt_hs256_secret": pydantic.SecretStr(SECRET),
            "partner_tiers": 1,
        }
    )
    return stack.model_copy(update={"api": api})


@pytest.fixture(scope="module")
def pipeline(tr_settings: Settings, names: Names, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The worker running; the master data and the EPCIS document (twice: duplicates) ingested."""

    async def schema() -> None:
        driver = bootstrap.async_driver(tr_settings)
        try:
            await migrate(driver, database=tr_settings.neo4j.database)
        finally:
            await driver.close()

    asyncio.run(schema())
    tmp = tmp_path_factory.mktemp("trace")
    log = (tmp / "worker.log").open("wb")
    env = _env(
        tr_settings,
        SUPPLYNET_STREAM__APP_ID=f"supplynet-test-{names.run}",
        SUPPLYNET_STREAM__WEB_PORT=str(free_port()),
        SUPPLYNET_STREAM__BATCH_SECONDS="0.2",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        (tmp / "partners.ndjson").write_bytes(_master_data(names))
        (tmp / "lots.json").write_text(DOCUMENT.read_text().replace("RUN", names.run))
        for _ in range(2):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "supplynet",
                    "ingest",
                    "partners.ndjson",
                    "lots.json",
                    "--source",
                    "epcis/t",
                ],
                env=_env(tr_settings),
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        yield
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)


@pytest.fixture(scope="module")
def served(tr_settings: Settings, pipeline: None) -> Iterator[Server]:
    for srv, _ in counting_server(tr_settings):
        yield srv


@pytest.fixture(scope="module")
def tokens(tr_settings: Settings, names: Names) -> dict[str, str]:
    engine = bootstrap.sql_engine(tr_settings)
    bootstrap.create_sql_tables(engine)
    return {
        "admin": create_key(engine, name=f"{names.run}-admin", role=Role.ADMIN)[1],
        "erp": create_key(engine, name=f"{names.run}-erp", role=Role.ERP, source="epcis/t")[1],
        "partner": create_key(engine, name=f"{names.run}-oem", role=Role.PARTNER, enterprise_id=names.oem)[1],
    }


STEPS = (
    "lotId sku quantity enterpriseId facilityId productionId producedAt depth rawMaterial "
    "links { lotId quantity }"
)
HOLDERS = "holders { lotId enterpriseId supplierId shipmentId orderId unitId quantity shippedAt receivedAt }"
BEYOND = "beyond { lotId enterpriseId hiddenLots hiddenHolders description }"
BACK = f"query($lot: ID!) {{ traceBack(lot: $lot) {{ lotId truncated steps {{ {STEPS} }} {BEYOND} }} }}"
FORWARD = (
    f"query($lot: ID!) {{ traceForward(lot: $lot) {{ lotId truncated steps {{ {STEPS} }} "
    f"{HOLDERS} {BEYOND} }} }}"
)
RECALL = """query($lots: [ID!]!, $since: Date) { recallScope(lots: $lots, since: $since) {
  lots truncated enterprises { enterpriseId madeLots madeQuantity receivedLots receivedQuantity }
  orders { orderId supplierId buyerId shipmentId lotId quantity shippedAt }
  beyond { lotId enterpriseId hiddenLots hiddenHolders description } } }"""


def _ask(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    r = gql(url, token, query, variables)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _settled(url: str, token: str, n: Names) -> dict[str, Any]:
    """traceForward of the ore once the worker has projected the whole document."""
    deadline = time.monotonic() + 180
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _ask(url, token, FORWARD, {"lot": n.ore})
        got = (body.get("data") or {}).get("traceForward")
        if got and len(got["steps"]) == 6 and len(got["holders"]) == 4:
            return dict(got)
        time.sleep(1)
    pytest.fail(f"the genealogy never appeared whole: {body}")


def test_trace_back_reaches_the_raw_material_lots_with_each_step_maker_facility_and_time(
    served: Server, tokens: dict[str, str], names: Names
) -> None:
    n = names
    _settled(served.url, tokens["admin"], n)
    got = _ask(served.url, tokens["admin"], BACK, {"lot": n.b1})["data"]["traceBack"]
    steps = {s["lotId"]: s for s in got["steps"]}
    assert [(s["lotId"], s["depth"]) for s in got["steps"]] == [
        (n.b1, 0),
        (n.coil1, 1),
        (n.heat, 2),
        (n.ore, 3),
        (n.coke, 3),
    ]
    assert {lot for lot, s in steps.items() if s["rawMaterial"]} == {n.ore, n.coke}
    heat = steps[n.heat]
    assert (heat["enterpriseId"], heat["facilityId"], heat["sku"], heat["quantity"]) == (
        n.mill,
        f"sgln:6901234.{n.run}-mill.0",
        "gtin:6901234.000033",
        300.0,
    )
    assert heat["producedAt"] == _ms("2026-07-05T08:00:00+08:00")
    assert heat["productionId"] == f"gdti:6901234.00001.{n.run}-HEAT1"
    assert sorted((x["lotId"], x["quantity"]) for x in heat["links"]) == [(n.ore, 400.0), (n.coke, 120.0)]
    assert (steps[n.ore]["enterpriseId"], steps[n.coke]["enterpriseId"]) == (n.mine, n.cokery)
    assert steps[n.b1]["links"] == [{"lotId": n.coil1, "quantity": 0.9}]
    assert got["beyond"] == [] and got["truncated"] is False


def test_trace_forward_finds_every_downstream_lot_and_who_holds_it_loose_or_on_a_pallet(
    served: Server, tokens: dict[str, str], names: Names
) -> None:
    n = names
    got = _settled(served.url, tokens["admin"], n)
    assert {s["lotId"] for s in got["steps"]} == {n.ore, n.heat, n.coil1, n.coil2, n.b1, n.b2}
    held = {(h["lotId"], h["enterpriseId"]): h for h in got["holders"]}
    assert set(held) == {(n.ore, n.mill), (n.coil1, n.oem), (n.coil2, n.press), (n.b1, n.dealer)}
    ore = held[(n.ore, n.mill)]
    assert (ore["quantity"], ore["receivedAt"], ore["shippedAt"]) == (
        498.0,  # as received
        _ms("2026-07-03T08:00:00+08:00"),
        _ms("2026-07-02T08:00:00+08:00"),
    )
    pallet = held[(n.coil1, n.oem)]
    assert (pallet["unitId"], pallet["orderId"], pallet["quantity"], pallet["supplierId"]) == (
        f"sscc:6901234.{n.run}-PAL1",
        n.po_coil,
        150.0,
        n.mill,
    )
    assert held[(n.b1, n.dealer)]["quantity"] == 1.0


def test_recall_scope_names_enterprises_orders_and_quantities_and_honours_since(
    served: Server, tokens: dict[str, str], names: Names
) -> None:
    n = names
    _settled(served.url, tokens["admin"], n)
    got = _ask(served.url, tokens["admin"], RECALL, {"lots": [n.heat]})["data"]["recallScope"]
    assert set(got["lots"]) == {n.heat, n.coil1, n.coil2, n.b1, n.b2}
    per = {e["enterpriseId"]: e for e in got["enterprises"]}
    assert {
        k: (v["madeLots"], v["madeQuantity"], v["receivedLots"], v["receivedQuantity"])
        for k, v in per.items()
    } == {
        n.mill: (3, 595.0, 0, 0.0),
        n.oem: (2, 2.0, 1, 150.0),
        n.press: (0, 0.0, 1, 145.0),
        n.dealer: (0, 0.0, 1, 1.0),
    }
    assert [(o["orderId"], o["buyerId"], o["lotId"], o["quantity"]) for o in got["orders"]] == [
        (n.po_coil, n.oem, n.coil1, 150.0)
    ]
    later = _ask(served.url, tokens["admin"], RECALL, {"lots": [n.heat], "since": "2026-07-08"})["data"]
    per_later = {e["enterpriseId"] for e in later["recallScope"]["enterprises"] if e["receivedLots"]}
    assert per_later == {n.press, n.dealer}  # the pallet left on 07-07
    assert later["recallScope"]["orders"] == []


def test_a_partner_sees_its_network_and_only_an_opaque_boundary_beyond_it(
    served: Server, tokens: dict[str, str], names: Names
) -> None:
    n = names
    _settled(served.url, tokens["admin"], n)
    body = _ask(served.url, tokens["partner"], BACK, {"lot": n.b1})
    assert not body.get("errors"), body
    back = body["data"]["traceBack"]
    assert [s["lotId"] for s in back["steps"]] == [n.b1, n.coil1, n.heat]
    assert [s["rawMaterial"] for s in back["steps"]] == [False, False, False]
    [edge] = back["beyond"]
    assert (edge["lotId"], edge["enterpriseId"], edge["hiddenLots"]) == (n.heat, n.mill, 2)
    assert edge["description"] == f"2 lot(s) upstream of lot {n.heat} outside your view"
    text = msgspec.json.encode(body).decode()
    for hidden in ("-mine", "-cokery", "ORE1", "COKE1"):
        assert hidden not in text

    fwd = _ask(served.url, tokens["partner"], FORWARD, {"lot": n.heat})
    assert not fwd.get("errors"), fwd
    got = fwd["data"]["traceForward"]
    assert {s["lotId"] for s in got["steps"]} == {n.heat, n.coil1, n.coil2, n.b1, n.b2}
    assert {(h["lotId"], h["enterpriseId"]) for h in got["holders"]} == {(n.coil1, n.oem), (n.b1, n.dealer)}
    assert [(b["lotId"], b["hiddenLots"], b["hiddenHolders"]) for b in got["beyond"]] == [(n.coil2, 0, 1)]
    assert "-press" not in msgspec.json.encode(fwd).decode()

    recall = _ask(served.url, tokens["partner"], RECALL, {"lots": [n.heat]})["data"]["recallScope"]
    assert {e["enterpriseId"] for e in recall["enterprises"]} == {n.mill, n.oem, n.dealer}

    refused = _ask(served.url, tokens["partner"], BACK, {"lot": n.ore})
    assert refused["data"] == {"traceBack": None}
    assert "is outside your network" in refused["errors"][0]["message"]
    erp = _ask(served.url, tokens["erp"], BACK, {"lot": n.b1})
    assert erp["errors"][0]["message"].startswith("role erp may not do this")


async def _both_shapes(
    settings: Settings, start: list[str], *, forward: bool, max_depth: int, max_lots: int, visible: Visibility
) -> tuple[
    tuple[Genealogy, dict[str, list[dict[str, Any]]]], tuple[Genealogy, dict[str, list[dict[str, Any]]]]
]:
    """The same walk in the compact shape (then the shipped lots' holders, as the resolvers ask) and in
    the previous map-shaped one (then every kept lot's holders)."""
    driver = bootstrap.async_driver(settings)
    try:
        trace = LotTrace(driver, database=settings.neo4j.database)
        g = await trace.walk(start, forward=forward, max_depth=max_depth, max_lots=max_lots, visible=visible)
        held = await trace.holders([s["id"] for s in g.steps if s["id"] in g.shipped]) if forward else {}
        before = await map_walk(
            driver,
            settings.neo4j.database,
            start,
            forward=forward,
            max_depth=max_depth,
            max_lots=max_lots,
            visible=visible,
        )
        return (g, held), before
    finally:
        await driver.close()


def test_the_compact_answer_holds_the_lots_links_boundaries_and_holders_of_the_map_shaped_one(
    served: Server, tr_settings: Settings, tokens: dict[str, str], names: Names
) -> None:
    """Every lot of the document, both ways, for staff and for the oem's network, whole and cut short
    by ``maxDepth`` / ``maxNodes``: the compact walk keeps the same steps (fields, order, links), the
    same boundaries and truncation, and finds the same holders (loose and on the pallet) while asking
    only for the lots shipped or packed."""
    n = names
    _settled(served.url, tokens["admin"], n)
    lots = [n.ore, n.coke, n.heat, n.coil1, n.coil2, n.b1, n.b2]
    partner = Visibility(frozenset({n.mill, n.oem, n.dealer}))
    seen_holders = 0
    for lot in lots:
        for forward in (True, False):
            for visible in (Visibility(None), partner):
                for depth, most in ((10, 2000), (1, 2000), (10, 3)):
                    now, before = asyncio.run(
                        _both_shapes(
                            tr_settings,
                            [lot],
                            forward=forward,
                            max_depth=depth,
                            max_lots=most,
                            visible=visible,
                        )
                    )
                    assert same_answer(now, before), (lot, forward, visible, depth, most, now, before)
                    assert now[0].steps, lot
                    seen_holders += sum(len(h) for h in now[1].values())
    ore = asyncio.run(
        _both_shapes(
            tr_settings, [n.ore], forward=True, max_depth=10, max_lots=2000, visible=Visibility(None)
        )
    )[0]
    assert sum(len(h) for h in ore[1].values()) == 4
    assert any(h["unitId"] for hs in ore[1].values() for h in hs)  # the pallet's shipment
    assert ore[0].shipped < {s["id"] for s in ore[0].steps}  # some lots were never shipped: not asked
    assert seen_holders > 0


def test_the_compact_answer_matches_the_map_shaped_one_on_a_random_genealogy(tr_settings: Settings) -> None:
    """A random 11-level genealogy (fan-in 2: lots reached twice; 5 makers, 3 of them in scope: hidden
    inputs and outputs): from every tenth lot, both ways, the two shapes agree, bounded or not."""
    prefix = f"test-trshape-{uuid.uuid4().hex[:6]}-"
    per = asyncio.run(load(tr_settings, prefix, lots=440, levels=10, fan_in=2, makers=5))
    scoped = Visibility(frozenset(f"{prefix}E{i}" for i in range(3)))
    truncated = hidden = 0
    try:
        for level in range(11):
            for i in range(0, per, 10):
                start = [f"{prefix}L{level}-{i}"]
                for forward in (True, False):
                    for visible in (Visibility(None), scoped):
                        for most in (2000, 25):
                            now, before = asyncio.run(
                                _both_shapes(
                                    tr_settings,
                                    start,
                                    forward=forward,
                                    max_depth=10,
                                    max_lots=most,
                                    visible=visible,
                                )
                            )
                            assert same_answer(now, before), (start, forward, visible, most)
                            truncated += now[0].truncated
                            hidden += len(now[0].boundaries)
    finally:

        async def clean() -> None:
            driver = bootstrap.async_driver(tr_settings)
            try:
                await delete_by_prefix(driver, prefix, database=tr_settings.neo4j.database)
            finally:
                await driver.close()

        asyncio.run(clean())
    assert truncated and hidden  # the bounds and the scope were both exercised


# -- order and duplicates ----------------------------------------------------------------------------

SHAPE = """
MATCH (l:Lot) WHERE l.id CONTAINS $run
OPTIONAL MATCH (l)-[m:MADE_FROM]->(i:Lot)
OPTIONAL MATCH (l)-[p:PACKED_IN]->(u:ShippingUnit)
OPTIONAL MATCH (l)-[s:SHIPPED_TO]->(e:Enterprise)
OPTIONAL MATCH (l)-[:PRODUCED_BY]->(maker:Enterprise)
WITH l, maker, collect(DISTINCT [i.id, m.quantity]) AS inputs,
     collect(DISTINCT [u.id, p.packedQuantity, p.packedAt, p.unpackedAt]) AS units,
     collect(DISTINCT [e.id, s.shipmentId, s.supplierId, s.orderId, s.shippedQuantity,
                       s.receivedQuantity]) AS shipped
RETURN l.id AS id, l.sku AS sku, l.quantity AS quantity, l.facilityId AS facility, l.producedAt AS at,
       maker.id AS maker, inputs, units, shipped
ORDER BY id
"""
UNIT_SHAPE = """
MATCH (u:ShippingUnit)-[s:SHIPPED_TO]->(e:Enterprise) WHERE u.id CONTAINS $run
RETURN u.id AS id, e.id AS to, s.shipmentId AS shipment, s.orderId AS orderId, s.shippedAt AS shipped,
       s.receivedAt AS received ORDER BY id, to
"""


def _lot_events(run: str) -> list[bytes]:
    from connectors.epcis import document_events

    doc = msgspec.json.decode(DOCUMENT.read_bytes().replace(b"RUN", run.encode()))
    return [i.event for i in document_events(doc, source="epcis/t") if i.event is not None]


def test_the_lot_graph_is_the_same_whatever_the_order_and_the_duplicates(
    tr_settings: Settings, run_id: str
) -> None:
    """The document in order in one batch vs in reverse, one batch per event, every event twice."""
    from graph.mutations import to_mutations
    from graph.writer import GraphWriter
    from schema.validate import decode_event

    ordered, shuffled = f"{run_id}ord", f"{run_id}rev"

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        driver = bootstrap.async_driver(tr_settings)
        try:
            await migrate(driver, database=tr_settings.neo4j.database)
            writer = GraphWriter(driver)
            await writer.write(to_mutations([decode_event(v) for v in _lot_events(ordered)]))
            for v in [*reversed(_lot_events(shuffled)), *_lot_events(shuffled)]:
                await writer.write(to_mutations([decode_event(v)]))
            shapes = []
            for run in (ordered, shuffled):
                lots, _, _ = await driver.execute_query(SHAPE, run=run)
                units, _, _ = await driver.execute_query(UNIT_SHAPE, run=run)
                rows = [
                    {k: sorted(v, key=str) if isinstance(v, list) else v for k, v in r.items()} for r in lots
                ]
                text = msgspec.json.encode([rows, [dict(r) for r in units]]).decode()
                # shipment ids without a document number are made from the event hash (the run in it)
                text = re.sub(r"epcis-[0-9a-f]{32}", "epcis-H", text.replace(run, "RUN"))
                shapes.append(msgspec.json.decode(text))
            return shapes[0], shapes[1]
        finally:
            await driver.close()

    a, b = asyncio.run(run())
    assert len(a[0]) == 7 and len(a[1]) == 1  # seven lots, one pallet
    assert a == b
