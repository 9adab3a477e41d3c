"""Collaborative design views: projects, change impact and candidate partners (a partner: its own
projects, and enterprises inside its network)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.change_impact import ImpactedSupplier, impacted_suppliers
from api.context import Context
from api.enterprise import Enterprise, enterprise_rows, to_date
from api.errors import Forbidden
from api.policy import Action
from api.resourcing import MAX_SCAN, SourcingOption, check_need, ranked_options, with_capacity


@strawberry.type(description="A participant of a design project and its role.")
class Participant:
    enterprise_id: strawberry.ID
    name: str | None
    role: str | None


@strawberry.type
class ComponentChange:
    sku: str
    change: str | None
    qty: float | None


@strawberry.type(description="A published revision; its files stay where `uri` points (never stored here).")
class DesignRevision:
    id: strawberry.ID
    label: str | None
    published_at: float | None
    uri: str | None
    content_hash: str | None = strawberry.field(description="sha256:<hex> of the files at uri")
    changes: list[ComponentChange]


@strawberry.type
class ChangeRequest:
    id: strawberry.ID
    reason: str | None
    required_by: date | None
    affected_skus: list[str]
    status: str | None = strawberry.field(description="The latest answer: accepted, rejected, needs-info")
    answered_by: strawberry.ID | None
    answer_note: str | None


@strawberry.type(description="A collaborative design project.")
class DesignProject:
    id: strawberry.ID
    name: str | None
    description: str | None
    product_sku: str | None
    owner_id: strawberry.ID | None
    participants: list[Participant]
    revisions: list[DesignRevision]
    change_requests: list[ChangeRequest]

    @classmethod
    def from_row(cls, r: dict[str, Any], *, sees: Callable[[str], bool] = lambda _: True) -> DesignProject:
        """A project as the caller may see it: participants (and owner) outside its network left out."""
        p = r["project"]
        owner = r.get("ownerId")
        return cls(
            id=strawberry.ID(p["id"]),
            name=p.get("name"),
            description=p.get("description"),
            product_sku=p.get("productSku"),
            owner_id=strawberry.ID(owner) if owner and sees(owner) else None,
            participants=[
                Participant(enterprise_id=strawberry.ID(x["enterpriseId"]), name=x["name"], role=x["role"])
                for x in r["participants"]
                if x.get("enterpriseId") and sees(x["enterpriseId"])
            ],
            revisions=[
                DesignRevision(
                    id=strawberry.ID(v["id"]),
                    label=v.get("label"),
                    published_at=v.get("publishedAt"),
                    uri=v.get("uri"),
                    content_hash=v.get("contentHash"),
                    changes=[
                        ComponentChange(sku=c["sku"], change=c["change"], qty=c["qty"]) for c in v["changes"]
                    ],
                )
                for v in r["revisions"]
            ],
            change_requests=[
                ChangeRequest(
                    id=strawberry.ID(q["id"]),
                    reason=q.get("reason"),
                    required_by=to_date(q.get("requiredBy")),
                    affected_skus=list(q.get("affectedSkus") or []),
                    status=q.get("status"),
                    answered_by=(
                        strawberry.ID(q["answeredBy"])
                        if q.get("answeredBy") and sees(q["answeredBy"])
                        else None
                    ),
                    answer_note=q.get("answerNote"),
                )
                for q in r["changeRequests"]
            ],
        )


@strawberry.type(
    description="What a design change touches: suppliers of the affected skus, products using them."
)
class ChangeImpact:
    change_request_id: strawberry.ID
    project_id: strawberry.ID | None
    affected_skus: list[str]
    suppliers: list[Enterprise]
    downstream_products: list[str]
    affected_suppliers: list[ImpactedSupplier] = strawberry.field(
        description="Per supplier and affected sku: its open orders (record store) and stock of the old "
        "revision; a partner sees suppliers, orders (both parties) and stock inside its network"
    )


@strawberry.type(
    description="An enterprise fit for a need; with a sku, its spare capacity for it and how much of "
    "`quantityPerDay` it could cover (see `sourcing`)."
)
class CandidatePartner:
    enterprise: Enterprise
    capabilities: list[str]
    certifications: list[str]
    otif_rate90d: float | None
    sourcing: SourcingOption = strawberry.field(description="Spare capacity, cover, distance and rank parts")


async def check_member(ctx: Context, project_id: str, *, owner: bool = False) -> None:
    """For a partner: ``Forbidden`` unless its enterprise owns (``owner``) or belongs to the project."""
    own = ctx.policy.own_enterprise
    if own is None:
        return
    found = await ctx.views.project_members(project_id)
    if found is None:
        raise Forbidden(f"design project {project_id} is not known (yet): its events may still be on the way")
    proprietor, members = found
    if own == proprietor or (not owner and own in members):
        return
    what = "the owner" if owner else "a member"
    raise Forbidden(f"enterprise {own} is not {what} of design project {project_id}")


@strawberry.type
class DesignQuery:
    @strawberry.field(
        description="Design projects (one, or those an enterprise owns or joins). A partner sees only the "
        "projects its enterprise owns or joined, and of them only participants inside its network."
    )
    async def design_projects(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        enterprise_id: strawberry.ID | None = None,
        first: int = 20,
    ) -> list[DesignProject]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        if enterprise_id:
            await ctx.policy.check_in_scope(str(enterprise_id))
        rows = await ctx.views.design_projects(
            project_id=str(id) if id else None,
            enterprise_id=str(enterprise_id) if enterprise_id else None,
            member=ctx.policy.own_enterprise,
            limit=max(1, min(first, 200)),
        )
        return [DesignProject.from_row(r, sees=ctx.policy.sees) for r in rows]

    @strawberry.field(
        description="For a design change request: the suppliers and downstream products it touches. A "
        "partner asks only about requests of projects it belongs to, and sees suppliers in its network."
    )
    async def change_impact(
        self,
        info: Info[Context, None],
        change_request_id: strawberry.ID,
        orders_per_supplier: int = 20,
    ) -> ChangeImpact | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        if ctx.policy.is_partner:
            project = await ctx.views.change_project(str(change_request_id))
            if project is None:
                return None
            await check_member(ctx, project)
        r = await ctx.views.change_impact(str(change_request_id))
        if r is None:
            return None
        return ChangeImpact(
            change_request_id=change_request_id,
            project_id=r["request"].get("projectId"),
            affected_skus=list(r["skus"]),
            suppliers=enterprise_rows(
                [s for s in r["suppliers"] if s and s.get("id") and ctx.policy.sees(s["id"])]
            ),
            downstream_products=sorted(p["sku"] for p in r["products"]),
            affected_suppliers=await impacted_suppliers(
                ctx, r["suppliers"], orders_per_supplier=max(0, min(orders_per_supplier, 200))
            ),
        )

    @strawberry.field(
        description="Candidate partners for a need. With a sku: enterprises that produce or supply "
        "it, ranked by spare capacity for `quantityPerDay`, risk, distance from `nearId`'s facilities, "
        "certification and lead time (see `sourcing`); without one: by the same score with no capacity "
        "to cover. A partner sees candidates in its network only."
    )
    async def candidate_partners(
        self,
        info: Info[Context, None],
        capability: str | None = None,
        certification: str | None = None,
        region: str | None = None,
        max_risk: float | None = None,
        sku: str | None = None,
        quantity_per_day: float | None = None,
        near_id: strawberry.ID | None = None,
        max_report_age_days: float = 30.0,
        first: int = 20,
    ) -> list[CandidatePartner]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        check_need(quantity_per_day, max_report_age_days)
        origins: list[list[float]] = []
        if near_id:
            await ctx.policy.check_in_scope(str(near_id))
            origins = (await ctx.views.origins([str(near_id)])).get(str(near_id), [])
        scope = ctx.policy.visible_list()
        if sku is None:
            rows = await ctx.views.candidates(
                capability=capability,
                standard=certification,
                region=region,
                max_risk=max_risk,
                scope=scope,
                limit=MAX_SCAN,
            )
        else:
            found = await ctx.views.sourcing_candidates(
                skus=[sku],
                scope=scope,
                exclude=[str(near_id)] if near_id else [],
                capability=capability,
                region=region,
                max_risk=max_risk,
                scan=MAX_SCAN,
            )
            rows = await with_capacity(ctx, found)
        ranked = ranked_options(
            rows,
            needed_per_day=quantity_per_day,
            origins=origins,
            certification=certification,
            max_report_age_days=max_report_age_days,
        )
        if certification is not None:
            ranked = [o for o in ranked if o.certified]
        return [
            CandidatePartner(
                enterprise=Enterprise.from_row(o.enterprise),
                capabilities=list(o.enterprise.get("capabilities") or []),
                certifications=list(o.certifications),
                otif_rate90d=o.enterprise.get("otifRate90d"),
                sourcing=SourcingOption.of(o),
            )
            for o in ranked[: max(1, min(first, 200))]
        ]


__all__ = ["DesignQuery"]
