"""The event-type registry: every catalog type has one complete unit, and what the units name is what
the risk agent used to read from hard-coded field lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
import pytest

from graph.registry import FLOW_GROUPS, REGISTRY, missing_units, record_rows
from graph.rows import GraphRows, Stamp
from schema.events import CATALOG
from schema.examples import example_event
from schema.validate import decode_event
from streams.risk import Touched, touched_by


def test_every_catalog_type_has_a_complete_unit() -> None:
    assert not missing_units(), f"catalog types without a complete unit in graph.registry: {missing_units()}"
    assert set(REGISTRY) == set(CATALOG.values())
    assert {cls.GROUP for cls in CATALOG.values()} >= FLOW_GROUPS, "a flow group left the catalog"


RECORDS_ONLY = frozenset(t for t, p in CATALOG.items() if p.GROUP == "orders and logistics") | {
    "quality.incident",
    "inventory.reported",
    "equipment.alarm",
}


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_each_unit_writes_graph_rows_and_the_flow_writes_records(event_type: str) -> None:
    """Every type writes graph rows except orders, shipments, quality incidents, stock reports and
    equipment alarms (records and the aggregates the batch writes only)."""
    ev = decode_event(orjson.dumps(example_event(event_type)))
    unit = REGISTRY[type(ev.data)]
    rows = GraphRows()
    unit.graph(rows, ev.data, Stamp.of(ev))
    if unit.streamed:
        assert len(rows.result()) == 0, f"{event_type} is aggregated in the stream, not written per event"
    else:
        assert (len(rows.result()) > 0) == (event_type not in RECORDS_ONLY)
    if CATALOG[event_type].GROUP in FLOW_GROUPS:
        assert record_rows([ev]), f"{event_type} is part of the flow and wrote no records"
    else:
        assert record_rows([ev]) == {}


ENTERPRISE_FIELDS = (
    "supplier_id",
    "buyer_id",
    "enterprise_id",
    "owner_id",
    "carrier_id",
    "maker_id",
    "customer_id",
)


def _by_field_names(values: Iterable[bytes]) -> Touched:
    """The risk agent's former reading: top-level payload fields by name, plus the subject."""
    t = Touched()
    for value in values:
        ev = orjson.loads(value)
        data = ev["data"]
        t.enterprises.add(ev["subject"])
        t.enterprises.update(data[f] for f in ENTERPRISE_FIELDS if isinstance(data.get(f), str))
        t.facilities.update(data[f] for f in ("facility_id",) if isinstance(data.get(f), str))
        t.regions.update(data[f] for f in ("region",) if isinstance(data.get(f), str))
        t.disruptions.update(data[f] for f in ("disruption_id",) if isinstance(data.get(f), str))
    return t


def _variants(event_type: str) -> list[dict[str, Any]]:
    """The example, and the example with each optional id the registry may name filled in."""
    base = example_event(event_type)
    out = [base]
    fields = msgspec.structs.fields(CATALOG[event_type])
    optional = {f.name for f in fields if f.required is False}
    for name, value in (("carrier_id", "cosco"), ("facility_id", "wisco-f9"), ("buyer_id", "saic")):
        if name in optional and event_type != "disruption.reported" and name not in base["data"]:
            doc = example_event(event_type, event_id=f"{event_type}-{name}")
            doc["data"][name] = value
            out.append(doc)
    if event_type == "disruption.reported":  # exactly one target: each kind of target in turn
        for name, value in (("enterprise_id", "wisco"), ("facility_id", "wisco-f9")):
            doc = example_event(event_type, event_id=f"{event_type}-{name}")
            del doc["data"]["region"]
            doc["data"][name] = value
            out.append(doc)
    return out


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_the_ids_a_unit_names_are_those_the_field_lists_named(event_type: str) -> None:
    for doc in _variants(event_type):
        value = orjson.dumps(doc)
        decode_event(value)  # each variant is a valid event
        assert touched_by([value]) == _by_field_names([value]), doc["data"]
