"""Supply-link and facility risk scores on small hand-computed cases, full and incremental."""

from __future__ import annotations

import pytest

from graph.risk import synthetic
from graph.risk.engine import RiskEngine
from graph.risk.facts import Enterprise, Facility, Network, OpenDisruption, SupplyLink
from graph.risk.scoring import (
    Factor,
    RiskScore,
    facility_score,
    link_performance,
    link_performance_value,
    link_score,
    link_scores,
    performance,
)
from graph.risk.settings import RiskSettings

S = RiskSettings()


def _ent(eid: str, score: float, structure: float = 0.0, reasons: tuple[str, ...] = ()) -> RiskScore:
    return RiskScore(eid, score, {"events": Factor(score, reasons), "structure": Factor(structure, reasons)})


@pytest.mark.parametrize(
    "link",
    [
        SupplyLink("s", "b", "HRC", otif=0.72),
        SupplyLink(
            "s", "b", "HRC", otif=0.99, lead_time_mean=10, lead_time_p90=18, quality_incident_rate=0.01
        ),
        SupplyLink("s", "b", "HRC"),
        SupplyLink("s", "b", "HRC", annual_volume=0, otif=0.5),
    ],
)
def test_single_link_performance_equals_the_enterprise_function_on_that_link(link: SupplyLink) -> None:
    assert link_performance_value(link, S) == pytest.approx(performance([link], S).value)
    assert link_performance(link, S) == performance([link], S)


def test_sole_source_link_of_a_risky_supplier_with_poor_otif() -> None:
    link = SupplyLink("s", "武汉钢厂", "HRC-Q235", otif=0.72)
    ls = link_score(link, 1.0, _ent("s", 0.5, reasons=("open high fire disruption at the enterprise",)), S)
    perf = (0.95 - 0.72) / 0.35
    expected = 1 - (1 - 0.8 * perf) * (1 - 0.8 * 0.5)  # importance 1 for a sole source
    assert ls.score == pytest.approx(expected)
    d = ls.as_dict()
    assert d["factors"] == {"performance": round(perf, 4), "supplier": 0.5, "dependency": 1.0}
    reasons = d["reasons"]
    assert isinstance(reasons, dict)
    assert reasons["dependency"] == ["sole source of HRC-Q235 for 武汉钢厂"]
    assert reasons["performance"] == ["on-time-in-full 72% against a 95% target"]
    assert reasons["supplier"][0].startswith("supplier s scores 0.50: open high fire disruption")


def test_a_minor_link_counts_half_and_a_healthy_sole_source_is_not_risky() -> None:
    link = SupplyLink("s", "b", "HRC", otif=0.72)
    full = link_score(link, 1.0, None, S).score
    assert link_score(link, 0.0, None, S).score == pytest.approx(full * 0.5)
    assert link_score(link, 0.2, None, S).score == pytest.approx(full * (0.5 + 0.5 * 0.2))
    assert link_score(SupplyLink("s", "b", "HRC", otif=0.99), 1.0, _ent("s", 0.0), S).score == 0.0


def test_dependency_shares_come_from_the_buyers_links_of_the_same_sku() -> None:
    links = {
        ("a", "b", "HRC"): SupplyLink("a", "b", "HRC", share=0.75),
        ("c", "b", "HRC"): SupplyLink("c", "b", "HRC", share=0.25),
        ("d", "b", "COKE"): SupplyLink("d", "b", "COKE"),
    }
    incoming = {"b": set(links)}
    scores = {"a": _ent("a", 0.4), "c": _ent("c", 0.4), "d": _ent("d", 0.4)}
    out = link_scores(links, incoming, scores, S)
    assert {k: v.dependency for k, v in out.items()} == {
        ("a", "b", "HRC"): 0.75,
        ("c", "b", "HRC"): 0.25,
        ("d", "b", "COKE"): 1.0,
    }
    only = link_scores(links, incoming, scores, S, only=[("c", "b", "HRC"), ("x", "y", "z")])
    assert list(only) == [("c", "b", "HRC")]
    assert only[("c", "b", "HRC")].score == pytest.approx(0.8 * 0.4 * (0.5 + 0.5 * 0.25))


