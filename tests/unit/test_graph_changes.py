"""The change records built from what the graph statements returned (pure: the records of one batch)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from graph.changes import graph_changes
from graph.mutations import to_mutations
from graph.writer import KPI_LINKS, KPI_SUPPLIERS
from schema.changes import AggregateChange, CausingEvent, Change, decode, encode
from schema.envelope import ValidEvent
from schema.examples import example_event
from schema.validate import decode_event
from streams.projection import moved_aggregates
from streams.risk import touched_by_changes

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _event(event_type: str, event_id: str, **data: object) -> ValidEvent:
    e = example_event(event_type, event_id=event_id)
    e["data"].update(data)
    if event_type.startswith("supply."):
        e["subject"] = e["data"]["buyer_id"]
    return decode_event(orjson.dumps(e), max_future=None)


def _causing(*events: ValidEvent) -> dict[str, CausingEvent]:
    return {
        e.id: CausingEvent(id=e.id, type=e.type, subject=e.subject, time=e.time, source=e.source)
        for e in events
    }


def test_only_what_the_statements_returned_is_reported_each_change_with_its_event() -> None:
    agreed = _event("supply.agreed", "ev-agreed")
    fire = _event("disruption.reported", "ev-fire")
    m = to_mutations([agreed, fire])
    applied = {
        # the supply link was new; the disruption's row came back as older than stored: not returned
        "supplies": [
            {"a": "wisco", "b": "dongfeng", "keys": ["HRC-Q235"], "created": True, "moved": ["agreed"]}
        ],
        "disruptions": [],
    }
    records = graph_changes(m, applied, _causing(agreed, fire), batch="b1", committed_at=AT)
    assert len(records) == 1
    (r,) = records
    assert (r.id, r.key, r.committed_at) == ("b1/0", "dongfeng", AT)
    assert [e.id for e in r.events] == ["ev-agreed"]
    assert r.nodes == []
    (link,) = r.links
    assert (link.type, link.start, link.end, link.keys, link.change, link.aspects, link.event) == (
        "SUPPLIES",
        "wisco",
        "dongfeng",
        {"sku": "HRC-Q235"},
        Change.CREATED,
        ["agreed"],
        "ev-agreed",
    )
    assert decode(encode(r)) == r
    assert (
        graph_changes(m, {"supplies": [], "disruptions": []}, _causing(agreed), batch="b2", committed_at=AT)
        == []
    )


def test_an_ending_event_ends_and_a_moved_link_ends_its_old_target() -> None:
    ended = _event("supply.ended", "ev-ended")
    moved = _event("partner.updated", "ev-moved", region="湖北省 武汉市")
    m = to_mutations([ended, moved])
    eid = moved.data.enterprise_id
    applied = {
        "supplies": [
            {"a": "wisco", "b": "dongfeng", "keys": ["HRC-Q235"], "created": False, "moved": ["validity"]}
        ],
        "enterprise_region": [{"k": eid, "to": moved.data.region, "kept": False, "gone": ["old-region"]}],
    }
    records = graph_changes(m, applied, _causing(ended, moved), batch="b", committed_at=AT)
    links = {(lk.kind, lk.end, lk.change) for r in records for lk in r.links}
    assert ("supplies", "dongfeng", Change.ENDED) in links
    assert ("enterprise_region", "old-region", Change.ENDED) in links
    assert ("enterprise_region", moved.data.region, Change.CREATED) in links
    touched = touched_by_changes(encode(r) for r in records)
    assert {"wisco", "dongfeng", eid} <= touched.enterprises
    assert {"old-region", moved.data.region} <= touched.regions


def test_a_key_with_many_changes_is_split_into_records_of_bounded_size() -> None:
    lots = [_event("lot.produced", f"ev-{i}", lot_id=f"lot-{i}") for i in range(7)]
    m = to_mutations(lots)
    applied = {"lots": [{"k": f"lot-{i}", "created": True, "moved": ["produced"]} for i in range(7)]}
    records = graph_changes(m, applied, _causing(*lots), batch="b", committed_at=AT, max_changes=3)
    assert [len(r.nodes) for r in records] == [3, 3, 1]
    assert len({r.id for r in records}) == 3
    assert all(n.enterprises for r in records for n in r.nodes)  # a lot names the enterprise that made it


def test_aggregates_that_moved_go_under_their_enterprise_and_name_it_for_risk() -> None:
    placed = _event("order.placed", "ev-placed")
    link = AggregateChange(
        kind="supply_link",
        fields=["otif90"],
        supplier="wisco",
        buyer="dongfeng",
        sku="s",
        events=["ev-placed"],
    )
    mill = AggregateChange(kind="enterprise", fields=["otif90"], enterprise="wisco", events=["ev-placed"])
    records = graph_changes(
        to_mutations([placed]), {}, _causing(placed), batch="b", committed_at=AT, aggregates=[link, mill]
    )
    assert [(r.key, r.aggregates, [e.id for e in r.events]) for r in records] == [
        ("dongfeng", [link], ["ev-placed"]),
        ("wisco", [mill], ["ev-placed"]),
    ]
    assert touched_by_changes(encode(r) for r in records).enterprises == {"wisco", "dongfeng"}


def test_flow_kpi_rows_a_write_applied_become_aggregate_changes_naming_their_events() -> None:
    applied = {
        KPI_SUPPLIERS: [{"id": "wisco", "fields": ["otifRate30d", "openOrders"]}],
        KPI_LINKS: [
            {"supplier": "wisco", "buyer": "dongfeng", "sku": "s", "fields": ["openOrders"]},
            {"supplier": "wisco", "buyer": "geely", "sku": "s", "fields": ["deliveries30d"]},
        ],
    }
    naming = {"wisco": ["ev-1", "ev-2"], "dongfeng": ["ev-1"]}
    assert moved_aggregates(applied, naming) == [
        AggregateChange(
            kind="enterprise",
            fields=["openOrders", "otifRate30d"],
            enterprise="wisco",
            events=["ev-1", "ev-2"],
        ),
        AggregateChange(
            kind="supply_link",
            fields=["openOrders"],
            supplier="wisco",
            buyer="dongfeng",
            sku="s",
            events=["ev-1"],
        ),
        # a link whose window lost a day (the stream clock moved): no event of the batch moved it
        AggregateChange(
            kind="supply_link", fields=["deliveries30d"], supplier="wisco", buyer="geely", sku="s", events=[]
        ),
    ]
