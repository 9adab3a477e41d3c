"""Pure event -> mutation-row mapping: every catalog event maps; newest-per-aspect; order-free."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from graph import model
from graph.mutations import to_mutations, version
from graph.registry import REGISTRY, agreed_links, record_rows
from schema.envelope import ValidEvent
from schema.events import CATALOG
from schema.examples import EXAMPLES

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def event(
    type_: str, data: dict[str, Any], *, at: int = 0, eid: str | None = None, seq: int = 0
) -> ValidEvent:
    payload = msgspec.convert(data, CATALOG[type_])
    return ValidEvent(
        id=eid or f"{type_}-{at}",
        source="sap",
        type=type_,
        time=T0 + timedelta(seconds=at),
        subject=str(getattr(payload, payload.SUBJECT)),
        sequence=seq,
        data=payload,
    )


RECORDS_ONLY = frozenset(t for t, p in CATALOG.items() if p.GROUP == "orders and logistics") | {
    "quality.incident",
    "inventory.reported",
    "equipment.alarm",
}
"""Orders, shipments, quality incidents, stock and equipment alarms: records and their aggregates only,
no graph rows (docs/graph-model.md)."""


@pytest.mark.parametrize("type_", sorted(CATALOG))
def test_every_catalog_event_maps_to_rows(type_: str) -> None:
    m = to_mutations([event(type_, EXAMPLES[type_])])
    writes_none = REGISTRY[CATALOG[type_]].streamed or type_ in RECORDS_ONLY
    assert (len(m) == 0) == writes_none
    assert set(m.rows) <= set(model.KIND_NAMES)
    for rows in m.rows.values():
        for r in rows:
            assert r["lastEventId"] == f"{type_}-0"
            assert r["lastSource"] == "sap"


def test_versions_order_by_time_then_sequence_then_id() -> None:
    assert version(1000, 0, "b") < version(1000, 1, "a") < version(2000, 0, "a")
    assert version(1000, 0, "a") < version(1000, 0, "b")
    assert version(9, 0, "z") < version(10, 0, "a")


def test_the_newest_aspect_wins_within_a_batch_whatever_the_order() -> None:
    new = event("partner.updated", {"enterprise_id": "wisco", "name": "新名字"}, at=10)
    old = event("partner.registered", {"enterprise_id": "wisco", "name": "旧名字", "industry": "steel"}, at=5)
    for batch in ([new, old], [old, new]):
        [row] = to_mutations(batch).kind("enterprises")
        assert row["name"] == "新名字"
        assert row["industry"] == "steel"  # the partial update left industry to the registration
        assert row["lastEventId"] == new.id


def test_a_create_only_relationship_keeps_the_oldest_event_within_a_batch_whatever_the_order() -> None:
    """PRODUCES carries the provenance of the oldest report naming it (the graph applies an older row
    arriving later too), so the stored relationship does not depend on how events were batched."""
    data = {"enterprise_id": "wisco", "sku": "HRC", "capacity_per_day": 100.0, "utilization": 0.5}
    old = event("capacity.reported", data, at=5)
    new = event("capacity.reported", {**data, "utilization": 0.9}, at=10)
    for batch in ([new, old], [old, new]):
        [row] = to_mutations(batch).kind(model.PRODUCES.name)
        assert (row["lastEventId"], row["v"]) == (
            old.id,
            version(int(old.time.timestamp() * 1000), 0, old.id),
        )


def test_a_partial_update_writes_only_the_fields_it_names() -> None:
    [row] = to_mutations([event("partner.updated", {"enterprise_id": "w", "country": "CN"})]).kind(
        "enterprises"
    )
    assert row["countryV"]
    assert row.get("nameV") is None
    assert "name" not in row
    assert (
        to_mutations([event("partner.updated", {"enterprise_id": "w", "country": "CN"})]).kind(
            "enterprise_region"
        )
        == []
    )


def test_mapping_is_independent_of_event_order() -> None:
    events = [event(t, EXAMPLES[t], at=i) for i, t in enumerate(sorted(CATALOG))]
    events += [event("supply.ended", EXAMPLES["supply.ended"], at=100, eid="late")]
    expected = to_mutations(events).rows
    for perm in itertools.islice(itertools.permutations(events), 0, 50, 7):
        assert to_mutations(perm).rows == expected
    assert to_mutations(list(reversed(events))).rows == expected


def test_relationship_rows_are_sorted_by_end_node_then_start_node() -> None:
    events = [
        event("supply.agreed", {**EXAMPLES["supply.agreed"], "supplier_id": s, "buyer_id": b}, eid=f"{s}{b}")
        for s, b in [("s2", "b2"), ("s1", "b2"), ("s9", "b1")]
    ]
    rows = to_mutations(events).kind("supplies")
    assert [(r["b"], r["a"]) for r in rows] == [("b1", "s9"), ("b2", "s1"), ("b2", "s2")]


def test_stock_writes_no_graph_rows_and_agreed_links_ride_the_record_batch() -> None:
    """Stock is a record (its days of cover come with the batch's KPI row, connectors/flow_store.py);
    an agreed supply link is named to the record batch so its KPI row is written with the link."""
    stock = event("inventory.reported", EXAMPLES["inventory.reported"])
    assert len(to_mutations([stock])) == 0
    inv = EXAMPLES["inventory.reported"]
    assert [(inv["enterprise_id"], inv["sku"])] == [
        (r["enterprise_id"], r["sku"]) for rows in record_rows([stock]).values() for r in rows
    ]
    agreed = EXAMPLES["supply.agreed"]
    events = [event("supply.agreed", agreed), stock]
    assert agreed_links(events) == [(agreed["supplier_id"], agreed["buyer_id"], agreed["sku"])]
    # an ending delivered before its agreement creates the link: its row rides with it too
    ended = EXAMPLES["supply.ended"]
    assert agreed_links([event("supply.ended", ended), stock]) == [
        (ended["supplier_id"], ended["buyer_id"], ended["sku"])
    ]


def test_every_kind_has_a_statement() -> None:
    assert len(set(model.KIND_NAMES)) == len(model.KIND_NAMES)
    for _, cypher in model.statements():
        assert "$rows" in cypher
