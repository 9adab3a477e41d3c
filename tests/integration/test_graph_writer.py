"""The batched writer against the real Neo4j: idempotent, last-writer-wins, UTF-8 clean."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import neo4j
import pytest

from connectors.flow_store import FlowKpis
from graph.mutations import to_mutations
from graph.rows import Mutations
from graph.views import GraphViews
from graph.writer import KPI_LINKS, KPI_SUPPLIERS, GraphWriter, _apply
from schema.envelope import ValidEvent
from schema.events import Industry, PartnerRegistered, SupplyAgreed
from supplynet import bootstrap
from supplynet.settings import Settings

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    yield d
    await d.close()


def partner(eid: str, name: str, at: int) -> ValidEvent:
    return ValidEvent(
        id=f"p-{eid}-{at}",
        source="sap",
        type="partner.registered",
        time=T0 + timedelta(seconds=at),
        subject=eid,
        sequence=0,
        data=PartnerRegistered(enterprise_id=eid, name=name, industry=Industry.STEEL, region="湖北省 武汉市"),
    )


def supply(s: str, b: str, share: float, at: int) -> ValidEvent:
    return ValidEvent(
        id=f"s-{s}-{b}-{at}",
        source="sap",
        type="supply.agreed",
        time=T0 + timedelta(seconds=at),
        subject=b,
        sequence=0,
        data=SupplyAgreed(supplier_id=s, buyer_id=b, sku="HRC", share=share, lead_time_days=21),
    )


async def test_writing_a_batch_twice_changes_nothing(driver: neo4j.AsyncDriver, run_id: str) -> None:
    w = GraphWriter(driver)
    a, b = f"{run_id}-wisco", f"{run_id}-dongfeng"
    batch = to_mutations([partner(a, "武汉钢铁", 1), partner(b, "东风汽车", 1), supply(a, b, 0.7, 2)])
    await w.write(batch)
    await w.write(batch)
    rec, _, _ = await driver.execute_query(
        "MATCH (s:Enterprise {id: $a})-[x:SUPPLIES]->(b:Enterprise {id: $b}) RETURN count(x) AS n, "
        "s.name AS name, x.share AS share, x.lastEventId AS eid, x.lastSource AS src",
        a=a,
        b=b,
    )
    assert rec[0]["n"] == 1
    assert rec[0]["name"] == "武汉钢铁"
    assert rec[0]["share"] == 0.7
    assert (rec[0]["eid"], rec[0]["src"]) == (f"s-{a}-{b}-2", "sap")


async def test_an_older_event_in_a_later_batch_does_not_overwrite(
    driver: neo4j.AsyncDriver, run_id: str
) -> None:
    w = GraphWriter(driver)
    a, b = f"{run_id}-lww-a", f"{run_id}-lww-b"
    await w.write(to_mutations([supply(a, b, 0.9, 100)]))
    await w.write(to_mutations([supply(a, b, 0.1, 50)]))  # late, older
    views = GraphViews(driver)
    [links] = await views.suppliers([b])
    assert [(r["partner"]["id"], r["link"]["share"]) for r in links] == [(a, 0.9)]
    await w.write(to_mutations([supply(a, b, 0.3, 200)]))  # newer wins
    [links] = await views.suppliers([b])
    assert links[0]["link"]["share"] == 0.3


async def test_a_supply_to_an_unregistered_partner_creates_a_placeholder_that_registration_fills(
    driver: neo4j.AsyncDriver, run_id: str
) -> None:
    w = GraphWriter(driver)
    a, b = f"{run_id}-ph-a", f"{run_id}-ph-b"
    await w.write(to_mutations([supply(a, b, 0.5, 10)]))
    views = GraphViews(driver)
    assert (await views.enterprises([a]))[0]["name"] is None
    await w.write(
        to_mutations([partner(a, "大冶有色金属", 1)])
    )  # earlier time, but the node has no state yet
    assert (await views.enterprises([a]))[0]["name"] == "大冶有色金属"
    [customers] = await views.customers([a])
    assert [c["partner"]["id"] for c in customers] == [b]


async def _blocked(driver: neo4j.AsyncDriver) -> bool:
    """Whether some transaction waits for a lock (``SHOW TRANSACTIONS``: status 'Blocked by …')."""
    rec, _, _ = await driver.execute_query("SHOW TRANSACTIONS YIELD status RETURN collect(status) AS s")
    return any(str(s).startswith("Blocked") for s in rec[0]["s"])


@pytest.mark.parametrize("kind", ["enterprise", "link"])
async def test_an_older_kpi_row_waiting_for_a_newer_uncommitted_one_does_not_overwrite_it(
    driver: neo4j.AsyncDriver, run_id: str, kind: str
) -> None:
    """Two workers write one enterprise's KPI rows at once: the newer revision's transaction holds the
    enterprise when the older one's arrives. Once the newer commits, the older row must not apply.

    Neo4j reads at read-committed and locks only on write: a revision check read before the lock let the
    older row pass on the stored revision and overwrite the newer one once it got the lock (a two-worker
    run left an enterprise's KPIs one delivery behind its record store)."""
    w = GraphWriter(driver)
    a, b = f"{run_id}-kpilock-{kind}-s", f"{run_id}-kpilock-{kind}-b"
    await w.write(to_mutations([partner(a, "宝钢", 1), partner(b, "上汽", 1), supply(a, b, 1.0, 2)]))
    newer = FlowKpis(
        suppliers=[{"id": a, "rev": 7, "props": {"openOrders": 0, "deliveries30d": 1}}],
        links=[{"supplier": a, "buyer": b, "sku": "HRC", "rev": 7, "props": {"openOrders": 0}}],
    )
    older = (  # one kind at a time: the transaction waits at its first locked entity
        FlowKpis(suppliers=[{"id": a, "rev": 6, "props": {"openOrders": 1, "deliveries30d": 0}}])
        if kind == "enterprise"
        else FlowKpis(links=[{"supplier": a, "buyer": b, "sku": "HRC", "rev": 6, "props": {"openOrders": 1}}])
    )
    await w.write(Mutations(), kpis=FlowKpis(suppliers=[{"id": a, "rev": 5, "props": {"openOrders": 1}}]))
    async with driver.session() as session:
        tx = await session.begin_transaction()
        try:
            await _apply(tx, Mutations(), [], newer)  # the other worker's write, not yet committed
            late = asyncio.ensure_future(w.write(Mutations(), kpis=older))
            for _ in range(200):
                if await _blocked(driver):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the older row's transaction never waited for the newer one's lock")
            await tx.commit()
        finally:
            if not tx.closed():
                await tx.rollback()
        written = await late
    rec, _, _ = await driver.execute_query(
        "MATCH (s:Enterprise {id: $a})-[x:SUPPLIES {sku: 'HRC'}]->(:Enterprise {id: $b}) "
        "RETURN s.kpiRev AS rev, s.openOrders AS open, s.deliveries30d AS d, x.kpiRev AS xrev, "
        "x.openOrders AS xopen, s._lock AS lock",
        a=a,
        b=b,
    )
    assert dict(rec[0]) == {"rev": 7, "open": 0, "d": 1, "xrev": 7, "xopen": 0, "lock": None}
    # graph.changes reports only what a write applied: the older rows applied nothing
    assert written.applied.get(KPI_SUPPLIERS if kind == "enterprise" else KPI_LINKS) == []
