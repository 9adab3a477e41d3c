"""Crowd design (open calls) and a change request's full impact on the real stack: mutations and raw
events through Kafka, the worker projecting them (eligibility checked there too), answers through
GraphQL for the caller, proposers, a network partner, an outsider and an analyst."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from confluent_kafka import Message

from api.keys import create_key
from connectors.kafka import Record
from graph.model import CALL_AWARDS
from schema.changes import GraphChanges
from schema.tables import Role
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.test_api import data, error
from tests.integration.test_design_collaboration import wait_for
from tests.integration.topic_reader import ends, read_from
from tests.integration.worker_proc import own_topics, running_worker, spawn_api, stop

pytestmark = pytest.mark.timeout(300)

REGION = "湖北省 武汉市"
CAPABILITY = "aluminium stamping"
STANDARD = "IATF 16949"

CALLS = """query($id: ID) { designCalls(id: $id) { id projectId callerId task status capability materialSku
  certification region supplyAnnualVolume awardedTo awardRefusalReason eligibility { eligible reason }
  proposals { id enterpriseId status refusalReason score evaluationNotes } } }"""
PROPOSALS = """query($c: ID) { designProposals(callId: $c) { id enterpriseId status refusalReason score } }"""
OPEN = """mutation($p: String!, $c: String!, $d: DateTime!, $sku: String!) {
  openDesignCall(projectId: $p, callId: $c, task: "door ring, 30 % lighter", deadline: $d,
    capability: "aluminium stamping", materialSku: $sku, certification: "IATF 16949",
    region: "湖北省 武汉市", supplyAnnualVolume: 8000) }"""
SUBMIT = """mutation($c: String!, $id: String!) {
  submitDesignProposal(callId: $c, proposalId: $id, summary: "two-piece hot-formed ring") }"""
EVALUATE = """mutation($c: String!, $id: String!) {
  evaluateDesignProposal(callId: $c, proposalId: $id, score: 86.5, notes: "meets the weight target") }"""
AWARD = """mutation($c: String!, $id: String!) {
  awardDesignCall(callId: $c, proposalId: $id, role: "tier1", leadTimeDays: 28) }"""
PROJECT = """query($id: ID) { designProjects(id: $id) { id participants { enterpriseId role } } }"""
SUPPLIERS = """query($id: ID!) { enterprise(id: $id) { suppliers { sku partner { id } } } }"""
IMPACT = """query($c: ID!) { changeImpact(changeRequestId: $c) { downstreamProducts
  affectedSuppliers { enterprise { id } sku openOrderCount openQuantity onHand
    openOrders { orderId buyerId quantity status } stock { facilityId onHand daysOfCover } } } }"""
CREATE = """mutation($p: String!) { createDesignProject(projectId: $p, name: "EV1 door") }"""
RAISE = """mutation($p: String!, $c: String!, $sku: String!) {
  raiseChangeRequest(projectId: $p, changeId: $c, affectedSkus: [$sku], reason: "thinner gauge") }"""


class CrowdWorld:
    """OEM O buys sheet K from S (its network) and builds product P from K; S also sells K to B (outside
    O's network), S2 sells K to B2 (apart). Proposers outside O's network, all producing K in the region:
    X eligible, N without the capability, E with an expired certificate, W in another region."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-cd-"
        self.p = p
        self.O, self.S, self.B, self.S2, self.B2 = (p + x for x in ("oem", "sup", "buy", "sup2", "buy2"))
        self.X, self.N, self.E, self.W = (p + x for x in ("elig", "nocap", "expired", "west"))
        self.K, self.P = p + "sheet", p + "door"
        self.project, self.call, self.late_call = p + "proj", p + "call", p + "late"
        self.now = datetime.now(UTC)
        t = self.now - timedelta(minutes=5)
        evs: list[dict[str, Any]] = []

        def add(kind: str, subject: str, d: dict[str, Any], at: datetime = t) -> None:
            evs.append(envelope(eid=f"{p}{len(evs)}", type_=kind, subject=subject, time=at, data=d))

        def partner(eid: str, region: str = REGION, caps: tuple[str, ...] = (CAPABILITY,)) -> None:
            add(
                "partner.registered",
                eid,
                {
                    "enterprise_id": eid,
                    "name": f"众 {eid[-5:]}",
                    "industry": "automotive",
                    "region": region,
                    "capabilities": list(caps),
                },
            )

        for eid in (self.O, self.S, self.B, self.S2, self.B2):
            partner(eid, caps=())
        partner(self.X)
        partner(self.N, caps=("forging",))
        partner(self.E)
        partner(self.W, region="广东省 广州市")
        for eid in (self.X, self.N, self.E, self.W):
            add(
                "capacity.reported",
                eid,
                {"enterprise_id": eid, "capacity_per_day": 50, "utilization": 0.5, "sku": self.K},
            )
        for eid in (self.X, self.N, self.E, self.W):
            add(
                "certification.granted",
                eid,
                {
                    "enterprise_id": eid,
                    "certificate_id": eid + "-iatf",
                    "standard": STANDARD,
                    "valid_until": "2031-12-31",
                },
            )
        add(
            "certification.expired",
            self.E,
            {"enterprise_id": self.E, "certificate_id": self.E + "-iatf"},
            t + timedelta(seconds=1),
        )
        for s, b in ((self.S, self.O), (self.S, self.B), (self.S2, self.B2)):
            add(
                "supply.agreed",
                b,
                {"supplier_id": s, "buyer_id": b, "sku": self.K, "share": 1.0, "lead_time_days": 9},
            )
        add("bom.defined", self.P, {"product_sku": self.P, "components": [{"sku": self.K, "qty": 2}]})
        day = self.now.date().isoformat()
        for oid, s, b in (
            (p + "po1", self.S, self.O),
            (p + "po2", self.S, self.O),
            (p + "po3", self.S, self.B),
            (p + "po4", self.S2, self.B2),
        ):
            add(
                "order.placed",
                b,
                {
                    "order_id": oid,
                    "buyer_id": b,
                    "supplier_id": s,
                    "sku": self.K,
                    "quantity": 100,
                    "requested_date": day,
                },
            )
        add(
            "order.delivered",
            self.O,
            {
                "order_id": p + "po2",
                "buyer_id": self.O,
                "supplier_id": self.S,
                "quantity_ordered": 100,
                "quantity_delivered": 100,
                "promised_date": day,
                "delivered_on": day,
            },
            t + timedelta(seconds=1),
        )
        add(
            "inventory.reported",
            self.S,
            {"enterprise_id": self.S, "sku": self.K, "on_hand": 600, "daily_usage": 50},
        )
        add(
            "inventory.reported",
            self.S2,
            {"enterprise_id": self.S2, "sku": self.K, "on_hand": 90, "daily_usage": 30},
        )
        self.events = evs

    def raw(self, kind: str, subject: str, d: dict[str, Any], at: datetime) -> dict[str, Any]:
        """One event as an ERP would send it straight to Kafka."""
        return envelope(
            eid=f"{self.p}raw-{uuid.uuid4().hex[:8]}", type_=kind, subject=subject, time=at, data=d
        )


def _send(stack: Settings, events: list[dict[str, Any]]) -> None:
    producer = bootstrap.producer(stack, bootstrap.topic_names(stack).raw)
    producer.send_many([Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in events])
    producer.close()


@pytest.fixture(scope="module")
def crowd_world(
    stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CrowdWorld, str, dict[str, str], Settings]]:
    run_id = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("crowd")
    own = own_topics(stack, f"cdtest-{run_id}.")
    w = CrowdWorld(run_id)
    _send(own, w.events)
    engine = bootstrap.sql_engine(own)
    keys = {"analyst": create_key(engine, name=f"{run_id}-cd-analyst", role=Role.ANALYST)[1]}
    for who, eid in (("oem", w.O), ("sup", w.S), ("x", w.X), ("n", w.N), ("e", w.E), ("w", w.W)):
        keys[who] = create_key(engine, name=f"{run_id}-cd-{who}", role=Role.PARTNER, enterprise_id=eid)[1]
    with running_worker(own, f"supplynet-test-cd-{run_id}", logs / "worker.log"):
        server, url = spawn_api(own, logs / "api.log", SUPPLYNET_STREAM__TOPIC_PREFIX=own.stream.topic_prefix)
        try:
            wait_for(lambda: data(url, keys["analyst"], SUPPLIERS, {"id": w.B2})["enterprise"])
            data(url, keys["oem"], CREATE, {"p": w.project})
            wait_for(lambda: data(url, keys["oem"], PROJECT, {"id": w.project})["designProjects"])
            yield w, url, keys, own
        finally:
            stop(server)


