"""Collaborative design views: projects, change impact, candidate partners (for admin and analyst)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.enterprise import Enterprise, enterprise_rows, to_date
from api.policy import Action


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


@strawberry.type
class DesignRevision:
    id: strawberry.ID
    label: str | None
    published_at: float | None
    changes: list[ComponentChange]


@strawberry.type
class ChangeRequest:
    id: strawberry.ID
    reason: str | None
    required_by: date | None
    affected_skus: list[str]


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
    def from_row(cls, r: dict[str, Any]) -> DesignProject:
        p = r["project"]
        return cls(
            id=strawberry.ID(p["id"]),
            name=p.get("name"),
            description=p.get("description"),
            product_sku=p.get("productSku"),
            owner_id=strawberry.ID(r["ownerId"]) if r.get("ownerId") else None,
            participants=[
                Participant(enterprise_id=strawberry.ID(x["enterpriseId"]), name=x["name"], role=x["role"])
                for x in r["participants"]
                if x.get("enterpriseId")
            ],
            revisions=[
                DesignRevision(
                    id=strawberry.ID(v["id"]),
                    label=v.get("label"),
                    published_at=v.get("publishedAt"),
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


@strawberry.type(description="An enterprise fit for a material need.")
class CandidatePartner:
    enterprise: Enterprise
    capabilities: list[str]
    certifications: list[str]
    otif_rate90d: float | None


@strawberry.type
class DesignQuery:
    @strawberry.field(description="Design projects (one, or those an enterprise owns or joins).")
    async def design_projects(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        enterprise_id: strawberry.ID | None = None,
        first: int = 20,
    ) -> list[DesignProject]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.views.design_projects(
            project_id=str(id) if id else None,
            enterprise_id=str(enterprise_id) if enterprise_id else None,
            limit=max(1, min(first, 200)),
        )
        return [DesignProject.from_row(r) for r in rows]

    @strawberry.field(
        description="For a design change request: the suppliers and downstream products it touches."
    )
    async def change_impact(
        self, info: Info[Context, None], change_request_id: strawberry.ID
    ) -> ChangeImpact | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        r = await ctx.views.change_impact(str(change_request_id))
        if r is None:
            return None
        return ChangeImpact(
            change_request_id=change_request_id,
            project_id=r["request"].get("projectId"),
            affected_skus=list(r["skus"]),
            suppliers=enterprise_rows(r["suppliers"]),
            downstream_products=sorted(p["sku"] for p in r["products"]),
        )

    @strawberry.field(description="Candidate partners for a material need, least risky first.")
    async def candidate_partners(
        self,
        info: Info[Context, None],
        capability: str | None = None,
        certification: str | None = None,
        region: str | None = None,
        max_risk: float | None = None,
        sku: str | None = None,
        first: int = 20,
    ) -> list[CandidatePartner]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.views.candidates(
            capability=capability,
            standard=certification,
            region=region,
            max_risk=max_risk,
            sku=sku,
            limit=max(1, min(first, 200)),
        )
        return [
            CandidatePartner(
                enterprise=Enterprise.from_row(r["e"]),
                capabilities=list(r["e"].get("capabilities") or []),
                certifications=sorted(r["certifications"]),
                otif_rate90d=r["e"].get("otifRate90d"),
            )
            for r in rows
        ]


__all__ = ["DesignQuery"]
