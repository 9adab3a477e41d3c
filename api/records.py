"""Record views: orders, shipments and delays, stock and days of cover, capacity and spare capacity,
certificates, disruptions, quality incidents and equipment alarms — Relay connections with keyset cursors.

Rows come from the record store (``connectors.record_queries``) and, for certificates and disruptions,
from the graph (``graph.record_views``). Every list asks the request's ``Policy``: a partner names no
enterprise outside its network (refused), sees only rows whose enterprises (both ends of an order or
shipment) are in it, and never the price of an order it is not a party to (``redacted``).
"""

from __future__ import annotations

import asyncio
import base64
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import Engine
from strawberry.types import Info

from api.context import Context
from api.enterprise import to_date
from api.errors import ClientError
from api.network import PageInfo
from api.policy import ORDER_TERMS, Action, Policy
from connectors import record_queries as rq
from graph.record_views import RecordViews

T = TypeVar("T")

MAX_PAGE = 500
"""Largest ``first`` of every record list (``api.limits.SIZE_BOUNDS``)."""


@strawberry.type(description="One row of a record list and the cursor that continues after it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(
    description="A page of a record list in its stable key order; pass pageInfo.endCursor as "
    "`after` for the next page (same filters)."
)
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


# -- cursors ------------------------------------------------------------------------------------------


def encode_cursor(view: str, key: tuple[Any, ...]) -> str:
    """An opaque cursor: the list it belongs to and the key of the last row seen."""
    values = [v.isoformat() if isinstance(v, date) else v for v in key]
    return base64.urlsafe_b64encode(orjson.dumps([view, values])).decode()


def decode_cursor(cursor: str | None, view: str, width: int) -> tuple[Any, ...] | None:
    """The key held by a cursor of ``view``; ``ClientError`` for anything else."""
    if cursor is None:
        return None
    try:
        got, values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception:
        raise ClientError("invalid cursor: pass an endCursor this API returned") from None
    if got != view or not isinstance(values, list) or len(values) != width:
        raise ClientError(f"this cursor was made for {got!r}, not {view}")
    return tuple(values)


def _page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ClientError(f"first must be between 1 and {MAX_PAGE}, got {first}")
    return first


