"""Orders and logistics: an order's lifecycle and its shipments (the flow: records only, no graph rows)."""

from __future__ import annotations

from typing import Any

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


def _flow_only(b: GraphRows, d: Order, st: Stamp) -> None:
    """Orders and shipments write no graph rows: they are records, and the KPI buckets summarise them
    (``connectors.flow_store``); the graph's size does not grow with the number of orders."""


def _ref(d: Order) -> Row:
    return {"order_id": d.order_id, "supplier_id": d.supplier_id, "buyer_id": d.buyer_id}


def _parties(d: Order) -> Named:
    return named(enterprises=[d.supplier_id, d.buyer_id])


# -- order.placed


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


def _confirmed_records(d: OrderConfirmed, st: Stamp) -> RecordRows:
    row = {**_ref(d), "confirmed_quantity": d.confirmed_quantity, "promised_date": d.promised_date}
    return [(ORDER_CONFIRMED, row)]


# -- order.shipped


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


def _cancelled_records(d: OrderCancelled, st: Stamp) -> RecordRows:
    return [(ORDER_CANCELLED, {**_ref(d), "cancelled_on": st.on, "cancel_reason": d.reason})]


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(OrderPlaced, _flow_only, _parties, _placed_records),
    EventUnit(OrderConfirmed, _flow_only, _parties, _confirmed_records),
    EventUnit(OrderShipped, _flow_only, _shipped_names, _shipped_records),
    EventUnit(ShipmentDelayed, _flow_only, _parties, _delayed_records),
    EventUnit(OrderDelivered, _flow_only, _parties, _delivered_records),
    EventUnit(OrderCancelled, _flow_only, _parties, _cancelled_records),
)
