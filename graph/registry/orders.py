"""Orders and logistics: an order's lifecycle and its shipments (the flow: graph rows and records)."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, RecordRows, named
from graph.rows import GraphRows, Row, Stamp
from schema.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    ShipmentDelayed,
)
from schema.records import (
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    ORDER_DELIVERED,
    ORDER_PLACED,
    ORDER_SHIPPED,
    SHIPMENT_DELAYED,
    SHIPMENT_SHIPPED,
)

Order = OrderPlaced | OrderConfirmed | OrderShipped | OrderDelivered | OrderCancelled | ShipmentDelayed


def _order(b: GraphRows, d: Order, aspect: str, fields: Row, st: Stamp) -> None:
    b.node(model.ORDER, d.order_id, "parties", {"supplierId": d.supplier_id, "buyerId": d.buyer_id}, st)
    b.node(model.ORDER, d.order_id, aspect, fields, st)


def _ref(d: Order) -> Row:
    return {"order_id": d.order_id, "supplier_id": d.supplier_id, "buyer_id": d.buyer_id}


def _parties(d: Order) -> Named:
    return named(enterprises=[d.supplier_id, d.buyer_id])


# -- order.placed


def _placed(b: GraphRows, d: OrderPlaced, st: Stamp) -> None:
    placed = {
        "sku": d.sku,
        "quantity": d.quantity,
        "requestedDate": d.requested_date,
        "unitPrice": d.unit_price,
        "currency": d.currency,
        "placedAt": st.t,
    }
    _order(b, d, "placed", placed, st)


def _placed_records(d: OrderPlaced, st: Stamp) -> RecordRows:
    row = {
        **_ref(d),
        "sku": d.sku,
        "quantity": d.quantity,
        "requested_date": d.requested_date,
        "ordered_on": st.on,
        "unit_price": d.unit_price,
        "currency": d.currency,
    }
    return [(ORDER_PLACED, row)]


# -- order.confirmed


def _confirmed(b: GraphRows, d: OrderConfirmed, st: Stamp) -> None:
    _order(
        b, d, "confirmed", {"confirmedQuantity": d.confirmed_quantity, "promisedDate": d.promised_date}, st
    )


def _confirmed_records(d: OrderConfirmed, st: Stamp) -> RecordRows:
    row = {**_ref(d), "confirmed_quantity": d.confirmed_quantity, "promised_date": d.promised_date}
    return [(ORDER_CONFIRMED, row)]


# -- order.shipped


def _shipped(b: GraphRows, d: OrderShipped, st: Stamp) -> None:
    shipped = {
        "shipmentId": d.shipment_id,
        "shippedQuantity": d.quantity,
        "shippedOn": d.shipped_on,
        "carrierId": d.carrier_id,
    }
    _order(b, d, "shipped", shipped, st)
    eta = {"expectedDelivery": d.expected_delivery, "delayDays": None, "delayReason": None}
    b.node(model.ORDER, d.order_id, "eta", eta, st)


def _shipped_records(d: OrderShipped, st: Stamp) -> RecordRows:
    ref = _ref(d)
    shipped = {"shipped_on": d.shipped_on, "expected_delivery": d.expected_delivery}
    shipment = {
        **ref,
        "shipment_id": d.shipment_id,
        "quantity": d.quantity,
        **shipped,
        "carrier_id": d.carrier_id,
    }
    return [(ORDER_SHIPPED, {**ref, "shipped_quantity": d.quantity, **shipped}), (SHIPMENT_SHIPPED, shipment)]


def _shipped_names(d: OrderShipped) -> Named:
    return named(enterprises=[d.supplier_id, d.buyer_id, d.carrier_id])


# -- shipment.delayed


def _delayed(b: GraphRows, d: ShipmentDelayed, st: Stamp) -> None:
    eta = {"expectedDelivery": d.new_expected_delivery, "delayDays": d.delay_days, "delayReason": d.reason}
    _order(b, d, "eta", eta, st)


def _delayed_records(d: ShipmentDelayed, st: Stamp) -> RecordRows:
    row = {
        **_ref(d),
        "shipment_id": d.shipment_id,
        "new_expected_delivery": d.new_expected_delivery,
        "delay_days": d.delay_days,
        "delay_reason": d.reason,
    }
    return [(SHIPMENT_DELAYED, row)]


# -- order.delivered


def _delivered(b: GraphRows, d: OrderDelivered, st: Stamp) -> None:
    delivered = {
        "quantityOrdered": d.quantity_ordered,
        "quantityDelivered": d.quantity_delivered,
        "deliveredPromisedDate": d.promised_date,
        "deliveredOn": d.delivered_on,
        "orderedOn": d.ordered_on,
        "deliveredAt": st.t,
    }
    _order(b, d, "delivered", delivered, st)


def _delivered_records(d: OrderDelivered, st: Stamp) -> RecordRows:
    row = {
        **_ref(d),
        "quantity_delivered": d.quantity_delivered,
        "delivered_on": d.delivered_on,
        "due_date": d.promised_date,
        "delivered_quantity_ordered": d.quantity_ordered,
        "delivered_ordered_on": d.ordered_on,
    }
    return [(ORDER_DELIVERED, row)]


# -- order.cancelled


def _cancelled(b: GraphRows, d: OrderCancelled, st: Stamp) -> None:
    _order(b, d, "cancelled", {"cancelReason": d.reason, "cancelledAt": st.t}, st)


def _cancelled_records(d: OrderCancelled, st: Stamp) -> RecordRows:
    return [(ORDER_CANCELLED, {**_ref(d), "cancelled_on": st.on, "cancel_reason": d.reason})]


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(OrderPlaced, _placed, _parties, _placed_records),
    EventUnit(OrderConfirmed, _confirmed, _parties, _confirmed_records),
    EventUnit(OrderShipped, _shipped, _shipped_names, _shipped_records),
    EventUnit(ShipmentDelayed, _delayed, _parties, _delayed_records),
    EventUnit(OrderDelivered, _delivered, _parties, _delivered_records),
    EventUnit(OrderCancelled, _cancelled, _parties, _cancelled_records),
)
