"""Subscriptions over graphql-transport-ws, fed from Kafka: each subscriber reads the topic itself.

A subscriber's consumer is assigned every partition at the end (no consumer group, nothing committed),
so it sees what happens from now on and costs the brokers nothing when it goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import Any

import msgspec
import orjson
import strawberry
from cachetools import LRUCache
from strawberry.types import Info

from api.changes import GraphChange, event_changes
from api.context import Context
from api.enterprise import JSON
from api.errors import ClientError
from api.policy import Action, PartnerScope
from schema import changes

ConsumerFactory = Callable[[str], Any]
"""topic -> an unstarted ``aiokafka.AIOKafkaConsumer`` subscribed to it, without a group."""


async def tail(factory: ConsumerFactory, topic: str) -> AsyncGenerator[bytes, None]:
    """Values published to ``topic`` from now on (all partitions, from their current end)."""
    consumer = factory(topic)
    await consumer.start()
    try:
        for _ in range(100):  # without a group, every partition is assigned once metadata arrives
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        tps = sorted(consumer.assignment())
        if not tps:
            raise ClientError(f"topic {topic} has no partitions (does it exist?)")
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, so nothing published after this point is missed
            await consumer.position(tp)
        async for msg in consumer:
            if msg.value is not None:
                yield msg.value
    finally:
        await consumer.stop()


@strawberry.input(description="Which risk alerts a subscriber wants (all when empty).")
class RiskAlertFilter:
    min_severity: str | None = strawberry.field(default=None, description="medium, high or critical")
    enterprise_ids: list[strawberry.ID] | None = None


_SEVERITY = {"medium": 1, "high": 2, "critical": 3}


def alert_matches(alert: dict[str, Any], f: RiskAlertFilter | None) -> bool:
    """Whether an alert passes a subscriber's filter (a partner's scope is the policy's). Pure."""
    eid = alert.get("enterprise")
    if f is None:
        return True
    if f.min_severity and _SEVERITY.get(str(alert.get("severity")), 0) < _SEVERITY[f.min_severity]:
        return False
    return not (f.enterprise_ids and eid not in {str(i) for i in f.enterprise_ids})


@strawberry.type(description="A risk alert from the risk engine (risk.alerts).")
class RiskAlert:
    id: str
    enterprise_id: strawberry.ID
    severity: str
    score: float
    previous_score: float | None
    reason: str
    summary: str
    affected_count: int
    factors: JSON | None
    redacted: list[str] = strawberry.field(
        default_factory=list,
        description="Fields hidden from you: a partner reads the factors (and the summary spelling "
        "them out) of alerts about its own enterprise only",
    )


_CHANGE = "created, changed or ended"


@strawberry.type(description="A node an event changed, as the graph committed it.")
class ChangedNode:
    label: str
    key: str
    change: str = strawberry.field(description=_CHANGE)


@strawberry.type(description="A relationship an event changed, as the graph committed it (ends by key).")
class ChangedRelationship:
    type: str
    start_label: str
    start: str
    end_label: str
    end: str
    key: str | None
    change: str = strawberry.field(description=_CHANGE)


@strawberry.type(
    description="What one event changed in the focal network: only what the graph applied (an event "
    "older than the stored state, a duplicate or a dead-lettered one changes nothing)."
)
class GraphChangeEvent:
    event_id: str
    event_type: str
    nodes: list[ChangedNode]
    relationships: list[ChangedRelationship]
    committed_at: datetime | None = strawberry.field(description="When the graph committed it")


SEEN_RECORDS = 10_000
"""``graph.changes`` record ids a subscription remembers, to skip a record delivered again."""


def grown(scope: PartnerScope | None, change: GraphChange) -> PartnerScope | None:
    """A partner's scope after the supply links ``change`` makes (``None`` stays ``None``). Pure."""
    if scope is None:
        return None
    for r in change.relationships:
        if r.type == "SUPPLIES":
            scope = scope.with_link(r.start, r.end)
    return scope


