"""Collaborative design by the partners themselves on the real stack: mutations through the ingest path
to Kafka, the worker projecting them, answers through GraphQL — and partners reaching past their
projects or network refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from api.keys import create_key
from connectors.kafka import Record
from schema.tables import Role
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.test_api import data, error
from tests.integration.worker_proc import own_topics, running_worker, spawn_api, stop

pytestmark = pytest.mark.timeout(300)

HASH = "sha256:" + "ab" * 32

PROJECTS = """query($id: ID) { designProjects(id: $id) { id name ownerId participants { enterpriseId role }
  revisions { id label uri contentHash changes { sku change qty } }
  changeRequests { id reason affectedSkus status answeredBy answerNote } } }"""

CREATE = """mutation($p: String!, $n: String!, $o: ID) {
  createDesignProject(projectId: $p, name: $n, ownerId: $o) }"""
INVITE = """mutation($p: String!, $e: ID!) {
  inviteDesignPartner(projectId: $p, enterpriseId: $e, role: "material-supplier") }"""
PUBLISH = """mutation($p: String!, $r: String!, $h: String!, $sku: String!) {
  publishDesignRevision(projectId: $p, revisionId: $r, label: "R1", uri: "https://plm.example.com/r1.zip",
    contentHash: $h, changes: [{sku: $sku, change: "modified", qty: 0.4}]) }"""
RAISE = """mutation($p: String!, $c: String!, $sku: String!) {
  raiseChangeRequest(projectId: $p, changeId: $c, affectedSkus: [$sku], reason: "yield strength") }"""
ANSWER = (
    """mutation($c: String!) { answerChangeRequest(changeId: $c, decision: "accepted", note: "line 2") }"""
)
IMPACT = """query($c: ID!) {
  changeImpact(changeRequestId: $c) { projectId affectedSkus suppliers { id name } } }"""
SUPPLIED = """query($id: ID!) { enterprise(id: $id) { suppliers { sku } } }"""


class DesignWorld:
    """OEM O buys sku K from supplier S; X is registered apart (outside O's and S's networks)."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-dc-"
        self.p = p
        self.O, self.S, self.X = p + "oem", p + "sup", p + "out"
        self.K = p + "sheet"
        self.project = p + "ev1"
        t = datetime.now(UTC) - timedelta(minutes=5)
        evs: list[dict[str, Any]] = []

        def add(kind: str, subject: str, d: dict[str, Any]) -> None:
            evs.append(envelope(eid=f"{p}{len(evs)}", type_=kind, subject=subject, time=t, data=d))

        for eid in (self.O, self.S, self.X):
            add(
                "partner.registered",
                eid,
                {"enterprise_id": eid, "name": f"设计 {eid[-3:]}", "industry": "automotive"},
            )
        add(
            "supply.agreed",
            self.O,
            {"supplier_id": self.S, "buyer_id": self.O, "sku": self.K, "share": 1.0, "lead_time_days": 9},
        )
        self.events = evs


@pytest.fixture(scope="module")
def design_world(
    stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DesignWorld, str, dict[str, str]]]:
    run_id = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("design")
    own = own_topics(stack, f"dctest-{run_id}.")
    w = DesignWorld(run_id)
    producer = bootstrap.producer(own, bootstrap.topic_names(own).raw)
    producer.send_many([Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in w.events])
    producer.close()
    engine = bootstrap.sql_engine(own)
    keys = {
        "analyst": create_key(engine, name=f"{run_id}-dc-analyst", role=Role.ANALYST)[1],
        "oem": create_key(engine, name=f"{run_id}-dc-oem", role=Role.PARTNER, enterprise_id=w.O)[1],
        "sup": create_key(engine, name=f"{run_id}-dc-sup", role=Role.PARTNER, enterprise_id=w.S)[1],
        "out": create_key(engine, name=f"{run_id}-dc-out", role=Role.PARTNER, enterprise_id=w.X)[1],
    }
    with running_worker(own, f"supplynet-test-dc-{run_id}", logs / "worker.log"):
        server, url = spawn_api(own, logs / "api.log", SUPPLYNET_STREAM__TOPIC_PREFIX=own.stream.topic_prefix)
        try:
            wait_for(lambda: data(url, keys["analyst"], SUPPLIED, {"id": w.O})["enterprise"])
            yield w, url, keys
        finally:
            stop(server)


