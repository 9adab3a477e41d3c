"""A realistic, deterministic event mix for benchmarks and projection tests.

Master data first (enterprises, materials, facilities, supply links, certificates, BOMs, design
projects), then order lifecycles (placed, confirmed, shipped, sometimes delayed, delivered or
cancelled) interleaved by event time with inventory, capacity, quality, alarms, disruptions and
partner updates. Shares of the events (100,000 over 2,000 enterprises): the flow ≈ 74% (order
lifecycles 39%, stock reports 16%, capacity 9%, quality incidents 6%, alarms 5%), network changes ≈
26% (supply agreements and ends 10%, partner updates 6%, disruptions reported or resolved 6%, other
master data 4%). Capacity is reported by a supplier for a sku it supplies, stock by a buyer for a sku
it buys. Every business id starts with ``prefix`` so a run's data can be found and deleted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

INDUSTRIES = ("steel", "petrochemical", "non-ferrous", "chemical", "machinery", "automotive", "electronics")
REGIONS = tuple(
    f"{p} {c}"
    for p, c in [
        ("湖北省", "武汉市"),
        ("湖北省", "黄石市"),
        ("湖北省", "襄阳市"),
        ("湖北省", "宜昌市"),
        ("湖北省", "荆门市"),
        ("湖北省", "十堰市"),
        ("湖南省", "长沙市"),
        ("河南省", "郑州市"),
        ("江西省", "九江市"),
        ("安徽省", "合肥市"),
    ]
)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Event:
    key: bytes
    value: bytes
    time_ms: int
    type: str
    data: dict[str, Any]
    id: str


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


class _Gen:
    def __init__(self, prefix: str, seed: int, start_ms: int, tag: str = "") -> None:
        self.prefix = prefix
        self.tag = tag
        self.rnd = random.Random(seed)  # noqa: S311  (reproducible test data, not secrets)
        self.start = start_ms
        self.n = 0
        self.out: list[Event] = []

    def emit(self, type_: str, subject_field: str, data: dict[str, Any], t: int) -> None:
        self.n += 1
        self.out.append(event(f"{self.prefix}{self.tag}e{self.n}", type_, data[subject_field], data, t))


def event(
    eid: str, type_: str, subject: str, data: dict[str, Any], t: int, source: str = "bench-erp"
) -> Event:
    """One CloudEvents envelope at epoch ms ``t``, keyed by its ``subject``."""
    env = {
        "specversion": "1.0",
        "id": eid,
        "source": source,
        "type": type_,
        "time": _iso(t),
        "subject": subject,
        "data": data,
    }
    return Event(subject.encode(), msgspec.json.encode(env), t, type_, data, eid)


def generate(
    *,
    prefix: str,
    enterprises: int,
    events: int,
    seed: int = 7,
    days: int = 150,
    resend_every: int = 0,
    end: datetime | None = None,
    chunk: int = 0,
    chunks: int = 1,
) -> list[Event]:
    """About ``events`` events over ``enterprises`` enterprises, sorted by event time (ties kept).

    Event times end before ``end`` (default: yesterday). ``resend_every`` > 0 appends a re-sent copy
    (same id, same bytes) of every n-th event.

    ``chunks`` > 1 cuts one long history into parts that can be generated one at a time (a run larger
    than memory): part ``chunk`` holds ``events`` flow events drawn in its ``1/chunks`` of the days, over
    the same enterprises, materials and links; only part 0 carries the master data, and the other parts'
    event and business ids carry ``c<chunk>`` so no two parts share one.
    """
    now = end or (datetime.now(UTC) - timedelta(days=1))
    start = int((now - timedelta(days=days)).timestamp() * 1000)
    tag = f"c{chunk}" if chunk else ""
    g = _Gen(prefix, seed, start, tag)
    r = g.rnd
    p = prefix
    ents = [f"{p}ent{i}" for i in range(enterprises)]
    skus = [f"{p}sku{i}" for i in range(max(20, enterprises // 5))]
    t0 = start
    for i, e in enumerate(ents):
        g.emit(
            "partner.registered",
            "enterprise_id",
            {
                "enterprise_id": e,
                "name": f"企业 {i}",
                "industry": r.choice(INDUSTRIES),
                "region": r.choice(REGIONS),
                "country": "CN",
            },
            t0 + r.randrange(DAY_MS),
        )
    for i, s in enumerate(skus):
        g.emit(
            "material.defined",
            "sku",
            {"sku": s, "name": f"物料 {i}", "category": "steel/flat", "unit": "t"},
            t0 + r.randrange(DAY_MS),
        )
    for i in range(0, len(skus) - 3, 10):
        g.emit(
            "bom.defined",
            "product_sku",
            {"product_sku": skus[i], "components": [{"sku": skus[i + k], "qty": 0.5 * k} for k in (1, 2, 3)]},
            t0 + DAY_MS + r.randrange(DAY_MS),
        )
    links: list[tuple[str, str, str, int]] = []
    for b in ents:
        for _ in range(3):
            s = r.choice(ents)
            if s == b:
                continue
            sku = r.choice(skus)
            lead = r.randint(3, 30)
            links.append((s, b, sku, lead))
            g.emit(
                "supply.agreed",
                "buyer_id",
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": sku,
                    "share": round(r.random(), 3),
                    "lead_time_days": lead,
                    "valid_from": _day(t0),
                },
                t0 + DAY_MS + r.randrange(DAY_MS),
            )
    for i, e in enumerate(ents[: max(1, enterprises // 2)]):
        g.emit(
            "facility.registered",
            "enterprise_id",
            {
                "facility_id": f"{p}fac{i}",
                "enterprise_id": e,
                "name": f"厂区 {i}",
                "kind": "plant",
                "region": r.choice(REGIONS),
            },
            t0 + r.randrange(DAY_MS),
        )
    for i, e in enumerate(ents[: max(1, enterprises // 5)]):
        g.emit(
            "certification.granted",
            "enterprise_id",
            {
                "enterprise_id": e,
                "certificate_id": f"{p}cert{i}",
                "standard": "IATF 16949",
                "valid_until": "2029-01-01",
            },
            t0 + r.randrange(DAY_MS),
        )
    for i in range(max(1, enterprises // 50)):
        proj = f"{p}proj{i}"
        t = t0 + 2 * DAY_MS + r.randrange(DAY_MS)
        g.emit(
            "design.project.created",
            "project_id",
            {
                "project_id": proj,
                "name": f"项目 {i}",
                "owner_id": r.choice(ents),
                "product_sku": r.choice(skus),
            },
            t,
        )
        for role in ("tier1", "material-supplier"):
            g.emit(
                "design.partner.joined",
                "project_id",
                {"project_id": proj, "enterprise_id": r.choice(ents), "role": role},
                t + HOUR_MS,
            )
        g.emit(
            "design.revision.published",
            "project_id",
            {
                "project_id": proj,
                "revision_id": f"{proj}-r1",
                "label": "A1",
                "changed_components": [{"sku": r.choice(skus), "change": "added", "qty": 2.0}],
            },
            t + 2 * HOUR_MS,
        )
        g.emit(
            "design.change.requested",
            "project_id",
            {
                "project_id": proj,
                "change_id": f"{proj}-ecr1",
                "affected_skus": [r.choice(skus)],
                "reason": "减重",
            },
            t + 3 * HOUR_MS,
        )
    span = (days - 5) * DAY_MS
    base = t0 + 3 * DAY_MS
    part_span = span // chunks
    part_base = base + chunk * part_span
    if chunk:
        g.out.clear()  # part 0 carries the master data; this part needs only the same structure
        g.n = 0
        r.seed(seed * 1_000_003 + chunk)
    order_n = 0
    p = f"{prefix}{tag}"  # the flow's business ids (orders, incidents, alarms, disruptions) per part
    while g.n < events:
        x = r.random()
        t = part_base + r.randrange(part_span)
        if x < 0.17:  # one order lifecycle, ~4.3 events
            s, b, sku, lead = r.choice(links)
            order_n += 1
            oid = f"{p}po{order_n}"
            ref = {"order_id": oid, "buyer_id": b, "supplier_id": s}
            qty = float(r.randint(1, 100) * 10)
            promised = t + lead * DAY_MS
            g.emit(
                "order.placed",
                "buyer_id",
                {**ref, "sku": sku, "quantity": qty, "requested_date": _day(promised)},
                t,
            )
            g.emit(
                "order.confirmed",
                "buyer_id",
                {**ref, "confirmed_quantity": qty, "promised_date": _day(promised)},
                t + HOUR_MS,
            )
            if r.random() < 0.08:
                g.emit("order.cancelled", "buyer_id", {**ref, "reason": "需求变更"}, t + 2 * HOUR_MS)
                continue
            ship = t + max(1, lead - 3) * DAY_MS
            if ship > base + span + 3 * DAY_MS:
                continue  # not shipped yet at the end
            g.emit(
                "order.shipped",
                "buyer_id",
                {
                    **ref,
                    "shipment_id": f"{oid}-s",
                    "quantity": qty,
                    "shipped_on": _day(ship),
                    "expected_delivery": _day(promised),
                },
                ship,
            )
            late = r.random() < 0.2
            arrive = promised + (r.randint(1, 6) * DAY_MS if late else -r.randrange(2) * DAY_MS)
            if late and r.random() < 0.5:
                g.emit(
                    "shipment.delayed",
                    "buyer_id",
                    {
                        **ref,
                        "shipment_id": f"{oid}-s",
                        "new_expected_delivery": _day(arrive),
                        "delay_days": max(1, (arrive - promised) // DAY_MS),
                    },
                    ship + HOUR_MS,
                )
            if arrive > base + span + 3 * DAY_MS:
                continue  # still open at the end
            delivered = {
                **ref,
                "quantity_ordered": qty,
                "quantity_delivered": qty if r.random() < 0.9 else qty * 0.8,
                "promised_date": _day(promised),
                "delivered_on": _day(arrive),
            }
            if r.random() < 0.7:
                delivered["ordered_on"] = _day(t)
            g.emit("order.delivered", "buyer_id", delivered, arrive)
        elif x < 0.45:
            # A buyer reports its stock of a sku it buys: an enterprise stocks its inputs (a random
            # enterprise and sku gave every enterprise a stock row for most of the 2,000 skus, read
            # whole each time its days of cover are refreshed).
            _, e, sku, _ = r.choice(links)
            g.emit(
                "inventory.reported",
                "enterprise_id",
                {
                    "enterprise_id": e,
                    "sku": sku,
                    "on_hand": float(r.randint(0, 5000)),
                    "daily_usage": float(r.randint(0, 200)),
                },
                t,
            )
        elif x < 0.60:
            # A supplier reports capacity for a sku it supplies: producers stay the network's
            # (a random enterprise and sku made a new PRODUCES link with almost every report).
            e, _, sku, _ = r.choice(links)
            g.emit(
                "capacity.reported",
                "enterprise_id",
                {
                    "enterprise_id": e,
                    "capacity_per_day": float(r.randint(10, 1000)),
                    "utilization": round(r.random(), 2),
                    "sku": sku,
                },
                t,
            )
        elif x < 0.70:
            s, b, sku, _ = r.choice(links)
            g.emit(
                "quality.incident",
                "supplier_id",
                {
                    "incident_id": f"{p}qi{g.n}",
                    "supplier_id": s,
                    "sku": sku,
                    "buyer_id": b,
                    "severity": r.choice(("low", "medium", "high")),
                    "defect_ppm": float(r.randint(0, 5000)),
                },
                t,
            )
        elif x < 0.80:
            e = r.choice(ents)
            g.emit(
                "partner.updated", "enterprise_id", {"enterprise_id": e, "name": f"企业 {e} 更名 {g.n}"}, t
            )
        elif x < 0.88:
            e = r.choice(ents)
            g.emit(
                "equipment.alarm",
                "enterprise_id",
                {
                    "alarm_id": f"{p}al{g.n}",
                    "enterprise_id": e,
                    "equipment_id": f"{e}-press-1",
                    "signal": "vibration",
                    "severity": "medium",
                    "predicted_failure_days": r.randint(1, 30),
                },
                t,
            )
        elif x < 0.94:
            did = f"{p}dis{g.n}"
            target = {"region": r.choice(REGIONS)} if r.random() < 0.3 else {"enterprise_id": r.choice(ents)}
            g.emit(
                "disruption.reported",
                "disruption_id",
                {
                    "disruption_id": did,
                    "kind": "power-outage",
                    "severity": "high",
                    "expected_recovery_days": 3,
                    **target,
                },
                t,
            )
            # Every disruption ends: 70% after 2 days, the rest after 5-45 days (one draw, as when 30%
            # never ended: open for good, they grew the graph by 30% of the reports over a long run),
            # unless that is after the history's end.
            u = r.random()
            resolved = t + (2 * DAY_MS if u < 0.7 else (5 + int((u - 0.7) / 0.3 * 40)) * DAY_MS)
            if resolved <= base + span + 3 * DAY_MS:
                g.emit("disruption.resolved", "disruption_id", {"disruption_id": did}, resolved)
        elif x < 0.97:
            s, b, sku, _ = r.choice(links)
            g.emit(
                "supply.agreed",
                "buyer_id",
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": sku,
                    "share": round(r.random(), 3),
                    "lead_time_days": r.randint(3, 30),
                },
                t,
            )
        else:
            s, b, sku, _ = r.choice(links)
            g.emit(
                "supply.ended",
                "buyer_id",
                {"supplier_id": s, "buyer_id": b, "sku": sku, "ended_on": _day(t)},
                t,
            )
    if chunk:
        del g.out[events:]  # exactly ``events``: the last order's lifecycle may have run past it
    out = sorted(g.out, key=lambda e: e.time_ms)
    if resend_every:
        out += [e for i, e in enumerate(out) if i % resend_every == 0]
    return out
