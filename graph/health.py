"""The health indicator of installed equipment: simple, explainable, computed in the stream. Pure.

Two parts, each in [0, 1], combined like the risk model's factors (noisy-or, docs/service.md):

- **alarm pressure** ``a = min(1, alarm_rate / alarm_rate_limit)``: ``alarm_rate`` is an exponentially
  weighted rate of ``equipment.alarm`` events per day (severity-weighted: low 0.25, medium 0.5, high 1,
  critical 2) with half-life ``alarm_half_life_days``: a steady k alarms a day converge to k a day;
  with none it halves every half-life.
- **threshold crossings** ``x = min(1, exceedance / exceedance_limit)``: for each metric with a band
  (``equipment.installed`` limits), the exponentially weighted share of its readings outside the band
  (half-life ``exceedance_half_life_days``), independent of how often the equipment reports;
  ``exceedance`` is the worst metric's share.

``health = (1 - a) * (1 - x)``: 1 is as new, 0 is failing. Status ``alert`` below ``alert_below``
(a service alert is raised once per episode), ``watch`` below ``rearm_above``, else ``ok``; an alerted
equipment is re-armed when its health is back at ``rearm_above`` or a ``maintenance.completed`` that
``restored`` it resets both parts. Time is event time, so a replay computes the same health.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, Field

DAY_MS = 86_400_000

SEVERITY_WEIGHT = {"low": 0.25, "medium": 0.5, "high": 1.0, "critical": 2.0}
"""How much one alarm of each severity adds to the alarm rate."""


class HealthSettings(BaseModel):
    """The health indicator's knobs (docs/service.md)."""

    alarm_half_life_days: float = Field(3.0, gt=0, description="Half-life of the alarm rate (days)")
    alarm_rate_limit: float = Field(
        2.0, gt=0, description="Severity-weighted alarms per day at which alarm pressure is 1"
    )
    exceedance_half_life_days: float = Field(
        1.0, gt=0, description="Half-life of a metric's share of readings outside its band (days)"
    )
    exceedance_limit: float = Field(
        0.25, gt=0, le=1, description="Share of readings outside the band at which crossings are 1"
    )
    min_readings: float = Field(
        5.0, ge=0, description="Weighted readings a metric needs before its share of crossings counts"
    )
    alert_below: float = Field(0.3, gt=0, lt=1, description="A service alert is raised below this health")
    rearm_above: float = Field(0.6, gt=0, le=1, description="An alerted equipment is re-armed at this health")
    flush_seconds: float = Field(
        2.0, gt=0, description="How often the service job writes changed health rows (with its offsets)"
    )
    batch_size: int = Field(5000, ge=1, description="Most events the service job reads in one batch")


