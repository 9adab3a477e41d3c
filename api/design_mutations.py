"""Design mutations: each builds one collaborative-design event and sends it through the ingest path
(validated, to ``events.raw``), like ``ingestEvents``; the worker projects it. The log stays the truth.

A partner acts as its own enterprise: it creates projects it owns, invites enterprises of its network
into projects it owns, and publishes revisions, raises and answers change requests in projects it
belongs to. Membership is read from the graph, so a project is usable once its creation is projected.
An admin acts for any enterprise (``ownerId`` / ``enterpriseId`` say which).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.design import check_member
from api.errors import ClientError, Forbidden
from api.mutations import build_event, ingest_one
from api.policy import Action


@strawberry.input(description="A component a revision adds, removes or modifies.")
class ComponentChangeInput:
    sku: str
    change: str = strawberry.field(description="added, removed or modified")
    qty: float | None = None


async def acting_as(ctx: Context, enterprise_id: strawberry.ID | None, what: str) -> str:
    """The enterprise the caller acts as: a partner's own (naming another is refused), else the one named."""
    await ctx.policy.authorize(Action.DESIGN)
    own = ctx.policy.own_enterprise
    if own is not None:
        if enterprise_id and str(enterprise_id) != own:
            raise Forbidden(f"a partner acts as its own enterprise {own}, not {enterprise_id}")
        return own
    if not enterprise_id:
        raise ClientError(f"name {what}")
    return str(enterprise_id)


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@strawberry.type
class DesignMutation:
    @strawberry.mutation(
        description="Create a design project owned by the caller's enterprise (a partner) or by `ownerId` "
        "(admin): a design.project.created event. Refused for a project id another enterprise owns."
    )
    async def create_design_project(
        self,
        info: Info[Context, None],
        project_id: str,
        name: str,
        product_sku: str | None = None,
        description: str | None = None,
        owner_id: strawberry.ID | None = None,
    ) -> str:
        ctx = info.context
        owner = await acting_as(ctx, owner_id, "ownerId")
        found = await ctx.views.project_members(project_id)
        if found is not None and found[0] not in (None, owner):
            raise Forbidden(f"design project {project_id} is owned by another enterprise")
        data = {"project_id": project_id, "name": name, "owner_id": owner}
        data |= _without_none({"product_sku": product_sku, "description": description})
        return await ingest_one(ctx, build_event(ctx, "design.project.created", project_id, data))

    @strawberry.mutation(
        description="Invite an enterprise into a project the caller's enterprise owns, in a role: a "
        "design.partner.joined event. A partner invites enterprises of its network only."
    )
    async def invite_design_partner(
        self, info: Info[Context, None], project_id: str, enterprise_id: strawberry.ID, role: str
    ) -> str:
        ctx = info.context
        await ctx.policy.authorize(Action.DESIGN)
        await ctx.policy.check_in_scope(str(enterprise_id))
        await check_member(ctx, project_id, owner=True)
        data = {"project_id": project_id, "enterprise_id": str(enterprise_id), "role": role}
        return await ingest_one(ctx, build_event(ctx, "design.partner.joined", project_id, data))

    @strawberry.mutation(
        description="Publish a revision of a project the caller belongs to: where its files are (`uri`) "
        "and their `contentHash` (sha256:<hex>) — never the files — and the components it changes."
    )
    async def publish_design_revision(
        self,
        info: Info[Context, None],
        project_id: str,
        revision_id: str,
        label: str,
        uri: str,
        content_hash: str,
        changes: list[ComponentChangeInput] | None = None,
    ) -> str:
        ctx = info.context
        await ctx.policy.authorize(Action.DESIGN)
        await check_member(ctx, project_id)
        data = {
            "project_id": project_id,
            "revision_id": revision_id,
            "label": label,
            "uri": uri,
            "content_hash": content_hash,
            "changed_components": [
                _without_none({"sku": c.sku, "change": c.change, "qty": c.qty}) for c in changes or []
            ],
        }
        return await ingest_one(ctx, build_event(ctx, "design.revision.published", project_id, data))

    @strawberry.mutation(
        description="Raise an engineering change request in a project the caller belongs to: a "
        "design.change.requested event."
    )
    async def raise_change_request(
        self,
        info: Info[Context, None],
        project_id: str,
        change_id: str,
        affected_skus: list[str],
        reason: str,
        required_by: date | None = None,
    ) -> str:
        ctx = info.context
        await ctx.policy.authorize(Action.DESIGN)
        await check_member(ctx, project_id)
        data = {"project_id": project_id, "change_id": change_id, "affected_skus": affected_skus}
        data |= _without_none({"reason": reason, "required_by": required_by and required_by.isoformat()})
        return await ingest_one(ctx, build_event(ctx, "design.change.requested", project_id, data))

    @strawberry.mutation(
        description="Answer a change request of a project the caller belongs to (accepted, rejected, "
        "needs-info), as its enterprise: a design.change.answered event."
    )
    async def answer_change_request(
        self,
        info: Info[Context, None],
        change_id: str,
        decision: str,
        note: str | None = None,
        enterprise_id: strawberry.ID | None = None,
    ) -> str:
        ctx = info.context
        who = await acting_as(ctx, enterprise_id, "enterpriseId")
        project = await ctx.views.change_project(change_id)
        if project is None:
            raise ClientError(f"change request {change_id} is not known (yet)")
        await check_member(ctx, project)
        data = {"project_id": project, "change_id": change_id, "enterprise_id": who, "decision": decision}
        data |= _without_none({"note": note})
        return await ingest_one(ctx, build_event(ctx, "design.change.answered", project, data))


__all__ = ["ComponentChangeInput", "DesignMutation"]
