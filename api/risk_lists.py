"""Risk lists: the riskiest enterprises (scored by the risk engine) and the incidents under way."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import ClientError
from api.network import Direction
from api.policy import Action
from api.records import decode_cursor, encode_cursor


@strawberry.type(description="A risky enterprise with its factor breakdown.")
class RiskyNode:
    enterprise_id: strawberry.ID
    name: str | None
    score: float
    factors: JSON | None
    tier: int | None = strawberry.field(
        default=None,
        description="Fewest supply hops from the focal enterprise (with focalId); null otherwise.",
    )
    cursor: str = strawberry.field(
        default="", description="Pass as `after` (same filters) for the nodes that follow this one"
    )


@strawberry.type(description="A risk incident under investigation.")
class RiskIncident:
    id: int
    enterprise_id: strawberry.ID
    severity: str
    score: float
    reason: str
    summary: str
    state: str
    owner: str | None
    notes: str

    @classmethod
    def from_row(cls, r: Any) -> RiskIncident:
        return cls(
            id=r.id,
            enterprise_id=strawberry.ID(r.enterprise_id),
            severity=r.severity,
            score=r.score,
            reason=r.reason,
            summary=r.summary,
            state=str(r.state.value if hasattr(r.state, "value") else r.state),
            owner=r.owner,
            notes=r.notes,
        )


@strawberry.type
class RiskListQuery:
    @strawberry.field(
        description=(
            "The riskiest enterprises with their factor breakdown (risk engine scores), highest first. "
            "With focalId: only those within `tiers` supply tiers of it (UPSTREAM: its suppliers and "
            "theirs; DOWNSTREAM: its buyers and theirs) over current links, each with its tier. "
            "At most 1,000 a page: pass the last node's cursor as `after` for the next page. "
            "A partner must pass a focalId in its network, sees only its network, and sees the "
            "factor breakdown of its own enterprise only."
        )
    )
    async def risky_nodes(
        self,
        info: Info[Context, None],
        first: int = 50,
        min_score: float = 0.0,
        industry: str | None = None,
        region: str | None = None,
        focal_id: strawberry.ID | None = None,
        tiers: int = 3,
        direction: Direction = Direction.UPSTREAM,
        after: str | None = None,
    ) -> list[RiskyNode]:
        ctx = info.context
        policy = ctx.policy
        await policy.authorize(Action.READ_ALL if focal_id is None else Action.READ_NETWORK)
        if focal_id is not None:
            ctx.check_tiers(tiers)
            await policy.check_in_scope(str(focal_id))
        key = decode_cursor(after, "riskyNodes", 2)
        if key is not None and not (isinstance(key[0], int | float) and isinstance(key[1], str)):
            raise ClientError("invalid cursor: pass a cursor this API returned")
        rows = await ctx.risk_store().risky(
            after=(float(key[0]), key[1]) if key else None,
            limit=max(1, min(first, 1000)),
            min_score=min_score,
            industry=industry,
            region=region,
            focal=str(focal_id) if focal_id is not None else None,
            tiers=tiers,
            direction="upstream" if direction is Direction.UPSTREAM else "downstream",
            allowed=policy.visible_ids(),
        )
        return [
            RiskyNode(
                enterprise_id=strawberry.ID(r["id"]),
                name=r.get("name"),
                score=r["score"],
                factors=JSON(r.get("factors")) if policy.sees_factors_of(r["id"]) else None,
                tier=r.get("tier"),
                cursor=encode_cursor("riskyNodes", (r["score"], r["id"])),
            )
            for r in rows
        ]

    @strawberry.field(description="Risk incidents, newest first.")
    async def incidents(
        self,
        info: Info[Context, None],
        state: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        first: int = 100,
    ) -> list[RiskIncident]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.incidents_list(
            state=state, enterprise_id=str(enterprise_id) if enterprise_id else None, limit=first
        )
        return [RiskIncident.from_row(r) for r in rows]


__all__ = ["RiskIncident", "RiskListQuery", "RiskyNode"]