def test_facility_events_times_the_operators_structural_weight() -> None:
    fac = Facility(
        "F1",
        "s",
        "湖北省 武汉市",
        (
            OpenDisruption("d1", "high", "facility", 5.0, "fire"),
            OpenDisruption("d2", "medium", "region", None, "flood"),
        ),
        recent_alarms=2,
    )
    events = 1 - (1 - 0.85 * 1.0) * (1 - 0.6 * 0.6) * (1 - 0.25 * 2)
    op = _ent("s", 0.7, structure=0.6, reasons=("sole supplier of HRC to 2 buyer(s)",))
    fs = facility_score(fac, op, S)
    assert fs.score == pytest.approx(0.9 * events * (0.5 + 0.5 * 0.6))
    d = fs.as_dict()
    reasons = d["reasons"]
    assert isinstance(reasons, dict)
    assert reasons["events"] == [
        "open high fire disruption at the facility, recovery expected in 5 days",
        "open medium flood disruption in its region 湖北省 武汉市",
        "2 equipment alarm(s) in the last 14 days",
    ]
    assert reasons["operator"] == ["operated by s: sole supplier of HRC to 2 buyer(s)"]
    assert facility_score(Facility("F2", "s"), op, S).score == 0.0
    assert facility_score(fac, None, S).score == pytest.approx(0.9 * events * 0.5)


def _network() -> Network:
    ents = [Enterprise("s", region="R1"), Enterprise("b", region="R2"), Enterprise("c", region="R2")]
    links = [
        SupplyLink("s", "b", "HRC", otif=0.9),
        SupplyLink("b", "c", "COIL", otif=0.95),
    ]
    return Network.of(ents, links, [Facility("F-s", "s", "R1"), Facility("F-c", "c", "R2")])


def test_full_recompute_scores_every_link_and_facility_and_hands_out_only_changes() -> None:
    engine = RiskEngine(S)
    engine.full(_network())
    assert {ls.key for ls in engine.changed_links} == {("s", "b", "HRC"), ("b", "c", "COIL")}
    assert {fs.facility for fs in engine.changed_facilities} == {"F-s", "F-c"}
    engine.full(_network())
    assert engine.changed_links == [] and engine.changed_facilities == []


def test_incremental_rescores_the_links_and_facilities_around_a_disrupted_supplier() -> None:
    engine = RiskEngine(S)
    engine.full(_network())
    before = {ls.key: ls.score for ls in engine.changed_links}
    hit = Enterprise("s", region="R1", disruptions=(OpenDisruption("d", "critical", "enterprise", 30.0),))
    fac = Facility("F-s", "s", "R1", (OpenDisruption("d2", "high", "facility", 10.0),))
    engine.rescore(
        enterprises=[hit], links=[SupplyLink("s", "b", "HRC", otif=0.9)], touched=["s"], facilities=[fac]
    )
    moved = {ls.key: ls.score for ls in engine.changed_links}
    assert moved[("s", "b", "HRC")] > before[("s", "b", "HRC")]
    # b inherits from s, so its outgoing link moves too
    assert moved[("b", "c", "COIL")] > before[("b", "c", "COIL")]
    assert [fs.facility for fs in engine.changed_facilities] == ["F-s"]
    assert engine.changed_facilities[0].score > 0
    # the same facts again change nothing
    engine.rescore(
        enterprises=[hit], links=[SupplyLink("s", "b", "HRC", otif=0.9)], touched=["s"], facilities=[fac]
    )
    assert engine.changed_links == [] and engine.changed_facilities == []


def test_forgotten_writes_are_handed_out_again() -> None:
    engine = RiskEngine(S)
    engine.full(_network())
    links, facs = engine.changed_links, engine.changed_facilities
    engine.forget_written(links[:1], facs[:1])
    engine.full(_network())
    assert [ls.key for ls in engine.changed_links] == [links[0].key]
    assert [fs.facility for fs in engine.changed_facilities] == [facs[0].facility]