def wait_for(found: Callable[[], Any], seconds: float = 90) -> Any:
    """Poll until ``found()`` is truthy (the worker projected what was sent); its last value."""
    deadline = time.monotonic() + seconds
    got = found()
    while not got and time.monotonic() < deadline:
        time.sleep(0.5)
        got = found()
    assert got, "never projected"
    return got


def _project(url: str, token: str, project_id: str) -> dict[str, Any] | None:
    rows = data(url, token, PROJECTS, {"id": project_id})["designProjects"]
    return rows[0] if rows else None


def test_partners_design_together_through_the_event_path_and_nobody_else_sees_it(
    design_world: tuple[DesignWorld, str, dict[str, str]],
) -> None:
    w, url, keys = design_world
    pid = w.project
    assert data(url, keys["oem"], CREATE, {"p": pid, "n": "EV1 车身"})["createDesignProject"].startswith(
        "api-"
    )
    created = wait_for(lambda: _project(url, keys["oem"], pid))
    assert (created["ownerId"], created["name"]) == (w.O, "EV1 车身")

    # another partner: not its project, not its network
    assert data(url, keys["out"], PROJECTS, {"id": pid})["designProjects"] == []
    assert error(url, keys["out"], CREATE, {"p": pid, "n": "hijack"}) == (
        f"design project {pid} is owned by another enterprise"
    )
    assert error(url, keys["out"], RAISE, {"p": pid, "c": w.p + "ecr-x", "sku": w.K}) == (
        f"enterprise {w.X} is not a member of design project {pid}"
    )
    assert "is outside your network" in error(url, keys["oem"], INVITE, {"p": pid, "e": w.X})
    assert error(url, keys["sup"], INVITE, {"p": pid, "e": w.O}) == (
        f"enterprise {w.S} is not the owner of design project {pid}"
    )
    assert "may not do this" in error(url, keys["analyst"], CREATE, {"p": pid, "n": "x"})

    data(url, keys["oem"], INVITE, {"p": pid, "e": w.S})
    wait_for(lambda: (_project(url, keys["sup"], pid) or {}).get("participants"))

    bad = error(url, keys["sup"], PUBLISH, {"p": pid, "r": w.p + "r0", "h": "md5:abc", "sku": w.K})
    assert bad.startswith("event refused: $.data.content_hash")
    data(url, keys["sup"], PUBLISH, {"p": pid, "r": w.p + "r1", "h": HASH, "sku": w.K})
    change = w.p + "ecr-1"
    data(url, keys["oem"], RAISE, {"p": pid, "c": change, "sku": w.K})
    wait_for(lambda: (_project(url, keys["sup"], pid) or {}).get("changeRequests"))
    data(url, keys["sup"], ANSWER, {"c": change})
    seen = wait_for(
        lambda: [
            p
            for p in [_project(url, keys["oem"], pid)]
            if p and p["changeRequests"] and p["changeRequests"][0]["status"] and p["revisions"]
        ]
    )[0]
    assert seen["revisions"] == [
        {
            "id": w.p + "r1",
            "label": "R1",
            "uri": "https://plm.example.com/r1.zip",
            "contentHash": HASH,
            "changes": [{"sku": w.K, "change": "modified", "qty": 0.4}],
        }
    ]
    assert seen["changeRequests"] == [
        {
            "id": change,
            "reason": "yield strength",
            "affectedSkus": [w.K],
            "status": "accepted",
            "answeredBy": w.S,
            "answerNote": "line 2",
        }
    ]
    assert seen["participants"] == [{"enterpriseId": w.S, "role": "material-supplier"}]

    impact = data(url, keys["sup"], IMPACT, {"c": change})["changeImpact"]
    assert impact["suppliers"] == [{"id": w.S, "name": f"设计 {w.S[-3:]}"}]
    assert "is not a member" in error(url, keys["out"], IMPACT, {"c": change})
    assert data(url, keys["analyst"], PROJECTS, {"id": pid})["designProjects"][0]["ownerId"] == w.O
