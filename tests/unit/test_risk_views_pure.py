"""Pure parts of the API's risk views: the what-if on a scenario's downstream closure equals the what-if
on the whole network; alternatives, sourcing report, critical nodes and partner redaction."""

from __future__ import annotations

from collections import deque

import pytest

from api.risk import what_if_result
from graph.resourcing import DAY_MS, SourcingOption, option
from graph.risk import synthetic
from graph.risk.facts import Enterprise, Network, SupplyLink
from graph.risk.settings import RiskSettings
from graph.risk.whatif import Exposure, WhatIf, disrupted_set, what_if
from graph.risk_views import (
    Scenario,
    candidate_network,
    critical_nodes,
    inflow_network,
    lost_per_day,
    merge_alternatives,
    network_of,
    sourcing_report,
)

S = RiskSettings()


def _candidate(eid: str, *, spare: tuple[float, float] | None = None, at: int = 0) -> dict[str, object]:
    sites = (
        []
        if spare is None
        else [{"capacityPerDay": spare[0], "utilization": spare[1], "capacityReportedAt": at}]
    )
    return {
        "sku": "steel",
        "e": {"id": eid},
        "sites": sites,
        "coordinates": [],
        "certifications": [],
        "leadTimeDays": None,
    }


def _option(eid: str) -> SourcingOption:
    return option(
        _candidate(eid), needed_per_day=None, origins=[], certification=None, now_ms=0, max_report_age_days=30
    )


def _closure(net: Network, hit: set[str], tiers: int) -> dict[str, int]:
    """What ``RiskViews.downstream_closure`` reads tier by tier, in memory."""
    buyers: dict[str, set[str]] = {}
    for lk in net.links:
        buyers.setdefault(lk.supplier, set()).add(lk.buyer)
    out: dict[str, int] = {}
    seen = set(hit)
    queue = deque((h, 0) for h in sorted(hit))
    while queue:
        u, t = queue.popleft()
        if t == tiers:
            continue
        for b in sorted(buyers.get(u, ())):
            if b not in seen:
                seen.add(b)
                out[b] = t + 1
                queue.append((b, t + 1))
    return out


def _rows(net: Network, closure: dict[str, int]) -> list[dict[str, object]]:
    """The rows ``INFLOW`` returns for the closure: each enterprise with every in-link."""
    inflow: dict[str, list[list[object]]] = {i: [] for i in closure}
    for lk in net.links:
        if lk.buyer in inflow:  # in INFLOW_KEYS order
            inflow[lk.buyer].append([lk.supplier, lk.sku, lk.share, lk.annual_volume, lk.days_of_cover, None])
    return [
        {
            "e": {
                "id": i,
                "region": net.enterprises[i].region,
                "daysOfCover": net.enterprises[i].days_of_cover,
            },
            "inflow": inflow[i],
        }
        for i in sorted(closure)
    ]


def _facts(w: WhatIf) -> list[tuple[object, ...]]:
    return [
        (e.enterprise, e.tier, e.lost_share, e.gap_starts_day, e.time_to_survive, e.shortfall_days)
        for e in w.exposures
    ]


