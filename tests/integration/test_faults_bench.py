"""The fault drills (``bench/faults.py``) at CI size against the real stack: each scenario's graph
equals the uninterrupted reference's, and every poison event is in the DLQ with its reason."""

from __future__ import annotations

import pytest

from bench.faults import drill
from supplynet.settings import Settings

pytestmark = pytest.mark.timeout(1500)


async def test_a_killed_worker_of_two_and_poison_events_leave_the_reference_graph(stack: Settings) -> None:
    # 150 enterprises keep the graph above 1,000 entities with alarms, orders and the other flow
    # types off it (records, not nodes); fed at 300 events/s (10 s a run: the kill still lands mid-feed)
    reference, two_workers, poison = await drill(
        stack, events=3000, enterprises=150, only=["two-workers", "poison"], drain_timeout_s=600, rate=300
    )
    assert reference.dump_size > 1000
    for outcome in (two_workers, poison):
        assert outcome.skipped is None
        assert (outcome.lost, outcome.duplicated) == (0, 0), (outcome.scenario, outcome.notes)
        assert all(r.drained is not None for r in outcome.recoveries), outcome.recoveries
        assert "not drained" not in " ".join(outcome.notes)
    assert len(two_workers.faults) == 1
    assert two_workers.dlq == 0
    assert poison.dlq_expected == 30  # 1 % of the events
    assert poison.dlq == poison.dlq_expected, poison.notes
