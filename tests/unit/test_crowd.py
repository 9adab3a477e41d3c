"""Crowd design without servers: the event contracts, the rows each event queues (checks included), the
order of the checks and the statuses a reader sees."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from api.crowd import call_status, proposal_status
from graph import model
from graph.mutations import to_mutations
from schema.events import DesignCallOpened, DesignProposalEvaluated
from schema.examples import EXAMPLES
from tests.unit.test_mutations import event


def _opened(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EXAMPLES["design.call.opened"]), **changes}


def test_a_supply_volume_without_the_material_is_refused() -> None:
    data = _opened()
    del data["material_sku"]
    with pytest.raises(msgspec.ValidationError, match="supply_annual_volume needs material_sku"):
        msgspec.convert(data, DesignCallOpened)


def test_a_deadline_without_a_time_zone_and_a_score_over_100_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="deadline"):
        msgspec.convert(_opened(deadline="2026-08-31T23:59:59"), DesignCallOpened)
    scored = {**EXAMPLES["design.proposal.evaluated"], "score": 100.5}
    with pytest.raises(msgspec.ValidationError, match="score"):
        msgspec.convert(scored, DesignProposalEvaluated)


def test_a_call_stores_its_deadline_in_epoch_ms_and_its_requirements() -> None:
    m = to_mutations([event("design.call.opened", _opened())])
    (row,) = m.kind(model.DESIGN_CALL.name)
    assert row["deadlineAt"] == 1788191999000  # 2026-08-31T23:59:59+08:00
    assert (row["capability"], row["region"], row["supplyAnnualVolume"]) == (
        "aluminium stamping",
        "湖北省 武汉市",
        8000,
    )
    assert m.kind(model.CALL_PROJECT.name)[0]["to"] == "EV1-BODY"


def test_a_proposal_queues_its_eligibility_check_once_for_its_newest_submission() -> None:
    first = event("design.proposal.submitted", EXAMPLES["design.proposal.submitted"], at=1, eid="a")
    again = event("design.proposal.submitted", EXAMPLES["design.proposal.submitted"], at=2, eid="b")
    m = to_mutations([again, first])
    (check,) = m.kind(model.PROPOSAL_CHECKS)
    assert (check["k"], check["lastEventId"]) == ("CALL-EV1-DOOR-2026-P07", "b")
    assert m.kind(model.PROPOSAL_PROPOSER.name)[0]["to"] == "wisco"
    assert m.kind(model.PROPOSAL_CALL.name)[0]["to"] == "CALL-EV1-DOOR-2026"


def test_an_award_is_an_aspect_of_the_call_and_queues_its_effect_check() -> None:
    m = to_mutations([event("design.call.awarded", EXAMPLES["design.call.awarded"])])
    (row,) = m.kind(model.DESIGN_CALL.name)
    assert (row["awardedProposalId"], row["awardRole"], row["supplyLeadTimeDays"]) == (
        "CALL-EV1-DOOR-2026-P07",
        "tier1",
        28,
    )
    assert [r["k"] for r in m.kind(model.CALL_AWARDS)] == ["CALL-EV1-DOOR-2026"]
    assert m.kind(model.COLLABORATES_ON.name) == []  # only once the check found the proposal eligible


def test_checks_run_last_eligibility_before_awards() -> None:
    names = [name for name, _ in model.statements()]
    assert names[-2:] == [model.PROPOSAL_CHECKS, model.CALL_AWARDS]
    assert model.ELIGIBILITY in model.PROPOSAL_CHECKS_CYPHER


@pytest.mark.parametrize(
    ("proposal", "awarded", "to", "status"),
    [
        ({"id": "p", "eligible": False, "score": 90}, "p", "e", "refused"),
        ({"id": "p", "eligible": True}, "p", "e", "awarded"),
        ({"id": "p", "eligible": True, "score": 90}, "q", "f", "not-awarded"),
        ({"id": "p", "eligible": True, "score": 90}, None, None, "evaluated"),
        ({"id": "p", "eligible": True}, "p", None, "submitted"),  # an award that took no effect
    ],
)
def test_a_proposals_status(
    proposal: dict[str, Any], awarded: str | None, to: str | None, status: str
) -> None:
    assert proposal_status(proposal, awarded, to) == status


def test_a_calls_status() -> None:
    assert call_status({"deadlineAt": 2_000, "awardedTo": "e"}, 5_000) == "awarded"
    assert call_status({"deadlineAt": 2_000}, 5_000) == "closed"
    assert call_status({"deadlineAt": 9_000, "awardRefusalReason": "refused"}, 5_000) == "open"
