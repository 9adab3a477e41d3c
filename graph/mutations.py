"""Pure mapping of valid events to graph mutation rows: one list per mutation kind (see graph.model).

Within a batch the rows of one entity are folded into one row, aspect by aspect, keeping the newest
version of each aspect; the writer then applies an aspect only if it is newer than the stored one.
Rows of every kind are sorted by their keys so concurrent writers lock nodes in one order (no
deadlocks between workers). No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from graph import model
from graph.names import name_search_keys
from schema.envelope import ValidEvent
from schema.events import (
    BomDefined,
    CapacityReported,
    CertificationExpired,
    CertificationGranted,
    DesignChangeRequested,
    DesignPartnerJoined,
    DesignProjectCreated,
    DesignRevisionPublished,
    DisruptionReported,
    DisruptionResolved,
    EquipmentAlarm,
    FacilityRegistered,
    InventoryReported,
    MaterialDefined,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    PartnerRegistered,
    PartnerUpdated,
    QualityIncident,
    ShipmentDelayed,
    SupplyAgreed,
    SupplyEnded,
)

Row = dict[str, Any]
Key = tuple[str, ...]


def version(time_ms: int, sequence: int, event_id: str) -> str:
    """The comparable version of an event: string order = (time, sequence, event id) order.

    Total and exact for every event the envelope accepts: time from 1970 to year 9999 fits 15 digits
    of milliseconds, a sequence up to ``MAX_SEQUENCE`` (2^63 - 1) fits 19 digits, and the fixed-width
    prefix leaves the event id to decide ties.
    """
    return f"{max(time_ms, 0):015d}:{sequence:019d}:{event_id}"


@dataclass(frozen=True, slots=True)
class Stamp:
    v: str
    eid: str
    src: str
    t: int
    on: date

    @classmethod
    def of(cls, ev: ValidEvent) -> Stamp:
        t = ev.time_ms
        return cls(version(t, ev.sequence, ev.id), ev.id, ev.source, t, ev.time.astimezone(UTC).date())


@dataclass
class Mutations:
    """Rows per mutation kind, plus what the KPI stage must recompute."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    kpi_enterprises: set[str] = field(default_factory=set)
    """Suppliers (and stock holders) whose KPIs the batch may change."""
    kpi_stock: set[tuple[str, str]] = field(default_factory=set)
    """(enterprise, sku) whose stock changed: the suppliers of that sku to it are recomputed."""
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    """(label, key) -> source: owners the batch's master data claims (``graph.ownership``); a stored
    owner is never replaced."""

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def kind(self, name: str) -> list[Row]:
        return self.rows.get(name, [])