def joined_region(change: GraphChange, region: str) -> set[str]:
    """Enterprises a change locates in ``region`` (a registration, a move). Pure."""
    return {
        r.start
        for r in change.relationships
        if r.type == "LOCATED_IN"
        and r.start_label == "Enterprise"
        and r.end == region
        and r.change != "ended"
    }


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Risk alerts as the risk engine raises them.")
    async def risk_alerts(
        self, info: Info[Context, None], filter: RiskAlertFilter | None = None
    ) -> AsyncGenerator[RiskAlert, None]:
        ctx = info.context
        policy = ctx.policy
        policy.require(Action.SUBSCRIBE)
        if filter and filter.min_severity and filter.min_severity not in _SEVERITY:
            raise ClientError(f"minSeverity must be one of {', '.join(_SEVERITY)}")
        if ctx.consumer_factory is None:
            raise ClientError("subscriptions are not configured on this server")
        await policy.scope(refresh=True)
        async for raw in tail(ctx.consumer_factory, ctx.topics.alerts):
            try:
                found = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(found, dict) or not alert_matches(found, filter):
                continue
            view = policy.alert_view(found)
            if view is None:
                continue
            a, hidden = view
            yield RiskAlert(
                id=str(a.get("id")),
                enterprise_id=strawberry.ID(str(a.get("enterprise"))),
                severity=str(a.get("severity")),
                score=float(a.get("score") or 0.0),
                previous_score=a.get("previousScore"),
                reason=str(a.get("reason")),
                summary=str(a.get("summary")),
                affected_count=int(a.get("affectedCount") or 0),
                factors=JSON(a["factors"]) if a.get("factors") is not None else None,
                redacted=hidden,
            )

    @strawberry.subscription(
        description="Nodes and relationships the graph committed in the network of `enterpriseId`, or of "
        "the enterprises of `region` (N tiers both ways; an enterprise that moves into the region joins "
        "it), per event, from graph.changes. Give one of `enterpriseId` and `region`."
    )
    async def graph_changes(
        self,
        info: Info[Context, None],
        enterprise_id: strawberry.ID | None = None,
        tiers: int = 2,
        region: str | None = None,
    ) -> AsyncGenerator[GraphChangeEvent, None]:
        ctx = info.context
        policy = ctx.policy
        policy.require(Action.SUBSCRIBE)
        if (enterprise_id is None) == (region is None):
            raise ClientError("graphChanges takes enterpriseId or region (one of them)")
        ctx.check_tiers(tiers)
        scope = await policy.scope(refresh=True)
        if enterprise_id is not None:
            await policy.check_in_scope(str(enterprise_id))
        if ctx.consumer_factory is None:
            raise ClientError("subscriptions are not configured on this server")
        if scope is not None:
            tiers = min(tiers, scope.tiers)
        if enterprise_id is not None:
            focal = str(enterprise_id)
            network = await ctx.views.neighbourhood(focal, tiers=tiers)
            network.add(focal)
        else:
            _, network = await ctx.views.region_neighbourhood(str(region), tiers=tiers)
        seen: LRUCache[str, bool] = LRUCache(SEEN_RECORDS)
        async for raw in tail(ctx.consumer_factory, ctx.topics.changes):
            try:
                record = changes.decode(raw)
            except msgspec.MsgspecError:
                continue
            if record.id in seen:
                continue  # at-least-once: a record published again (after a crash) is shown once
            seen[record.id] = True
            for change in event_changes(record):
                scope = grown(scope, change)
                if scope is not None and not all(e in scope for e in change.enterprises()):
                    continue  # an enterprise it names (a link's end, an order's party) is outside
                if region is not None:
                    network.update(joined_region(change, region))
                if not change.enterprises() & network:
                    continue
                # A new supply link to the network brings its other end into the network.
                for r in change.relationships:
                    if r.type == "SUPPLIES" and (r.start in network or r.end in network):
                        network.update((r.start, r.end))
                yield GraphChangeEvent(
                    event_id=change.event_id,
                    event_type=change.event_type,
                    committed_at=change.committed_at,
                    nodes=[ChangedNode(label=n.label, key=n.key, change=n.change) for n in change.nodes],
                    relationships=[
                        ChangedRelationship(
                            type=r.type,
                            start_label=r.start_label,
                            start=r.start,
                            end_label=r.end_label,
                            end=r.end,
                            key=r.key,
                            change=r.change,
                        )
                        for r in change.relationships
                    ],
                )