def _call(url: str, token: str, call_id: str) -> dict[str, Any] | None:
    rows = data(url, token, CALLS, {"id": call_id})["designCalls"]
    return rows[0] if rows else None


def test_an_open_call_is_answered_by_eligible_enterprises_and_the_award_makes_a_partner_and_a_supplier(
    crowd_world: tuple[CrowdWorld, str, dict[str, str], Settings],
) -> None:
    w, url, keys, own = crowd_world
    deadline = (w.now + timedelta(days=7)).isoformat()
    variables = {"p": w.project, "c": w.call, "d": deadline, "sku": w.K}
    assert "is not the owner" in error(url, keys["sup"], OPEN, variables)
    assert "may not do this" in error(url, keys["analyst"], OPEN, variables)
    past = {**variables, "d": (w.now - timedelta(days=1)).isoformat()}
    assert "is not in the future" in error(url, keys["oem"], OPEN, past)
    data(url, keys["oem"], OPEN, variables)
    opened = wait_for(lambda: _call(url, keys["oem"], w.call))
    assert (opened["status"], opened["callerId"], opened["region"]) == ("open", w.O, REGION)
    assert opened["eligibility"] == {
        "eligible": False,
        "reason": f"enterprise {w.O} opened call {w.call} itself",
    }

    # who sees the call: the eligible outsider (crowd), the network partner (with why it may not
    # propose); ineligible outsiders do not
    assert _call(url, keys["x"], w.call)["eligibility"] == {"eligible": True, "reason": None}
    assert _call(url, keys["sup"], w.call)["eligibility"] == {
        "eligible": False,
        "reason": f"enterprise {w.S} lacks the capability {CAPABILITY}",
    }
    for who in ("n", "e", "w"):
        assert _call(url, keys[who], w.call) is None

    # eligibility checked before publishing, with the reason
    refusals = {
        "n": f"enterprise {w.N} lacks the capability {CAPABILITY}",
        "e": f"enterprise {w.E} holds no valid {STANDARD} on {datetime.now(UTC).date()} (expired)",
        "w": f"enterprise {w.W} is not in region {REGION}",
    }
    for who, reason in refusals.items():
        assert (
            error(url, keys[who], SUBMIT, {"c": w.call, "id": f"{w.p}p-{who}"})
            == f"proposal refused: {reason}"
        )
    data(url, keys["x"], SUBMIT, {"c": w.call, "id": w.p + "p-x"})

    # ... and again when projected: the same proposals sent straight to Kafka are kept as refused
    now = datetime.now(UTC)
    raw = [
        w.raw(
            "design.proposal.submitted",
            w.call,
            {
                "call_id": w.call,
                "proposal_id": f"{w.p}raw-{who}",
                "enterprise_id": eid,
                "summary": "straight from PLM",
            },
            now,
        )
        for who, eid in (("n", w.N), ("e", w.E), ("w", w.W))
    ]
    late_deadline = now - timedelta(minutes=1)
    raw.append(
        w.raw(
            "design.call.opened",
            w.late_call,
            {
                "call_id": w.late_call,
                "project_id": w.project,
                "enterprise_id": w.O,
                "task": "closed already",
                "deadline": late_deadline.isoformat(),
            },
            now - timedelta(minutes=2),
        )
    )
    raw.append(
        w.raw(
            "design.proposal.submitted",
            w.late_call,
            {
                "call_id": w.late_call,
                "proposal_id": w.p + "raw-late",
                "enterprise_id": w.X,
                "summary": "late",
            },
            now,
        )
    )
    _send(own, raw)

    seen = wait_for(lambda: [c for c in [_call(url, keys["oem"], w.call)] if c and len(c["proposals"]) == 4])[
        0
    ]
    by_id = {p["id"]: p for p in seen["proposals"]}
    assert by_id[w.p + "p-x"] == {
        "id": w.p + "p-x",
        "enterpriseId": w.X,
        "status": "submitted",
        "refusalReason": None,
        "score": None,
        "evaluationNotes": None,
    }
    for who, reason in refusals.items():
        got = by_id[f"{w.p}raw-{who}"]
        assert (got["status"], got["refusalReason"]) == ("refused", reason)
    late = wait_for(lambda: data(url, keys["x"], PROPOSALS, {"c": w.late_call})["designProposals"])
    assert late == [
        {
            "id": w.p + "raw-late",
            "enterpriseId": w.X,
            "status": "refused",
            "refusalReason": f"submitted after the deadline of call {w.late_call}",
            "score": None,
        }
    ]
    assert error(url, keys["x"], SUBMIT, {"c": w.late_call, "id": w.p + "p-x"}) == (
        f"proposal {w.p}p-x answers call {w.call}; use a new proposal id"
    )
    assert "submitted after the deadline" in error(
        url, keys["x"], SUBMIT, {"c": w.late_call, "id": w.p + "p-l"}
    )

    # a proposer sees its own proposals only; a network partner none; the analyst all
    assert [p["id"] for p in _call(url, keys["x"], w.call)["proposals"]] == [w.p + "p-x"]
    assert [p["id"] for p in data(url, keys["n"], PROPOSALS, {"c": w.call})["designProposals"]] == [
        w.p + "raw-n"
    ]
    assert _call(url, keys["sup"], w.call)["proposals"] == []
    assert len(data(url, keys["analyst"], PROPOSALS, {"c": w.call})["designProposals"]) == 4

    # only the caller evaluates and awards, and only eligible proposals
    assert error(url, keys["x"], EVALUATE, {"c": w.call, "id": w.p + "p-x"}) == (
        f"enterprise {w.X} did not open call {w.call}"
    )
    assert error(url, keys["oem"], AWARD, {"c": w.call, "id": w.p + "raw-n"}).startswith(
        f"proposal {w.p}raw-n was refused: enterprise {w.N} lacks"
    )
    data(url, keys["oem"], EVALUATE, {"c": w.call, "id": w.p + "p-x"})
    wait_for(lambda: data(url, keys["x"], PROPOSALS, {"c": w.call})["designProposals"][0]["score"])
    data(url, keys["oem"], AWARD, {"c": w.call, "id": w.p + "p-x"})
    awarded = wait_for(
        lambda: [c for c in [_call(url, keys["oem"], w.call)] if c and c["status"] == "awarded"]
    )[0]
    assert (awarded["awardedTo"], awarded["awardRefusalReason"]) == (w.X, None)
    statuses = {p["id"]: p["status"] for p in awarded["proposals"]}
    assert statuses == {
        w.p + "p-x": "awarded",
        w.p + "raw-n": "refused",
        w.p + "raw-e": "refused",
        w.p + "raw-w": "refused",
    }
    assert _call(url, keys["x"], w.call)["awardedTo"] == w.X
    assert _call(url, keys["sup"], w.call)["awardedTo"] is None
    assert "was already awarded" in error(url, keys["oem"], AWARD, {"c": w.call, "id": w.p + "p-x"})

    # the award: X joined the project and supplies K to O (so it is in O's network now)
    project = wait_for(lambda: data(url, keys["x"], PROJECT, {"id": w.project})["designProjects"])[0]
    assert project["participants"] == [{"enterpriseId": w.X, "role": "tier1"}]
    supplied = data(url, keys["oem"], SUPPLIERS, {"id": w.O})["enterprise"]["suppliers"]
    assert {(s["partner"]["id"], s["sku"]) for s in supplied} == {(w.S, w.K), (w.X, w.K)}

    # graph.changes reports both links the award made (live risk rescores the new supplier from them)
    def award_links(msgs: list[Message]) -> set[tuple[str, str, str, str]]:
        records = [msgspec.json.decode(m.value() or b"", type=GraphChanges) for m in msgs]
        return {
            (lk.type, lk.start, lk.end, lk.change.value)
            for r in records
            for lk in r.links
            if lk.kind == CALL_AWARDS
        }

    topic = bootstrap.topic_names(own).changes
    starts = dict.fromkeys(ends(own, topic), 0)
    got = award_links(read_from(own, topic, starts, done=lambda ms: len(award_links(ms)) >= 2))
    assert got == {("COLLABORATES_ON", w.X, w.project, "created"), ("SUPPLIES", w.X, w.O, "created")}


