"""Folds a stream of catalog events into the risk model's in-memory network, as the projection would.

Follows docs/graph-model.md and graph/risk/store.py: links carry their 90-day KPIs (computed by
``graph.kpis`` from the order and quality records), enterprises their open disruptions (at them, at
their facilities, in their region), high/critical alarms of the 14 UTC days ending with the stream
clock's day (the newest event time of the types that write records) and certificates expired or
expiring within 60 days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from graph.kpis import (
    ALARM_SEVERITIES,
    ALARM_WINDOW_DAYS,
    IncidentRecord,
    OrderRecord,
    Stock,
    as_of,
    day_of,
    link_kpis,
    lowest_cover,
)
from graph.registry import REGISTRY
from graph.risk.facts import Enterprise, Facility, Network, OpenDisruption, SupplyLink
from graph.risk.settings import RiskSettings
from schema.validate import decode_event


@dataclass
class _Order:
    supplier: str
    buyer: str
    sku: str | None = None
    placed_at: int | None = None
    quantity: float | None = None
    ordered_on: date | None = None
    delivered_at: int | None = None
    delivered_on: date | None = None
    promised: date | None = None
    quantity_delivered: float | None = None
    cancelled_at: int | None = None


@dataclass
class Fold:
    """The state the projection would hold after the events (enough for the risk model)."""

    now: datetime
    settings: RiskSettings = field(default_factory=RiskSettings)
    enterprises: dict[str, dict[str, object]] = field(default_factory=dict)
    facilities: dict[str, tuple[str, str]] = field(default_factory=dict)
    links: dict[tuple[str, str, str], dict[str, object]] = field(default_factory=dict)
    orders: dict[str, _Order] = field(default_factory=dict)
    incidents: dict[str, list[IncidentRecord]] = field(default_factory=lambda: defaultdict(list))
    stock: dict[tuple[str, str, str | None], Stock] = field(default_factory=dict)
    disruptions: dict[str, tuple[OpenDisruption, str, str]] = field(default_factory=dict)
    raised: list[tuple[str, str | None, int]] = field(default_factory=list)
    """High/critical alarms: (enterprise, facility, event time)."""
    clock: int | None = None
    """The stream clock: the newest event time of the types that write records."""
    certificates: dict[str, tuple[str, date | None, bool]] = field(default_factory=dict)

    def add(self, raw: bytes) -> None:
        ev = decode_event(raw, now=self.now)
        d = ev.data
        at = ev.time_ms
        t = ev.type
        if REGISTRY[type(d)].records is not None:  # a record's time moves the stream clock
            self.clock = at if self.clock is None else max(self.clock, at)
        if t == "partner.registered":
            self.enterprises[d.enterprise_id] = {
                "name": d.name,
                "industry": d.industry.value,
                "region": d.region,
            }
        elif t == "facility.registered":
            self.facilities[d.facility_id] = (d.enterprise_id, d.region)
        elif t == "supply.agreed":
            self.links[(d.supplier_id, d.buyer_id, d.sku)] = {
                "share": d.share,
                "lead": d.lead_time_days,
                "volume": d.annual_volume,
            }
        elif t.startswith("order."):
            o = self.orders.setdefault(d.order_id, _Order(d.supplier_id, d.buyer_id))
            if t == "order.placed":
                o.sku, o.placed_at, o.quantity, o.ordered_on = d.sku, at, d.quantity, ev.time.date()
            elif t == "order.delivered":
                o.delivered_at, o.delivered_on, o.promised = at, d.delivered_on, d.promised_date
                o.quantity, o.quantity_delivered = d.quantity_ordered, d.quantity_delivered
                o.ordered_on = d.ordered_on or o.ordered_on
            elif t == "order.cancelled":
                o.cancelled_at = at
        elif t == "quality.incident":
            self.incidents[d.supplier_id].append(IncidentRecord(d.buyer_id, d.sku, at))
        elif t == "inventory.reported":
            self.stock[(d.enterprise_id, d.sku, d.facility_id)] = Stock(d.sku, d.on_hand, d.daily_usage)
        elif t == "disruption.reported":
            if d.enterprise_id:
                where, target = "enterprise", d.enterprise_id
            elif d.facility_id:
                where, target = "facility", d.facility_id
            else:
                where, target = "region", d.region
            dis = OpenDisruption(
                d.disruption_id, d.severity.value, where, d.expected_recovery_days, d.kind.value
            )
            self.disruptions[d.disruption_id] = (dis, where, target)
        elif t == "disruption.resolved":
            self.disruptions.pop(d.disruption_id, None)
        elif t == "equipment.alarm":
            if d.severity.value in ALARM_SEVERITIES:
                self.raised.append((d.enterprise_id, d.facility_id, at))
        elif t == "certification.granted":
            self.certificates[d.certificate_id] = (d.enterprise_id, d.valid_until, False)
        elif t == "certification.expired":
            owner, until, _ = self.certificates.get(d.certificate_id, (d.enterprise_id, None, True))
            self.certificates[d.certificate_id] = (owner, until, True)

    def recent_alarms(self) -> tuple[dict[str, int], dict[str, int]]:
        """High/critical alarms in the alarm window at the stream clock: per enterprise, per facility."""
        per_enterprise: dict[str, int] = defaultdict(int)
        per_facility: dict[str, int] = defaultdict(int)
        if self.clock is not None:
            last = day_of(self.clock)
            first = last - timedelta(days=ALARM_WINDOW_DAYS - 1)
            for eid, fid, at in self.raised:
                if first <= day_of(at) <= last:
                    per_enterprise[eid] += 1
                    if fid:
                        per_facility[fid] += 1
        return per_enterprise, per_facility

    def network(self) -> Network:
        """The risk model's input: enterprises with their facts, current links with their KPIs."""
        alarms, facility_alarms = self.recent_alarms()
        by_supplier: dict[str, list[OrderRecord]] = defaultdict(list)
        for o in self.orders.values():
            by_supplier[o.supplier].append(
                OrderRecord(
                    o.buyer,
                    o.sku,
                    o.placed_at,
                    o.delivered_at,
                    o.delivered_on,
                    o.promised,
                    o.quantity,
                    o.quantity_delivered,
                    o.ordered_on,
                    o.cancelled_at,
                )
            )
        stock_of: dict[str, list[Stock]] = defaultdict(list)
        for (eid, _, _), st in self.stock.items():
            stock_of[eid].append(st)
        links = []
        for (s, b, sku), props in self.links.items():
            orders = by_supplier.get(s, [])
            incidents = self.incidents.get(s, [])
            k = link_kpis(b, sku, orders, incidents, stock_of.get(b, []), as_of(orders, incidents))
            links.append(
                SupplyLink(
                    s,
                    b,
                    sku,
                    share=props["share"],  # type: ignore[arg-type]
                    lead_time_days=props["lead"],  # type: ignore[arg-type]
                    annual_volume=props["volume"],  # type: ignore[arg-type]
                    otif=k["otifRate90d"],
                    lead_time_mean=k["leadTimeMeanDays90d"],
                    lead_time_p90=k["leadTimeP90Days90d"],
                    quality_incident_rate=k["qualityIncidentRate90d"],
                    days_of_cover=k["daysOfCover"],
                )
            )
        at_enterprise: dict[str, list[OpenDisruption]] = defaultdict(list)
        at_facility: dict[str, list[OpenDisruption]] = defaultdict(list)
        in_region: dict[str, list[OpenDisruption]] = defaultdict(list)
        for dis, where, target in self.disruptions.values():
            {"enterprise": at_enterprise, "facility": at_facility, "region": in_region}[where][target].append(
                dis
            )
        operated: dict[str, list[str]] = defaultdict(list)
        for fid, (operator, _) in self.facilities.items():
            operated[operator].append(fid)
        horizon = (self.now + timedelta(days=self.settings.certificate_window_days)).date()
        expiring: dict[str, int] = defaultdict(int)
        for owner, until, expired in self.certificates.values():
            if expired or (until is not None and until <= horizon):
                expiring[owner] += 1
        enterprises = []
        for eid, e in self.enterprises.items():
            region = e["region"]
            facs = operated.get(eid, [])
            disruptions = [*at_enterprise.get(eid, [])]
            disruptions += [d for f in facs for d in at_facility.get(f, [])]
            disruptions += in_region.get(region, []) if isinstance(region, str) else []
            enterprises.append(
                Enterprise(
                    eid,
                    name=str(e["name"]),
                    industry=str(e["industry"]),
                    region=region if isinstance(region, str) else None,
                    days_of_cover=lowest_cover(stock_of.get(eid, [])),
                    disruptions=tuple(disruptions),
                    recent_alarms=alarms.get(eid, 0),
                    expiring_certificates=expiring.get(eid, 0),
                    facilities=tuple(facs),
                )
            )
        facilities = [
            Facility(
                fid,
                operator=operator,
                region=region,
                disruptions=tuple(at_facility.get(fid, []))
                + tuple(
                    OpenDisruption(d.id, d.severity, "region", d.expected_recovery_days, d.kind)
                    for d in in_region.get(region, [])
                ),
                recent_alarms=facility_alarms.get(fid, 0),
            )
            for fid, (operator, region) in self.facilities.items()
        ]
        return Network.of(enterprises, links, facilities)


def fold(events: Iterable[bytes], end: date) -> Network:
    """The network after ``events`` as of ``end`` 00:00 UTC."""
    f = Fold(datetime(end.year, end.month, end.day, tzinfo=UTC))
    for raw in events:
        f.add(raw)
    return f.network()