@dataclass
class Band:
    low: float | None
    high: float | None

    def outside(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (self.high is not None and value > self.high)


@dataclass
class MetricShare:
    """Exponentially weighted counts of one metric's readings and of those outside its band."""

    outside: float = 0.0
    total: float = 0.0


@dataclass
class Health:
    """One equipment's indicator state (what the service job keeps and checkpoints in the graph)."""

    equipment_id: str
    maker_id: str | None = None
    customer_id: str | None = None
    facility_id: str | None = None
    bands: dict[str, Band] = field(default_factory=dict)
    alarm_rate: float = 0.0
    shares: dict[str, MetricShare] = field(default_factory=dict)
    at_ms: int = 0
    """Event time the decayed values are as of."""
    readings: int = 0
    alerted: bool = False
    episode: int = 0
    last_event_id: str = ""

    # -- updates ----------------------------------------------------------------------------------

    def _decay_to(self, t_ms: int, s: HealthSettings) -> None:
        if t_ms <= self.at_ms:
            return
        days = (t_ms - self.at_ms) / DAY_MS
        if self.at_ms:
            self.alarm_rate *= 0.5 ** (days / s.alarm_half_life_days)
            f = 0.5 ** (days / s.exceedance_half_life_days)
            for m in self.shares.values():
                m.outside *= f
                m.total *= f
        self.at_ms = t_ms

    def reading(self, metric: str, value: float, t_ms: int, s: HealthSettings) -> None:
        """Count one reading at event time ``t_ms`` (a late reading counts as of the latest time)."""
        self._decay_to(t_ms, s)
        self.readings += 1
        band = self.bands.get(metric)
        if band is None:
            return
        m = self.shares.setdefault(metric, MetricShare())
        m.total += 1.0
        if band.outside(value):
            m.outside += 1.0

    def alarm(self, severity: str, t_ms: int, s: HealthSettings) -> None:
        """Add one alarm to the exponentially weighted rate (per day)."""
        self._decay_to(t_ms, s)
        self.alarm_rate += SEVERITY_WEIGHT.get(severity, 0.5) * math.log(2) / s.alarm_half_life_days

    def restored(self, t_ms: int, s: HealthSettings) -> None:
        """Maintenance restored the equipment: both parts start again from zero, the alert re-arms."""
        self._decay_to(t_ms, s)
        self.alarm_rate = 0.0
        self.shares = {k: MetricShare() for k in self.shares}
        self.alerted = False

    def installed(
        self, maker_id: str, customer_id: str, facility_id: str | None, bands: dict[str, Band]
    ) -> None:
        self.maker_id, self.customer_id, self.facility_id = maker_id, customer_id, facility_id
        self.bands = bands

    # -- the indicator ----------------------------------------------------------------------------

    def worst_metric(self, s: HealthSettings) -> tuple[str | None, float]:
        worst: tuple[str | None, float] = (None, 0.0)
        for name in sorted(self.shares):
            m = self.shares[name]
            if m.total >= max(s.min_readings, 1e-9) and m.outside / m.total > worst[1]:
                worst = (name, m.outside / m.total)
        return worst

    def _health(self, share: float, s: HealthSettings) -> tuple[float, float, float]:
        """(health, alarm pressure, threshold crossings), unrounded."""
        a = min(1.0, self.alarm_rate / s.alarm_rate_limit)
        x = min(1.0, share / s.exceedance_limit)
        return (1.0 - a) * (1.0 - x), a, x

    def score(self, s: HealthSettings) -> Score:
        metric, share = self.worst_metric(s)
        health, a, x = self._health(share, s)
        status = "alert" if health < s.alert_below else "watch" if health < s.rearm_above else "ok"
        reasons = []
        if a > 0.005:
            reasons.append(f"alarm rate {self.alarm_rate:.2f}/day (limit {s.alarm_rate_limit:g})")
        band = self.bands.get(metric) if metric is not None else None
        if band is not None and x > 0.005:
            bounds = " ".join(
                p
                for p in (
                    f"low {band.low:g}" if band.low is not None else "",
                    f"high {band.high:g}" if band.high is not None else "",
                )
                if p
            )
            reasons.append(f"{metric} outside its band ({bounds}) in {share:.0%} of readings")
        return Score(
            round(health, 4), status, round(self.alarm_rate, 4), round(share, 4), metric, "; ".join(reasons)
        )

    def step_alert(self, s: HealthSettings) -> Score | None:
        """The score if it raises a new alert (and mark the episode), else ``None``; re-arms when the
        health is back at ``rearm_above``. Called for every event: the score's words are made only
        for an alert (the same decisions as ``score``'s rounded health and status)."""
        health, _, _ = self._health(self.worst_metric(s)[1], s)
        if self.alerted and round(health, 4) >= s.rearm_above:
            self.alerted = False
        if not self.alerted and health < s.alert_below:
            self.alerted = True
            self.episode += 1
            return self.score(s)
        return None

    # -- checkpoint -------------------------------------------------------------------------------

    def state_json(self) -> str:
        """What a restarted job needs to continue exactly (the graph's ``healthState``)."""
        return orjson.dumps(
            {
                "alarmRate": self.alarm_rate,
                "shares": {k: [m.outside, m.total] for k, m in self.shares.items()},
                "atMs": self.at_ms,
                "alerted": self.alerted,
                "episode": self.episode,
                "bands": {k: [b.low, b.high] for k, b in self.bands.items()},
                "parties": [self.maker_id, self.customer_id, self.facility_id],
            }
        ).decode()

    def load_state(self, text: str | None, readings: int | None) -> None:
        if not text:
            return
        d: dict[str, Any] = orjson.loads(text)
        self.alarm_rate = float(d.get("alarmRate", 0.0))
        self.shares = {k: MetricShare(float(v[0]), float(v[1])) for k, v in d.get("shares", {}).items()}
        self.at_ms = int(d.get("atMs", 0))
        self.alerted = bool(d.get("alerted", False))
        self.episode = int(d.get("episode", 0))
        self.readings = int(readings or 0)
        # What the job learnt from equipment.installed, whether or not the projection has stored it yet.
        if "bands" in d:
            self.bands = {k: Band(v[0], v[1]) for k, v in d["bands"].items()}
        if "parties" in d:
            maker, customer, facility = d["parties"]
            self.maker_id = maker or self.maker_id
            self.customer_id = customer or self.customer_id
            self.facility_id = facility or self.facility_id


@dataclass(frozen=True)
class Score:
    """The indicator at one time: health in [0, 1], status, its two inputs and the reason in words."""

    health: float
    status: str
    alarm_rate: float
    exceedance: float
    worst_metric: str | None
    reason: str


def bands_of(limits_json: str | None) -> dict[str, Band]:
    """Metric -> band, from the graph's ``Equipment.limits`` (or an event's limits as JSON)."""
    if not limits_json:
        return {}
    return {str(x["metric"]): Band(x.get("low"), x.get("high")) for x in orjson.loads(limits_json)}
