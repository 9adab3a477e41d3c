"""Service-oriented manufacturing views: a maker's installed base with health and open service work,
a customer's equipment with its maintenance history, and ``serviceAlerts`` (docs/service.md).

Partner-scoped through ``api.policy`` like every network read: a partner names only a maker or customer
inside its network, and sees a piece of equipment only when both its maker and its customer are (an
installation is a link between the two, like a supply link). A work order's findings and replaced
parts are the maker's and the customer's business: a partner that is neither reads them as null.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import ClientError
from api.policy import Action, Policy
from api.subscriptions import tail
from graph.service import ServiceViews

FINDINGS = ("findings", "partsReplaced")
"""Work-order fields only the equipment's maker and customer read."""


@strawberry.type(description="A maintenance work order on one piece of equipment.")
class WorkOrder:
    id: strawberry.ID
    equipment_id: strawberry.ID
    status: str = strawberry.field(description="requested, scheduled or completed")
    reason: str | None
    priority: str | None
    requested_at: float | None = strawberry.field(description="Epoch ms of the request event.")
    scheduled_for: str | None = strawberry.field(description="ISO date")
    technician: str | None
    completed_on: str | None = strawberry.field(description="ISO date")
    findings: str | None
    parts_replaced: list[str] | None
    restored: bool | None
    redacted: list[str] = strawberry.field(
        default_factory=list, description="Fields hidden from you (findings: the maker's and customer's)"
    )


@strawberry.type(
    description="An installed piece of equipment (one serial of a maker's product) and its health."
)
class Equipment:
    id: strawberry.ID
    sku: str | None
    serial: str | None
    maker_id: strawberry.ID | None
    customer_id: strawberry.ID | None
    facility_id: strawberry.ID | None
    installed_on: str | None = strawberry.field(description="ISO date")
    health: float | None = strawberry.field(
        description="1 as new .. 0 failing: (1 - alarm pressure) x (1 - threshold crossings); null before "
        "the service job has seen it"
    )
    health_status: str | None = strawberry.field(description="ok, watch or alert")
    alarm_rate: float | None = strawberry.field(description="Severity-weighted alarms per day (EW)")
    exceedance: float | None = strawberry.field(
        description="Worst metric's share of readings outside its band"
    )
    worst_metric: str | None
    health_reason: str | None = strawberry.field(description="The indicator in words")
    readings: int | None = strawberry.field(description="Telemetry readings the service job absorbed")
    health_at: float | None = strawberry.field(description="Event time (epoch ms) the health is as of")
    work_orders: strawberry.Private[list[WorkOrder]]

    @strawberry.field(description="Work orders not completed yet, oldest request first.")
    def open_work_orders(self) -> list[WorkOrder]:
        return [w for w in self.work_orders if w.status != "completed"]

    @strawberry.field(description="Every work order, oldest request first.")
    def maintenance_history(self) -> list[WorkOrder]:
        return list(self.work_orders)


def _work_order(row: dict[str, Any], policy: Policy, maker: str | None, customer: str | None) -> WorkOrder:
    hidden = policy.redact_terms(row, FINDINGS, supplier_id=maker, buyer_id=customer)
    return WorkOrder(
        id=strawberry.ID(row["id"]),
        equipment_id=strawberry.ID(row["equipmentId"]),
        status=str(row.get("status") or "requested"),
        reason=row.get("reason"),
        priority=row.get("priority"),
        requested_at=row.get("requestedAt"),
        scheduled_for=row.get("scheduledFor"),
        technician=row.get("technician"),
        completed_on=row.get("completedOn"),
        findings=row.get("findings"),
        parts_replaced=row.get("partsReplaced"),
        restored=row.get("restored"),
        redacted=hidden,
    )


async def _equipment(views: ServiceViews, rows: list[dict[str, Any]], policy: Policy) -> list[Equipment]:
    orders = await views.work_orders([r["id"] for r in rows], open_only=False)
    out = []
    for r in rows:
        maker, customer = r.get("makerId"), r.get("customerId")
        wos = [_work_order(w, policy, maker, customer) for w in orders.get(r["id"], [])]
        out.append(
            Equipment(
                id=strawberry.ID(r["id"]),
                sku=r.get("sku"),
                serial=r.get("serial"),
                maker_id=strawberry.ID(maker) if maker else None,
                customer_id=strawberry.ID(customer) if customer else None,
                facility_id=strawberry.ID(r["facilityId"]) if r.get("facilityId") else None,
                installed_on=r.get("installedOn"),
                health=r.get("health"),
                health_status=r.get("healthStatus"),
                alarm_rate=r.get("alarmRate"),
                exceedance=r.get("exceedance"),
                worst_metric=r.get("worstMetric"),
                health_reason=r.get("healthReason"),
                readings=r.get("readings"),
                health_at=r.get("healthAt"),
                work_orders=wos,
            )
        )
    return out


