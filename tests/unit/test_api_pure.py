"""Pure parts of the API: cursors, cost estimate, JWT checks, event → graph-change mapping, schema."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import parse

from api.auth import AuthError, JwtConfig, Principal, _principal_from_jwt
from api.changes import event_changes
from api.errors import ClientError, Forbidden
from api.limits import DEFAULT_FANOUT, operation_cost
from api.network import decode_cursor, encode_cursor
from api.policy import (
    COMMERCIAL_FIELDS,
    GRANTS,
    Action,
    PartnerScope,
    Policy,
    allowed_roles,
)
from api.schema import build_schema
from api.subscriptions import RiskAlertFilter, alert_matches
from graph.views import first_tiers, timeline
from schema.changes import AggregateChange, CausingEvent, Change, GraphChanges, LinkChange
from schema.tables import Role
from supplynet.commands.api import breaking_changes, schema_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_cursor_round_trips_and_refuses_another_order() -> None:
    c = encode_cursor("RISK_DESC", 0.5, "e-1")
    assert decode_cursor(c, "RISK_DESC") == (0.5, "e-1")
    with pytest.raises(ClientError, match="made for orderBy RISK_DESC"):
        decode_cursor(c, "ID")
    with pytest.raises(ClientError, match="invalid cursor"):
        decode_cursor("not-a-cursor!!", "ID")


def _cost(q: str, variables: dict[str, object] | None = None) -> int:
    schema = build_schema(production=False)._schema
    return operation_cost(schema, parse(q), None, variables or {})


def test_cost_grows_with_page_sizes_and_nested_lists() -> None:
    small = _cost("{ enterprises(first: 10) { edges { node { id } } } }")
    big = _cost("{ enterprises(first: 500) { edges { node { id } } } }")
    assert big > small * 40
    nested = _cost(
        "{ enterprises(first: 100) { edges { node { suppliers { partner { customers { sku } } } } } } }"
    )
    assert nested >= 100 * DEFAULT_FANOUT * DEFAULT_FANOUT
    via_var = _cost('query($n: Int!) { upstream(id: "x", maxNodes: $n) { nodes { id } } }', {"n": 4000})
    assert via_var > 4000


def _hs_config() -> JwtConfig:
    return JwtConfig(issuer="https://idp.example", audience="supplynet", hs256_secret="s" * 32)


def _token(claims: dict[str, object], key: object = "s" * 32, alg: str = "HS256") -> str:
    base = {"iss": "https://idp.example", "aud": "supplynet", "sub": "alice", "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, key, algorithm=alg)  # type: ignore[arg-type]


def test_jwt_hs256_roles_and_refusals() -> None:
    cfg = _hs_config()
    p = _principal_from_jwt(_token({"role": "partner", "enterprise_id": "e1"}), cfg)
    assert (p.role, p.enterprise_id, p.name) == (Role.PARTNER, "e1", "alice")
    with pytest.raises(AuthError, match="enterprise_id"):
        _principal_from_jwt(_token({"role": "partner"}), cfg)
    with pytest.raises(AuthError, match=r"(?i)issuer"):
        _principal_from_jwt(_token({"role": "admin", "iss": "https://evil"}), cfg)
    with pytest.raises(AuthError, match=r"(?i)audience"):
        _principal_from_jwt(_token({"role": "admin", "aud": "other"}), cfg)
    with pytest.raises(AuthError, match=r"(?i)expired"):
        _principal_from_jwt(_token({"role": "admin", "exp": int(time.time()) - 10}), cfg)
    with pytest.raises(AuthError, match=r"(?i)signature"):
        _principal_from_jwt(_token({"role": "admin"}, key="x" * 32), cfg)
    with pytest.raises(AuthError, match="role"):
        _principal_from_jwt(_token({"role": "root"}), cfg)


def test_jwt_rs256_and_algorithm_confusion_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    cfg = JwtConfig(issuer="https://idp.example", audience="supplynet", public_key=public_pem)
    p = _principal_from_jwt(_token({"role": "analyst"}, key=private, alg="RS256"), cfg)
    assert p.role is Role.ANALYST
    # HS256 signed with the public key text must not pass as RS256 (only RS256 is configured).
    with pytest.raises(AuthError, match="not accepted"):
        _principal_from_jwt(_token({"role": "admin"}, key="s" * 32), cfg)


def test_graph_changes_are_shown_per_causing_event_with_their_parties() -> None:
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    ev = {
        e: CausingEvent(id=e, type=t, subject="dongfeng", time=at, source="erp")
        for e, t in (("e1", "supply.agreed"), ("e2", "order.placed"))
    }
    record = GraphChanges(
        id="b/0",
        key="dongfeng",
        committed_at=at,
        events=[ev["e1"], ev["e2"]],
        aggregates=[  # an order writes records and KPI buckets only: the KPIs it moved
            AggregateChange(
                kind="supply_link",
                fields=["openOrders"],
                supplier="wisco",
                buyer="dongfeng",
                sku="HRC-Q235",
                events=["e2"],
            ),
            AggregateChange(kind="enterprise", fields=["openOrders"], enterprise="wisco", events=["e2"]),
            AggregateChange(  # the agreed link's first KPI row, in the batch that agreed it
                kind="supply_link",
                fields=["deliveries30d"],
                supplier="wisco",
                buyer="dongfeng",
                sku="HRC-Q235",
                events=["e1"],
            ),
        ],
        links=[
            LinkChange(
                kind="supplies",
                type="SUPPLIES",
                start_label="Enterprise",
                start="wisco",
                end_label="Enterprise",
                end="dongfeng",
                keys={"sku": "HRC-Q235"},
                change=Change.CREATED,
                aspects=["agreed", "validity"],
                event="e1",
                version="v1",
            )
        ],
    )
    supply, order = event_changes(record)
    assert (supply.event_id, supply.event_type, supply.committed_at) == ("e1", "supply.agreed", at)
    assert [(r.type, r.start, r.end, r.key, r.change) for r in supply.relationships] == [
        ("SUPPLIES", "wisco", "dongfeng", "HRC-Q235", "created")
    ]  # once: its own KPI row is not a second change of the link it created
    assert supply.enterprises() == {"wisco", "dongfeng"}
    assert [(r.type, r.start, r.end, r.key) for r in order.relationships] == [
        ("SUPPLIES", "wisco", "dongfeng", "HRC-Q235")
    ]
    assert [(n.label, n.key) for n in order.nodes] == [("Enterprise", "wisco")]
    assert order.enterprises() == {"wisco", "dongfeng"}  # the order's supplier and buyer


def test_alert_filter_by_severity_and_enterprise() -> None:
    a = {"enterprise": "e1", "severity": "high"}
    assert alert_matches(a, None)
    assert not alert_matches(a, RiskAlertFilter(min_severity="critical"))
    assert alert_matches(a, RiskAlertFilter(min_severity="medium"))
    assert not alert_matches(a, RiskAlertFilter(enterprise_ids=["e9"]))  # type: ignore[list-item]


def test_timeline_groups_aspects_by_event_newest_first() -> None:
    v1 = "000000000001000:0000000000:ev-a"
    v2 = "000000000002000:0000000000:ev-b"
    out = timeline([["Enterprise:x:nameV", v1], ["Enterprise:x:regionV", v1], ["SUPPLIES:s:agreedV", v2]])
    assert [e["eventId"] for e in out] == ["ev-b", "ev-a"]
    assert out[1]["writes"] == ["Enterprise:x:name", "Enterprise:x:region"]


def test_committed_schema_has_no_breaking_changes() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    found = breaking_changes(committed, schema_sdl())
    assert found == [], "breaking changes against schema.graphql:\n" + "\n".join(found)


def test_breaking_change_detection_reports_a_removed_field() -> None:
    committed = schema_sdl()
    changed = committed.replace("  totalCount: Int!\n", "", 1)
    assert any("totalCount" in line for line in breaking_changes(committed, changed))


def test_fast_path_takes_only_plain_graphql_posts() -> None:
    from api.app import _plain_request

    assert _plain_request(b'{"query": "{ a }", "variables": {"x": 1}, "operationName": "A"}') == (
        "{ a }",
        {"x": 1},
        "A",
    )
    assert _plain_request(b'{"query": "{ a }"}') == ("{ a }", None, None)
    for other in (
        b"{not json",
        b'[{"query": "{ a }"}]',  # a batch: the router refuses it
        b'{"query": ""}',
        b'{"query": 5}',
        b'{"query": "{ a }", "variables": [1]}',
        b'{"query": "{ a }", "operationName": 3}',
        b'{"query": "{ a }", "extensions": {"persistedQuery": {}}}',
    ):
        assert _plain_request(other) is None, other


# -- the policy (api/policy.py) ------------------------------------------------------------------------


class _Neighbourhood:
    """A fixed neighbourhood: own ← u1 ← u2 (upstream), own → d1 (downstream)."""

    def __init__(self) -> None:
        self.reads = 0

    async def neighbourhood_tiers(
        self, enterprise_id: str, *, tiers: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        self.reads += 1
        return {enterprise_id: 0, "u1": 1, "u2": 2}, {enterprise_id: 0, "d1": 1}


def _policy(role: Role, enterprise_id: str | None = None) -> tuple[Policy, _Neighbourhood]:
    views = _Neighbourhood()
    principal = Principal(name="t", role=role, enterprise_id=enterprise_id)
    return Policy(principal, views, partner_tiers=2), views


def test_every_action_is_granted_to_named_roles_and_refusals_name_them() -> None:
    assert set(GRANTS) == set(Action)
    assert {r for roles in GRANTS.values() for r in roles} == set(Role)
    assert allowed_roles(Action.INGEST) == [Role.ADMIN, Role.ERP]
    policy, _ = _policy(Role.ERP)
    with pytest.raises(Forbidden, match=r"^role erp may not do this \(allowed: admin, analyst, partner\)$"):
        policy.require(Action.READ_NETWORK)
    with pytest.raises(Forbidden, match="authentication required"):
        Policy(None, _Neighbourhood(), partner_tiers=2).require(Action.READ_NETWORK)


def test_partner_scope_is_read_once_and_checked_where_enterprises_are_resolved() -> None:
    policy, views = _policy(Role.PARTNER, "own")
    with pytest.raises(Forbidden, match="scope not loaded"):
        policy.sees("u1")  # fails closed: a field reached without authorize() sees nothing
    asyncio.run(policy.authorize(Action.READ_NETWORK))
    asyncio.run(policy.authorize(Action.READ_NETWORK))
    assert views.reads == 1
    assert [policy.sees(e) for e in ("own", "u1", "u2", "d1", "sibling")] == [True, True, True, True, False]
    with pytest.raises(Forbidden, match=r"^enterprise far is outside your network \(2 tiers around own\)$"):
        asyncio.run(policy.check_in_scope("far"))
    theirs = {"supplierId": "u2", "buyerId": "u1", "share": 0.5, "unitPrice": 9.0, "currency": "CNY"}
    assert policy.redact_link(theirs) == list(COMMERCIAL_FIELDS)
    assert (theirs["share"], theirs["unitPrice"], theirs["currency"]) == (None, None, None)
    mine = {"supplierId": "u1", "buyerId": "own", "share": 0.5}
    assert policy.redact_link(mine) == []
    assert mine["share"] == 0.5
    nodes, edges = policy.restrict_network(
        [{"id": "u1"}, {"id": "sibling"}],
        [{"supplierId": "u1", "buyerId": "sibling"}, {"supplierId": "u1", "buyerId": "own", "share": 1.0}],
    )
    assert (nodes, edges) == ([{"id": "u1"}], [{"supplierId": "u1", "buyerId": "own", "share": 1.0}])
    analyst, reads = _policy(Role.ANALYST)
    assert analyst.sees("anything") and analyst.visible_ids() is None and reads.reads == 0


def test_scope_grows_with_new_links_only_within_the_partner_tiers() -> None:
    scope = PartnerScope("own", 2, {"own": 0, "u1": 1, "u2": 2}, {"own": 0, "d1": 1})
    assert "n1" in scope.with_link("n1", "u1")  # a new supplier of tier 1 is tier 2
    assert "n2" not in scope.with_link("n2", "u2")  # of tier 2: tier 3, beyond
    assert "n3" in scope.with_link("d1", "n3")  # a new buyer of downstream tier 1
    assert scope.with_link("x", "y") is scope
    assert first_tiers("own", [["a", "b"], ["b", "c"]]) == {"own": 0, "a": 1, "b": 1, "c": 2}


def test_partner_reads_alerts_of_its_network_and_factors_of_its_own_enterprise_only() -> None:
    policy, _ = _policy(Role.PARTNER, "own")
    asyncio.run(policy.authorize(Action.SUBSCRIBE))
    alert = {
        "enterprise": "u1",
        "score": 0.8,
        "reason": "threshold",
        "summary": "otif 0.41",
        "factors": {"x": 1},
    }
    assert policy.alert_view({**alert, "enterprise": "far"}) is None
    other, hidden = policy.alert_view(alert) or ({}, [])
    assert (other["factors"], hidden) == (None, ["factors", "summary"])
    assert "0.41" not in other["summary"]
    own, hidden = policy.alert_view({**alert, "enterprise": "own"}) or ({}, [])
    assert (own["factors"], own["summary"], hidden) == ({"x": 1}, "otif 0.41", [])
