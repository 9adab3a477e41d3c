"""Disruptions: reported against one enterprise, facility or region, and resolved."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, named
from graph.rows import GraphRows, Stamp
from schema.events import DisruptionReported, DisruptionResolved


def _reported(b: GraphRows, d: DisruptionReported, st: Stamp) -> None:
    target_kind, target = (
        ("enterprise", d.enterprise_id)
        if d.enterprise_id
        else ("facility", d.facility_id)
        if d.facility_id
        else ("region", d.region)
    )
    reported = {
        "kind": d.kind.value,
        "severity": d.severity.value,
        "expectedRecoveryDays": d.expected_recovery_days,
        "description": d.description,
        "targetKind": target_kind,
        "targetId": target,
        "reportedAt": st.t,
    }
    b.node(model.DISRUPTION, d.disruption_id, "reported", reported, st)
    b.link(model.DISRUPTION_ENTERPRISE, d.disruption_id, d.enterprise_id, st)
    b.link(model.DISRUPTION_FACILITY, d.disruption_id, d.facility_id, st)
    b.link(model.DISRUPTION_REGION, d.disruption_id, d.region, st)


def _resolved(b: GraphRows, d: DisruptionResolved, st: Stamp) -> None:
    b.node(model.DISRUPTION, d.disruption_id, "resolved", {"resolvedAt": st.t, "resolutionNote": d.note}, st)


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(
        DisruptionReported,
        _reported,
        lambda d: named(
            enterprises=[d.enterprise_id],
            facilities=[d.facility_id],
            regions=[d.region],
            disruptions=[d.disruption_id],
        ),
    ),
    EventUnit(DisruptionResolved, _resolved, lambda d: named(disruptions=[d.disruption_id])),
)