@pytest.mark.parametrize(
    ("shape", "n"), [("chain", 30), ("tree", 63), ("diamond", 40), ("dag", 300), ("cyclic", 300)]
)
@pytest.mark.parametrize("days", [5.0, 30.0])
def test_what_if_on_the_downstream_closure_equals_the_whole_network(shape: str, n: int, days: float) -> None:
    net = synthetic.network(shape, n, seed=3)
    ids = sorted(net.enterprises)
    hit = {ids[0], ids[len(ids) // 3]}
    closure = _closure(net, hit, tiers=n)  # every tier: the cut changes nothing
    sub = inflow_network([{"e": {"id": h}} for h in hit], _rows(net, closure))
    assert _facts(what_if(sub, hit, days, S)) == _facts(what_if(net, hit, days, S))


def test_what_if_cut_at_n_tiers_keeps_only_the_closure() -> None:
    net = synthetic.network("chain", 20, seed=3)
    first = sorted(net.enterprises, key=lambda i: int(i[1:]))[0]
    closure = _closure(net, {first}, tiers=3)
    sub = inflow_network([{"e": {"id": first}}], _rows(net, closure))
    got = what_if(sub, {first}, 60.0, S)
    assert {e.enterprise for e in got.exposures} <= set(closure)
    assert max(e.tier for e in got.exposures) <= 3


def test_disrupted_set_from_candidates_names_region_members_and_facility_operators() -> None:
    cands = [
        {"e": {"id": "a", "region": "湖北省 武汉市"}, "facilities": []},
        {"e": {"id": "b", "region": "上海市"}, "facilities": ["site-1"]},
        {"e": {"id": "c", "region": "上海市"}, "facilities": []},
    ]
    net = candidate_network(cands)
    assert disrupted_set(net, region="湖北省 武汉市", facilities=["site-1"]) == {"a", "b"}
    assert disrupted_set(net, enterprises=["c", "unknown"]) == {"c"}


def _exposure(eid: str, skus: dict[str, float], *, stops: bool = False, tier: int = 1) -> Exposure:
    return Exposure(eid, tier, skus, 0.0, 7.0, 10.0, 3.0, stops)


def test_alternatives_leave_out_the_disrupted_the_failing_and_the_buyer_itself() -> None:
    w = WhatIf(
        ["d"], 10.0, [_exposure("b1", {"steel": 1.0}, stops=True), _exposure("b2", {"steel": 0.6})], ["steel"]
    )
    found = {"steel": [_candidate(i) for i in ("d", "b1", "b2", "x", "y", "z")]}
    got = merge_alternatives(w, found, k=2)
    assert [o.enterprise_id for o in got["b1"]["steel"]] == ["b2", "x"]  # b2 keeps running: an alternative
    assert [o.enterprise_id for o in got["b2"]["steel"]] == ["x", "y"]  # b1 runs dry: not one
    assert merge_alternatives(w, {}, k=2)["b2"] == {"steel": []}


def test_alternatives_rank_by_spare_capacity_for_the_volume_each_buyer_loses() -> None:
    w = WhatIf(["d"], 10.0, [_exposure("b", {"steel": 0.5})], ["steel"])
    now = 100 * DAY_MS
    found = {
        "steel": [
            _candidate("small", spare=(100.0, 0.9), at=now),  # 10/day spare
            _candidate("big", spare=(100.0, 0.2), at=now),  # 80/day spare
            _candidate("stale", spare=(1000.0, 0.0), at=now - 90 * DAY_MS),  # report too old
        ]
    }
    rows = [
        {
            "e": {"id": "b"},
            "inflow": [["d", "steel", 0.5, 36_500.0, None, 0.0], ["k", "steel", 0.5, 36_500.0, None, 0.0]],
        }
    ]
    lost = lost_per_day(w, rows)
    assert lost == {"b": {"steel": pytest.approx(100.0)}}  # half of 200/day
    got = merge_alternatives(w, found, k=3, lost=lost, now_ms=now)["b"]["steel"]
    assert [o.enterprise_id for o in got] == ["big", "small", "stale"]
    assert [round(o.covers_per_day, 6) for o in got] == [80.0, 10.0, 0.0]
    assert got[2].spare.stale and got[2].spare.report_age_days == pytest.approx(90.0)


def test_partner_sees_only_its_network_and_its_own_lost_shares() -> None:
    w = WhatIf(
        ["d", "far"],
        10.0,
        [
            _exposure("me", {"steel": 0.6}, tier=1),
            _exposure("other", {"ore": 1.0}, tier=2),
            _exposure("hidden", {"secret-sku": 1.0}, tier=2),
        ],
        ["ore", "secret-sku", "steel"],
    )
    sc = Scenario(
        w,
        {i: {"id": i, "name": i.upper()} for i in ("d", "far", "me", "other", "hidden", "alt1", "alt2")},
        {"me": {"steel": [_option("alt1"), _option("alt2")]}},
        truncated=False,
        tiers=3,
    )
    visible = {"d", "me", "other", "alt1"}
    got = what_if_result(sc, own="me", visible=visible)
    assert [str(d.id) for d in got.disrupted] == ["d"]
    assert got.affected_count == 2
    assert got.products == ["ore", "steel"]
    me, other = got.all_exposures
    assert (me.lost_share[0].share, me.redacted) == (0.6, [])
    assert (other.lost_share[0].share, other.redacted) == (None, ["lostShare"])
    assert [str(s.id) for s in me.alternatives[0].suppliers] == ["alt1"]
    assert [(t.tier, t.affected) for t in got.by_tier] == [(1, 1), (2, 1)]
    full = what_if_result(sc, own=None, visible=None)
    assert full.affected_count == 3
    assert full.all_exposures[1].lost_share[0].share == 1.0


def _view() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    # focal f buys steel from a (sole) and ore from b and c; a buys coke from d (tier 2)
    nodes = [
        {"id": "f", "region": "R1", "tier": 0},
        {"id": "a", "region": "R1", "tier": 1},
        {"id": "b", "region": "R1", "tier": 1},
        {"id": "c", "region": "R2", "tier": 1},
        {"id": "d", "region": "R3", "tier": 2},
    ]

    def e(s: str, b: str, sku: str, vol: float | None) -> dict[str, object]:
        return {"supplierId": s, "buyerId": b, "sku": sku, "share": None, "annualVolume": vol}

    edges = [
        e("a", "f", "steel", 100),
        e("b", "f", "ore", 300),
        e("c", "f", "ore", 100),
        e("d", "a", "coke", 50),
    ]
    return nodes, edges


def test_sourcing_report_lists_sole_sources_of_inner_tiers_and_hhi_by_region() -> None:
    nodes, edges = _view()
    r = sourcing_report(nodes, edges, buyers={"f"}, truncated=False)
    assert [(s.sku, s.buyer, s.supplier) for s in r.sole_sources] == [("steel", "f", "a")]
    ore = next(c for c in r.concentration if c.sku == "ore")
    assert ore.region_shares == {"R1": 0.75, "R2": 0.25}
    assert ore.hhi == pytest.approx(0.75**2 + 0.25**2)
    assert (ore.top_region, ore.top_share, ore.suppliers) == ("R1", 0.75, 2)
    assert [c.sku for c in r.concentration][-1] == "ore"  # single-region skus (HHI 1) first
    # the outer tier's buyer (a, tier 1) counts when asked for every buyer
    everyone = sourcing_report(nodes, edges, buyers=None, truncated=False)
    assert ("coke", "a", "d") in [(s.sku, s.buyer, s.supplier) for s in everyone.sole_sources]


def test_sourcing_report_weighs_links_alike_when_volumes_are_hidden() -> None:
    nodes, edges = _view()
    blind = [{**e, "annualVolume": None} for e in edges]
    ore = next(
        c
        for c in sourcing_report(nodes, blind, buyers={"f"}, truncated=False).concentration
        if c.sku == "ore"
    )
    assert ore.region_shares == {"R1": 0.5, "R2": 0.5}


def test_critical_nodes_of_a_view() -> None:
    nodes, edges = _view()
    got = critical_nodes(nodes, edges, S)
    assert got.cut_vertices == ["f", "a"]  # nearest tier first
    assert got.method == "exact"
    assert got.betweenness["a"] > 0 and got.betweenness["d"] == 0


def test_network_of_view_rows() -> None:
    nodes, edges = _view()
    net = network_of(nodes, edges)
    assert net.enterprises["c"] == Enterprise("c", region="R2")
    assert SupplyLink("b", "f", "ore", annual_volume=300) in net.links
