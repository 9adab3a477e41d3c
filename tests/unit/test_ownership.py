"""Master data has an owner: the source that registered it; others' changes are refused, admins excepted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from graph.ownership import check_owners, master_record
from schema.envelope import ValidEvent
from schema.events import CATALOG
from schema.examples import EXAMPLES

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def event(type_: str, source: str, eid: str, **data: Any) -> ValidEvent:
    payload = msgspec.convert({**EXAMPLES[type_], **data}, CATALOG[type_])
    return ValidEvent(eid, source, type_, T0, str(getattr(payload, payload.SUBJECT)), 0, payload)


@pytest.mark.parametrize(
    ("type_", "label"),
    [
        ("partner.registered", "Enterprise"),
        ("partner.updated", "Enterprise"),
        ("facility.registered", "Facility"),
        ("material.defined", "Material"),
        ("bom.defined", "Material"),
    ],
)
def test_master_data_types_name_their_record(type_: str, label: str) -> None:
    rec = master_record(event(type_, "a", "e"))
    assert rec is not None
    assert rec[0] == label


@pytest.mark.parametrize(
    "type_", ["order.placed", "supply.agreed", "capacity.reported", "inventory.reported"]
)
def test_flow_events_are_not_master_data(type_: str) -> None:
    assert master_record(event(type_, "a", "e")) is None


def test_another_source_may_not_change_a_stored_owners_enterprise() -> None:
    ev = event("partner.updated", "erp-b", "u1", enterprise_id="x")
    verdict = check_owners([(0, ev)], {("Enterprise", "x"): "erp-a"}, admin_sources={"mdm"})
    assert verdict.accepted == []
    [(meta, err)] = verdict.refused
    assert meta == 0
    assert err.field == "$.source"
    assert err.event_id == "u1"
    assert "'erp-a'" in err.reason
    assert "'erp-b'" in err.reason


def test_the_owner_and_an_admin_source_may_change_it() -> None:
    own = event("partner.updated", "erp-a", "u1", enterprise_id="x")
    admin = event("partner.updated", "mdm", "u2", enterprise_id="x")
    verdict = check_owners([(0, own), (1, admin)], {("Enterprise", "x"): "erp-a"}, admin_sources={"mdm"})
    assert [m for m, _ in verdict.accepted] == [0, 1]
    assert verdict.refused == []
    assert verdict.claims == {}


def test_the_first_registration_in_a_batch_claims_and_binds_the_rest_of_the_batch() -> None:
    reg = event("partner.registered", "erp-a", "r", enterprise_id="x")
    other = event("partner.updated", "erp-b", "u", enterprise_id="x")
    flow = event("capacity.reported", "erp-b", "c", enterprise_id="x")
    verdict = check_owners([(0, reg), (1, other), (2, flow)], {}, admin_sources=())
    assert verdict.claims == {("Enterprise", "x"): "erp-a"}
    assert [m for m, _ in verdict.accepted] == [0, 2]
    assert [m for m, _ in verdict.refused] == [1]