def test_an_award_of_a_refused_proposal_sent_straight_to_kafka_takes_no_effect(
    crowd_world: tuple[CrowdWorld, str, dict[str, str], Settings],
) -> None:
    w, url, keys, own = crowd_world
    call = w.p + "call2"
    now = datetime.now(UTC)
    opened = {
        "call_id": call,
        "project_id": w.project,
        "enterprise_id": w.O,
        "task": "hinge",
        "deadline": (now + timedelta(days=3)).isoformat(),
        "capability": CAPABILITY,
    }
    proposal = {"call_id": call, "proposal_id": w.p + "c2-n", "enterprise_id": w.N, "summary": "forged hinge"}
    award = {"call_id": call, "proposal_id": w.p + "c2-n", "role": "tier2"}
    _send(
        own,
        [
            w.raw("design.call.opened", call, opened, now - timedelta(seconds=2)),
            w.raw("design.proposal.submitted", call, proposal, now - timedelta(seconds=1)),
            w.raw("design.call.awarded", call, award, now),
        ],
    )
    got = wait_for(lambda: [c for c in [_call(url, keys["oem"], call)] if c and c["awardRefusalReason"]])[0]
    assert got["awardRefusalReason"] == (
        f"proposal {w.p}c2-n was refused: enterprise {w.N} lacks the capability {CAPABILITY}"
    )
    assert (got["status"], got["awardedTo"]) == ("open", None)
    members = data(url, keys["analyst"], PROJECT, {"id": w.project})["designProjects"][0]["participants"]
    assert w.N not in {m["enterpriseId"] for m in members}


