"""Mutations: ingest events (Kafka path only), report/resolve disruptions (as events), incident workflow."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.enterprise import JSON
from api.errors import ClientError
from api.ingest import ServerBuilt
from api.policy import Action
from api.risk_lists import RiskIncident


@strawberry.type(description="An event refused at ingest: its position, id, the field and the reason.")
class EventRefusal:
    index: int
    event_id: str | None
    field: str | None
    reason: str


@strawberry.type(description="What ingest accepted (sent to events.raw) and refused.")
class IngestReport:
    accepted: list[str]
    refused: list[EventRefusal]


async def _ingest(ctx: Context, events: list[Any]) -> IngestReport:
    principal = ctx.policy.require(Action.INGEST)
    if ctx.ingest is None:
        raise ClientError("ingest is not configured on this server")
    if not events:
        raise ClientError("events must not be empty")
    if len(events) > 1000:
        raise ClientError(f"at most 1000 events per call, got {len(events)}")
    result = await ctx.ingest(events, principal)
    return IngestReport(
        accepted=list(result.accepted),
        refused=[
            EventRefusal(index=r.index, event_id=r.event_id, field=r.field, reason=r.reason)
            for r in result.refused
        ],
    )


def build_event(ctx: Context, event_type: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event on behalf of the caller: a fresh id, now, the caller's source (or the API's for it)."""
    p = ctx.principal
    assert p is not None
    return {
        "specversion": "1.0",
        "id": f"api-{uuid.uuid4()}",
        "source": p.source or f"supplynet-api/{p.name}",
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "subject": subject,
        "data": data,
    }


def _one(report: IngestReport) -> str:
    if report.refused:
        r = report.refused[0]
        raise ClientError(f"event refused: {r.field or '(event)'}: {r.reason}")
    return report.accepted[0]


def _incident_call(ctx: Context, fn_name: str, **kwargs: Any) -> Any:
    from sqlmodel import Session

    from graph.risk import incidents

    if ctx.engine is None:
        raise ClientError("incidents are not configured on this server")
    engine = ctx.engine

    def run() -> Any:
        with Session(engine) as session:
            try:
                return getattr(incidents, fn_name)(session, **kwargs)
            except (incidents.IncidentError, ValueError) as e:
                raise ClientError(str(e)) from None

    return asyncio.to_thread(run)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Send events through the ingest path (validated, to events.raw). erp/admin."
    )
    async def ingest_events(self, info: Info[Context, None], events: list[JSON]) -> IngestReport:
        return await _ingest(info.context, list(events))

    @strawberry.mutation(description="Report a disruption (a disruption.reported event through ingest).")
    async def report_disruption(
        self,
        info: Info[Context, None],
        disruption_id: str,
        kind: str,
        severity: str,
        expected_recovery_days: int,
        enterprise_id: str | None = None,
        facility_id: str | None = None,
        region: str | None = None,
        description: str | None = None,
    ) -> str:
        ctx = info.context
        ctx.policy.require(Action.REPORT_DISRUPTION)
        data: dict[str, Any] = {
            "disruption_id": disruption_id,
            "kind": kind,
            "severity": severity,
            "expected_recovery_days": expected_recovery_days,
        }
        for k, v in (
            ("enterprise_id", enterprise_id),
            ("facility_id", facility_id),
            ("region", region),
            ("description", description),
        ):
            if v is not None:
                data[k] = v
        ev = build_event(ctx, "disruption.reported", disruption_id, data)
        return await ingest_one(ctx, ev)

    @strawberry.mutation(description="Resolve a disruption (a disruption.resolved event through ingest).")
    async def resolve_disruption(
        self, info: Info[Context, None], disruption_id: str, note: str | None = None
    ) -> str:
        ctx = info.context
        ctx.policy.require(Action.REPORT_DISRUPTION)
        data: dict[str, Any] = {"disruption_id": disruption_id}
        if note is not None:
            data["note"] = note
        ev = build_event(ctx, "disruption.resolved", disruption_id, data)
        return await ingest_one(ctx, ev)

    @strawberry.mutation(description="Confirm a potential incident (potential → confirmed).")
    async def confirm_incident(
        self, info: Info[Context, None], id: int, note: str | None = None
    ) -> RiskIncident:
        from schema.tables import IncidentState

        p = info.context.policy.require(Action.MANAGE_INCIDENTS)
        row = await _incident_call(
            info.context, "transition", incident_id=id, to=IncidentState.CONFIRMED, by=p.name, note=note
        )
        return RiskIncident.from_row(row)

    @strawberry.mutation(description="Assign an incident to an owner.")
    async def assign_incident(self, info: Info[Context, None], id: int, owner: str) -> RiskIncident:
        p = info.context.policy.require(Action.MANAGE_INCIDENTS)
        row = await _incident_call(info.context, "assign", incident_id=id, owner=owner, by=p.name)
        return RiskIncident.from_row(row)

    @strawberry.mutation(description="Append a note to an incident.")
    async def annotate_incident(self, info: Info[Context, None], id: int, note: str) -> RiskIncident:
        p = info.context.policy.require(Action.MANAGE_INCIDENTS)
        row = await _incident_call(info.context, "add_note", incident_id=id, note=note, by=p.name)
        return RiskIncident.from_row(row)

    @strawberry.mutation(
        description="Close an incident: 'restored' (after confirmed) or 'no_impact' (potential)."
    )
    async def close_incident(
        self, info: Info[Context, None], id: int, outcome: str = "restored", note: str | None = None
    ) -> RiskIncident:
        from schema.tables import IncidentState

        p = info.context.policy.require(Action.MANAGE_INCIDENTS)
        if outcome not in ("restored", "no_impact"):
            raise ClientError(f"outcome must be 'restored' or 'no_impact', got {outcome!r}")
        row = await _incident_call(
            info.context, "transition", incident_id=id, to=IncidentState(outcome), by=p.name, note=note
        )
        return RiskIncident.from_row(row)


async def ingest_one(ctx: Context, event: dict[str, Any]) -> str:
    """Send one API-built event through ingest; its id, or ``ClientError`` with the field and reason."""
    return _one(await _ingest_as(ctx, event))


async def _ingest_as(ctx: Context, event: dict[str, Any]) -> IngestReport:
    """Ingest one event built by the API on behalf of the caller (analysts may report disruptions)."""
    if ctx.ingest is None:
        raise ClientError("ingest is not configured on this server")
    assert ctx.principal is not None
    # The API set this event's source itself (``build_event``), so the caller is that source.
    result = await ctx.ingest([event], ServerBuilt(ctx.principal.role, event["source"]))
    return IngestReport(
        accepted=list(result.accepted),
        refused=[
            EventRefusal(index=r.index, event_id=r.event_id, field=r.field, reason=r.reason)
            for r in result.refused
        ],
    )
