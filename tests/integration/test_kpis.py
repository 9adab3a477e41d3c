"""Live KPIs in the graph equal an independent plain-Python computation over the same events.

The windows end at the stream's clock (the newest event time of any record) and count whole UTC days:
the N-day window is the N days ending with the clock's day (docs/graph-model.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import neo4j
import pytest
from sqlalchemy import Engine

from bench.workload import Event, event, generate
from connectors import flow_store
from connectors.flow_store import FlowKpis
from connectors.kafka import EventProducer
from connectors.record_store import RecordStore
from graph import kpis
from graph.kpis import KPI_PROPERTIES
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.rows import Mutations
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.validate import decode_event
from streams.projection import Projector
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.test_projection import incoming, project_all

DAY = 86_400_000
FLOW_PREFIXES = ("order", "shipment", "inventory", "capacity", "quality", "equipment")
"""Event types that write records: their times move the stream clock."""


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


def _utc_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def expected_kpis(
    events: list[ValidEvent], as_of: int | None = None
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str, str], dict[str, Any]]]:
    """The KPIs by their documented definitions, straight from the events (no graph code used); the
    windows end at ``as_of`` (default: the newest record's event time, the stream clock)."""
    orders: dict[str, dict[str, Any]] = defaultdict(dict)
    incidents: list[tuple[str, str | None, str, int]] = []
    stock: dict[tuple[str, str, str], tuple[int, float, float]] = {}
    links: set[tuple[str, str, str]] = set()
    touched: set[str] = set()
    flow_times: list[int] = []
    for ev in events:
        if ev.type.split(".")[0] in FLOW_PREFIXES:
            flow_times.append(ev.time_ms)
        d, t = ev.data, ev.time_ms
        if ev.type.startswith("order.") or ev.type == "shipment.delayed":
            o = orders[d.order_id]
            o["supplier"], o["buyer"] = d.supplier_id, d.buyer_id
            touched.add(d.supplier_id)
            if ev.type == "order.placed":
                o["sku"], o["placed"] = d.sku, t
            elif ev.type == "order.delivered":
                o.update(
                    delivered=t,
                    on=d.delivered_on,
                    promised=d.promised_date,
                    full=d.quantity_delivered >= d.quantity_ordered,
                    ordered_on=d.ordered_on,
                )
            elif ev.type == "order.cancelled":
                o["cancelled"] = t
        elif ev.type == "quality.incident":
            incidents.append((d.supplier_id, d.buyer_id, d.sku, t))
            touched.add(d.supplier_id)
        elif ev.type == "inventory.reported":
            k = (d.enterprise_id, d.sku, d.facility_id or "")
            if k not in stock or t > stock[k][0]:
                stock[k] = (t, d.on_hand, d.daily_usage)
            touched.add(d.enterprise_id)
        elif ev.type in ("supply.agreed", "supply.ended"):  # either creates the link
            links.add((d.supplier_id, d.buyer_id, d.sku))
            touched.add(d.supplier_id)

    def cover(ent: str, sku: str) -> float | None:
        rows = [v for (e, s, _), v in stock.items() if e == ent and s == sku]
        usage = sum(r[2] for r in rows)
        return sum(r[1] for r in rows) / usage if usage > 0 else None

    def in_window(t: int, at: int | None, n: int) -> bool:
        if at is None:
            return False
        days = (_utc_date(at) - _utc_date(t)).days
        return 0 <= days < n

    def window(os: list[dict[str, Any]], qs: list[int], at: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "openOrders": len(
                [o for o in os if "placed" in o and "delivered" not in o and "cancelled" not in o]
            )
        }
        for n in (30, 90):
            dl = [o for o in os if "delivered" in o and in_window(o["delivered"], at, n)]
            iq = [q for q in qs if in_window(q, at, n)]
            ot = [o["on"] <= o["promised"] for o in dl]
            inf = [o["full"] for o in dl]
            leads = []
            for o in dl:
                start = o["ordered_on"] or (_utc_date(o["placed"]) if "placed" in o else None)
                if start is not None:
                    leads.append((o["on"] - start).days)
            leads.sort()
            out[f"deliveries{n}d"] = len(dl)
            out[f"onTimeRate{n}d"] = sum(ot) / len(dl) if dl else None
            out[f"inFullRate{n}d"] = sum(inf) / len(dl) if dl else None
            out[f"otifRate{n}d"] = (
                sum(a and b for a, b in zip(ot, inf, strict=True)) / len(dl) if dl else None
            )
            out[f"leadTimeMeanDays{n}d"] = sum(leads) / len(leads) if leads else None
            out[f"leadTimeP90Days{n}d"] = leads[math.ceil(0.9 * len(leads)) - 1] if leads else None
            out[f"qualityIncidents{n}d"] = len(iq)
            out[f"qualityIncidentRate{n}d"] = len(iq) / len(dl) if dl else None
        return out

    at = as_of if as_of is not None else (max(flow_times) if flow_times else None)
    per_supplier: dict[str, dict[str, Any]] = {}
    per_link: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in touched:
        os_ = [o for o in orders.values() if o["supplier"] == s]
        qs = [q for q in incidents if q[0] == s]
        covers = [c for c in (cover(s, sku) for (e, sku, _) in stock if e == s) if c is not None]
        per_supplier[s] = {
            **window(os_, [q[3] for q in qs], at),
            "daysOfCover": min(covers) if covers else None,
        }
        for sup, b, sku in links:
            if sup == s:
                lo = [o for o in os_ if o["buyer"] == b and o.get("sku") == sku]
                lq = [q[3] for q in qs if q[1] == b and q[2] == sku]
                per_link[(s, b, sku)] = {**window(lo, lq, at), "daysOfCover": cover(b, sku)}
    return per_supplier, per_link


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    for k, v in expected.items():
        a = actual.get(k)
        if v is None or a is None:
            if a is not v:
                return False
        elif not math.isclose(a, v, rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


FLOW_KPIS = [k for k in KPI_PROPERTIES if k not in ("daysOfCover", "kpiAsOf")]
"""The KPIs of the order and incident buckets (days of cover comes from the stock records)."""


async def _graph_kpis(
    driver: neo4j.AsyncDriver, prefix: str
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str, str], dict[str, Any]]]:
    records, _, _ = await driver.execute_query(
        "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN e.id AS id, properties(e) AS props",
        p=prefix,
    )
    nodes = {r["id"]: r["props"] for r in records}
    # A link's days of cover is its buyer's cover of the sku (no property of the link).
    records, _, _ = await driver.execute_query(
        "MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise) WHERE s.id STARTS WITH $p "
        "RETURN s.id AS s, b.id AS b, x.sku AS sku, "
        f"x {{.*, daysOfCover: {kpis.link_cover('x', 'b')}}} AS props",
        p=prefix,
    )
    return nodes, {(r["s"], r["b"], r["sku"]): r["props"] for r in records}


