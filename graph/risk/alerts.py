"""Pure alert rules: a score crossing the alert threshold upward, or a new disruption at a node with
dependants, becomes one ``risk.alerts`` event (JSON) with severity, factors and affected downstream."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field

import orjson

from graph.risk.facts import Enterprise
from graph.risk.scoring import RiskScore
from graph.risk.settings import RiskSettings

AFFECTED_MAX = 200
"""Most downstream enterprise ids an alert lists (``affected_count`` has the full number)."""


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    severity: str  # medium, high, critical
    enterprise: str
    score: float
    previous_score: float | None
    reason: str  # "threshold" or "disruption"
    summary: str
    factors: dict[str, object]
    affected: list[str] = field(default_factory=list)
    affected_count: int = 0
    computed_at: int = 0  # epoch ms

    def to_json(self) -> bytes:
        """The ``risk.alerts`` event value (camelCase keys)."""
        d = asdict(self)
        d["previousScore"] = d.pop("previous_score")
        d["affectedCount"] = d.pop("affected_count")
        d["computedAt"] = d.pop("computed_at")
        return orjson.dumps(d)

    @classmethod
    def from_json(cls, value: bytes | str) -> Alert:
        """The alert ``to_json`` wrote."""
        d = orjson.loads(value)
        return cls(
            id=d["id"],
            severity=d["severity"],
            enterprise=d["enterprise"],
            score=d["score"],
            previous_score=d["previousScore"],
            reason=d["reason"],
            summary=d["summary"],
            factors=d["factors"],
            affected=d["affected"],
            affected_count=d["affectedCount"],
            computed_at=d["computedAt"],
        )


def severity(score: float, s: RiskSettings) -> str:
    if score >= s.severity_critical:
        return "critical"
    return "high" if score >= s.severity_high else "medium"


def _alert_id(enterprise: str, reason: str, marker: str) -> str:
    return hashlib.sha256(f"{enterprise}|{reason}|{marker}".encode()).hexdigest()[:32]


THRESHOLD_CAUSE = "threshold"
"""The alert cause of a score at or above the threshold (one per enterprise, re-armed below it)."""


def threshold_alert_id(enterprise: str, marker: str) -> str:
    """The id ``threshold_alert`` gives the alert of ``enterprise`` with ``marker``."""
    return _alert_id(enterprise, "threshold", marker)


def disruption_alert_id(enterprise: str, disruption_id: str) -> str:
    return _alert_id(enterprise, "disruption", disruption_id)


def disruption_cause(enterprise: str, disruption_id: str) -> str:
    """The cause a disruption alert of ``enterprise`` about ``disruption_id`` is claimed under (what
    ``cause_of`` gives for it): a threshold alert that names the disruption claims it too."""
    return f"alert:{disruption_alert_id(enterprise, disruption_id)}"


def cause_of(alert: Alert) -> str:
    """What an alert is about, as the risk processes claim it: ``threshold``, or ``alert:<id>`` for a
    disruption alert (its id already names the enterprise and the disruption)."""
    return THRESHOLD_CAUSE if alert.reason == "threshold" else f"alert:{alert.id}"


def threshold_alert(
    sc: RiskScore,
    before: float | None,
    s: RiskSettings,
    *,
    downstream: Callable[[str], list[str]],
    marker: str,
    computed_at_ms: int,
) -> Alert:
    """The threshold alert of ``sc``; its id is a function of (enterprise, ``marker``) only, so two
    processes raising the same crossing (same marker: the crossing's episode) send the same id."""
    eid = sc.enterprise
    down = downstream(eid)
    return Alert(
        threshold_alert_id(eid, marker),
        severity(sc.score, s),
        eid,
        round(sc.score, 4),
        None if before is None else round(before, 4),
        "threshold",
        f"risk score {sc.score:.2f} crossed {s.alert_threshold:.2f}: {sc.explanation()}",
        sc.as_dict(),
        down[:AFFECTED_MAX],
        len(down),
        computed_at_ms,
    )


def threshold_alerts(
    previous: Mapping[str, float],
    scores: Mapping[str, RiskScore],
    s: RiskSettings,
    *,
    downstream: Callable[[str], list[str]],
    computed_at_ms: int,
) -> list[Alert]:
    """One alert per node whose score went from below ``alert_threshold`` (or unknown) to at or above it.

    A node that stays above the threshold raises nothing new; it may alert again after dropping below.
    """
    out: list[Alert] = []
    for eid in sorted(scores):
        sc = scores[eid]
        before = previous.get(eid)
        if sc.score >= s.alert_threshold and (before is None or before < s.alert_threshold):
            out.append(
                threshold_alert(
                    sc,
                    before,
                    s,
                    downstream=downstream,
                    marker=str(computed_at_ms),
                    computed_at_ms=computed_at_ms,
                )
            )
    return out


def disruption_alerts(
    before: Mapping[str, Enterprise],
    after: Iterable[Enterprise],
    scores: Mapping[str, RiskScore],
    s: RiskSettings,
    *,
    downstream: Callable[[str], list[str]],
    computed_at_ms: int,
) -> list[Alert]:
    """One alert per (node, new open disruption) when the node has at least one downstream dependant."""
    out: list[Alert] = []
    for e in sorted(after, key=lambda x: x.id):
        known = {d.id for d in before[e.id].disruptions} if e.id in before else set()
        for d in e.disruptions:
            if d.id in known:
                continue
            down = downstream(e.id)
            if not down:
                continue
            sc = scores.get(e.id)
            score = sc.score if sc else 0.0
            sev = "critical" if d.severity == "critical" else severity(max(score, s.severity_high), s)
            where = {"enterprise": "at", "facility": "at a facility of", "region": "in the region of"}
            out.append(
                Alert(
                    disruption_alert_id(e.id, d.id),
                    sev,
                    e.id,
                    round(score, 4),
                    None,
                    "disruption",
                    f"{d.severity} {d.kind or ''} disruption {where.get(d.where, 'at')} {e.id}; "
                    f"{len(down)} enterprise(s) downstream depend on it".replace("  ", " "),
                    sc.as_dict() if sc else {},
                    down[:AFFECTED_MAX],
                    len(down),
                    computed_at_ms,
                )
            )
    return out
