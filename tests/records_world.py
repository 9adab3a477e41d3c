"""A deterministic flow of catalog events for the record views, with what each record should read as.

``flow(prefix, suppliers, buyers, orders=n)`` gives the events (decoded like the pipeline decodes them)
and a ``FlowTruth``: per order its parties, sku, order date, status and dates, written down where the
events are made — the oracle the record-view tests compare pages with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from schema.envelope import ValidEvent
from schema.events import CATALOG
from schema.examples import example_event
from schema.validate import decode_event

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
STAGES = ("placed", "confirmed", "shipped", "delivered", "cancelled")


@dataclass(frozen=True)
class OrderTruth:
    order_id: str
    supplier: str
    buyer: str
    sku: str
    ordered_on: date
    status: str
    due: date
    delivered_on: date | None
    unit_price: float

    def late(self, as_of: date) -> bool:
        if self.status == "delivered":
            return self.delivered_on is not None and self.delivered_on > self.due
        return self.status != "cancelled" and self.due < as_of


@dataclass
class FlowTruth:
    orders: dict[str, OrderTruth] = field(default_factory=dict)
    shipments: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    """shipment id -> (supplier, buyer, delayed)"""
    stock: dict[tuple[str, str, str], float | None] = field(default_factory=dict)
    """(enterprise, sku, site) -> days of cover"""
    capacity: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """(enterprise, sku, site) -> spare capacity"""
    quality: dict[str, tuple[str, str]] = field(default_factory=dict)
    """incident id -> (supplier, buyer)"""
    alarms: dict[str, str] = field(default_factory=dict)
    """alarm id -> enterprise"""


def event(event_type: str, eid: str, at: datetime, data: dict[str, Any]) -> ValidEvent:
    doc = example_event(event_type, event_id=eid)
    doc["time"] = at.isoformat()
    doc["data"] = data
    doc["subject"] = data[CATALOG[event_type].SUBJECT]
    return decode_event(orjson.dumps(doc), max_future=None)


def flow(
    prefix: str,
    suppliers: list[str],
    buyers: list[str],
    *,
    orders: int,
    sites: int = 3,
    price: float = 100.0,
) -> tuple[list[ValidEvent], FlowTruth]:
    """``orders`` orders spread over every (supplier, buyer) pair, one in five at each lifecycle stage
    (half of the delivered ones late, half of the shipments delayed); per enterprise stock and capacity
    for two skus at ``sites`` sites; a quality incident every 7th order; an alarm every 11th."""
    evs: list[ValidEvent] = []
    truth = FlowTruth()
    pairs = [(s, b) for s in suppliers for b in buyers if s != b]
    for i in range(orders):
        s, b = pairs[i % len(pairs)]
        oid = f"{prefix}po-{i:07d}"
        sku = f"{prefix}sku-{i % 4}"
        at = T0 + timedelta(hours=i)
        ordered_on = at.date()
        requested = ordered_on + timedelta(days=10)
        stage = STAGES[i % 5]
        ref = {"order_id": oid, "buyer_id": b, "supplier_id": s}
        evs.append(
            event(
                "order.placed",
                f"{oid}-p",
                at,
                {
                    **ref,
                    "sku": sku,
                    "quantity": 10 + i % 90,
                    "requested_date": requested.isoformat(),
                    "unit_price": price,
                    "currency": "CNY",
                },
            )
        )
        due, delivered_on = requested, None
        if stage in ("confirmed", "shipped", "delivered"):
            due = requested + timedelta(days=1)
            evs.append(
                event(
                    "order.confirmed",
                    f"{oid}-c",
                    at + timedelta(minutes=5),
                    {**ref, "confirmed_quantity": 10 + i % 90, "promised_date": due.isoformat()},
                )
            )
        if stage in ("shipped", "delivered"):
            sid = f"{prefix}sh-{i:07d}"
            delayed = i % 2 == 0
            evs.append(
                event(
                    "order.shipped",
                    f"{oid}-s",
                    at + timedelta(minutes=10),
                    {
                        **ref,
                        "shipment_id": sid,
                        "quantity": 10 + i % 90,
                        "shipped_on": (ordered_on + timedelta(days=3)).isoformat(),
                        "expected_delivery": due.isoformat(),
                    },
                )
            )
            if delayed:
                evs.append(
                    event(
                        "shipment.delayed",
                        f"{oid}-d",
                        at + timedelta(minutes=20),
                        {
                            **ref,
                            "shipment_id": sid,
                            "new_expected_delivery": (due + timedelta(days=2)).isoformat(),
                            "delay_days": 2,
                        },
                    )
                )
            truth.shipments[sid] = (s, b, delayed)
        if stage == "delivered":
            delivered_on = due + timedelta(days=2) if i % 2 == 1 else due - timedelta(days=1)
            evs.append(
                event(
                    "order.delivered",
                    f"{oid}-v",
                    at + timedelta(minutes=30),
                    {
                        **ref,
                        "quantity_ordered": 10 + i % 90,
                        "quantity_delivered": 10 + i % 90,
                        "promised_date": due.isoformat(),
                        "delivered_on": delivered_on.isoformat(),
                    },
                )
            )
        if stage == "cancelled":
            evs.append(
                event("order.cancelled", f"{oid}-x", at + timedelta(minutes=5), {**ref, "reason": "plan"})
            )
        truth.orders[oid] = OrderTruth(oid, s, b, sku, ordered_on, stage, due, delivered_on, price)
        if i % 7 == 0:
            qid = f"{prefix}qi-{i:07d}"
            evs.append(
                event(
                    "quality.incident",
                    f"{qid}-r",
                    at,
                    {
                        "incident_id": qid,
                        "supplier_id": s,
                        "buyer_id": b,
                        "sku": sku,
                        "severity": "high",
                        "defect_ppm": 500.0,
                    },
                )
            )
            truth.quality[qid] = (s, b)
        if i % 11 == 0:
            aid = f"{prefix}al-{i:07d}"
            evs.append(
                event(
                    "equipment.alarm",
                    f"{aid}-r",
                    at,
                    {
                        "alarm_id": aid,
                        "enterprise_id": s,
                        "facility_id": f"{s}-site-0",
                        "equipment_id": f"{s}-eq",
                        "signal": "vibration",
                        "severity": "medium",
                    },
                )
            )
            truth.alarms[aid] = s
    for n, e in enumerate(sorted({*suppliers, *buyers})):
        for k in range(2):
            sku = f"{prefix}sku-{k}"
            for site in range(sites):
                fid = f"{e}-site-{site}"
                on_hand, usage = float(100 * (n + site + 1)), float(10 * (k + 1))
                evs.append(
                    event(
                        "inventory.reported",
                        f"{prefix}inv-{n}-{k}-{site}",
                        T0,
                        {
                            "enterprise_id": e,
                            "sku": sku,
                            "on_hand": on_hand,
                            "daily_usage": usage,
                            "facility_id": fid,
                        },
                    )
                )
                truth.stock[(e, sku, fid)] = on_hand / usage
                cap, util = 1000.0 * (site + 1), 0.25 * ((n + k + site) % 4)
                evs.append(
                    event(
                        "capacity.reported",
                        f"{prefix}cap-{n}-{k}-{site}",
                        T0,
                        {
                            "enterprise_id": e,
                            "sku": sku,
                            "facility_id": fid,
                            "capacity_per_day": cap,
                            "utilization": util,
                        },
                    )
                )
                truth.capacity[(e, sku, fid)] = cap * (1 - util)
    return evs, truth
