"""Crowd design views (众包设计): open calls of design projects and the proposals to them.

Who sees what (docs/design-collaboration.md): staff see every call and proposal; a partner sees the
calls its enterprise opened, calls of enterprises in its network, calls it may propose to now (the
crowd: eligible enterprises anywhere) and calls it proposed to; of proposals, its own and all those to
calls it opened (proposing discloses the proposer to the caller).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.policy import Action
from graph.crowd_views import CrowdViews


def crowd_views(ctx: Context) -> CrowdViews:
    v = ctx.views
    return CrowdViews(v.driver, database=v.database, timeout_s=v.timeout_s)


def _at(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if isinstance(ms, int | float) else None


def proposal_status(p: dict[str, Any], awarded_proposal: str | None, awarded_to: str | None) -> str:
    """refused, awarded, not-awarded, evaluated or submitted (in that order of precedence)."""
    if p.get("eligible") is False:
        return "refused"
    if awarded_to is not None:
        return "awarded" if awarded_proposal == p.get("id") else "not-awarded"
    return "evaluated" if p.get("score") is not None else "submitted"


def call_status(c: dict[str, Any], now_ms: float) -> str:
    """awarded (the award took effect), closed (past its deadline) or open."""
    if c.get("awardedTo") is not None:
        return "awarded"
    return "closed" if (c.get("deadlineAt") or 0) < now_ms else "open"


@strawberry.type(
    description="Whether the asking partner's enterprise may propose to a call now, and why not."
)
class Eligibility:
    eligible: bool
    reason: str | None


@strawberry.type(description="A proposal to an open call; its design files stay where `uri` points.")
class DesignProposal:
    id: strawberry.ID
    call_id: strawberry.ID
    enterprise_id: strawberry.ID
    enterprise_name: str | None
    summary: str | None
    uri: str | None
    content_hash: str | None
    submitted_at: datetime | None
    status: str = strawberry.field(description="refused, submitted, evaluated, awarded or not-awarded")
    refusal_reason: str | None = strawberry.field(description="Why it was refused when it arrived")
    score: float | None
    evaluation_notes: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> DesignProposal:
        p = r["proposal"]
        return cls(
            id=strawberry.ID(p["id"]),
            call_id=strawberry.ID(p["callId"]),
            enterprise_id=strawberry.ID(p["enterpriseId"]),
            enterprise_name=r.get("proposerName"),
            summary=p.get("summary"),
            uri=p.get("uri"),
            content_hash=p.get("contentHash"),
            submitted_at=_at(p.get("submittedAt")),
            status=proposal_status(p, r.get("awardedProposalId"), r.get("awardedTo")),
            refusal_reason=p.get("refusalReason"),
            score=p.get("score"),
            evaluation_notes=p.get("evaluationNotes"),
        )


@strawberry.type(description="A design task of a project opened to the network, with its requirements.")
class DesignCall:
    id: strawberry.ID
    project_id: strawberry.ID
    caller_id: strawberry.ID = strawberry.field(description="The enterprise that opened it")
    caller_name: str | None
    task: str
    deadline: datetime | None
    capability: str | None
    material_sku: str | None
    certification: str | None
    region: str | None
    supply_annual_volume: float | None = strawberry.field(
        description="The winner also supplies `materialSku` to the caller at this volume per year"
    )
    status: str = strawberry.field(description="open, closed (past its deadline) or awarded")
    awarded_to: strawberry.ID | None = strawberry.field(
        description="Shown to staff, the caller and the winner"
    )
    award_refusal_reason: str | None = strawberry.field(
        description="Why an award did not take effect (staff and the caller)"
    )
    eligibility: Eligibility | None = strawberry.field(
        description="For a partner: whether its enterprise may propose now (null for staff)"
    )
    proposals: list[DesignProposal] = strawberry.field(
        description="Staff and the caller: every proposal; a proposer: its own"
    )


def call_of(
    r: dict[str, Any], proposals: list[DesignProposal], *, me: str | None, now_ms: float
) -> DesignCall:
    """A call as ``me`` (a partner's enterprise; ``None``: staff) may see it."""
    c = r["call"]
    caller = c["enterpriseId"]
    awarded = c.get("awardedTo")
    privy = me is None or me == caller
    return DesignCall(
        id=strawberry.ID(c["id"]),
        project_id=strawberry.ID(c["projectId"]),
        caller_id=strawberry.ID(caller),
        caller_name=r.get("callerName"),
        task=c["task"],
        deadline=_at(c.get("deadlineAt")),
        capability=c.get("capability"),
        material_sku=c.get("materialSku"),
        certification=c.get("certification"),
        region=c.get("region"),
        supply_annual_volume=c.get("supplyAnnualVolume"),
        status=call_status(c, now_ms),
        awarded_to=strawberry.ID(awarded) if awarded and (privy or me == awarded) else None,
        award_refusal_reason=c.get("awardRefusalReason") if privy else None,
        eligibility=None if me is None else Eligibility(eligible=r["reason"] is None, reason=r["reason"]),
        proposals=proposals,
    )


@strawberry.type
class CrowdQuery:
    @strawberry.field(
        description="Open calls for design (one, a project's, or all), by deadline. A partner sees the "
        "calls its enterprise opened, calls of enterprises in its network, calls it may propose to now "
        "and calls it proposed to; of their proposals, all for its own calls, else only its own."
    )
    async def design_calls(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        project_id: strawberry.ID | None = None,
        open_only: bool = False,
        first: int = 20,
    ) -> list[DesignCall]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        me = ctx.policy.own_enterprise
        views = crowd_views(ctx)
        rows = await views.calls(
            call_id=str(id) if id else None,
            project_id=str(project_id) if project_id else None,
            open_only=open_only,
            me=me,
            scope=ctx.policy.visible_list(),
            limit=max(1, min(first, 200)),
        )
        ids = [str(r["call"]["id"]) for r in rows]
        found = await views.proposals(call_ids=ids, proposal_id=None, me=me, limit=5000) if ids else []
        by_call: dict[str, list[DesignProposal]] = {}
        for p in found:
            by_call.setdefault(str(p["proposal"]["callId"]), []).append(DesignProposal.from_row(p))
        now_ms = datetime.now(UTC).timestamp() * 1000
        return [call_of(r, by_call.get(str(r["call"]["id"]), []), me=me, now_ms=now_ms) for r in rows]

    @strawberry.field(
        description="Proposals (one, a call's, or all). A partner sees its own proposals and every "
        "proposal to the calls its enterprise opened; nobody else's."
    )
    async def design_proposals(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        call_id: strawberry.ID | None = None,
        first: int = 50,
    ) -> list[DesignProposal]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        rows = await crowd_views(ctx).proposals(
            call_ids=[str(call_id)] if call_id else None,
            proposal_id=str(id) if id else None,
            me=ctx.policy.own_enterprise,
            limit=max(1, min(first, 500)),
        )
        return [DesignProposal.from_row(r) for r in rows]


__all__ = ["CrowdQuery", "DesignCall", "DesignProposal", "crowd_views"]