def _assert_kpis(
    actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]], only: Sequence[str] | None = None
) -> None:
    for k, exp in expected.items():
        want = {p: v for p, v in exp.items() if only is None or p in only}
        assert _same(actual[k], want), (k, {p: (actual[k].get(p), v) for p, v in want.items()})


async def test_kpis_equal_an_independent_computation_over_the_events(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, sql_engine: Engine
) -> None:
    prefix = f"{run_id}-kpi-"
    raw = generate(prefix=prefix, enterprises=30, events=4000, end=datetime(2026, 4, 1, tzinfo=UTC))
    events = [decode_event(e.value) for e in raw]
    dlq = EventProducer(stack.kafka.librdkafka(), "events.dlq")
    group = f"t4-{run_id}-kpi"
    try:
        projector = Projector(
            writer=GraphWriter(driver), dlq_out=dlq, group=group, records=RecordStore(sql_engine)
        )
        await project_all(projector, incoming(raw), 250)
        suppliers, links = expected_kpis(events)
        assert sum(v["deliveries90d"] for v in suppliers.values()) > 50
        assert sum(1 for v in suppliers.values() if v["daysOfCover"] is not None) > 5
        # The batches wrote every KPI of the enterprises and links they touched, days of cover and
        # new links included: current once the last batch committed (no refresh behind them).
        with_flow = {
            e.data.supplier_id
            for e in events
            if e.type.startswith("order.") or e.type in ("shipment.delayed", "quality.incident")
        }
        nodes, actual_links = await _graph_kpis(driver, prefix)
        _assert_kpis(nodes, suppliers)
        assert actual_links.keys() == links.keys()
        _assert_kpis(actual_links, links)
        clock = max(e.time_ms for e in events if e.type.split(".")[0] in FLOW_PREFIXES)
        assert all(nodes[s]["kpiAsOf"] <= clock for s in suppliers)

        # As of an earlier day, from the buckets: the windows end with that day.
        store = RecordStore(sql_engine)
        earlier = clock - 45 * DAY
        past, past_links = expected_kpis(events, as_of=earlier)
        flow = store.kpis(sorted(with_flow), at=earlier)
        _assert_kpis(
            {r["id"]: r["props"] for r in flow.suppliers}, {s: past[s] for s in with_flow}, FLOW_KPIS
        )
        got_links = {(r["supplier"], r["buyer"], r["sku"]): r["props"] for r in flow.links}
        _assert_kpis(got_links, {k: v for k, v in past_links.items() if k in got_links}, FLOW_KPIS)
        assert any(v["deliveries30d"] for v in past.values())
        # Network-wide: every supplier's buckets added up.
        at, by_supplier = store.supplier_buckets(earlier)
        network = kpis.bucket_kpis(flow_store.merged(by_supplier[s] for s in with_flow), at)
        for window in ("deliveries90d", "deliveries30d", "qualityIncidents90d", "qualityIncidents30d"):
            assert network[window] == sum(past[s][window] for s in with_flow), window
        assert network["deliveries30d"] < network["deliveries90d"]  # both windows hold flow here
        assert network["openOrders"] == sum(past[s]["openOrders"] for s in with_flow)

        # Half a year later (one record moves the clock): every window is empty, nothing is current.
        later = _stock_report(prefix, clock + 200 * DAY)
        await project_all(projector, incoming([later], partitions=1), 1)
        suppliers, links = expected_kpis([*events, decode_event(later.value)])
        assert all(v["deliveries90d"] == 0 and v["onTimeRate30d"] is None for v in suppliers.values())
        nodes, actual_links = await _graph_kpis(driver, prefix)
        _assert_kpis(nodes, {s: v for s, v in suppliers.items() if s in with_flow}, FLOW_KPIS)
        _assert_kpis(actual_links, links, FLOW_KPIS)
    finally:
        dlq.close()
        await delete_by_prefix(driver, prefix)
        await delete_offsets(driver, group)


