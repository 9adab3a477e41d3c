"""The risky-nodes list filtered by tier relative to a focal enterprise, against the real Neo4j: the
store's queries (tiers, direction, expired and future links, filters, the index the plain list reads)
and GraphQL ``riskyNodes(focalId:, tiers:, direction:)`` over HTTP for each role, a partner's scope
included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from api.keys import create_key
from graph.mutations import to_mutations
from graph.risk.settings import RiskSettings
from graph.risk.store import TOP, RiskStore
from graph.writer import GraphWriter
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.test_api import CountingDriver, Server, _event, counting_server, data, error

RISKY = """query($f: ID, $t: Int, $d: Direction, $min: Float, $ind: String, $reg: String, $n: Int) {
  riskyNodes(focalId: $f, tiers: $t, direction: $d, minScore: $min, industry: $ind, region: $reg,
             first: $n) { enterpriseId name score tier factors } }"""


class TierWorld:
    """Upstream of O: O ← A ← B ← C ← D (tiers 1..4), B also ← C2 ← C (C stays tier 3); X → O expired,
    Y → O not yet valid. Downstream of O: O → K → L. Each enterprise has a risk score."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-tier-"
        self.p = p
        self.O, self.A, self.B, self.C, self.C2, self.D, self.X, self.Y, self.K, self.L = (
            p + x for x in ("o", "a", "b", "c", "c2", "d", "x", "y", "k", "l")
        )
        self.r1, self.r2 = f"{p}湖北省", f"{p}上海市"
        profile = {  # id: (industry, region, score)
            self.O: ("automotive", self.r2, 0.80),
            self.A: ("steel", self.r1, 0.20),
            self.B: ("chemical", self.r2, 0.90),
            self.C: ("steel", self.r1, 0.50),
            self.C2: ("steel", self.r1, 0.10),
            self.D: ("steel", self.r1, 0.95),
            self.X: ("steel", self.r1, 0.99),
            self.Y: ("steel", self.r1, 0.98),
            self.K: ("electronics", self.r2, 0.70),
            self.L: ("electronics", self.r2, 0.30),
        }
        self.profile = profile
        evs: list[dict[str, Any]] = []

        def add(t: str, d: dict[str, Any]) -> None:
            evs.append(_event(run_id, 5000 + len(evs), t, d))

        for eid, (industry, region, _) in profile.items():
            add(
                "partner.registered",
                {
                    "enterprise_id": eid,
                    "name": eid[-2:],
                    "industry": industry,
                    "region": region,
                    "country": "CN",
                },
            )

        def supply(s: str, b: str, *, valid_from: str = "2025-01-01", valid_to: str | None = None) -> None:
            d: dict[str, Any] = {
                "supplier_id": s,
                "buyer_id": b,
                "sku": f"{p}sku-{s[-2:]}",
                "share": 1.0,
                "lead_time_days": 7,
                "valid_from": valid_from,
            }
            if valid_to is not None:
                d["valid_to"] = valid_to
            add("supply.agreed", d)

        supply(self.A, self.O)
        supply(self.B, self.A)
        supply(self.C, self.B)
        supply(self.C2, self.B)
        supply(self.C, self.C2)
        supply(self.D, self.C)
        supply(self.X, self.O, valid_from="2020-01-01", valid_to="2021-12-31")
        supply(self.Y, self.O, valid_from="2099-01-01")
        supply(self.O, self.K)
        supply(self.K, self.L)
        self.events = evs


@pytest.fixture(scope="module")
def tworld(stack: Settings, run_id: str) -> TierWorld:
    w = TierWorld(run_id)
    bootstrap.create_sql_tables(bootstrap.sql_engine(stack))

    async def load() -> None:
        driver = bootstrap.async_driver(stack)
        try:
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
            rows = [
                {"id": i, "score": s, "factors": orjson.dumps({"factors": {"events": s}}).decode()}
                for i, (_, _, s) in w.profile.items()
            ]
            await driver.execute_query(
                "UNWIND $rows AS r MATCH (e:Enterprise {id: r.id}) "
                "SET e.riskScore = r.score, e.riskFactors = r.factors, e.riskComputedAt = 1",
                {"rows": rows},
            )
        finally:
            await driver.close()

    asyncio.run(load())
    return w