class _Fold:
    """Folds rows of one kind per key, newest version per aspect and for provenance."""

    def __init__(self) -> None:
        self.rows: dict[Key, Row] = {}

    def put(self, key: Key, base: Row, aspect: str, fields: Row, st: Stamp) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {**base, "v": ""}
        if aspect:
            av = aspect + "V"
            if st.v > (row.get(av) or ""):
                row.update({f: _wire(v) for f, v in fields.items()})
                row[av] = st.v
        if st.v > row["v"]:
            row.update(v=st.v, lastEventId=st.eid, lastSource=st.src, lastEventAt=st.t)

    def link(self, key: Key, to: str | None, st: Stamp) -> None:
        """A single-target link: the newest row wins whole."""
        row = self.rows.get(key)
        if row is None or st.v > row["v"]:
            self.rows[key] = {
                "k": key[0],
                "to": to,
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def sorted_rows(self) -> list[Row]:
        return [self.rows[k] for k in sorted(self.rows)]


class _Batch:
    def __init__(self) -> None:
        self.folds: dict[str, _Fold] = {name: _Fold() for name in model.KIND_NAMES}
        self.kpi_enterprises: set[str] = set()
        self.kpi_stock: set[tuple[str, str]] = set()

    def node(self, kind: model.NodeKind, key: str, aspect: str, fields: Row, st: Stamp) -> None:
        self.folds[kind.name].put((key,), {"k": key}, aspect, fields, st)

    def rel(
        self, kind: model.RelKind, a: str, b: str, keys: Row, aspect: str, fields: Row, st: Stamp
    ) -> None:
        # Sorted by (end node, start node, key props): relationships lock both ends in one order.
        k = (b, a, *(str(keys[p]) for p in kind.rel_keys))
        self.folds[kind.name].put(k, {"a": a, "b": b, **keys}, aspect, fields, st)

    def link(self, kind: model.LinkKind, key: str, to: str | None, st: Stamp) -> None:
        self.folds[kind.name].link((key,), to, st)

    def bom(self, d: BomDefined, st: Stamp) -> None:
        fold = self.folds[model.BOMS]
        old = fold.rows.get((d.product_sku,))
        if old is None or st.v > old["v"]:
            fold.rows[(d.product_sku,)] = {
                "k": d.product_sku,
                "components": sorted(({"sku": c.sku, "qty": c.qty} for c in d.components), key=_sku),
                "on": st.on.isoformat(),
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def result(self) -> Mutations:
        rows = {name: f.sorted_rows() for name, f in self.folds.items() if f.rows}
        return Mutations(rows=rows, kpi_enterprises=self.kpi_enterprises, kpi_stock=self.kpi_stock)


def _wire(v: Any) -> Any:
    """Dates travel as ISO strings and become ``date()`` in Cypher (see ``model.DATE_FIELDS``).

    The driver turns each ``datetime.date`` parameter into a Bolt date in Python (~10 µs each); a
    string is packed natively and Neo4j parses it for a fraction of that.
    """
    return v.isoformat() if type(v) is date else v


def _sku(c: Row) -> str:
    return str(c["sku"])


def _enum(v: Any) -> Any:
    return v.value if v is not None and hasattr(v, "value") else v


def _partner(b: _Batch, d: PartnerRegistered | PartnerUpdated, st: Stamp, *, full: bool) -> None:
    k = model.ENTERPRISE
    if full or d.name is not None:
        # The pinyin search key travels with the name (same aspect, same version): never stale.
        keys = name_search_keys(d.name) if d.name is not None else None
        b.node(k, d.enterprise_id, "name", {"name": d.name, "namePinyin": keys}, st)
    for aspect, value in (
        ("industry", _enum(d.industry)),
        ("country", d.country),
        ("capabilities", d.capabilities),
    ):
        if full or value is not None:
            b.node(k, d.enterprise_id, aspect, {aspect: value}, st)
    if full or d.region is not None:
        b.link(model.ENTERPRISE_REGION, d.enterprise_id, d.region, st)


def _order(b: _Batch, d: Any, aspect: str, fields: Row, st: Stamp) -> None:
    b.node(model.ORDER, d.order_id, "parties", {"supplierId": d.supplier_id, "buyerId": d.buyer_id}, st)
    b.node(model.ORDER, d.order_id, aspect, fields, st)
    b.kpi_enterprises.add(d.supplier_id)


def _apply(b: _Batch, ev: ValidEvent) -> None:
    d = ev.data
    st = Stamp.of(ev)
    if isinstance(d, PartnerRegistered):
        _partner(b, d, st, full=True)
    elif isinstance(d, PartnerUpdated):
        _partner(b, d, st, full=False)
    elif isinstance(d, FacilityRegistered):
        b.node(
            model.FACILITY,
            d.facility_id,
            "registered",
            {"name": d.name, "kind": d.kind.value, "latitude": d.latitude, "longitude": d.longitude},
            st,
        )
        b.link(model.FACILITY_OPERATOR, d.facility_id, d.enterprise_id, st)
        b.link(model.FACILITY_REGION, d.facility_id, d.region, st)
    elif isinstance(d, CertificationGranted):
        b.node(
            model.CERTIFICATION,
            d.certificate_id,
            "granted",
            {
                "standard": d.standard,
                "issuer": d.issuer,
                "validFrom": d.valid_from,
                "validUntil": d.valid_until,
            },
            st,
        )
        b.link(model.CERTIFICATION_HOLDER, d.certificate_id, d.enterprise_id, st)
    elif isinstance(d, CertificationExpired):
        b.node(
            model.CERTIFICATION,
            d.certificate_id,
            "expired",
            {"expiredReason": d.reason, "expiredAt": st.t},
            st,
        )
        b.link(model.CERTIFICATION_HOLDER, d.certificate_id, d.enterprise_id, st)
    elif isinstance(d, MaterialDefined):
        b.node(model.MATERIAL, d.sku, "defined", {"name": d.name, "category": d.category, "unit": d.unit}, st)
    elif isinstance(d, BomDefined):
        b.bom(d, st)
    elif isinstance(d, SupplyAgreed):
        keys = {"sku": d.sku}
        b.rel(
            model.SUPPLIES,
            d.supplier_id,
            d.buyer_id,
            keys,
            "agreed",
            {
                "share": d.share,
                "leadTimeDays": d.lead_time_days,
                "validFrom": d.valid_from or st.on,
                "unitPrice": d.unit_price,
                "currency": d.currency,
                "annualVolume": d.annual_volume,
            },
            st,
        )
        b.rel(
            model.SUPPLIES,
            d.supplier_id,
            d.buyer_id,
            keys,
            "validity",
            {"validTo": d.valid_to, "endReason": None},
            st,
        )
        b.kpi_enterprises.add(d.supplier_id)
    elif isinstance(d, SupplyEnded):
        b.rel(
            model.SUPPLIES,
            d.supplier_id,
            d.buyer_id,
            {"sku": d.sku},
            "validity",
            {"validTo": d.ended_on, "endReason": d.reason},
            st,
        )
    elif isinstance(d, OrderPlaced):
        _order(
            b,
            d,
            "placed",
            {
                "sku": d.sku,
                "quantity": d.quantity,
                "requestedDate": d.requested_date,
                "unitPrice": d.unit_price,
                "currency": d.currency,
                "placedAt": st.t,
            },
            st,
        )
    elif isinstance(d, OrderConfirmed):
        _order(
            b,
            d,
            "confirmed",
            {"confirmedQuantity": d.confirmed_quantity, "promisedDate": d.promised_date},
            st,
        )
    elif isinstance(d, OrderShipped):
        _order(
            b,
            d,
            "shipped",
            {
                "shipmentId": d.shipment_id,
                "shippedQuantity": d.quantity,
                "shippedOn": d.shipped_on,
                "carrierId": d.carrier_id,
            },
            st,
        )
        b.node(
            model.ORDER,
            d.order_id,
            "eta",
            {"expectedDelivery": d.expected_delivery, "delayDays": None, "delayReason": None},
            st,
        )
    elif isinstance(d, ShipmentDelayed):
        _order(
            b,
            d,
            "eta",
            {"expectedDelivery": d.new_expected_delivery, "delayDays": d.delay_days, "delayReason": d.reason},
            st,
        )
    elif isinstance(d, OrderDelivered):
        _order(
            b,
            d,
            "delivered",
            {
                "quantityOrdered": d.quantity_ordered,
                "quantityDelivered": d.quantity_delivered,
                "deliveredPromisedDate": d.promised_date,
                "deliveredOn": d.delivered_on,
                "orderedOn": d.ordered_on,
                "deliveredAt": st.t,
            },
            st,
        )
    elif isinstance(d, OrderCancelled):
        _order(b, d, "cancelled", {"cancelReason": d.reason, "cancelledAt": st.t}, st)
    elif isinstance(d, InventoryReported):
        b.rel(
            model.STOCKS,
            d.enterprise_id,
            d.sku,
            {"site": d.facility_id or ""},
            "stock",
            {
                "onHand": d.on_hand,
                "dailyUsage": d.daily_usage,
                "daysOfCover": d.days_of_cover,
                "stockReportedAt": st.t,
            },
            st,
        )
        b.kpi_enterprises.add(d.enterprise_id)
        b.kpi_stock.add((d.enterprise_id, d.sku))
    elif isinstance(d, CapacityReported):
        fields = {
            "capacityPerDay": d.capacity_per_day,
            "utilization": d.utilization,
            "capacityReportedAt": st.t,
        }
        if d.sku is not None:
            b.rel(
                model.PRODUCES, d.enterprise_id, d.sku, {"site": d.facility_id or ""}, "capacity", fields, st
            )
        elif d.facility_id is not None:
            b.node(model.FACILITY, d.facility_id, "capacity", fields, st)
        else:
            b.node(model.ENTERPRISE, d.enterprise_id, "capacity", fields, st)
    elif isinstance(d, QualityIncident):
        b.node(
            model.QUALITY_INCIDENT,
            d.incident_id,
            "reported",
            {
                "supplierId": d.supplier_id,
                "buyerId": d.buyer_id,
                "sku": d.sku,
                "severity": d.severity.value,
                "defectPpm": d.defect_ppm,
                "description": d.description,
                "reportedAt": st.t,
            },
            st,
        )
        b.link(model.INCIDENT_SUPPLIER, d.incident_id, d.supplier_id, st)
        b.kpi_enterprises.add(d.supplier_id)
    elif isinstance(d, EquipmentAlarm):
        b.node(
            model.EQUIPMENT_ALARM,
            d.alarm_id,
            "raised",
            {
                "equipmentId": d.equipment_id,
                "signal": d.signal,
                "severity": d.severity.value,
                "facilityId": d.facility_id,
                "predictedFailureDays": d.predicted_failure_days,
                "raisedAt": st.t,
            },
            st,
        )
        b.link(model.ALARM_SITE, d.alarm_id, d.enterprise_id, st)
    elif isinstance(d, DisruptionReported):
        target_kind, target = (
            ("enterprise", d.enterprise_id)
            if d.enterprise_id
            else ("facility", d.facility_id)
            if d.facility_id
            else ("region", d.region)
        )
        b.node(
            model.DISRUPTION,
            d.disruption_id,
            "reported",
            {
                "kind": d.kind.value,
                "severity": d.severity.value,
                "expectedRecoveryDays": d.expected_recovery_days,
                "description": d.description,
                "targetKind": target_kind,
                "targetId": target,
                "reportedAt": st.t,
            },
            st,
        )
        b.link(model.DISRUPTION_ENTERPRISE, d.disruption_id, d.enterprise_id, st)
        b.link(model.DISRUPTION_FACILITY, d.disruption_id, d.facility_id, st)
        b.link(model.DISRUPTION_REGION, d.disruption_id, d.region, st)
    elif isinstance(d, DisruptionResolved):
        b.node(
            model.DISRUPTION, d.disruption_id, "resolved", {"resolvedAt": st.t, "resolutionNote": d.note}, st
        )
    elif isinstance(d, DesignProjectCreated):
        b.node(
            model.DESIGN_PROJECT,
            d.project_id,
            "created",
            {"name": d.name, "description": d.description, "productSku": d.product_sku, "createdAt": st.t},
            st,
        )
        b.link(model.PROJECT_OWNER, d.project_id, d.owner_id, st)
        b.link(model.PROJECT_PRODUCT, d.project_id, d.product_sku, st)
    elif isinstance(d, DesignPartnerJoined):
        b.rel(
            model.COLLABORATES_ON,
            d.enterprise_id,
            d.project_id,
            {},
            "joined",
            {"role": d.role.value, "joinedAt": st.t},
            st,
        )
    elif isinstance(d, DesignRevisionPublished):
        b.node(
            model.DESIGN_REVISION,
            d.revision_id,
            "published",
            {"label": d.label, "projectId": d.project_id, "publishedAt": st.t},
            st,
        )
        b.link(model.REVISION_PROJECT, d.revision_id, d.project_id, st)
        for c in d.changed_components:
            b.rel(
                model.CHANGES,
                d.revision_id,
                c.sku,
                {},
                "change",
                {"change": c.change.value, "qty": c.qty},
                st,
            )
    elif isinstance(d, DesignChangeRequested):
        b.node(
            model.CHANGE_REQUEST,
            d.change_id,
            "requested",
            {
                "projectId": d.project_id,
                "reason": d.reason,
                "requiredBy": d.required_by,
                "affectedSkus": list(d.affected_skus),
                "requestedAt": st.t,
            },
            st,
        )
        b.link(model.CHANGE_PROJECT, d.change_id, d.project_id, st)
        for sku in d.affected_skus:
            b.rel(model.IMPACTS, d.change_id, sku, {}, "", {}, st)
    else:  # pragma: no cover - the catalog test keeps this unreachable
        raise TypeError(f"event {ev.id}: no graph mapping for type {ev.type!r}")


def to_mutations(events: Iterable[ValidEvent]) -> Mutations:
    """Map events to rows; fold each entity's rows to the newest per aspect; sort rows by key.

    Pure and deterministic: the same events in any order give the same rows. Raises ``TypeError`` for
    an event type without a mapping (a programming error, caught by the catalog test).
    """
    b = _Batch()
    for ev in events:
        _apply(b, ev)
    return b.result()


def event_date(ms: int) -> date:
    """The UTC calendar date of an epoch-millisecond instant."""
    return datetime.fromtimestamp(ms / 1000, UTC).date()