def _stock_report(prefix: str, t: int) -> Event:
    """An inventory report of an enterprise outside the supply network, at epoch ms ``t``."""
    data = {
        "enterprise_id": f"{prefix}outsider",
        "sku": f"{prefix}nothing",
        "on_hand": 1.0,
        "daily_usage": 1.0,
    }
    return event(f"{prefix}late-stock", "inventory.reported", f"{prefix}outsider", data, t)


async def test_kpi_rows_of_an_older_revision_never_replace_newer_ones(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, sql_engine: Engine
) -> None:
    """Two workers may commit out of order: the graph keeps the row of the newest revision."""
    prefix = f"{run_id}-kpirev-"
    raw = generate(prefix=prefix, enterprises=20, events=1500, end=datetime(2026, 9, 1, tzinfo=UTC))
    events = [decode_event(e.value) for e in raw]
    dlq = EventProducer(stack.kafka.librdkafka(), "events.dlq")
    group = f"t4-{run_id}-kpirev"
    try:
        w = GraphWriter(driver)
        projector = Projector(writer=w, dlq_out=dlq, group=group, records=RecordStore(sql_engine))
        await project_all(projector, incoming(raw), 250)
        suppliers, _ = expected_kpis(events)
        ids = sorted(suppliers)
        records, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN e.id AS id, properties(e) AS props",
            p=prefix,
        )
        actual = {r["id"]: r["props"] for r in records}
        for s, exp in suppliers.items():
            assert _same(actual[s], exp), s

        # Flow KPIs and cover computed from an older revision (a slower worker's batch) never replace
        # newer ones.
        older = FlowKpis(
            suppliers=[{"id": ids[0], "rev": 0, "props": {"openOrders": -1, "daysOfCover": -1.0}}]
        )
        await w.write(Mutations(), kpis=older)
        records, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) RETURN e.openOrders AS n, e.daysOfCover AS c, e.kpiRev AS rev",
            id=ids[0],
        )
        assert records[0]["n"] == suppliers[ids[0]]["openOrders"] and records[0]["rev"] > 0
        assert records[0]["c"] == suppliers[ids[0]]["daysOfCover"]
    finally:
        dlq.close()
        await delete_by_prefix(driver, prefix)
        await delete_offsets(driver, group)