def _risky(settings: Settings, **kw: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        driver = bootstrap.async_driver(settings)
        try:
            return await RiskStore(driver, RiskSettings(), database=settings.neo4j.database).risky(**kw)
        finally:
            await driver.close()

    return asyncio.run(go())


def _ids_tiers(rows: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(r["id"], r["tier"]) for r in rows]


# -- the store ---------------------------------------------------------------------------------------


def test_upstream_tiers_bound_the_list_and_give_each_its_fewest_hops(
    stack: Settings, tworld: TierWorld
) -> None:
    w = tworld
    three = _risky(stack, focal=w.O, tiers=3, direction="upstream")
    # D is tier 4, X's link expired, Y's not yet valid, K and L are downstream, O is the focal
    assert _ids_tiers(three) == [(w.B, 2), (w.C, 3), (w.A, 1), (w.C2, 3)]
    assert three[0]["factors"] == {"factors": {"events": 0.9}}
    four = _risky(stack, focal=w.O, tiers=4, direction="upstream")
    assert _ids_tiers(four) == [(w.D, 4), (w.B, 2), (w.C, 3), (w.A, 1), (w.C2, 3)]
    assert _ids_tiers(_risky(stack, focal=w.O, tiers=1)) == [(w.A, 1)]


def test_downstream_follows_buyers(stack: Settings, tworld: TierWorld) -> None:
    w = tworld
    assert _ids_tiers(_risky(stack, focal=w.O, tiers=3, direction="downstream")) == [(w.K, 1), (w.L, 2)]
    assert _ids_tiers(_risky(stack, focal=w.O, tiers=1, direction="downstream")) == [(w.K, 1)]
    assert _ids_tiers(_risky(stack, focal=w.C, tiers=2, direction="downstream")) == [
        (w.B, 1),
        (w.A, 2),
        (w.C2, 1),
    ]


def test_focal_list_takes_the_other_filters(stack: Settings, tworld: TierWorld) -> None:
    w = tworld
    up = {"focal": w.O, "tiers": 4}
    assert _ids_tiers(_risky(stack, min_score=0.5, **up)) == [(w.D, 4), (w.B, 2), (w.C, 3)]
    assert [r["id"] for r in _risky(stack, industry="steel", **up)] == [w.D, w.C, w.A, w.C2]
    assert [r["id"] for r in _risky(stack, region=w.r2, **up)] == [w.B]
    assert [r["id"] for r in _risky(stack, limit=2, **up)] == [w.D, w.B]
    assert [r["id"] for r in _risky(stack, allowed={w.A, w.C, "elsewhere"}, **up)] == [w.C, w.A]


def test_unknown_focal_gives_nothing_and_bad_tiers_are_refused(stack: Settings, tworld: TierWorld) -> None:
    assert _risky(stack, focal=tworld.p + "nobody", tiers=3) == []
    for t in (0, 11):
        with pytest.raises(ValueError, match=r"tiers must be 1\.\.10"):
            _risky(stack, focal=tworld.O, tiers=t)


def test_plain_list_is_ranked_and_scoped(stack: Settings, tworld: TierWorld) -> None:
    w = tworld
    rows = _risky(stack, scope=w.p, min_score=0.5)
    assert _ids_tiers(rows) == [
        (w.X, None),
        (w.Y, None),
        (w.D, None),
        (w.B, None),
        (w.O, None),
        (w.K, None),
        (w.C, None),
    ]


def test_plain_list_reads_the_risk_score_index_in_order(stack: Settings) -> None:
    async def plan() -> str:
        driver = bootstrap.async_driver(stack)
        try:
            _, summary, _ = await driver.execute_query(
                "EXPLAIN " + TOP,
                {
                    "limit": 50,
                    "minScore": 0.0,
                    "industry": None,
                    "region": None,
                    "scope": "x",
                    "allowed": None,
                },
                database_=stack.neo4j.database,
            )
            return str(summary.plan)
        finally:
            await driver.close()

    text = asyncio.run(plan())
    assert "NodeIndexSeekByRange" in text and "riskScore" in text
    assert "PartialTop" in text  # ordered by the index; only ties are sorted


# -- GraphQL over HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tserver(stack: Settings, tworld: TierWorld) -> Iterator[tuple[Server, CountingDriver]]:
    yield from counting_server(stack)


@pytest.fixture(scope="module")
def tkeys(stack: Settings, tworld: TierWorld, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(stack)
    return {
        "analyst": create_key(engine, name=f"{run_id}-tier-analyst", role=Role.ANALYST)[1],
        "erp": create_key(engine, name=f"{run_id}-tier-erp", role=Role.ERP, source="sap/x")[1],
        "partner": create_key(engine, name=f"{run_id}-tier-p", role=Role.PARTNER, enterprise_id=tworld.O)[1],
    }


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(r["enterpriseId"], r["tier"]) for r in rows]


def test_graphql_risky_nodes_by_tier_for_an_analyst(
    tserver: tuple[Server, CountingDriver], tkeys: dict[str, str], tworld: TierWorld
) -> None:
    url, t, w = tserver[0].url, tkeys["analyst"], tworld
    got = data(url, t, RISKY, {"f": w.O, "t": 4, "d": "UPSTREAM"})["riskyNodes"]
    assert _pairs(got) == [(w.D, 4), (w.B, 2), (w.C, 3), (w.A, 1), (w.C2, 3)]
    assert got[0]["score"] == 0.95 and got[0]["factors"] == {"factors": {"events": 0.95}}
    down = data(url, t, RISKY, {"f": w.O, "d": "DOWNSTREAM", "min": 0.5})["riskyNodes"]
    assert _pairs(down) == [(w.K, 1)]
    assert _pairs(data(url, t, RISKY, {"f": w.O, "ind": "chemical"})["riskyNodes"]) == [(w.B, 2)]
    assert "tiers must be between 1 and" in error(url, t, RISKY, {"f": w.O, "t": 0})
    assert "tiers must be between 1 and" in error(url, t, RISKY, {"f": w.O, "t": 99})


def test_graphql_partner_sees_only_its_network_and_its_own_factors(
    tserver: tuple[Server, CountingDriver], tkeys: dict[str, str], tworld: TierWorld
) -> None:
    url, t, w = tserver[0].url, tkeys["partner"], tworld
    # D is four tiers from the partner (O): outside its network even when the focal list reaches it
    got = data(url, t, RISKY, {"f": w.O, "t": 4})["riskyNodes"]
    assert _pairs(got) == [(w.B, 2), (w.C, 3), (w.A, 1), (w.C2, 3)]
    assert all(r["factors"] is None for r in got)  # others' breakdowns stay hidden
    mine = data(url, t, RISKY, {"f": w.A, "t": 1, "d": "DOWNSTREAM"})["riskyNodes"]
    assert _pairs(mine) == [(w.O, 1)]
    assert mine[0]["factors"] == {"factors": {"events": 0.8}}
    assert "outside your network" in error(url, t, RISKY, {"f": w.D, "t": 1})
    assert "may not" in error(url, t, RISKY, {})  # no focal: the whole graph's list is for analysts


def test_graphql_risky_nodes_refuses_erp_callers(
    tserver: tuple[Server, CountingDriver], tkeys: dict[str, str], tworld: TierWorld
) -> None:
    assert "may not" in error(tserver[0].url, tkeys["erp"], RISKY, {"f": tworld.O})
