"""The planted risks of the generated world surface among the riskiest nodes, for the right reasons.

The demo world's events are folded into the risk model's network as the projection would hold it
(tests/world_network.py) and scored by the in-memory engine with the default settings. Seeds 1-4 and
7 were checked by hand: the outage, the sole sources and the collapse rank in the top 10 of ~340
enterprises, the flooded region's enterprises and the concentrated suppliers within the top 35.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from connectors.world import generate
from graph.risk.engine import RiskEngine
from graph.risk.scoring import RiskScore
from graph.risk.settings import RiskSettings
from tests.world_network import fold

END = date(2026, 11, 29)
SEED = 2
TOP = 10
WIDE = 40


@dataclass
class Scored:
    scores: dict[str, RiskScore]
    rank: dict[str, int]
    planted: dict[str, Any]


@pytest.fixture(scope="module")
def scored() -> Scored:
    gen = generate("demo", SEED, END)
    network = fold((e.value for e in gen.events()), END)
    scores = RiskEngine(RiskSettings()).full(network)
    ranked = sorted(scores.values(), key=lambda s: (-s.score, s.enterprise))
    return Scored(scores, {s.enterprise: i + 1 for i, s in enumerate(ranked)}, gen.manifest()["planted"])


def reasons(s: RiskScore, factor: str) -> str:
    return "; ".join(s.factors[factor].reasons)


@pytest.mark.timeout(600)
def test_the_plant_outage_is_among_the_riskiest_for_its_open_disruption(scored: Scored) -> None:
    eid = scored.planted["plant_outage"]["enterprise"]
    s = scored.scores[eid]
    assert scored.rank[eid] <= TOP
    assert s.factors["events"].value >= 0.8
    assert "open critical equipment disruption at one of its facilities" in reasons(s, "events")
    assert "equipment alarm(s) in the last 14 days" in reasons(s, "events")


def test_deep_sole_sources_are_among_the_riskiest_for_their_structure(scored: Scored) -> None:
    for sole in scored.planted["sole_sources"]:
        s = scored.scores[sole["supplier"]]
        assert scored.rank[sole["supplier"]] <= TOP, sole["sku"]
        assert s.factors["structure"].value >= 0.9
        assert f"sole supplier of {sole['sku']} to {len(sole['buyers'])}" in reasons(s, "structure")


def test_the_collapsing_supplier_is_among_the_riskiest_for_its_performance(scored: Scored) -> None:
    eid = scored.planted["performance_collapse"]["supplier"]
    s = scored.scores[eid]
    assert scored.rank[eid] <= TOP
    assert s.factors["performance"].value >= 0.9
    assert "on-time-in-full" in reasons(s, "performance")


def test_the_flooded_region_is_among_the_riskiest_for_the_flood(scored: Scored) -> None:
    flood = scored.planted["region_flood"]
    assert len(flood["enterprises"]) >= 5
    for eid in flood["enterprises"]:
        s = scored.scores[eid]
        assert scored.rank[eid] <= WIDE, eid
        assert s.factors["events"].value >= 0.6
        assert "open critical flood disruption in its region" in reasons(s, "events")


def test_the_regional_concentration_is_among_the_riskiest_for_its_concentration(scored: Scored) -> None:
    conc = scored.planted["regional_concentration"]
    for eid in conc["suppliers"]:
        s = scored.scores[eid]
        assert scored.rank[eid] <= WIDE, eid
        assert s.factors["concentration"].value == pytest.approx(1.0)
        assert f"region {conc['region']} holds 100% of {conc['sku']} supply" in reasons(s, "concentration")


def test_quiet_enterprises_score_well_below_the_planted_ones(scored: Scored) -> None:
    ranked = sorted(scored.scores.values(), key=lambda s: -s.score)
    median = ranked[len(ranked) // 2].score
    outage = scored.scores[scored.planted["plant_outage"]["enterprise"]].score
    assert median < 0.5 < outage


def leading(s: RiskScore, settings: RiskSettings) -> str:
    """The own factor that adds most to the score (value times its weight)."""
    own = ("performance", "events", "structure", "concentration")
    return max(own, key=lambda f: s.factors[f].value * getattr(settings, f"weight_{f}"))


def test_the_main_planted_risks_outrank_every_enterprise_where_nothing_was_planted(scored: Scored) -> None:
    p = scored.planted
    settings = RiskSettings()
    main = {
        p["plant_outage"]["enterprise"]: "events",
        p["performance_collapse"]["supplier"]: "performance",
        **{s["supplier"]: "structure" for s in p["sole_sources"]},
    }
    planted = {
        *main,
        *p["region_flood"]["enterprises"],
        *p["regional_concentration"]["suppliers"],
        *p["chronically_late"],
    }
    best_unplanted = max(s.score for e, s in scored.scores.items() if e not in planted)
    for eid, factor in main.items():
        assert scored.rank[eid] <= 5, (eid, scored.rank[eid])
        assert scored.scores[eid].score > best_unplanted, eid
        assert leading(scored.scores[eid], settings) == factor, eid
