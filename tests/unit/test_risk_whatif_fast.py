"""The vectorised what-if equals the one-enterprise-at-a-time heap sweep it replaced, field for field."""

from __future__ import annotations

import pytest

from graph.risk import synthetic
from graph.risk.settings import RiskSettings
from graph.risk.whatif import FlowIndex, disrupted_set, what_if, what_if_reference

S = RiskSettings()
SHAPES = [("chain", 30), ("tree", 63), ("diamond", 40), ("dag", 300), ("cyclic", 300), ("cyclic", 3000)]


@pytest.mark.parametrize(("shape", "n"), SHAPES, ids=[f"{s}-{n}" for s, n in SHAPES])
@pytest.mark.parametrize("days", [3.0, 15.0, 40.0])
def test_vectorised_what_if_equals_the_heap_sweep(shape: str, n: int, days: float) -> None:
    # kpis: covers of 0 to 30 whole days, so many enterprises fail at the same instant, some at once
    net = synthetic.network(shape, n, seed=7, kpis=True)
    idx = FlowIndex.of(net)
    ids = sorted(net.enterprises)
    ranking = {e: (sum(map(ord, e)) % 10) / 10 for e in ids}
    scenarios = [{ids[0]}, set(ids[:2] + ids[-2:]), disrupted_set(net, region=synthetic.REGIONS[0])]
    for hit in scenarios:
        for rank in (None, ranking):
            got = what_if(idx, hit, days, S, alternatives=3, ranking=rank)
            assert got == what_if_reference(idx, hit, days, S, alternatives=3, ranking=rank)


def test_a_region_takes_out_many_at_once_and_the_cascade_reaches_far() -> None:
    net = synthetic.network("cyclic", 3000, seed=5, kpis=True)
    hit = disrupted_set(net, region=synthetic.REGIONS[1])
    got = what_if(net, hit, 30.0, S)
    assert len(hit) > 300
    assert len(got.exposures) > len(hit)
    assert max(e.tier for e in got.exposures) >= 2
    assert got == what_if_reference(net, hit, 30.0, S)
