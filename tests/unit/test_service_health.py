"""The equipment health indicator and the service job's table: pure, event-time based."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from graph.health import DAY_MS, Band, Health, HealthSettings
from graph.service import health_rows
from schema.envelope import ValidEvent
from schema.events import CATALOG
from streams.service import Table

S = HealthSettings()
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def ev(type_: str, at_s: float, **data: Any) -> ValidEvent:
    payload = msgspec.convert(data, CATALOG[type_])
    return ValidEvent(
        id=f"{type_}-{at_s}",
        source="mes",
        type=type_,
        time=T0 + timedelta(seconds=at_s),
        subject=str(getattr(payload, payload.SUBJECT)),
        sequence=0,
        data=payload,
    )


def installed(eq: str = "eq-1") -> ValidEvent:
    return ev(
        "equipment.installed",
        0,
        equipment_id=eq,
        maker_id="sany",
        customer_id="wisco",
        sku="EAF-100T",
        serial=f"SN-{eq}",
        installed_on="2024-05-20",
        facility_id="wisco-qingshan",
        limits=[{"metric": "vibration", "high": 7.0}],
    )


def reading(value: float, at_s: float, eq: str = "eq-1") -> ValidEvent:
    return ev(
        "equipment.telemetry", at_s, equipment_id=eq, customer_id="wisco", metric="vibration", value=value
    )


def test_readings_inside_the_band_keep_full_health_and_raise_nothing() -> None:
    t = Table(S)
    t.apply(installed())
    alerts = [t.apply(reading(4.0 + (i % 5) * 0.5, i * 60)) for i in range(2000)]
    assert not any(alerts)
    sc = t.equipment["eq-1"].score(S)
    assert (sc.health, sc.status, sc.exceedance) == (1.0, "ok", 0.0)


def test_a_growing_share_of_crossings_raises_one_alert_naming_the_metric() -> None:
    t = Table(S)
    t.apply(installed())
    alerts = []
    for i in range(30 * 24):  # 30 days, hourly; from day 10 a growing share of readings is beyond 7.0
        day = i / 24
        over = day > 10 and (i * 37) % 100 < (day - 10) * 5  # spread evenly over the hours
        a = t.apply(reading(9.0 if over else 5.0, i * 3600))
        if a is not None:
            alerts.append((day, a))
    assert len(alerts) == 1
    day, a = alerts[0]
    assert 10 < day < 30
    assert a.id == "eq-1:1" and a.maker_id == "sany" and a.customer_id == "wisco"
    assert a.worst_metric == "vibration" and "vibration outside its band (high 7)" in a.reason
    assert a.health < S.alert_below


def test_alarm_rate_is_per_day_and_halves_every_half_life() -> None:
    h = Health("eq-1")
    for i in range(200):  # 4 high alarms a day for 50 days: the rate converges to ~4 a day
        h.alarm("high", i * DAY_MS // 4 + 1, S)
    assert 3.6 < h.alarm_rate < 4.4
    rate = h.alarm_rate
    h.reading("x", 0.0, 50 * DAY_MS + int(S.alarm_half_life_days * DAY_MS), S)
    assert abs(h.alarm_rate - rate / 2) < 0.3


def test_restoring_maintenance_resets_and_rearms() -> None:
    t = Table(S)
    t.apply(installed())
    first = [t.apply(reading(9.0, i * 60)) for i in range(100)]
    assert sum(a is not None for a in first) == 1
    t.apply(
        ev(
            "maintenance.completed",
            100 * 60,
            work_order_id="WO-1",
            equipment_id="eq-1",
            customer_id="wisco",
            completed_on="2026-05-01",
            findings="bearing replaced",
        )
    )
    assert t.equipment["eq-1"].score(S).health == 1.0
    again = [t.apply(reading(9.0, 100 * 60 + i * 60)) for i in range(100)]
    assert [a.id for a in again if a is not None] == ["eq-1:2"]


def test_the_checkpoint_restores_the_same_indicator() -> None:
    t = Table(S)
    t.apply(installed())
    for i in range(500):
        t.apply(reading(9.0 if i % 3 == 0 else 5.0, i * 600))
    h = t.equipment["eq-1"]
    rows = health_rows([h], S, flushed_ms=1, sequence=1).kind("equipment")
    assert len(rows) == 1
    # restored where the projection has not stored the installation yet: no bands, no parties
    copy = Health("eq-1")
    copy.load_state(rows[0]["healthState"], rows[0]["readings"])
    assert copy.score(S) == h.score(S)
    assert (copy.alerted, copy.episode, copy.readings) == (h.alerted, h.episode, 500)
    assert copy.bands == {"vibration": Band(None, 7.0)}
    assert (copy.maker_id, copy.customer_id, copy.facility_id) == ("sany", "wisco", "wisco-qingshan")


def test_a_batch_of_readings_changes_one_row_per_equipment() -> None:
    t = Table(S)
    for eq in ("eq-1", "eq-2"):
        t.apply(installed(eq))
        for i in range(1000):
            t.apply(reading(5.0, i, eq))
    rows = health_rows(t.take_changed(), S, flushed_ms=1, sequence=1)
    assert len(rows) == 2
    assert t.take_changed() == []


def test_equipment_in_service_alert_is_a_small_events_part_of_risk_with_its_reason() -> None:
    from graph.risk.facts import Enterprise, Facility
    from graph.risk.scoring import events, facility_score
    from graph.risk.settings import RiskSettings

    rs = RiskSettings()
    assert events(Enterprise("wisco"), rs).value == 0.0
    ev = events(Enterprise("wisco", failing_equipment=1), rs)
    assert ev.value == pytest.approx(rs.failing_equipment_weight)
    assert ev.reasons == ("1 installed equipment in service alert (predictive maintenance)",)
    assert events(Enterprise("wisco", failing_equipment=2), rs).value > ev.value
    plant = facility_score(Facility("wisco-qingshan", failing_equipment=1), None, rs)
    assert plant.score > 0 and any("service alert" in r for r in plant.factors["events"].reasons)
