"""What the risk agent collects from a batch of valid events."""

from __future__ import annotations

import orjson

from streams.risk import touched_by


def test_touched_by_collects_enterprises_facilities_regions_and_disruptions() -> None:
    values = [
        orjson.dumps(
            {"subject": "dongfeng", "data": {"supplier_id": "wisco", "buyer_id": "dongfeng", "sku": "HRC"}}
        ),
        orjson.dumps({"subject": "wisco", "data": {"disruption_id": "d1", "facility_id": "wisco-f2"}}),
        orjson.dumps(
            {"subject": "湖北省 武汉市", "data": {"disruption_id": "d2", "region": "湖北省 武汉市"}}
        ),
        b"not json",
    ]
    t = touched_by(values)
    assert t.enterprises == {"dongfeng", "wisco", "湖北省 武汉市"}
    assert t.facilities == {"wisco-f2"}
    assert t.regions == {"湖北省 武汉市"}
    assert t.disruptions == {"d1", "d2"}
    assert not touched_by([])
