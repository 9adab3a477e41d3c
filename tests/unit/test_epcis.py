"""EPCIS 2.0 documents map to catalog events with stable, content-derived ids."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.epcis import (
    EpcisError,
    document_events,
    event_hash_id,
    lot_of,
    party_of,
    sku_of,
    unit_of,
)
from schema.validate import decode_event

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    {"supplynet": "https://schemas.supplynet.dev/epcis/"},
]


def epcis_document(prefix: str) -> dict[str, Any]:
    """A document with one event of every mapped kind and one that has no supplynet meaning."""
    po = {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000003:{prefix}-PO-1"}
    src = [{"type": "owning_party", "source": f"urn:epc:id:pgln:{prefix}.wisco"}]
    dst = [{"type": "owning_party", "destination": f"urn:epc:id:pgln:{prefix}.dongfeng"}]
    steel = "urn:epc:idpat:sgtin:4012345.011111.*"  # class level: no lot (lots: tests/data/epcis)
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-05-01T10:00:00+08:00",
        "epcisBody": {
            "eventList": [
                {
                    "type": "TransactionEvent",
                    "eventTime": "2026-04-20T09:00:00.000+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "action": "ADD",
                    "bizTransactionList": [po],
                    "sourceList": src,
                    "destinationList": dst,
                    "quantityList": [{"epcClass": steel, "quantity": 120, "uom": "TNE"}],
                    "supplynet:requestedDate": "2026-05-10",
                },
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-05-01T08:00:00.000+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "bizTransactionList": [po, {"type": "desadv", "bizTransaction": f"{prefix}-ASN-9"}],
                    "sourceList": src,
                    "destinationList": dst,
                    "quantityList": [{"epcClass": steel, "quantity": 120, "uom": "TNE"}],
                    "supplynet:expectedDeliveryDate": "2026-05-08",
                },
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-05-01T06:00:00Z",
                    "eventTimeZoneOffset": "+08:00",
                    "action": "OBSERVE",
                    "bizStep": "urn:epcglobal:cbv:bizstep:inventory_check",
                    "bizLocation": {"id": "urn:epc:id:sgln:4012345.00001.0"},
                    "quantityList": [{"epcClass": steel, "quantity": 800, "uom": "TNE"}],
                    "supplynet:enterpriseId": f"{prefix}-dongfeng",
                    "supplynet:dailyUsage": 40,
                },
                {
                    "type": "TransformationEvent",
                    "eventTime": "2026-05-02T08:00:00+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "inputQuantityList": [
                        {"epcClass": steel, "quantity": 1500},
                        {"epcClass": "urn:supplynet:sku:PP-T30S", "quantity": 300},
                    ],
                    "outputQuantityList": [
                        {"epcClass": "urn:epc:idpat:sgtin:4012345.099999.*", "quantity": 1000}
                    ],
                },
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-05-02T08:00:00+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "action": "OBSERVE",
                    "bizStep": "inspecting",
                    "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
                },
            ]
        },
    }


def test_every_mapped_event_kind_becomes_a_valid_catalog_event() -> None:
    items = list(document_events(epcis_document("t"), source="wisco-epcis"))
    good = [decode_event(i.event) for i in items if i.event is not None]
    assert [e.type for e in good] == ["order.placed", "order.shipped", "inventory.reported", "bom.defined"]
    placed, shipped, inventory, bom = (e.data for e in good)
    assert (placed.order_id, placed.buyer_id, placed.supplier_id) == (
        "0614141000003:t-PO-1",
        "pgln:t.dongfeng",
        "pgln:t.wisco",
    )
    assert (placed.sku, placed.quantity) == ("gtin:4012345.011111", 120)
    assert (shipped.shipment_id, str(shipped.shipped_on)) == ("t-ASN-9", "2026-05-01")
    assert (inventory.on_hand, inventory.daily_usage, inventory.facility_id) == (
        800,
        40,
        "sgln:4012345.00001.0",
    )
    assert bom.product_sku == "gtin:4012345.099999"
    assert [(c.sku, c.qty) for c in bom.components] == [("gtin:4012345.011111", 1.5), ("PP-T30S", 0.3)]
    assert all(e.id.startswith("ni:///sha-256;") and e.id.endswith("?ver=CBV2.0") for e in good)


def test_an_unmappable_event_is_rejected_with_its_reason() -> None:
    items = list(document_events(epcis_document("t"), source="s"))
    [bad] = [i for i in items if i.rejection is not None]
    assert bad.position == 4
    assert "inspecting" in bad.rejection.reason  # type: ignore[union-attr]
    assert "has no supplynet event type" in bad.rejection.reason  # type: ignore[union-attr]


def test_a_missing_extension_field_is_named() -> None:
    doc = epcis_document("t")
    del doc["epcisBody"]["eventList"][1]["supplynet:expectedDeliveryDate"]
    item = list(document_events(doc, source="s"))[1]
    assert item.rejection is not None
    assert item.rejection.field == "supplynet:expectedDeliveryDate"


def test_the_hash_id_ignores_key_order_list_order_and_time_notation() -> None:
    event = epcis_document("t")["epcisBody"]["eventList"][1]
    same = dict(reversed(list(copy.deepcopy(event).items())))
    same["bizTransactionList"].reverse()
    same["eventTime"] = "2026-05-01T00:00:00Z"  # the same instant
    same["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"  # the same word, as a URI
    assert event_hash_id(same) == event_hash_id(event)
    changed = copy.deepcopy(event)
    changed["quantityList"][0]["quantity"] = 121
    assert event_hash_id(changed) != event_hash_id(event)


def test_an_event_id_in_the_document_wins() -> None:
    doc = epcis_document("t")
    doc["epcisBody"]["eventList"][0]["eventID"] = "urn:uuid:6f1b6bd4-0b39-4d1b-9a39-1c0dfb1a0c41"
    first = next(document_events(doc, source="s"))
    assert decode_event(first.event).id == "urn:uuid:6f1b6bd4-0b39-4d1b-9a39-1c0dfb1a0c41"  # type: ignore[arg-type]


def test_identifiers_map_to_skus_and_parties() -> None:
    assert sku_of("urn:epc:idpat:sgtin:4012345.011111.*") == "gtin:4012345.011111"
    assert sku_of("https://id.gs1.org/01/09521234543213/10/LOT") == "gtin:09521234543213"
    assert party_of("urn:epc:id:pgln:0614141.00000") == "pgln:0614141.00000"


def test_a_non_epcis_document_is_refused() -> None:
    with pytest.raises(EpcisError):
        list(document_events({"type": "Something"}, source="s"))


def test_a_document_file_is_streamed_to_the_same_events() -> None:
    import io

    import msgspec

    from connectors.epcis import read_epcis

    doc = epcis_document("t")
    streamed = list(read_epcis(io.BytesIO(msgspec.json.encode(doc)), source="s"))
    assert streamed == list(document_events(doc, source="s"))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "Obj', "not JSON"),
        (b'{"type": "Invoice", "epcisBody": {"eventList": []}}', "not an EPCIS 2.0 JSON document"),
        (b'{"type": "EPCISDocument", "epcisBody": {}}', "no `epcisBody.eventList`"),
    ],
)
def test_a_broken_document_file_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    import io

    from connectors.epcis import read_epcis

    with pytest.raises(EpcisError, match=reason):
        list(read_epcis(io.BytesIO(raw), source="s"))


# -- lots: tests/data/epcis/traceability.json (every lot event kind) ---------------------------------

TRACE_DOCUMENT = Path(__file__).parents[1] / "data" / "epcis" / "traceability.json"


def trace_document(run: str) -> dict[str, Any]:
    return dict(json.loads(TRACE_DOCUMENT.read_text().replace("RUN", run)))


def test_every_lot_event_kind_maps_to_lot_events_beside_the_order_and_bom_events() -> None:
    items = list(document_events(trace_document("r"), source="s"))
    assert [i.rejection for i in items if i.rejection is not None] == []
    got = [(i.position, decode_event(i.event)) for i in items if i.event is not None]
    assert [(p, e.type) for p, e in got] == [
        (0, "lot.produced"),  # commissioning ore (quantityList LGTIN)
        (1, "lot.produced"),
        (2, "lot.shipped"),  # shipping without a po: lot level only
        (3, "lot.received"),
        (4, "order.shipped"),  # shipping with a po: the order and its lots
        (4, "lot.shipped"),
        (5, "bom.defined"),  # TransformationEvent: class-level BOM and lot genealogy
        (5, "lot.produced"),
        (6, "bom.defined"),
        (6, "lot.produced"),
        (6, "lot.produced"),
        (7, "lot.packed"),  # AggregationEvent ADD
        (8, "order.shipped"),
        (8, "lot.shipped"),  # an SSCC in epcList: a shipping unit
        (9, "lot.received"),
        (10, "lot.unpacked"),  # AggregationEvent DELETE
        (11, "bom.defined"),
        (11, "lot.produced"),  # serials (SGTIN outputEPCList): lots of one
        (11, "lot.produced"),
        (12, "lot.shipped"),
        (13, "lot.shipped"),
    ]
    heat = got[7][1].data
    assert (heat.lot_id, heat.enterprise_id, heat.facility_id, heat.production_id) == (
        "lgtin:6901234.000033.r-HEAT1",
        "pgln:6901234.r-mill",
        "sgln:6901234.r-mill.0",
        "gdti:6901234.00001.r-HEAT1",
    )
    assert [(x.lot_id, x.quantity) for x in heat.inputs] == [
        ("lgtin:6901234.000011.r-ORE1", 400),
        ("lgtin:6901234.000022.r-COKE1", 120),
    ]
    pallet = got[13][1].data
    assert (pallet.units, pallet.lots, pallet.order_id) == (
        ["sscc:6901234.r-PAL1"],
        [],
        "6901234000001:r-PO-COIL",
    )
    assert got[17][1].data.lot_id == "sgtin:6901234.099999.r-B1"


def test_lot_events_keep_the_cbv_hash_id_and_the_order_event_keeps_its_own() -> None:
    doc = trace_document("r")
    items = [i for i in document_events(doc, source="s") if i.event is not None]
    ids = [decode_event(i.event).id for i in items]
    events = doc["epcisBody"]["eventList"]
    assert ids[0] == event_hash_id(events[0])  # the only catalog event of its EPCIS event
    assert (ids[4], ids[5]) == (event_hash_id(events[4]), event_hash_id(events[4]) + "#lot0")
    assert (ids[9], ids[10]) == (event_hash_id(events[6]) + "#lot0", event_hash_id(events[6]) + "#lot1")


def test_an_aggregation_without_children_or_a_lot_event_without_its_maker_is_refused_by_name() -> None:
    doc = trace_document("r")
    events = doc["epcisBody"]["eventList"]
    del events[7]["childQuantityList"]
    del events[0]["supplynet:enterpriseId"]
    events[2]["sourceList"] = []
    items = {i.position: i for i in document_events(doc, source="s")}
    assert items[7].rejection is not None and items[7].rejection.field == "childEPCs"
    assert items[0].rejection is not None and items[0].rejection.field == "supplynet:enterpriseId"
    assert items[2].rejection is not None and items[2].rejection.field == "sourceList"


def test_lot_and_unit_identifiers() -> None:
    assert lot_of("urn:epc:class:lgtin:4012345.012345.LOT7") == "lgtin:4012345.012345.LOT7"
    assert lot_of("urn:epc:id:sgtin:4012345.012345.400") == "sgtin:4012345.012345.400"
    assert lot_of("https://id.gs1.org/01/09521234543213/10/L1") == "01/09521234543213/10/L1"
    assert lot_of("urn:epc:idpat:sgtin:4012345.012345.*") is None
    assert lot_of("urn:supplynet:sku:HRC-Q235") is None
    assert unit_of("urn:epc:id:sscc:4012345.0000000001") == "sscc:4012345.0000000001"
    assert unit_of("urn:epc:id:sgtin:4012345.012345.400") is None
