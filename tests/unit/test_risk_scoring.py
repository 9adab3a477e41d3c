"""Risk scoring on small hand-computed networks."""

from __future__ import annotations

import math

import pytest

from graph.risk.engine import RiskEngine, analyse
from graph.risk.facts import Enterprise, Network, OpenDisruption, SupplyLink
from graph.risk.scoring import events, inherit, noisy_or, performance, score_network
from graph.risk.settings import RiskSettings

S = RiskSettings()


def test_otif_shortfall_scales_between_floor_and_target() -> None:
    f = performance([SupplyLink("s", "b", "HRC", otif=0.8)], S)
    assert f.value == pytest.approx((0.95 - 0.8) / (0.95 - 0.60))
    assert f.reasons == ("on-time-in-full 80% against a 95% target",)


def test_kpis_are_volume_weighted_and_missing_kpis_are_no_evidence() -> None:
    links = [
        SupplyLink("s", "b1", "HRC", annual_volume=3, otif=0.95, quality_incident_rate=0.025),
        SupplyLink("s", "b2", "HRC", annual_volume=1, otif=0.55),
        SupplyLink("s", "b3", "HRC", annual_volume=100),
    ]
    otif = (3 * 0.95 + 0.55) / 4
    expected = 1 - (1 - (0.95 - otif) / 0.35) * (1 - 0.5)
    assert performance(links, S).value == pytest.approx(expected)
    assert performance([SupplyLink("s", "b", "HRC")], S).value == 0.0


def test_lead_time_variability_counts_p90_over_mean() -> None:
    f = performance([SupplyLink("s", "b", "HRC", lead_time_mean=10, lead_time_p90=15)], S)
    assert f.value == pytest.approx((0.5 - 0.25) / (1.0 - 0.25))
    assert performance([SupplyLink("s", "b", "HRC", lead_time_mean=10, lead_time_p90=12)], S).value == 0.0
    assert "p90 15 days against a mean of 10" in f.reasons[0]


def test_events_combine_by_noisy_or_with_location_weights() -> None:
    e = Enterprise(
        "x",
        region="湖北省 武汉市",
        disruptions=(OpenDisruption("d1", "high", "region", 21, "flood"),),
        recent_alarms=2,
    )
    f = events(e, S)
    assert f.value == pytest.approx(1 - (1 - 0.85 * 0.6) * (1 - 0.5))
    assert f.reasons[0] == "open high flood disruption in its region, recovery expected in 21 days"


def star() -> Network:
    """s supplies HRC-Q235 alone to two automotive buyers; t supplies a third buyer with a second source."""
    return Network.of(
        [
            Enterprise("s", region="湖北省 武汉市"),
            Enterprise("b1", industry="automotive"),
            Enterprise("b2", industry="automotive"),
        ],
        [SupplyLink("s", "b1", "HRC-Q235"), SupplyLink("s", "b2", "HRC-Q235")],
    )


def test_sole_source_cut_vertex_and_dependants_make_up_structure() -> None:
    net = star()
    scores = score_network(net, analyse(net, S), S)
    st = scores["s"].factors["structure"]
    expected = noisy_or(
        [0.9 * 2 / 3, 0.6, S.weight_downstream * math.log1p(2) / math.log1p(S.downstream_max)]
    )
    assert st.value == pytest.approx(expected)
    assert st.reasons[0] == "sole supplier of HRC-Q235 to 2 automotive buyer(s)"
    assert "cut vertex" in st.reasons[1]
    assert scores["b1"].factors["structure"].value == 0.0


def test_concentration_is_attributed_to_suppliers_in_the_concentrated_region() -> None:
    net = Network.of(
        [Enterprise("a", region="湖北省 武汉市"), Enterprise("c", region="上海市")],
        [
            SupplyLink("a", "b", "HRC-Q235", annual_volume=3),
            SupplyLink("c", "b", "HRC-Q235", annual_volume=1),
        ],
    )
    scores = score_network(net, analyse(net, S), S)
    assert scores["a"].factors["concentration"].value == pytest.approx(0.75**2 + 0.25**2)
    assert scores["a"].factors["concentration"].reasons == (
        "region 湖北省 武汉市 holds 75% of HRC-Q235 supply (HHI 0.62)",
    )
    assert scores["c"].factors["concentration"].value == 0.0


def test_inherited_risk_is_weighted_by_dependency_share() -> None:
    shares = {
        ("r", "b80", "X"): 0.8,
        ("ok", "b80", "X"): 0.2,
        ("r", "b10", "X"): 0.1,
        ("ok", "b10", "X"): 0.9,
    }
    inherited, top = inherit(shares, {"r": 0.5, "ok": 0.0, "b80": 0.0, "b10": 0.0}, S)
    assert inherited["b80"] == pytest.approx(0.7 * 0.8 * 0.5)
    assert inherited["b10"] == pytest.approx(0.7 * 0.1 * 0.5)
    assert top["b80"] == ("r", "X", 0.8)