def _connection(view: str, nodes: list[Any], keys: list[tuple[Any, ...]], has_next: bool) -> Connection[Any]:
    edges = [Edge(cursor=encode_cursor(view, k), node=n) for n, k in zip(nodes, keys, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
    )


# -- types ----------------------------------------------------------------------------------------------


@strawberry.enum(
    description="Where an order's lifecycle stands: the furthest step it reached (cancelled wins)"
)
class OrderStatus(enum.Enum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@strawberry.type(description="A purchase order's lifecycle (record store).")
class Order:
    order_id: strawberry.ID
    supplier_id: strawberry.ID
    buyer_id: strawberry.ID
    sku: str | None
    status: OrderStatus
    late: bool = strawberry.field(
        description="Delivered after its due date, or open past it on the list's asOf date"
    )
    quantity: float | None
    ordered_on: date | None
    requested_date: date | None
    unit_price: float | None = strawberry.field(description="null when hidden from you (another's terms)")
    currency: str | None
    confirmed_quantity: float | None
    promised_date: date | None
    shipped_quantity: float | None
    shipped_on: date | None
    expected_delivery: date | None
    quantity_delivered: float | None
    delivered_on: date | None
    due_date: date | None = strawberry.field(description="What lateness is measured against")
    cancelled_on: date | None
    cancel_reason: str | None
    redacted: list[str] = strawberry.field(description="Fields hidden from you (null above)")

    @classmethod
    def from_row(cls, r: dict[str, Any], policy: Policy, as_of: date) -> Order:
        terms = {"unitPrice": r["unit_price"], "currency": r["currency"]}
        hidden = policy.redact_terms(terms, ORDER_TERMS, supplier_id=r["supplier_id"], buyer_id=r["buyer_id"])
        return cls(
            order_id=strawberry.ID(r["order_id"]),
            supplier_id=strawberry.ID(r["supplier_id"]),
            buyer_id=strawberry.ID(r["buyer_id"]),
            sku=r["sku"],
            status=OrderStatus(rq.order_status(r).value),
            late=rq.order_is_late(r, as_of),
            quantity=r["quantity"],
            ordered_on=r["ordered_on"],
            requested_date=r["requested_date"],
            unit_price=terms["unitPrice"],
            currency=terms["currency"],
            confirmed_quantity=r["confirmed_quantity"],
            promised_date=r["promised_date"],
            shipped_quantity=r["shipped_quantity"],
            shipped_on=r["shipped_on"],
            expected_delivery=r["expected_delivery"],
            quantity_delivered=r["quantity_delivered"],
            delivered_on=r["delivered_on"],
            due_date=rq.order_due(r),
            cancelled_on=r["cancelled_on"],
            cancel_reason=r["cancel_reason"],
            redacted=hidden,
        )


@strawberry.type(description="One shipment of an order and its latest announced delay (record store).")
class Shipment:
    shipment_id: strawberry.ID
    order_id: strawberry.ID
    supplier_id: strawberry.ID
    buyer_id: strawberry.ID
    quantity: float | None
    carrier_id: str | None
    shipped_on: date | None
    expected_delivery: date | None = strawberry.field(description="The latest expected date (after delays)")
    originally_expected: date | None = strawberry.field(description="The date given when it shipped")
    delayed: bool
    delay_days: int | None
    delay_reason: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Shipment:
        return cls(
            shipment_id=strawberry.ID(r["shipment_id"]),
            order_id=strawberry.ID(r["order_id"]),
            supplier_id=strawberry.ID(r["supplier_id"]),
            buyer_id=strawberry.ID(r["buyer_id"]),
            quantity=r["quantity"],
            carrier_id=r["carrier_id"],
            shipped_on=r["shipped_on"],
            expected_delivery=r["new_expected_delivery"] or r["expected_delivery"],
            originally_expected=r["expected_delivery"],
            delayed=r["delayed_t"] is not None,
            delay_days=r["delay_days"],
            delay_reason=r["delay_reason"],
        )


@strawberry.type(description="The latest stock report of a material at an enterprise's site (record store).")
class StockLevel:
    enterprise_id: strawberry.ID
    sku: str
    site_id: str | None = strawberry.field(description="The facility; null when the report named none")
    on_hand: float | None
    daily_usage: float | None
    days_of_cover: float | None = strawberry.field(description="on hand / daily usage (null without usage)")
    reported_on: date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> StockLevel:
        return cls(
            enterprise_id=strawberry.ID(r["enterprise_id"]),
            sku=r["sku"],
            site_id=r["facility_id"] or None,
            on_hand=r["on_hand"],
            daily_usage=r["daily_usage"],
            days_of_cover=rq.days_of_cover(r["on_hand"], r["daily_usage"]),
            reported_on=r["reported_on"],
        )


@strawberry.type(
    description="The latest capacity report of an enterprise (per material and site where given)."
)
class CapacityLevel:
    enterprise_id: strawberry.ID
    sku: str | None = strawberry.field(description="null: the enterprise's capacity over all materials")
    site_id: str | None
    capacity_per_day: float | None
    utilization: float | None = strawberry.field(description="Share of the capacity in use, 0..1")
    spare_capacity: float | None = strawberry.field(description="capacity per day × (1 − utilization)")
    reported_on: date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> CapacityLevel:
        return cls(
            enterprise_id=strawberry.ID(r["enterprise_id"]),
            sku=r["sku"] or None,
            site_id=r["facility_id"] or None,
            capacity_per_day=r["capacity_per_day"],
            utilization=r["utilization"],
            spare_capacity=rq.spare_capacity(r["capacity_per_day"], r["utilization"]),
            reported_on=r["reported_on"],
        )


@strawberry.type(description="A quality incident reported against a supplier's material (record store).")
class QualityIncidentReport:
    incident_id: strawberry.ID
    supplier_id: strawberry.ID
    buyer_id: strawberry.ID | None
    sku: str | None
    severity: str | None
    defect_ppm: float | None
    description: str | None
    reported_on: date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> QualityIncidentReport:
        return cls(
            incident_id=strawberry.ID(r["incident_id"]),
            supplier_id=strawberry.ID(r["supplier_id"]),
            buyer_id=strawberry.ID(r["buyer_id"]) if r["buyer_id"] else None,
            sku=r["sku"],
            severity=r["severity"],
            defect_ppm=r["defect_ppm"],
            description=r["description"],
            reported_on=r["reported_on"],
        )


@strawberry.type(description="An equipment alarm raised at an enterprise's site (record store).")
class EquipmentAlarm:
    alarm_id: strawberry.ID
    enterprise_id: strawberry.ID
    equipment_id: str | None
    site_id: str | None
    signal: str | None
    severity: str | None
    predicted_failure_days: int | None
    raised_on: date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> EquipmentAlarm:
        return cls(
            alarm_id=strawberry.ID(r["alarm_id"]),
            enterprise_id=strawberry.ID(r["enterprise_id"]),
            equipment_id=r["equipment_id"],
            site_id=r["facility_id"],
            signal=r["signal"],
            severity=r["severity"],
            predicted_failure_days=r["predicted_failure_days"],
            raised_on=r["raised_on"],
        )


@strawberry.type(description="A certificate an enterprise holds (graph).")
class Certificate:
    id: strawberry.ID
    enterprise_id: strawberry.ID | None
    standard: str | None
    issuer: str | None
    valid_from: date | None
    valid_until: date | None
    status: str | None = strawberry.field(description="active or expired (lapsed or withdrawn)")
    expired_reason: str | None
    days_to_expiry: int | None = strawberry.field(description="valid until − the list's asOf date, in days")

    @classmethod
    def from_row(cls, r: dict[str, Any], as_of: date) -> Certificate:
        until = to_date(r.get("validUntil"))
        return cls(
            id=strawberry.ID(r["id"]),
            enterprise_id=strawberry.ID(r["enterpriseId"]) if r.get("enterpriseId") else None,
            standard=r.get("standard"),
            issuer=r.get("issuer"),
            valid_from=to_date(r.get("validFrom")),
            valid_until=until,
            status=r.get("status"),
            expired_reason=r.get("expiredReason"),
            days_to_expiry=(until - as_of).days if until else None,
        )


@strawberry.type(description="A disruption of an enterprise, a facility or a region (graph).")
class Disruption:
    id: strawberry.ID
    kind: str | None
    severity: str | None
    status: str | None = strawberry.field(description="open or resolved")
    expected_recovery_days: int | None
    description: str | None
    target_kind: str | None = strawberry.field(description="enterprise, facility or region")
    target_id: str | None
    enterprise_ids: list[strawberry.ID] = strawberry.field(
        description="Enterprises it affects: the one named, or the operator of the facility named"
    )
    regions: list[str]
    reported_at: float | None = strawberry.field(description="epoch ms")
    resolved_at: float | None = strawberry.field(description="epoch ms")
    resolution_note: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Disruption:
        return cls(
            id=strawberry.ID(r["id"]),
            kind=r.get("kind"),
            severity=r.get("severity"),
            status=r.get("status"),
            expected_recovery_days=r.get("expectedRecoveryDays"),
            description=r.get("description"),
            target_kind=r.get("targetKind"),
            target_id=r.get("targetId"),
            enterprise_ids=[strawberry.ID(e) for e in r.get("enterprises") or []],
            regions=list(r.get("regions") or []),
            reported_at=r.get("reportedAt"),
            resolved_at=r.get("resolvedAt"),
            resolution_note=r.get("resolutionNote"),
        )


@strawberry.enum(description="Which disruptions: open (the default), resolved, or all")
class DisruptionState(enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


# -- resolvers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """What a record list may show the caller: ``None`` (everything) or a partner's network."""

    allowed: frozenset[str] | None


async def _authorize(ctx: Context, *named: str | None) -> _Scope:
    """READ_NETWORK; a partner naming an enterprise outside its network is refused."""
    policy = ctx.policy
    await policy.authorize(Action.READ_NETWORK)
    for eid in named:
        if eid is not None:
            await policy.check_in_scope(eid)
    return _Scope(policy.visible_ids())


def _engine(ctx: Context) -> Engine:
    if ctx.engine is None:
        raise ClientError("the record store is not configured on this server")
    return ctx.engine


def _today() -> date:
    return datetime.now(UTC).date()


async def _sql_page(
    ctx: Context,
    view: str,
    table: Any,
    read: Callable[..., rq.Page],
    to_node: Callable[[dict[str, Any]], Any],
    *,
    first: int,
    after: str | None,
    order: tuple[str, ...] | None = None,
    **filters: Any,
) -> Connection[Any]:
    """A page of ``read``; its cursors belong to ``view`` and hold the columns of ``order`` (default:
    the table's key), so a cursor of one ordering is refused by another."""
    width = len(order or rq.KEYS[table.name])
    key = decode_cursor(after, view, width)
    engine = _engine(ctx)
    page = await asyncio.to_thread(read, engine, first=_page_size(first), after=key, **filters)
    keys = [page.key(r) for r in page.rows]
    return _connection(view, [to_node(r) for r in page.rows], keys, page.has_next)


def _id(v: strawberry.ID | None) -> str | None:
    return None if v is None else str(v)


@strawberry.type
class RecordQuery:
    @strawberry.field(
        description="Purchase orders by order id (with orderedFrom/orderedTo: by order date, then id), "
        "filtered; a partner sees orders whose buyer and supplier are both in its network, with prices "
        "only of orders it is a party to."
    )
    async def orders(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        supplier_id: strawberry.ID | None = None,
        buyer_id: strawberry.ID | None = None,
        sku: str | None = None,
        status: OrderStatus | None = None,
        late_only: bool = False,
        ordered_from: date | None = None,
        ordered_to: date | None = None,
        as_of: Annotated[
            date | None,
            strawberry.argument(
                description="The date lateness of open orders is judged on (default: today, UTC)"
            ),
        ] = None,
        open_only: Annotated[
            bool,
            strawberry.argument(
                description="Only open orders (placed, confirmed or shipped: not delivered, not "
                "cancelled); with `status`, that status if it is an open one (else none)"
            ),
        ] = False,
    ) -> Connection[Order]:
        ctx = info.context
        scope = await _authorize(ctx, _id(supplier_id), _id(buyer_id))
        day = as_of or _today()
        by_date = ordered_from is not None or ordered_to is not None
        view = "ordersByDate" if by_date else "orders"
        order = rq.ORDERS_BY_DATE if by_date else None
        return await _sql_page(
            ctx,
            view,
            rq.ORDERS,
            rq.orders,
            lambda r: Order.from_row(r, ctx.policy, day),
            first=first,
            after=after,
            supplier_id=_id(supplier_id),
            buyer_id=_id(buyer_id),
            sku=sku,
            status=rq.OrderStatus(status.value) if status is not None else None,
            late_only=late_only,
            as_of=day,
            ordered_from=ordered_from,
            ordered_to=ordered_to,
            open_only=open_only,
            allowed=scope.allowed,
            order=order,
        )

    @strawberry.field(
        description="Shipments (and their delays) by shipment id; a partner sees those whose buyer and "
        "supplier are both in its network."
    )
    async def shipments(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        supplier_id: strawberry.ID | None = None,
        buyer_id: strawberry.ID | None = None,
        order_id: strawberry.ID | None = None,
        delayed_only: bool = False,
        shipped_from: date | None = None,
        shipped_to: date | None = None,
    ) -> Connection[Shipment]:
        ctx = info.context
        scope = await _authorize(ctx, _id(supplier_id), _id(buyer_id))
        return await _sql_page(
            ctx,
            "shipments",
            rq.SHIPMENTS,
            rq.shipments,
            Shipment.from_row,
            first=first,
            after=after,
            supplier_id=_id(supplier_id),
            buyer_id=_id(buyer_id),
            order_id=_id(order_id),
            delayed_only=delayed_only,
            shipped_from=shipped_from,
            shipped_to=shipped_to,
            allowed=scope.allowed,
        )

    @strawberry.field(
        description="Stock and days of cover per enterprise, material and site, by (enterprise, sku, site)."
    )
    async def stock(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        sku: str | None = None,
        site_id: str | None = None,
        max_days_of_cover: Annotated[
            float | None,
            strawberry.argument(description="Only stock lasting at most this many days at its daily usage"),
        ] = None,
    ) -> Connection[StockLevel]:
        ctx = info.context
        scope = await _authorize(ctx, _id(enterprise_id))
        return await _sql_page(
            ctx,
            "stock",
            rq.STOCK,
            rq.stock,
            StockLevel.from_row,
            first=first,
            after=after,
            enterprise_id=_id(enterprise_id),
            sku=sku,
            facility_id=site_id,
            max_days_of_cover=max_days_of_cover,
            allowed=scope.allowed,
        )

    @strawberry.field(
        description="Capacity, utilisation and spare capacity per enterprise (material, site), by key."
    )
    async def capacity(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        sku: str | None = None,
        site_id: str | None = None,
        min_spare_capacity: float | None = None,
        max_utilization: float | None = None,
    ) -> Connection[CapacityLevel]:
        ctx = info.context
        scope = await _authorize(ctx, _id(enterprise_id))
        return await _sql_page(
            ctx,
            "capacity",
            rq.CAPACITY,
            rq.capacity,
            CapacityLevel.from_row,
            first=first,
            after=after,
            enterprise_id=_id(enterprise_id),
            sku=sku,
            facility_id=site_id,
            min_spare_capacity=min_spare_capacity,
            max_utilization=max_utilization,
            allowed=scope.allowed,
        )

    @strawberry.field(
        description="Quality incidents by id; a partner sees those whose supplier (and buyer, when named) "
        "are in its network."
    )
    async def quality_incidents(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        supplier_id: strawberry.ID | None = None,
        buyer_id: strawberry.ID | None = None,
        sku: str | None = None,
        severity: str | None = None,
        reported_from: date | None = None,
        reported_to: date | None = None,
    ) -> Connection[QualityIncidentReport]:
        ctx = info.context
        scope = await _authorize(ctx, _id(supplier_id), _id(buyer_id))
        return await _sql_page(
            ctx,
            "qualityIncidents",
            rq.QUALITY,
            rq.quality_incidents,
            QualityIncidentReport.from_row,
            first=first,
            after=after,
            supplier_id=_id(supplier_id),
            buyer_id=_id(buyer_id),
            sku=sku,
            severity=severity,
            reported_from=reported_from,
            reported_to=reported_to,
            allowed=scope.allowed,
        )

    @strawberry.field(description="Equipment alarms by id.")
    async def equipment_alarms(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        site_id: str | None = None,
        severity: str | None = None,
        raised_from: date | None = None,
        raised_to: date | None = None,
    ) -> Connection[EquipmentAlarm]:
        ctx = info.context
        scope = await _authorize(ctx, _id(enterprise_id))
        return await _sql_page(
            ctx,
            "equipmentAlarms",
            rq.ALARMS,
            rq.equipment_alarms,
            EquipmentAlarm.from_row,
            first=first,
            after=after,
            enterprise_id=_id(enterprise_id),
            facility_id=site_id,
            severity=severity,
            raised_from=raised_from,
            raised_to=raised_to,
            allowed=scope.allowed,
        )

    @strawberry.field(
        description="Certificates, soonest to lapse first (valid until, then id). expiringWithinDays: "
        "active ones whose validity ends between asOf and asOf + N days."
    )
    async def certificates(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        standard: str | None = None,
        status: Annotated[str | None, strawberry.argument(description="active or expired")] = None,
        expiring_within_days: int | None = None,
        as_of: Annotated[date | None, strawberry.argument(description="default: today, UTC")] = None,
    ) -> Connection[Certificate]:
        ctx = info.context
        scope = await _authorize(ctx, _id(enterprise_id))
        day = as_of or _today()
        key = decode_cursor(after, "certificates", 2)
        window_from = window_to = None
        if expiring_within_days is not None:
            if not 0 <= expiring_within_days <= 36_500:
                raise ClientError(
                    f"expiringWithinDays must be between 0 and 36500, got {expiring_within_days}"
                )
            window_from, window_to = day, day + timedelta(days=expiring_within_days)
            status = status or "active"
        n = _page_size(first)
        views = RecordViews(ctx.views.driver, database=ctx.views.database, timeout_s=ctx.views.timeout_s)
        rows = await views.certificates(
            first=n + 1,
            after=(date.fromisoformat(str(key[0])), str(key[1])) if key else None,
            enterprise_id=_id(enterprise_id),
            standard=standard,
            status=status,
            valid_until_from=window_from,
            valid_until_to=window_to,
            allowed=scope.allowed,
        )
        nodes = [Certificate.from_row(r, day) for r in rows[:n]]
        keys = [(c.valid_until, str(c.id)) for c in nodes]
        return _connection("certificates", nodes, keys, len(rows) > n)

    @strawberry.field(
        description="Disruptions by id (open ones unless asked otherwise); a partner sees those that "
        "affect an enterprise of its network, or a region one of them is in."
    )
    async def disruptions(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        state: DisruptionState = DisruptionState.OPEN,
        kind: str | None = None,
        severity: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        region: str | None = None,
    ) -> Connection[Disruption]:
        ctx = info.context
        scope = await _authorize(ctx, _id(enterprise_id))
        key = decode_cursor(after, "disruptions", 1)
        n = _page_size(first)
        views = RecordViews(ctx.views.driver, database=ctx.views.database, timeout_s=ctx.views.timeout_s)
        rows = await views.disruptions(
            first=n + 1,
            after=str(key[0]) if key else None,
            status=None if state is DisruptionState.ALL else state.value,
            kind=kind,
            severity=severity,
            enterprise_id=_id(enterprise_id),
            region=region,
            allowed=scope.allowed,
        )
        nodes = [Disruption.from_row(r) for r in rows[:n]]
        return _connection("disruptions", nodes, [(str(d.id),) for d in nodes], len(rows) > n)


__all__ = [
    "CapacityLevel",
    "Certificate",
    "Connection",
    "Disruption",
    "Edge",
    "EquipmentAlarm",
    "Order",
    "QualityIncidentReport",
    "RecordQuery",
    "Shipment",
    "StockLevel",
    "decode_cursor",
    "encode_cursor",
]
