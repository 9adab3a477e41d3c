"""The risk views of the GraphQL API over HTTP against the real stack: what-if disruption, sourcing
report (sole sources and concentration), critical nodes, and pinyin name search — each role, the
partner's scope and redaction, and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pydantic
import pytest

from api.keys import create_key
from graph.mutations import to_mutations
from graph.names import name_search_keys
from graph.writer import GraphWriter
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
    _jwt,
    counting_server,
    data,
    error,
)

WHAT_IF = """query($e: [ID!], $f: [ID!], $r: String, $d: Float!, $t: Int) {
  whatIf(enterprises: $e, facilities: $f, region: $r, days: $d, tiers: $t) {
    days tiers truncated affectedCount products disrupted { id name }
    byTier { tier affected stopSupplying maxShortfallDays }
    exposures { enterprise { id name } tier lostShare { sku share } gapStartsDay timeToSurvive
      timeToRecover shortfallDays stopsSupplying redacted alternatives { sku suppliers { id } } } } }"""

REPORT = """query($id: ID, $sku: String, $t: Int) {
  sourcingReport(enterpriseId: $id, productSku: $sku, tiers: $t) {
    tiers truncated weighting skus soleSourceCount
    soleSources { sku buyer { id } supplier { id name } }
    concentration { sku hhi topRegion topShare suppliers concentrated regions { region share } } } }"""

COSTLY = """{ whatIf(enterprises: ["x"], days: 5) {
  exposures(first: 5000) { alternatives { suppliers { suppliers { partner { id } } } } } } }"""

CRITICAL = """query($id: ID!, $t: Int, $dir: Direction) {
  criticalNodes(id: $id, tiers: $t, direction: $dir) { focalId nodeCount truncated method
    cutVertices { id tier cutVertex betweenness } topBetweenness(first: 3) { id betweenness } } }"""


class RiskWorld:
    """X (ore) → M1 (武汉, steel 70%) → S1; M2 (上海) → S1 (steel 30%) and → S2 (steel, sole);
    S1 → O (part), S2 → O (part2); W stands apart. BOM: car = part + part2, part = steel, steel = ore."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-risk-"
        self.p = p
        self.X, self.M1, self.M2, self.S1, self.S2, self.O, self.W = (
            p + x for x in ("x", "m1", "m2", "s1", "s2", "o", "w")
        )
        self.hubei, self.shanghai = f"{p}湖北省 武汉市", f"{p}上海市"
        self.site = p + "m1-blast-furnace"
        self.car = p + "car"
        names = {
            self.X: ("鞍山矿业", self.shanghai),
            self.M1: ("武汉钢铁", self.hubei),
            self.M2: ("宝山钢铁", self.shanghai),
            self.S1: ("东风零部件", self.shanghai),
            self.S2: ("上海零部件", self.shanghai),
            self.O: ("东风汽车", self.shanghai),
            self.W: ("Far Away Mine", self.shanghai),
        }
        evs: list[dict[str, Any]] = []

        def add(t: str, d: dict[str, Any]) -> None:
            evs.append(_event(run_id, 1000 + len(evs), t, d))

        for eid, (name, region) in names.items():
            add(
                "partner.registered",
                {"enterprise_id": eid, "name": name, "industry": "steel", "region": region, "country": "CN"},
            )
        add(
            "facility.registered",
            {
                "facility_id": self.site,
                "enterprise_id": self.M1,
                "name": "No. 1 blast furnace",
                "kind": "plant",
                "region": self.hubei,
            },
        )

        def supply(s: str, b: str, sku: str, share: float, volume: float) -> None:
            add(
                "supply.agreed",
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": sku,
                    "share": share,
                    "lead_time_days": 14,
                    "valid_from": "2025-01-01",
                    "unit_price": 100.0,
                    "currency": "CNY",
                    "annual_volume": volume,
                },
            )

        self.ore, self.steel, self.part, self.part2 = p + "ore", p + "steel", p + "part", p + "part2"
        supply(self.X, self.M1, self.ore, 1.0, 500)
        supply(self.M1, self.S1, self.steel, 0.7, 700)
        supply(self.M2, self.S1, self.steel, 0.3, 300)
        supply(self.M2, self.S2, self.steel, 1.0, 1000)
        supply(self.S1, self.O, self.part, 1.0, 50)
        supply(self.S2, self.O, self.part2, 1.0, 50)
        add(
            "bom.defined",
            {
                "product_sku": self.car,
                "components": [{"sku": self.part, "qty": 1}, {"sku": self.part2, "qty": 1}],
            },
        )
        add("bom.defined", {"product_sku": self.part, "components": [{"sku": self.steel, "qty": 2}]})
        add("bom.defined", {"product_sku": self.steel, "components": [{"sku": self.ore, "qty": 1.5}]})
        self.events = evs
        self.names = names


