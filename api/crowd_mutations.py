"""Crowd design mutations: each builds one event and sends it through the ingest path (validated, to
``events.raw``) like ``ingestEvents``; the worker projects it.

Checked here against the graph before publishing, with the reason: the caller opens calls of projects
it owns and alone evaluates and awards them; a proposal from an enterprise that is not eligible now
(deadline, capability, material, certificate, region — ``graph.model.ELIGIBILITY``) is refused. The
projector checks eligibility again when the proposal arrives (events sent straight to Kafka included)
and keeps an ineligible one as ``refused`` with the reason; an award of a refused proposal takes no
effect there either.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.crowd import crowd_views
from api.design import check_member
from api.design_mutations import acting_as
from api.errors import ClientError, Forbidden
from api.mutations import build_event, ingest_one
from api.policy import Action


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


async def _opened_by_caller(ctx: Context, call_id: str) -> dict[str, Any]:
    """The call, if the caller may act for its opener (a partner: its own enterprise opened it)."""
    await ctx.policy.authorize(Action.DESIGN)
    found = await crowd_views(ctx).call(call_id, me=None)
    if found is None:
        raise ClientError(f"call {call_id} is not known (yet)")
    call: dict[str, Any] = dict(found["call"])
    own = ctx.policy.own_enterprise
    if own is not None and own != call["enterpriseId"]:
        raise Forbidden(f"enterprise {own} did not open call {call_id}")
    return call


async def _eligible_proposal(ctx: Context, call: dict[str, Any], proposal_id: str) -> dict[str, Any]:
    p = await crowd_views(ctx).proposal(proposal_id)
    if p is None or p.get("callId") != call["id"]:
        raise ClientError(f"proposal {proposal_id} to call {call['id']} is not known (yet)")
    if p.get("eligible") is False:
        raise ClientError(f"proposal {proposal_id} was refused: {p.get('refusalReason')}")
    return p


@strawberry.type
class CrowdMutation:
    @strawberry.mutation(
        description="Open a design task of a project the caller's enterprise owns to the network (a "
        "design.call.opened event): requirements, deadline and optionally a supply volume per year of "
        "`materialSku` the winner will supply."
    )
    async def open_design_call(
        self,
        info: Info[Context, None],
        project_id: str,
        call_id: str,
        task: str,
        deadline: datetime,
        capability: str | None = None,
        material_sku: str | None = None,
        certification: str | None = None,
        region: str | None = None,
        supply_annual_volume: float | None = None,
    ) -> str:
        ctx = info.context
        await ctx.policy.authorize(Action.DESIGN)
        await check_member(ctx, project_id, owner=True)
        found = await ctx.views.project_members(project_id)
        owner = found[0] if found else None
        if owner is None:
            raise ClientError(f"design project {project_id} is not known (yet)")
        if deadline.tzinfo is None:
            raise ClientError("deadline: give a time zone offset")
        if deadline <= datetime.now(UTC):
            raise ClientError(f"deadline {deadline.isoformat()} is not in the future")
        held = await crowd_views(ctx).call(call_id, me=None)
        if held is not None and held["call"]["enterpriseId"] != owner:
            raise Forbidden(f"call {call_id} was opened by another enterprise")
        data = {
            "call_id": call_id,
            "project_id": project_id,
            "enterprise_id": owner,
            "task": task,
            "deadline": deadline.isoformat(),
        }
        data |= _without_none(
            {
                "capability": capability,
                "material_sku": material_sku,
                "certification": certification,
                "required_region": region,
                "supply_annual_volume": supply_annual_volume,
            }
        )
        return await ingest_one(ctx, build_event(ctx, "design.call.opened", call_id, data))

    @strawberry.mutation(
        description="Propose to an open call as the caller's enterprise (admin: `enterpriseId`), a "
        "design.proposal.submitted event. Refused with the reason when the enterprise is not eligible "
        "(deadline, capability, material, certificate, region)."
    )
    async def submit_design_proposal(
        self,
        info: Info[Context, None],
        call_id: str,
        proposal_id: str,
        summary: str,
        uri: str | None = None,
        content_hash: str | None = None,
        enterprise_id: strawberry.ID | None = None,
    ) -> str:
        ctx = info.context
        who = await acting_as(ctx, enterprise_id, "enterpriseId")
        views = crowd_views(ctx)
        found = await views.call(call_id, me=who)
        if found is None:
            raise ClientError(f"call {call_id} is not known (yet)")
        held = await views.proposal(proposal_id)
        if held is not None and held.get("enterpriseId") != who:
            raise Forbidden(f"proposal {proposal_id} belongs to another enterprise")
        if held is not None and held.get("callId") != call_id:
            other = held.get("callId")
            raise ClientError(f"proposal {proposal_id} answers call {other}; use a new proposal id")
        if found["reason"] is not None:
            raise Forbidden(f"proposal refused: {found['reason']}")
        data = {"call_id": call_id, "proposal_id": proposal_id, "enterprise_id": who, "summary": summary}
        data |= _without_none({"uri": uri, "content_hash": content_hash})
        return await ingest_one(ctx, build_event(ctx, "design.proposal.submitted", call_id, data))

    @strawberry.mutation(
        description="Score (0 to 100) a proposal to a call the caller's enterprise opened: a "
        "design.proposal.evaluated event. Refused proposals cannot be evaluated."
    )
    async def evaluate_design_proposal(
        self,
        info: Info[Context, None],
        call_id: str,
        proposal_id: str,
        score: float,
        notes: str | None = None,
    ) -> str:
        ctx = info.context
        call = await _opened_by_caller(ctx, call_id)
        await _eligible_proposal(ctx, call, proposal_id)
        data = {"call_id": call_id, "proposal_id": proposal_id, "score": score}
        data |= _without_none({"notes": notes})
        return await ingest_one(ctx, build_event(ctx, "design.proposal.evaluated", call_id, data))

    @strawberry.mutation(
        description="Award a call the caller's enterprise opened to an eligible proposal: a "
        "design.call.awarded event. The proposer joins the project in `role` and, where the call names "
        "a supply, supplies that material to the caller (`share`, `leadTimeDays`)."
    )
    async def award_design_call(
        self,
        info: Info[Context, None],
        call_id: str,
        proposal_id: str,
        role: str = "design-house",
        share: float | None = None,
        lead_time_days: int | None = None,
    ) -> str:
        ctx = info.context
        call = await _opened_by_caller(ctx, call_id)
        if call.get("awardedTo") is not None:
            raise ClientError(f"call {call_id} was already awarded to {call['awardedTo']}")
        await _eligible_proposal(ctx, call, proposal_id)
        data = {"call_id": call_id, "proposal_id": proposal_id, "role": role}
        data |= _without_none({"share": share, "lead_time_days": lead_time_days})
        return await ingest_one(ctx, build_event(ctx, "design.call.awarded", call_id, data))


__all__ = ["CrowdMutation"]