def test_the_vectorised_full_pass_equals_link_by_link_scoring() -> None:
    net = synthetic.network("cyclic", 300, seed=3, links_per_node=4, skus=5, kpis=True)
    # some buyers report shares (over- and under-subscribed), some links report none, one self-loop
    links = [
        SupplyLink(
            lk.supplier,
            lk.buyer,
            lk.sku,
            share=(0.7 if i % 3 else None) if i % 2 else 0.4,
            otif=lk.otif,
            lead_time_mean=lk.lead_time_mean,
            lead_time_p90=lk.lead_time_p90,
            quality_incident_rate=lk.quality_incident_rate,
            annual_volume=0.0 if i % 17 == 0 else None,
        )
        for i, lk in enumerate(net.links)
    ] + [SupplyLink("E000001", "E000001", "SKU-000", otif=0.5)]
    engine = RiskEngine(S)
    engine.full(Network.of(net.enterprises.values(), links))
    by_full = {ls.key: ls for ls in engine.changed_links}
    scalar = link_scores(engine._links, engine._in, engine.scores, S)
    assert by_full.keys() == scalar.keys()
    for k, ls in scalar.items():
        v = by_full[k]
        assert v.score == pytest.approx(ls.score, abs=1e-12), k
        assert v.dependency == pytest.approx(ls.dependency, abs=1e-12), k
        assert v.mark == ls.mark, k
        assert v.as_dict() == ls.as_dict()
    # the incremental path agrees with the marks of the full pass: rescoring unchanged facts writes nothing
    eid = "E000100"
    engine.rescore(
        enterprises=[engine.enterprises[eid]],
        links=[engine._links[k] for k in (*engine._in[eid], *engine._out[eid])],
        touched=[eid],
    )
    assert engine.changed_links == []


@pytest.mark.parametrize("shape", ["dag", "cyclic"])
def test_incremental_hands_out_every_link_whose_score_moved(shape: str) -> None:
    """After disruptions and links added and ended, the link scores handed out for writing equal every
    link scored afresh from the current enterprise scores (a link left out -- a same-sku sibling whose
    dependency share moved, a link out of an enterprise whose inherited risk moved -- would differ)."""
    import random

    net = synthetic.network(shape, 300, seed=11, links_per_node=3, skus=4, kpis=True)
    engine = RiskEngine(S)
    engine.full(net)
    written = {ls.key: ls.score for ls in engine.changed_links}
    rnd = random.Random(5)
    ids = sorted(engine.enterprises)
    for i in range(40):
        eid = rnd.choice(ids)
        e = engine.enterprises[eid]
        links = [lk for lk in engine.network.links if eid in (lk.supplier, lk.buyer)]
        if links and i % 3 == 0:
            links.remove(rnd.choice(links))  # a link ended
        if i % 3 == 1:  # a second source for one of a buyer's skus: the sibling's share halves
            other = rnd.choice([lk for lk in engine.network.links if lk.supplier != eid and lk.buyer != eid])
            links.append(SupplyLink(eid, other.buyer, other.sku, otif=0.8))
        hit = Enterprise(eid, region=e.region, disruptions=(OpenDisruption(f"d{i}", "high", "enterprise"),))
        engine.rescore(enterprises=[hit] if i % 2 else [], links=links, touched=[eid])
        for key in set(written) - engine._links.keys():
            del written[key]
        written.update({ls.key: ls.score for ls in engine.changed_links})
    fresh = link_scores(engine._links, engine._in, engine.scores, S)
    assert written.keys() == fresh.keys()
    eps = S.link_write_epsilon
    off = {k: (written[k], ls.score) for k, ls in fresh.items() if abs(written[k] - ls.score) > eps}
    assert not off, f"{len(off)} links not handed out, e.g. {list(off.items())[:3]}"
