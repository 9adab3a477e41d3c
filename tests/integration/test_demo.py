"""The demo's core through the real stack: the generated world streamed in by every way (HTTP ingest,
the Kafka producer, file imports), the pipeline worker, live risk and the API as subprocesses; the
risks the manifest says were planted are among the riskiest partners for the expected factor, and the
flood what-if reaches the tiers the events imply.

The expected tiers come from the same events folded into the risk model's network as the projection
would hold it (tests/world_network.py) and run through the in-memory what-if: the pipeline, the live
graph and the API must reach what the events say.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from rich.console import Console

from connectors.world import generate
from graph.maintenance import delete_by_prefix
from graph.risk.settings import RiskSettings
from graph.risk.whatif import disrupted_set, what_if
from supplynet import bootstrap
from supplynet.demo import Children, DemoOptions, DemoResult, RiskyRow, Way, planted_labels, run, summary
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.conftest import free_port
from tests.integration.worker_proc import own_topics
from tests.world_network import fold

pytestmark = pytest.mark.timeout(1800)

MAIN = 5
"""The outage, both deep sole sources and the collapsing supplier rank at most this (of 344)."""
WIDE = 30
"""Every flooded enterprise and every supplier of the concentrated material ranks at most this."""
SEED = 2
OPTIONS = DemoOptions(size="demo", seed=SEED, flood_days=30.0, timeout_s=1200)


@pytest.fixture(scope="module")
def demo_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoResult]:
    """One demo run of its own: ids, topics, consumer group, ports and SQL store apart from other data."""
    from supplynet.cli import run_init

    StackManager(settings, echo=lambda m: print(f"[stack] {m}")).up(["kafka", "neo4j"])
    run_init(settings)
    tag = uuid.uuid4().hex[:8]
    prefix = f"dm{tag}-"
    own = own_topics(settings, f"demo-{tag}-")
    own = own.model_copy(
        update={
            "stream": own.stream.model_copy(
                update={"app_id": f"supplynet-test-demo-{tag}", "web_port": free_port()}
            ),
            "api": own.api.model_copy(update={"port": free_port()}),
        }
    )
    logs = tmp_path_factory.mktemp("demo-logs")
    children = Children(logs)
    try:
        console = Console(width=160)
        result = run(own, replace(OPTIONS, prefix=prefix), console, children=children)
        console.print(summary(result))  # shown when a test fails: the ranks and reasons
        yield result
    finally:
        children.stop()

        async def clean() -> None:
            driver = bootstrap.async_driver(settings)
            try:
                await delete_by_prefix(driver, prefix)
            finally:
                await driver.close()

        asyncio.run(clean())


def row_of(result: DemoResult, eid: str) -> RiskyRow:
    """The enterprise's rank, factors and reasons as the API answered them."""
    row = result.row(eid)
    assert row is not None, f"{eid} was not scored"
    return row


def reasons(result: DemoResult, eid: str, factor: str) -> str:
    return "; ".join(row_of(result, eid).reasons.get(factor, []))


def test_every_way_in_carried_part_of_the_history_and_nothing_was_refused(demo_run: DemoResult) -> None:
    assert demo_run.rejected == []
    assert all(demo_run.sent[w] > 0 for w in Way)
    assert sum(demo_run.sent.values()) == demo_run.manifest["counts"]["events"]
    assert demo_run.graph["enterprises"] == demo_run.manifest["counts"]["enterprises"]


def test_the_planted_risks_outrank_every_enterprise_where_nothing_was_planted(demo_run: DemoResult) -> None:
    p = demo_run.manifest["planted"]
    main = {
        p["plant_outage"]["enterprise"]: "plant outage",
        p["performance_collapse"]["supplier"]: "delivery collapse",
        **{s["supplier"]: f"sole source of {s['sku']}" for s in p["sole_sources"]},
    }
    planted = planted_labels(demo_run.manifest)
    first_unplanted = next(r for r in demo_run.ranked if r.enterprise_id not in planted)
    for eid, what in main.items():
        row = row_of(demo_run, eid)
        assert row.rank <= MAIN, (what, row.rank)
        assert row.score > first_unplanted.score, (what, row.score, first_unplanted)
    assert {r.enterprise_id for r in demo_run.top[:MAIN]} <= planted.keys()


