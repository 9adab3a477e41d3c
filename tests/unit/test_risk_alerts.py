"""Alert rules and the incident workflow."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from graph.risk.alerts import disruption_alerts, threshold_alerts
from graph.risk.facts import Enterprise, OpenDisruption
from graph.risk.incidents import (
    IllegalTransition,
    IncidentNotFound,
    add_note,
    assign,
    check_transition,
    list_incidents,
    open_incident,
    open_incidents,
    transition,
)
from graph.risk.scoring import Factor, RiskScore
from graph.risk.settings import RiskSettings
from schema.tables import IncidentState

S = RiskSettings()


def score(eid: str, value: float) -> RiskScore:
    return RiskScore(eid, value, {"events": Factor(value, ("open high fire disruption at the enterprise",))})


def test_alert_only_when_the_score_crosses_the_threshold_upward() -> None:
    previous = {"up": 0.4, "stays": 0.7, "down": 0.9}
    scores = {
        "up": score("up", 0.95),
        "stays": score("stays", 0.8),
        "down": score("down", 0.3),
        "new": score("new", 0.65),
    }
    alerts = threshold_alerts(previous, scores, S, downstream=lambda e: ["b1", "b2"], computed_at_ms=5)
    assert [(a.enterprise, a.severity) for a in alerts] == [("new", "medium"), ("up", "critical")]
    up = alerts[1]
    assert up.previous_score == 0.4
    assert up.affected == ["b1", "b2"]
    assert "open high fire disruption" in up.summary
    body = orjson.loads(up.to_json())
    assert body["computedAt"] == 5
    assert body["affectedCount"] == 2
    assert body["factors"]["factors"]["events"] == 0.95


def test_disruption_alert_only_for_new_disruptions_at_nodes_with_dependants() -> None:
    d1 = OpenDisruption("d1", "high", "enterprise", 10, "fire")
    d2 = OpenDisruption("d2", "critical", "region", 30, "flood")
    before = {"a": Enterprise("a", disruptions=(d1,))}
    after = [Enterprise("a", disruptions=(d1, d2)), Enterprise("leaf", disruptions=(d1,))]
    deps = {"a": ["b"], "leaf": []}
    alerts = disruption_alerts(before, after, {}, S, downstream=lambda e: deps[e], computed_at_ms=1)
    assert [(a.enterprise, a.severity, a.reason) for a in alerts] == [("a", "critical", "disruption")]
    assert "critical flood disruption in the region of a" in alerts[0].summary


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (IncidentState.POTENTIAL, IncidentState.RESTORED),
        (IncidentState.NO_IMPACT, IncidentState.CONFIRMED),
        (IncidentState.RESTORED, IncidentState.POTENTIAL),
        (IncidentState.CONFIRMED, IncidentState.NO_IMPACT),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_error(
    current: IncidentState, to: IncidentState
) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot move from {current.value} to {to.value}"):
        check_transition(7, current, to)


def test_incident_workflow_in_the_sql_store(sql_engine: Engine) -> None:
    engine = sql_engine
    alert = threshold_alerts({}, {"a": score("a", 0.8)}, S, downstream=lambda e: ["b"], computed_at_ms=9)[0]
    with Session(engine) as session:
        inc = open_incident(session, alert=alert)
        assert open_incident(session, alert=alert).id == inc.id  # idempotent per alert
        assert inc.state == IncidentState.POTENTIAL
        assert inc.id is not None
        assign(session, incident_id=inc.id, owner="li.wei", by="lead")
        confirmed = transition(
            session, incident_id=inc.id, to=IncidentState.CONFIRMED, by="li.wei", note="mill down"
        )
        assert confirmed.owner == "li.wei"
        assert confirmed.resolved_at is None
        with pytest.raises(IllegalTransition):
            transition(session, incident_id=inc.id, to=IncidentState.NO_IMPACT)
        restored = transition(session, incident_id=inc.id, to=IncidentState.RESTORED)
        assert restored.resolved_at is not None
        add_note(session, incident_id=inc.id, note="second source qualified", by="li.wei")
        assert "potential -> confirmed: mill down" in restored.notes
        assert restored.notes.endswith("li.wei: second source qualified")
        assert [i.id for i in list_incidents(session, state=IncidentState.RESTORED)] == [inc.id]
        assert list_incidents(session, state=IncidentState.POTENTIAL) == []
        with pytest.raises(IncidentNotFound):
            transition(session, incident_id=9999, to=IncidentState.CONFIRMED)
        with pytest.raises(ValueError, match="must not be empty"):
            add_note(session, incident_id=inc.id, note="  ")


def test_many_incidents_open_in_one_transaction_and_stay_idempotent(sql_engine: Engine) -> None:
    engine = sql_engine
    scores = {f"e{i:04d}": score(f"e{i:04d}", 0.7) for i in range(1200)}  # more than one lookup chunk
    alerts = threshold_alerts({}, scores, S, downstream=lambda e: [], computed_at_ms=3)
    with Session(engine) as session:
        first = open_incident(session, alert=alerts[5])
        opened = open_incidents(session, alerts=[*alerts, alerts[0]])
        assert [i.alert_id for i in opened] == [a.id for a in [*alerts, alerts[0]]]
        assert opened[5].id == first.id  # the one opened before is returned, not duplicated
        assert opened[-1].id == opened[0].id  # a repeated alert opens one incident
        assert len({i.id for i in opened}) == 1200
        assert len(list_incidents(session, limit=1000)) == 1000
        assert [i.id for i in open_incidents(session, alerts=alerts[:3])] == [i.id for i in opened[:3]]