def _views(ctx: Context) -> ServiceViews:
    return ServiceViews(ctx.views.driver, database=ctx.views.database)


@strawberry.type
class ServiceQuery:
    @strawberry.field(
        description="A maker's installed base, least healthy first: each equipment's health and open work "
        "orders (a partner: equipment at customers inside its network)."
    )
    async def installed_base(
        self, info: Info[Context, None], maker_id: strawberry.ID, first: int = 500
    ) -> list[Equipment]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(maker_id))
        views = _views(ctx)
        rows = await views.installed_base(str(maker_id), allowed=ctx.policy.visible_list(), limit=first)
        return await _equipment(views, rows, ctx.policy)

    @strawberry.field(
        description="A customer's equipment with its maintenance history (a partner: equipment of makers "
        "inside its network)."
    )
    async def customer_equipment(
        self, info: Info[Context, None], customer_id: strawberry.ID, first: int = 500
    ) -> list[Equipment]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(customer_id))
        views = _views(ctx)
        rows = await views.customer_equipment(
            str(customer_id), allowed=ctx.policy.visible_list(), limit=first
        )
        return await _equipment(views, rows, ctx.policy)


@strawberry.type(description="A service alert from the predictive-maintenance job (service.alerts).")
class ServiceAlert:
    id: str = strawberry.field(description="<equipment>:<episode>: the same on a replay (deduplicate on it)")
    equipment_id: strawberry.ID
    maker_id: strawberry.ID | None
    customer_id: strawberry.ID | None
    facility_id: strawberry.ID | None
    severity: str = strawberry.field(description="high, or critical below half the alert threshold")
    health: float
    alarm_rate: float
    exceedance: float
    worst_metric: str | None
    reason: str
    raised_at: float = strawberry.field(description="Event time (epoch ms) of the event that raised it")


def alert_visible(alert: dict[str, Any], policy: Policy) -> bool:
    """Whether the caller may read a service alert: staff always; a partner when the equipment's
    customer, and its maker when known, are in its network. Pure (the scope is loaded)."""
    customer, maker = alert.get("customerId"), alert.get("makerId")
    if not policy.is_partner:
        return True
    return isinstance(customer, str) and policy.sees(customer) and (maker is None or policy.sees(str(maker)))


def _id(v: Any) -> strawberry.ID | None:
    return strawberry.ID(str(v)) if v else None


@strawberry.type
class ServiceSubscription:
    @strawberry.subscription(description="Service alerts as the predictive-maintenance job raises them.")
    async def service_alerts(
        self,
        info: Info[Context, None],
        maker_id: strawberry.ID | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[ServiceAlert, None]:
        ctx = info.context
        policy = ctx.policy
        policy.require(Action.SUBSCRIBE)
        if ctx.consumer_factory is None:
            raise ClientError("subscriptions are not configured on this server")
        await policy.scope(refresh=True)
        for named in (maker_id, customer_id):
            if named is not None:
                await policy.check_in_scope(str(named))
        async for raw in tail(ctx.consumer_factory, ctx.topics.service_alerts):
            try:
                a = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(a, dict) or not alert_visible(a, policy):
                continue
            if maker_id is not None and a.get("makerId") != str(maker_id):
                continue
            if customer_id is not None and a.get("customerId") != str(customer_id):
                continue
            yield ServiceAlert(
                id=str(a.get("id")),
                equipment_id=strawberry.ID(str(a.get("equipmentId"))),
                maker_id=_id(a.get("makerId")),
                customer_id=_id(a.get("customerId")),
                facility_id=_id(a.get("facilityId")),
                severity=str(a.get("severity")),
                health=float(a.get("health") or 0.0),
                alarm_rate=float(a.get("alarmRate") or 0.0),
                exceedance=float(a.get("exceedance") or 0.0),
                worst_metric=a.get("worstMetric"),
                reason=str(a.get("reason")),
                raised_at=float(a.get("raisedAt") or 0.0),
            )


__all__ = ["ServiceQuery", "ServiceSubscription", "alert_visible"]