def test_the_plant_outage_is_carried_by_its_open_disruption_and_alarms(demo_run: DemoResult) -> None:
    eid = demo_run.manifest["planted"]["plant_outage"]["enterprise"]
    row = row_of(demo_run, eid)
    assert row.leading_factor() == "events"
    assert row.factors["events"] >= 0.9
    assert "open critical equipment disruption at one of its facilities" in reasons(demo_run, eid, "events")
    assert "3 equipment alarm(s) in the last 14 days" in reasons(demo_run, eid, "events")


def test_deep_sole_sources_are_carried_by_their_structure(demo_run: DemoResult) -> None:
    for sole in demo_run.manifest["planted"]["sole_sources"]:
        row = row_of(demo_run, sole["supplier"])
        assert row.leading_factor() == "structure", sole["sku"]
        assert row.factors["structure"] >= 0.9
        assert row.factors["concentration"] == pytest.approx(1.0)  # one maker: all supply in its region
        assert f"sole supplier of {sole['sku']} to {len(sole['buyers'])}" in reasons(
            demo_run, sole["supplier"], "structure"
        )
        assert row.factors.get("performance", 0.0) < 0.3 and row.factors.get("events", 0.0) < 0.5


def test_the_collapsing_supplier_is_carried_by_its_delivery_performance(demo_run: DemoResult) -> None:
    eid = demo_run.manifest["planted"]["performance_collapse"]["supplier"]
    row = row_of(demo_run, eid)
    assert row.leading_factor() == "performance"
    assert row.factors["performance"] == pytest.approx(1.0)
    otif = re.search(r"on-time-in-full (\d+)% against a 95% target", reasons(demo_run, eid, "performance"))
    assert otif is not None and int(otif.group(1)) <= 50
    assert "2 equipment alarm(s) in the last 14 days" in reasons(demo_run, eid, "events")


def test_the_flooded_region_is_among_the_riskiest_for_the_flood(demo_run: DemoResult) -> None:
    flood = demo_run.manifest["planted"]["region_flood"]
    assert len(flood["enterprises"]) >= 5
    for eid in flood["enterprises"]:
        row = row_of(demo_run, eid)
        assert row.rank <= WIDE, eid
        assert row.factors["events"] >= 0.6
        assert "open critical flood disruption in its region" in reasons(demo_run, eid, "events")


def test_the_regional_concentration_is_among_the_riskiest_for_its_concentration(demo_run: DemoResult) -> None:
    conc = demo_run.manifest["planted"]["regional_concentration"]
    for eid in conc["suppliers"]:
        row = row_of(demo_run, eid)
        assert row.rank <= WIDE, eid
        assert row.factors["concentration"] == pytest.approx(1.0)
        assert f"region {conc['region']} holds 100% of {conc['sku']}" in reasons(
            demo_run, eid, "concentration"
        )


def test_the_flood_what_if_reaches_the_tiers_the_events_imply(demo_run: DemoResult) -> None:
    m = demo_run.manifest
    end = datetime.fromisoformat(m["history"]["to"]).date()
    gen = generate(m["size"], m["seed"], end, prefix=m["prefix"])
    network = fold((e.value for e in gen.events()), end)
    flood = m["planted"]["region_flood"]
    hit = disrupted_set(network, region=flood["region"])  # the run's own region: prefixed, no other world's
    expected = what_if(network, hit, demo_run.flood_days, RiskSettings()).by_tier()
    expected_tiers = {t: len(es) for t, es in expected.items() if t <= 4}
    live = {t["tier"]: t["affected"] for t in demo_run.what_if["byTier"]}
    assert {d["id"] for d in demo_run.what_if["disrupted"]} == set(flood["enterprises"])
    assert max(expected_tiers) >= 2, expected_tiers
    assert live.keys() == expected_tiers.keys(), (live, expected_tiers)
    for tier, n in expected_tiers.items():
        assert live[tier] == pytest.approx(n, rel=0.1), (tier, live, expected_tiers)
