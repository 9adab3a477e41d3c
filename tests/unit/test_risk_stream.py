"""What the risk agent collects from a batch of valid events."""

from __future__ import annotations

from typing import Any

import orjson

from schema.examples import example_event
from streams.risk import touched_by


def _event(event_type: str, data: dict[str, Any]) -> bytes:
    doc = example_event(event_type, event_id=f"e-{len(str(data))}-{event_type}")
    doc["data"] = data
    doc["subject"] = data[{"supply.agreed": "buyer_id", "disruption.reported": "disruption_id"}[event_type]]
    return orjson.dumps(doc)


def test_touched_by_collects_enterprises_facilities_regions_and_disruptions() -> None:
    hit = {"kind": "flood", "severity": "high", "expected_recovery_days": 10}
    values = [
        _event(
            "supply.agreed",
            {"supplier_id": "wisco", "buyer_id": "dongfeng", "sku": "HRC", "share": 0.5, "lead_time_days": 7},
        ),
        _event("disruption.reported", {**hit, "disruption_id": "d1", "facility_id": "wisco-f2"}),
        _event("disruption.reported", {**hit, "disruption_id": "d2", "region": "湖北省 武汉市"}),
        b"not json",
    ]
    t = touched_by(values)
    # The subject counts as an enterprise, whatever the type names it (here also the disruption ids).
    assert t.enterprises == {"dongfeng", "wisco", "d1", "d2"}
    assert t.facilities == {"wisco-f2"}
    assert t.regions == {"湖北省 武汉市"}
    assert t.disruptions == {"d1", "d2"}
    assert not touched_by([])