@pytest.fixture(scope="module")
def risk_settings(stack: Settings, run_id: str) -> Settings:
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
        }
    )
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    return s


@pytest.fixture(scope="module")
def rworld(risk_settings: Settings, run_id: str) -> RiskWorld:
    w = RiskWorld(run_id)

    async def load() -> None:
        driver = bootstrap.async_driver(risk_settings)
        try:
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
            # The projection writes namePinyin with the name; the pinyin search tests rely on that.
            rec, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN e.namePinyin AS k, e.name AS name",
                {"p": w.p},
            )
            assert rec and all(r["k"] == name_search_keys(r["name"]) for r in rec)
        finally:
            await driver.close()

    asyncio.run(load())
    return w


@pytest.fixture(scope="module")
def rserver(risk_settings: Settings, rworld: RiskWorld) -> Iterator[tuple[Server, CountingDriver]]:
    yield from counting_server(risk_settings)


@pytest.fixture(scope="module")
def rkeys(risk_settings: Settings, rworld: RiskWorld, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(risk_settings)
    return {
        "admin": create_key(engine, name=f"{run_id}-risk-admin", role=Role.ADMIN)[1],
        "analyst": create_key(engine, name=f"{run_id}-risk-analyst", role=Role.ANALYST)[1],
        "erp": create_key(engine, name=f"{run_id}-risk-erp", role=Role.ERP, source="sap/x")[1],
        "partner": create_key(engine, name=f"{run_id}-risk-p", role=Role.PARTNER, enterprise_id=rworld.O)[1],
    }


def _by_id(exposures: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["enterprise"]["id"]: e for e in exposures}


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_what_if_follows_the_shortage_downstream_tier_by_tier(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld, role: str
) -> None:
    w = rworld
    got = data(rserver[0].url, rkeys[role], WHAT_IF, {"e": [w.M1], "d": 30.0, "t": 4})["whatIf"]
    assert [d["id"] for d in got["disrupted"]] == [w.M1]
    assert [d["name"] for d in got["disrupted"]] == ["武汉钢铁"]
    ex = _by_id(got["exposures"])
    assert set(ex) == {w.S1, w.O}
    s1, o = ex[w.S1], ex[w.O]
    # S1 loses 70% of its steel: out of supply from day 0, survives 7 days (default cover), 23 days short
    assert (s1["tier"], s1["lostShare"], s1["gapStartsDay"]) == (1, [{"sku": w.steel, "share": 0.7}], 0.0)
    assert (s1["timeToSurvive"], s1["timeToRecover"], s1["shortfallDays"]) == (7.0, 30.0, 23.0)
    assert s1["stopsSupplying"] is True
    # O loses all its parts from S1 when S1 runs dry on day 7
    assert (o["tier"], o["gapStartsDay"], o["timeToRecover"], o["shortfallDays"]) == (2, 7.0, 23.0, 16.0)
    assert [e["enterprise"]["id"] for e in got["exposures"]] == [w.S1, w.O]  # most exposed first
    # M2 keeps running: the alternative supplier of the steel S1 lost
    assert s1["alternatives"] == [{"sku": w.steel, "suppliers": [{"id": w.M2}]}]
    assert o["alternatives"] == [{"sku": w.part, "suppliers": []}]
    assert got["byTier"] == [
        {"tier": 1, "affected": 1, "stopSupplying": 1, "maxShortfallDays": 23.0},
        {"tier": 2, "affected": 1, "stopSupplying": 1, "maxShortfallDays": 16.0},  # O runs dry on day 14
    ]
    assert got["products"] == sorted([w.steel, w.part])
    assert (got["affectedCount"], got["truncated"]) == (2, False)


def test_what_if_by_region_or_facility_takes_out_the_same_mill(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, t, w = rserver[0].url, rkeys["analyst"], rworld
    by_name = data(url, t, WHAT_IF, {"e": [w.M1], "d": 30.0})["whatIf"]
    by_region = data(url, t, WHAT_IF, {"r": w.hubei, "d": 30.0})["whatIf"]
    by_site = data(url, t, WHAT_IF, {"f": [w.site], "d": 30.0})["whatIf"]
    assert by_region == by_name == by_site
    # a short disruption (5 days) ends before S1's 7 days of cover run out: nobody stops supplying
    short = data(url, t, WHAT_IF, {"e": [w.M1], "d": 5.0})["whatIf"]
    assert [(e["enterprise"]["id"], e["shortfallDays"]) for e in short["exposures"]] == [(w.S1, 0.0)]
    # one tier: the cascade stops at S1
    one = data(url, t, WHAT_IF, {"e": [w.M1], "d": 30.0, "t": 1})["whatIf"]
    assert [e["enterprise"]["id"] for e in one["exposures"]] == [w.S1]


def test_what_if_round_trips_are_bounded_by_tiers(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    srv, counter = rserver
    before = counter.calls
    data(srv.url, rkeys["analyst"], WHAT_IF, {"e": [rworld.M1], "d": 30.0, "t": 4})
    # candidates + one read per tier until the closure stops growing (S1, O, nothing) + in-links +
    # alternatives: bounded by tiers + 3 whatever the number of enterprises affected
    assert counter.calls - before == 1 + 3 + 1 + 1


def test_partner_what_if_sees_its_network_and_only_its_own_lost_shares(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, t, w = rserver[0].url, rkeys["partner"], rworld
    got = data(url, t, WHAT_IF, {"e": [w.M1], "d": 30.0})["whatIf"]
    ex = _by_id(got["exposures"])
    assert set(ex) == {w.S1, w.O}
    assert ex[w.S1]["lostShare"] == [{"sku": w.steel, "share": None}]
    assert ex[w.S1]["redacted"] == ["lostShare"]
    assert ex[w.O]["lostShare"] == [{"sku": w.part, "share": 1.0}]
    assert ex[w.O]["redacted"] == []
    msg = error(url, t, WHAT_IF, {"e": [w.W], "d": 30.0})
    assert msg == f"enterprise {w.W} is outside your network (3 tiers around {w.O})"


def test_what_if_refusals_say_why(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, w = rserver[0].url, rworld
    assert error(url, rkeys["erp"], WHAT_IF, {"e": [w.M1], "d": 30.0}) == (
        "role erp may not do this (allowed: admin, analyst, partner)"
    )
    t = rkeys["analyst"]
    assert (
        error(url, t, WHAT_IF, {"d": 30.0}) == "name what is disrupted: enterprises, facilities and/or region"
    )
    assert error(url, t, WHAT_IF, {"e": [w.M1], "d": 0.0}) == "days must be above 0 and at most 3650, got 0.0"
    assert error(url, t, WHAT_IF, {"e": [w.M1], "d": 5.0, "t": 9}) == "tiers must be between 1 and 8, got 9"
    assert "exceeds the limit of 50000" in error(url, t, COSTLY)


def test_sourcing_report_of_a_focal_network(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, w = rserver[0].url, rworld
    got = data(url, rkeys["analyst"], REPORT, {"id": w.O, "t": 3})["sourcingReport"]
    assert [(s["sku"], s["buyer"]["id"], s["supplier"]["id"]) for s in got["soleSources"]] == [
        (w.ore, w.M1, w.X),
        (w.part, w.O, w.S1),
        (w.part2, w.O, w.S2),
        (w.steel, w.S2, w.M2),
    ]
    assert got["soleSourceCount"] == 4
    assert got["weighting"] == "volume"
    steel = next(c for c in got["concentration"] if c["sku"] == w.steel)
    # by annual volume: Shanghai 300 + 1000, Hubei 700 of 2000
    assert {r["region"]: r["share"] for r in steel["regions"]} == {w.hubei: 0.35, w.shanghai: 0.65}
    assert (steel["topRegion"], steel["topShare"], steel["suppliers"]) == (w.shanghai, 0.65, 2)
    assert steel["hhi"] == pytest.approx(0.35**2 + 0.65**2)
    assert steel["concentrated"] is True
    # partner: its own network, every link weighs alike (others' volumes are hidden)
    mine = data(url, rkeys["partner"], REPORT, {"id": w.O, "t": 3})["sourcingReport"]
    assert mine["weighting"] == "links"
    steel = next(c for c in mine["concentration"] if c["sku"] == w.steel)
    shares = {r["region"]: r["share"] for r in steel["regions"]}
    assert shares == pytest.approx({w.hubei: 1 / 3, w.shanghai: 2 / 3})
    assert mine["soleSourceCount"] == 4


def test_sourcing_report_of_a_product_bill_of_materials(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, w = rserver[0].url, rworld
    got = data(url, rkeys["admin"], REPORT, {"sku": w.car, "t": 5})["sourcingReport"]
    assert got["skus"] == sorted([w.ore, w.part, w.part2, w.steel])
    assert [(s["sku"], s["buyer"]["id"]) for s in got["soleSources"]] == [
        (w.ore, w.M1),
        (w.part, w.O),
        (w.part2, w.O),
        (w.steel, w.S2),
    ]
    assert error(url, rkeys["partner"], REPORT, {"sku": w.car}) == (
        "role partner may not do this (allowed: admin, analyst)"
    )
    assert error(url, rkeys["analyst"], REPORT, {}) == "give exactly one of enterpriseId or productSku"
    assert error(url, rkeys["erp"], REPORT, {"id": w.O}).startswith("role erp may not do this")


def test_critical_nodes_of_a_focal_network(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld
) -> None:
    url, w = rserver[0].url, rworld
    for role in ("analyst", "partner"):
        got = data(url, rkeys[role], CRITICAL, {"id": w.O, "t": 3})["criticalNodes"]
        assert (got["nodeCount"], got["method"], got["truncated"]) == (6, "exact", False)
        # O-S1-M2-S2-O is a cycle; M1 (and X behind it) hang off S1
        assert [(c["id"], c["tier"], c["cutVertex"]) for c in got["cutVertices"]] == [
            (w.S1, 1, True),
            (w.M1, 2, True),
        ]
        assert got["topBetweenness"][0]["id"] == w.S1
    msg = error(url, rkeys["partner"], CRITICAL, {"id": w.W})
    assert msg == f"enterprise {w.W} is outside your network (3 tiers around {w.O})"
    assert error(url, rkeys["erp"], CRITICAL, {"id": w.O}).startswith("role erp may not do this")
    down = data(url, rkeys["analyst"], CRITICAL, {"id": w.X, "t": 3, "dir": "DOWNSTREAM"})["criticalNodes"]
    assert down["nodeCount"] == 4  # X → M1 → S1 → O


@pytest.mark.parametrize("text", ["wuhan", "whgt", "WuHan GangTie", "武汉钢铁"])
def test_name_search_is_pinyin_insensitive(
    rserver: tuple[Server, CountingDriver], rkeys: dict[str, str], rworld: RiskWorld, text: str
) -> None:
    q = """query($n: String, $r: String) {
      enterprises(name: $n, region: $r) { totalCount edges { node { id } } } }"""
    got = data(rserver[0].url, rkeys["analyst"], q, {"n": text, "r": rworld.hubei})["enterprises"]
    assert [e["node"]["id"] for e in got["edges"]] == [rworld.M1]
    none = data(rserver[0].url, rkeys["analyst"], q, {"n": "shanghai", "r": rworld.hubei})["enterprises"]
    assert none["totalCount"] == 0


def test_jwt_analyst_gets_the_risk_views(rserver: tuple[Server, CountingDriver], rworld: RiskWorld) -> None:
    got = data(rserver[0].url, _jwt({"role": "analyst"}), CRITICAL, {"id": rworld.O, "t": 2})["criticalNodes"]
    assert got["nodeCount"] == 5
