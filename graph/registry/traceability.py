"""Traceability: lots made from lots, packed into shipping units, shipped and received (graph rows only).

Every row is keyed by lot, unit and shipment ids, so the graph is the same whatever order the events of
a genealogy arrive in: an input lot named before its own ``lot.produced`` is a bare ``Lot`` node that
the later event fills in; a unit shipped before it is packed gets its lots when the packing arrives.
"""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, named
from graph.rows import GraphRows, Stamp
from schema.events import LotPacked, LotProduced, LotReceived, LotShipped, LotUnpacked


def _produced(b: GraphRows, d: LotProduced, st: Stamp) -> None:
    produced = {
        "sku": d.sku,
        "quantity": d.quantity,
        "enterpriseId": d.enterprise_id,
        "facilityId": d.facility_id,
        "productionId": d.production_id,
        "serials": list(d.serials),
        "producedAt": st.t,
    }
    b.node(model.LOT, d.lot_id, "produced", produced, st)
    b.link(model.LOT_PRODUCER, d.lot_id, d.enterprise_id, st)
    b.link(model.LOT_FACILITY, d.lot_id, d.facility_id, st)
    for x in d.inputs:
        b.rel(
            model.MADE_FROM,
            d.lot_id,
            x.lot_id,
            {},
            "consumed",
            {"quantity": x.quantity, "consumedAt": st.t},
            st,
        )


def _packed(b: GraphRows, d: LotPacked, st: Stamp) -> None:
    for x in d.contents:
        fields = {"packedQuantity": x.quantity, "packedBy": d.enterprise_id, "packedAt": st.t}
        b.rel(model.PACKED_IN, x.lot_id, d.unit_id, {}, "packed", fields, st)


def _unpacked(b: GraphRows, d: LotUnpacked, st: Stamp) -> None:
    for lot in d.lot_ids:
        fields = {"unpackedBy": d.enterprise_id, "unpackedAt": st.t}
        b.rel(model.PACKED_IN, lot, d.unit_id, {}, "unpacked", fields, st)


def _movement(b: GraphRows, d: LotShipped | LotReceived, aspect: str, st: Stamp) -> None:
    keys = {"shipmentId": d.shipment_id}
    parties = {"supplierId": d.supplier_id}
    order = {"orderId": d.order_id}

    def fields(quantity: float | None) -> dict[str, Any]:
        if aspect == "shipped":
            return {"shippedQuantity": quantity, "shippedAt": st.t}
        return {"receivedQuantity": quantity, "receivedAt": st.t, "receivedFacilityId": d.facility_id}

    for x in d.lots:
        b.rel(model.LOT_SHIPPED, x.lot_id, d.buyer_id, keys, "parties", parties, st)
        if d.order_id is not None:  # a receipt without the order keeps the one the shipment named
            b.rel(model.LOT_SHIPPED, x.lot_id, d.buyer_id, keys, "order", order, st)
        b.rel(model.LOT_SHIPPED, x.lot_id, d.buyer_id, keys, aspect, fields(x.quantity), st)
    for unit in d.units:
        b.rel(model.UNIT_SHIPPED, unit, d.buyer_id, keys, "parties", parties, st)
        if d.order_id is not None:
            b.rel(model.UNIT_SHIPPED, unit, d.buyer_id, keys, "order", order, st)
        b.rel(model.UNIT_SHIPPED, unit, d.buyer_id, keys, aspect, fields(None), st)


def _shipped(b: GraphRows, d: LotShipped, st: Stamp) -> None:
    _movement(b, d, "shipped", st)


def _received(b: GraphRows, d: LotReceived, st: Stamp) -> None:
    _movement(b, d, "received", st)


def _at(d: LotProduced | LotPacked | LotUnpacked) -> Named:
    return named(enterprises=[d.enterprise_id], facilities=[d.facility_id])


def _parties(d: LotShipped | LotReceived) -> Named:
    return named(enterprises=[d.supplier_id, d.buyer_id], facilities=[d.facility_id])


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(LotProduced, _produced, _at),
    EventUnit(LotPacked, _packed, _at),
    EventUnit(LotUnpacked, _unpacked, _at),
    EventUnit(LotShipped, _shipped, _parties),
    EventUnit(LotReceived, _received, _parties),
)