def test_inherited_risk_flows_tier_by_tier() -> None:
    shares = {("r", "t1", "X"): 1.0, ("t1", "t2", "Y"): 1.0}
    inherited, _ = inherit(shares, {"r": 0.5}, S)
    t1 = 0.7 * 0.5
    assert inherited["t1"] == pytest.approx(t1)
    assert inherited["t2"] == pytest.approx(0.7 * (S.weight_inherited * t1))


def test_scores_stay_in_unit_interval_and_explain_themselves() -> None:
    net = star()
    net.enterprises["s"] = Enterprise(
        "s",
        region="湖北省 武汉市",
        disruptions=(OpenDisruption("d", "critical", "enterprise"),),
        recent_alarms=9,
    )
    scores = score_network(net, analyse(net, S), S)
    for sc in scores.values():
        assert 0.0 <= sc.score <= 1.0
        assert all(0.0 <= f.value <= 1.0 for f in sc.factors.values())
    assert scores["s"].score > 0.9
    assert "open critical disruption at the enterprise" in scores["s"].explanation()
    assert "depends on s for 100% of its HRC-Q235" in scores["b1"].explanation()


def test_rescore_updates_touched_node_and_its_downstream_only() -> None:
    net = Network.of(
        [Enterprise(e) for e in ("a", "b", "c", "z")],
        [
            SupplyLink("a", "b", "X", share=1.0),
            SupplyLink("b", "c", "Y", share=1.0),
            SupplyLink("z", "c", "W"),
        ],
    )
    engine = RiskEngine(S)
    before = engine.full(net)
    changed = engine.rescore(
        enterprises=[Enterprise("a", disruptions=(OpenDisruption("d", "high", "enterprise"),))],
        links=[SupplyLink("a", "b", "X", share=1.0)],
    )
    assert set(changed) == {"a", "b", "c"}
    assert changed["a"].score > before["a"].score
    assert changed["c"].factors["inherited"].value > before["c"].factors["inherited"].value
    assert engine.scores["z"] == before["z"]
    full = score_network(engine.network, analyse(engine.network, S), S)
    for eid in ("a", "b", "c"):
        assert changed[eid].score == pytest.approx(full[eid].score)


def test_rescore_drops_links_that_ended() -> None:
    net = Network.of([], [SupplyLink("a", "b", "X"), SupplyLink("b", "c", "Y")])
    engine = RiskEngine(S)
    engine.full(net)
    engine.rescore(touched=["a"], links=[])
    assert engine.downstream(["a"]) == {}
    assert engine.downstream(["b"]) == {"c": 1}
    assert engine.scores["b"].factors["inherited"].value == 0.0


@pytest.mark.parametrize("shape", ["dag", "cyclic", "tree"])
def test_incremental_rescore_matches_a_full_rescore_within_epsilon(shape: str) -> None:
    from graph.risk import synthetic

    net = synthetic.network(shape, 400, seed=4, kpis=True)
    engine = RiskEngine(S)
    engine.full(net)
    for i, eid in enumerate(sorted(net.enterprises)[::97]):
        e = engine.enterprises[eid]
        hit = Enterprise(
            eid, region=e.region, disruptions=(OpenDisruption(f"d{i}", "critical", "enterprise"),)
        )
        links = [lk for lk in engine.network.links if eid in (lk.supplier, lk.buyer)]
        changed = engine.rescore(enterprises=[hit], links=links)
        assert eid in changed
    full = score_network(engine.network, engine.facts, S)
    worst = max(abs(full[k].score - engine.scores[k].score) for k in full)
    assert worst < 0.01


def test_what_if_suggests_running_suppliers_of_the_same_sku_lowest_risk_first() -> None:
    from graph.risk.whatif import what_if

    net = Network.of(
        [Enterprise("b", days_of_cover=3.0), Enterprise("e", days_of_cover=20.0)],
        [
            SupplyLink("a", "b", "HRC", share=1.0),
            SupplyLink("c", "d", "HRC"),
            SupplyLink("c2", "d", "HRC"),
            SupplyLink("a", "e", "COKE", share=1.0),
        ],
    )
    w = what_if(net, {"a"}, 10.0, S, ranking={"c": 0.7, "c2": 0.2})
    by = {x.enterprise: x for x in w.exposures}
    assert by["b"].alternatives == {"HRC": ["c2", "c"]}
    assert (by["b"].time_to_survive, by["b"].time_to_recover, by["b"].shortfall_days) == (3.0, 10.0, 7.0)
    assert by["e"].alternatives == {"COKE": []}
    assert by["e"].shortfall_days == 0.0
    assert [x.enterprise for x in w.exposures] == ["b", "e"]
    assert w.products == ["COKE", "HRC"]