def test_change_impact_lists_open_orders_and_stock_of_the_suppliers_the_caller_may_see(
    crowd_world: tuple[CrowdWorld, str, dict[str, str], Settings],
) -> None:
    w, url, keys, _ = crowd_world
    change = w.p + "ecr"
    data(url, keys["oem"], RAISE, {"p": w.project, "c": change, "sku": w.K})

    def impact(who: str) -> list[dict[str, Any]]:
        got = data(url, keys[who], IMPACT, {"c": change})["changeImpact"]
        return [] if got is None else list(got["affectedSuppliers"])

    analyst = wait_for(lambda: [s for s in impact("analyst") if s["enterprise"]["id"] in (w.S, w.S2)])
    by_id = {s["enterprise"]["id"]: s for s in analyst}
    assert by_id[w.S2] == {
        "enterprise": {"id": w.S2},
        "sku": w.K,
        "openOrderCount": 1,
        "openQuantity": 100.0,
        "onHand": 90.0,
        "openOrders": [{"orderId": w.p + "po4", "buyerId": w.B2, "quantity": 100.0, "status": "placed"}],
        "stock": [{"facilityId": None, "onHand": 90.0, "daysOfCover": 3.0}],
    }
    assert [o["orderId"] for o in by_id[w.S]["openOrders"]] == [w.p + "po1", w.p + "po3"]  # po2 delivered

    # the owner: suppliers of its network only, orders whose both parties are in its network
    oem = {s["enterprise"]["id"]: s for s in impact("oem")}
    assert w.S2 not in oem and w.S in oem
    assert oem[w.S]["openOrders"] == [
        {"orderId": w.p + "po1", "buyerId": w.O, "quantity": 100.0, "status": "placed"}
    ]
    assert (oem[w.S]["openOrderCount"], oem[w.S]["onHand"]) == (1, 600.0)
    downstream = data(url, keys["oem"], IMPACT, {"c": change})["changeImpact"]["downstreamProducts"]
    assert downstream == [w.P]
    assert "is not a member" in error(url, keys["sup"], IMPACT, {"c": change})
