"""Re-sourcing by spare capacity: ranked sourcing options and the plan covering a lost supplier's volume.

The ranking and the plan are ``graph.resourcing``'s: candidates from the graph, their capacity reports
from the record store (``Context.capacity_sites``); this module checks who may ask and turns them into
GraphQL types. A partner names a buyer (and lost supplier) inside its network and gets candidates inside
its network only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import strawberry
from strawberry.types import Info

from api.context import Context
from api.enterprise import Enterprise
from api.errors import ClientError
from api.policy import Action
from graph import resourcing
from graph.views import Record

MAX_SCAN = 500
"""Most enterprises per sku a ranking looks at (the least risky that produce or supply it)."""


@strawberry.type(description="One part of a sourcing option's score (value in 0..1 and its weight).")
class ScorePart:
    name: str
    value: float
    weight: float


@strawberry.type(
    description="A candidate to take over volume of a material: its spare capacity from its latest capacity "
    "reports, how much of the need it could cover, and the parts of its rank."
)
class SourcingOption:
    enterprise: Enterprise
    sku: str
    capacity_per_day: float = strawberry.field(description="Reported capacity summed over its sites")
    utilization: float | None = strawberry.field(description="Capacity-weighted utilisation (0..2)")
    spare_capacity_per_day: float = strawberry.field(
        description="capacity x (1 - utilisation) summed over its sites; 0 when the report is stale"
    )
    report_age_days: float | None = strawberry.field(description="Age of its oldest site report")
    stale: bool = strawberry.field(description="No report, or one older than maxReportAgeDays")
    distance_km: float | None = strawberry.field(
        description="From the buyer's nearest facility to its nearest (null: coordinates unknown)"
    )
    certifications: list[str] = strawberry.field(description="Its active certifications")
    certified: bool | None = strawberry.field(description="Holds the required one (null: none required)")
    lead_time_days: float | None = strawberry.field(
        description="Mean lead time of its current links of the sku"
    )
    covers_per_day: float = strawberry.field(description="Quantity per day of the need it could cover")
    cover_share: float | None = strawberry.field(description="covers / needed (null: no quantity given)")
    score: float = strawberry.field(description="Weighted sum of the parts, 0..1; higher ranks first")
    parts: list[ScorePart]

    @classmethod
    def of(cls, o: resourcing.SourcingOption) -> SourcingOption:
        return cls(
            enterprise=Enterprise.from_row(o.enterprise),
            sku=o.sku,
            capacity_per_day=o.spare.capacity_per_day,
            utilization=o.spare.utilization,
            spare_capacity_per_day=o.spare.spare_per_day,
            report_age_days=o.spare.report_age_days,
            stale=o.spare.stale,
            distance_km=o.distance_km,
            certifications=list(o.certifications),
            certified=o.certified,
            lead_time_days=o.lead_time_days,
            covers_per_day=o.covers_per_day,
            cover_share=o.cover_share,
            score=o.score,
            parts=[ScorePart(name=k, value=v, weight=resourcing.WEIGHTS[k]) for k, v in o.parts.items()],
        )


@strawberry.type(description="Quantity per day a plan takes from one option.")
class SourcingAllocation:
    option: SourcingOption
    quantity_per_day: float


@strawberry.type(
    description="Covering a buyer's lost volume of a sku from the network's spare capacity: the allocations "
    "in rank order, what they cover and the residual shortfall."
)
class ReSourcingPlan:
    buyer: Enterprise
    sku: str
    quantity_per_day: float
    allocations: list[SourcingAllocation]
    covered_per_day: float
    residual_shortfall_per_day: float
    options: list[SourcingOption] = strawberry.field(description="Every ranked option, best first")


async def with_capacity(ctx: Context, rows: Sequence[Record]) -> list[Record]:
    """Candidate rows with the capacity reports of their sku from the record store (``sites``)."""
    return resourcing.with_sites(rows, await ctx.capacity_sites(resourcing.pairs(rows)))


def ranked_options(
    rows: Sequence[Record],
    *,
    needed_per_day: float | None,
    origins: Sequence[Sequence[float]],
    certification: str | None,
    max_report_age_days: float,
) -> list[resourcing.SourcingOption]:
    """Rows of ``NetworkViews.sourcing_candidates`` (or ``candidates``) scored and ranked, best first."""
    now_ms = int(time.time() * 1000)
    return resourcing.rank(
        resourcing.option(
            r,
            needed_per_day=needed_per_day,
            origins=origins,
            certification=certification,
            now_ms=now_ms,
            max_report_age_days=max_report_age_days,
        )
        for r in rows
    )


def check_need(quantity_per_day: float | None, max_report_age_days: float) -> None:
    if quantity_per_day is not None and not 0 < quantity_per_day <= 1e12:
        raise ClientError(f"quantityPerDay must be above 0, got {quantity_per_day}")
    if not 0 <= max_report_age_days <= 3650:
        raise ClientError(f"maxReportAgeDays must be between 0 and 3650, got {max_report_age_days}")


@strawberry.type
class ResourcingQuery:
    @strawberry.field(
        description="Re-sourcing a buyer's lost volume of a sku (`quantityPerDay`, e.g. what a failed "
        "`lostSupplierId` delivered): enterprises that produce or supply the sku ranked by spare capacity "
        "for the volume, risk, distance, certification and lead time, and the plan taking their spare "
        "capacity in rank order with the residual shortfall. A partner names a buyer in its network and "
        "sees candidates in its network only."
    )
    async def re_sourcing(
        self,
        info: Info[Context, None],
        buyer_id: strawberry.ID,
        sku: str,
        quantity_per_day: float,
        lost_supplier_id: strawberry.ID | None = None,
        certification: str | None = None,
        max_report_age_days: float = 30.0,
        first: int = 10,
    ) -> ReSourcingPlan:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        check_need(quantity_per_day, max_report_age_days)
        buyer = str(buyer_id)
        await ctx.policy.check_in_scope(buyer)
        exclude = [buyer]
        if lost_supplier_id:
            await ctx.policy.check_in_scope(str(lost_supplier_id))
            exclude.append(str(lost_supplier_id))
        rows = await with_capacity(
            ctx,
            await ctx.views.sourcing_candidates(
                skus=[sku], scope=ctx.policy.visible_list(), exclude=exclude, scan=MAX_SCAN
            ),
        )
        origins = (await ctx.views.origins([buyer])).get(buyer, [])
        ranked = ranked_options(
            rows,
            needed_per_day=quantity_per_day,
            origins=origins,
            certification=certification,
            max_report_age_days=max_report_age_days,
        )
        if certification is not None:
            ranked = [o for o in ranked if o.certified]
        p = resourcing.plan(ranked, quantity_per_day)
        found = (await ctx.views.enterprises([buyer]))[0]
        return ReSourcingPlan(
            buyer=Enterprise.from_row(found or {"id": buyer}),
            sku=sku,
            quantity_per_day=quantity_per_day,
            allocations=[
                SourcingAllocation(option=SourcingOption.of(a.option), quantity_per_day=a.quantity_per_day)
                for a in p.allocations
            ],
            covered_per_day=p.covered_per_day,
            residual_shortfall_per_day=p.residual_shortfall_per_day,
            options=[SourcingOption.of(o) for o in ranked[: max(1, min(first, 200))]],
        )


__all__ = [
    "ReSourcingPlan",
    "ResourcingQuery",
    "SourcingOption",
    "check_need",
    "ranked_options",
    "with_capacity",
]