def _event(prefix: str, n: int, type_: str, subject: str, t: int, data: dict[str, Any]) -> Event:
    """One event of the run at epoch ms ``t``, ids and keys under ``prefix``."""
    return event(f"{prefix}ev{n}", type_, subject, data, t)


@pytest.mark.parametrize("killed", [False, True], ids=["rewritten", "killed-before-rewrite"])
async def test_a_link_row_dropped_before_its_agreement_committed_is_rewritten(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, sql_engine: Engine, killed: bool
) -> None:
    """A supply agreement's KPI row, computed before an incident of its link, commits after the
    incident's: the incident's row found no link to write to (it did not exist yet), and the
    agreement's row is one incident behind. One worker does this when the clock's due rows run ahead
    of the batch that creates the link; two workers when the other one's batch commits in between.
    The agreement's row applies stale (its supplier already holds a newer revision): the link is
    rewritten from the record store, and no marker is left. A worker killed between the agreement's
    commit and the rewrite leaves the marker: its successor rewrites the link when it starts."""
    prefix = f"{run_id}-stale-{int(killed)}-"
    s, b, sku = f"{prefix}s", f"{prefix}b", f"{prefix}hrc"
    t0 = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 1000)

    def registered(n: int, eid: str) -> Event:
        data = {"enterprise_id": eid, "name": eid, "industry": "steel", "region": "湖北省"}
        return _event(prefix, n, "partner.registered", eid, t0, data)

    def incident(n: int, t: int) -> Event:
        data = {
            "incident_id": f"{prefix}qi{n}",
            "supplier_id": s,
            "buyer_id": b,
            "sku": sku,
            "severity": "high",
            "defect_ppm": 900.0,
        }
        return _event(prefix, n, "quality.incident", s, t, data)

    agreed = _event(
        prefix,
        3,
        "supply.agreed",
        b,
        t0 + 1000,
        {"supplier_id": s, "buyer_id": b, "sku": sku, "share": 1.0, "lead_time_days": 21},
    )
    dlq = EventProducer(stack.kafka.librdkafka(), "events.dlq")
    group = f"t4-{run_id}-stale"
    msgs = incoming(
        [registered(1, s), registered(2, b), incident(4, t0 + DAY), agreed, incident(5, t0 + 2 * DAY)]
    )
    try:
        projector = Projector(
            writer=GraphWriter(driver), dlq_out=dlq, group=group, records=RecordStore(sql_engine)
        )
        await projector.project(msgs[:3])  # the partners, and an incident of a link not in the graph
        agreement = await projector.prepare(msgs[3:4])  # its row counts one incident
        assert [r["props"]["qualityIncidents30d"] for r in agreement.kpis.links] == [1]
        await projector.project(msgs[4:])  # the second incident: its link row finds no link
        query = (
            "MATCH (s:Enterprise {id: $s})-[x:SUPPLIES {sku: $sku}]->(:Enterprise {id: $b}) "
            "OPTIONAL MATCH (k:KpiRecheck {group: $g}) "
            "RETURN x.qualityIncidents30d AS n, x.kpiRev < s.kpiRev AS behind, count(k) AS marked"
        )
        if killed:  # the agreement's transaction commits, the worker dies before the rewrite
            await projector.writer.write(
                agreement.mutations, agreement.offsets, kpis=agreement.kpis, group=group
            )
            rec, _, _ = await driver.execute_query(query, s=s, b=b, sku=sku, g=group)
            assert dict(rec[0]) == {"n": 1, "behind": True, "marked": 1}
            projector = Projector(
                writer=GraphWriter(driver), dlq_out=dlq, group=group, records=RecordStore(sql_engine)
            )
            await projector.idle()  # the successor, between its first batches
        else:
            await projector.commit(agreement)  # the link, with the row of one incident
        rec, _, _ = await driver.execute_query(query, s=s, b=b, sku=sku, g=group)
        assert dict(rec[0]) == {"n": 2, "behind": False, "marked": 0}
    finally:
        dlq.close()
        await delete_by_prefix(driver, prefix)
        await delete_offsets(driver, group)
