"""Crowd design: open calls of design projects, proposals, their evaluation and the award.

A proposal's eligibility and an award's effect (the proposer joining the project, the supply link)
depend on the graph, so the units only queue them for ``model.PROPOSAL_CHECKS`` and
``model.CALL_AWARDS``, which run after the batch's other writes in the same transaction.
"""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, named
from graph.rows import GraphRows, Stamp
from schema.events import (
    DesignCallAwarded,
    DesignCallOpened,
    DesignProposalEvaluated,
    DesignProposalSubmitted,
)


def _opened(b: GraphRows, d: DesignCallOpened, st: Stamp) -> None:
    opened = {
        "projectId": d.project_id,
        "enterpriseId": d.enterprise_id,
        "task": d.task,
        "deadlineAt": int(d.deadline.timestamp() * 1000),
        "capability": d.capability,
        "materialSku": d.material_sku,
        "certification": d.certification,
        "region": d.required_region,
        "supplyAnnualVolume": d.supply_annual_volume,
        "openedAt": st.t,
    }
    b.node(model.DESIGN_CALL, d.call_id, "opened", opened, st)
    b.link(model.CALL_PROJECT, d.call_id, d.project_id, st)


def _submitted(b: GraphRows, d: DesignProposalSubmitted, st: Stamp) -> None:
    submitted = {
        "callId": d.call_id,
        "enterpriseId": d.enterprise_id,
        "summary": d.summary,
        "uri": d.uri,
        "contentHash": d.content_hash,
        "submittedAt": st.t,
    }
    b.node(model.DESIGN_PROPOSAL, d.proposal_id, "submitted", submitted, st)
    b.link(model.PROPOSAL_CALL, d.proposal_id, d.call_id, st)
    b.link(model.PROPOSAL_PROPOSER, d.proposal_id, d.enterprise_id, st)
    b.check(model.PROPOSAL_CHECKS, d.proposal_id, st)


def _evaluated(b: GraphRows, d: DesignProposalEvaluated, st: Stamp) -> None:
    evaluated = {"score": d.score, "evaluationNotes": d.notes, "evaluatedAt": st.t}
    b.node(model.DESIGN_PROPOSAL, d.proposal_id, "evaluated", evaluated, st)


def _awarded(b: GraphRows, d: DesignCallAwarded, st: Stamp) -> None:
    awarded = {
        "awardedProposalId": d.proposal_id,
        "awardRole": d.role.value,
        "supplyShare": d.share,
        "supplyLeadTimeDays": d.lead_time_days,
        "awardedAt": st.t,
    }
    b.node(model.DESIGN_CALL, d.call_id, "awarded", awarded, st)
    b.check(model.CALL_AWARDS, d.call_id, st)


def _nothing(_: DesignProposalEvaluated | DesignCallAwarded) -> Named:
    return Named()


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(DesignCallOpened, _opened, lambda d: named(enterprises=[d.enterprise_id])),
    EventUnit(DesignProposalSubmitted, _submitted, lambda d: named(enterprises=[d.enterprise_id])),
    EventUnit(DesignProposalEvaluated, _evaluated, _nothing),
    EventUnit(DesignCallAwarded, _awarded, _nothing),
)
