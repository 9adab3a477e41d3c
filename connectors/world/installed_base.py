"""A generated installed base: makers' equipment at customers' plants, with telemetry, alarms and
maintenance over ``days``, and planted degrading equipment that fails on a known day.

Deterministic by seed. Healthy equipment reports readings well inside its bands (a rare spike) and a
rare low alarm; a planted one starts to degrade ``ramp_days`` before its failure day: the share of its
readings beyond the vibration band and its alarm rate grow until the failure day, when a
``disruption``-worthy stop would happen (the manifest names it; nothing after it is generated).
See docs/service.md.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from connectors.world.history import Event

METRICS = (("vibration-rms", 7.1, "mm/s", 3.5, 0.5), ("bearing-temp", 95.0, "degC", 62.0, 4.0))
"""(metric, high limit, unit, healthy mean, healthy standard deviation)."""

SOURCE = "mes/installed-base"


@dataclass
class InstalledBase:
    """What ``generate_installed_base`` makes: the parties, the equipment and the planted failures."""

    prefix: str
    start: date
    days: int
    makers: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    equipment: dict[str, tuple[str, str]] = field(default_factory=dict)
    """equipment id -> (maker, customer)."""
    failures: dict[str, date] = field(default_factory=dict)
    """Planted: equipment id -> the day it fails."""

    def healthy(self) -> list[str]:
        return sorted(set(self.equipment) - set(self.failures))


def _envelope(eid: str, type_: str, subject: str, at: datetime, data: dict[str, Any], seq: int = 0) -> Event:
    doc = {
        "specversion": "1.0",
        "id": eid,
        "source": SOURCE,
        "type": type_,
        "time": at.isoformat(),
        "subject": subject,
        "sequence": seq,
        "data": data,
    }
    return Event(subject, orjson.dumps(doc))


def generate_installed_base(
    *,
    prefix: str,
    makers: int = 2,
    customers: int = 3,
    equipment: int = 8,
    degrading: int = 2,
    days: int = 40,
    readings_per_day: int = 24,
    ramp_days: int = 12,
    seed: int = 16,
    end: date | None = None,
) -> tuple[InstalledBase, Iterator[Event]]:
    """The installed base and its events in time order (master data first). ``degrading`` of the
    ``equipment`` fail in the last third of ``days``."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible synthetic world, not a secret)
    last = end or datetime.now(UTC).date() - timedelta(days=1)
    base = InstalledBase(prefix, last - timedelta(days=days - 1), days)
    base.makers = [f"{prefix}maker-{i}" for i in range(makers)]
    base.customers = [f"{prefix}plant-{i}" for i in range(customers)]
    for i in range(equipment):
        base.equipment[f"{prefix}eq-{i:03d}"] = (base.makers[i % makers], base.customers[i % customers])
    for i, eq in enumerate(sorted(base.equipment)[:degrading]):
        base.failures[eq] = base.start + timedelta(days=days - 1 - (i * 3) % max(1, days // 3))
    return base, _events(base, rng, readings_per_day, ramp_days)


def _events(base: InstalledBase, rng: random.Random, per_day: int, ramp_days: int) -> Iterator[Event]:
    p = base.prefix
    t0 = datetime.combine(base.start, datetime.min.time(), UTC) - timedelta(days=1)
    for e in base.makers + base.customers:
        industry = "machinery" if e in base.makers else "steel"
        yield _envelope(
            f"{e}-reg", "partner.registered", e, t0, {"enterprise_id": e, "name": e, "industry": industry}
        )
    for c in base.customers:
        fac = f"{c}-site"
        data: dict[str, Any] = {
            "facility_id": fac,
            "enterprise_id": c,
            "name": fac,
            "kind": "plant",
            "region": "湖北省 武汉市",
        }
        yield _envelope(f"{fac}-reg", "facility.registered", c, t0, data)
    sold = sorted({pair for pair in base.equipment.values()})
    for m, c in sold:
        data = {
            "supplier_id": m,
            "buyer_id": c,
            "sku": f"{p}EAF-100T",
            "share": 1.0,
            "lead_time_days": 90,
        }
        yield _envelope(f"{m}-{c}-agreed", "supply.agreed", c, t0, data)
    for eq, (m, c) in sorted(base.equipment.items()):
        data = {
            "equipment_id": eq,
            "maker_id": m,
            "customer_id": c,
            "sku": f"{p}EAF-100T",
            "serial": f"SN-{eq}",
            "installed_on": (base.start - timedelta(days=400)).isoformat(),
            "facility_id": f"{c}-site",
            "limits": [{"metric": name, "high": high, "unit": unit} for name, high, unit, _, _ in METRICS],
        }
        yield _envelope(f"{eq}-installed", "equipment.installed", c, t0, data)
    step = timedelta(days=1) / per_day
    for d in range(base.days):
        day = base.start + timedelta(days=d)
        for k in range(per_day):
            at = datetime.combine(day, datetime.min.time(), UTC) + step * k
            for eq, (_, c) in sorted(base.equipment.items()):
                fails = base.failures.get(eq)
                if fails is not None and day >= fails:
                    continue  # failed: it reports nothing more
                wear = 0.0
                if fails is not None:
                    wear = max(0.0, 1.0 - (fails - day).days / ramp_days)  # 0 -> 1 over the ramp
                if k == 0:
                    yield from _maintenance(eq, c, day, d, fails, at)
                yield from _readings(eq, c, at, wear, rng, f"{eq}-{d}-{k}")
                if (
                    rng.random() < (0.05 + 3.0 * wear * wear) / per_day
                ):  # alarms a day: 0.05 healthy, 3 failing
                    severity = "high" if wear > 0.5 else "medium" if wear > 0 else "low"
                    data = {
                        "alarm_id": f"{eq}-alarm-{d}-{k}",
                        "enterprise_id": c,
                        "equipment_id": eq,
                        "facility_id": f"{c}-site",
                        "signal": "vibration",
                        "severity": severity,
                    }
                    yield _envelope(f"{eq}-alarm-{d}-{k}", "equipment.alarm", c, at, data)


def _readings(
    eq: str, customer: str, at: datetime, wear: float, rng: random.Random, key: str
) -> Iterator[Event]:
    for name, high, unit, mean, sd in METRICS:
        value = rng.gauss(mean, sd)
        if rng.random() < 0.002:  # a rare spike on healthy equipment
            value = high * 1.05
        if wear > 0 and rng.random() < 0.7 * wear:  # degrading: more and more readings beyond the band
            value = high * (1.0 + 0.2 * wear)
        data = {
            "equipment_id": eq,
            "customer_id": customer,
            "metric": name,
            "value": round(value, 3),
            "unit": unit,
        }
        yield _envelope(f"{key}-{name}", "equipment.telemetry", customer, at, data)


def _maintenance(
    eq: str, customer: str, day: date, d: int, fails: date | None, at: datetime
) -> Iterator[Event]:
    """A routine inspection of healthy equipment on day 5 (requested, scheduled, completed); an open
    request on degrading equipment two days before it fails (the operator heard it)."""
    ref = {"equipment_id": eq, "customer_id": customer}
    if fails is None and d == 5:
        wo = f"{eq}-WO-routine"
        yield _envelope(
            f"{wo}-req",
            "maintenance.requested",
            customer,
            at,
            {**ref, "work_order_id": wo, "reason": "routine"},
        )
        yield _envelope(
            f"{wo}-sch",
            "maintenance.scheduled",
            customer,
            at,
            {**ref, "work_order_id": wo, "scheduled_for": day.isoformat(), "technician": "service team"},
        )
        done = {**ref, "work_order_id": wo, "completed_on": day.isoformat(), "findings": "all within limits"}
        yield _envelope(f"{wo}-done", "maintenance.completed", customer, at, done)
    if fails is not None and day == fails - timedelta(days=2):
        wo = f"{eq}-WO-noise"
        data = {**ref, "work_order_id": wo, "reason": "operator reports noise", "priority": "high"}
        yield _envelope(f"{wo}-req", "maintenance.requested", customer, at, data)
