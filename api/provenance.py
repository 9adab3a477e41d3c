"""Provenance: the events that shaped an enterprise or a supply link (from aspect versions)."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.policy import Action
from connectors import record_queries


@strawberry.type(description="An event that wrote state, with the aspects it set (from graph provenance).")
class TimelineEvent:
    event_id: str
    at: float = strawberry.field(description="Event time, epoch ms")
    sequence: int
    writes: list[str] = strawberry.field(description="'<target>:<aspect>' entries it wrote")


def timeline_event(r: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(event_id=r["eventId"], at=r["at"], sequence=r["sequence"], writes=r["writes"])


@strawberry.type
class ProvenanceQuery:
    @strawberry.field(
        description="Events that shaped an enterprise (its aspects, links and orders), newest first."
    )
    async def enterprise_timeline(self, info: Info[Context, None], id: strawberry.ID) -> list[TimelineEvent]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(id))
        scope = ctx.policy.visible_list()
        flow: list[tuple[str, str]] = []
        if ctx.engine is not None:  # orders and shipments live in the record store
            flow = await asyncio.to_thread(record_queries.flow_versions, ctx.engine, str(id), scope)
        rows = await ctx.views.enterprise_timeline(str(id), scope=scope, flow=flow)
        return [timeline_event(r) for r in rows]

    @strawberry.field(description="Events that shaped the supply link(s) supplier → buyer, newest first.")
    async def link_timeline(
        self,
        info: Info[Context, None],
        supplier_id: strawberry.ID,
        buyer_id: strawberry.ID,
        sku: str | None = None,
    ) -> list[TimelineEvent]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(supplier_id))
        await ctx.policy.check_in_scope(str(buyer_id))
        rows = await ctx.views.link_timeline(str(supplier_id), str(buyer_id), sku)
        return [timeline_event(r) for r in rows]


__all__ = ["ProvenanceQuery", "TimelineEvent"]
