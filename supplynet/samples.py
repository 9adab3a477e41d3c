"""A handful of sample events and the envelope helper for the tests (`supplynet demo` streams the generated
world of connectors/world instead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

ENTERPRISES = [
    ("wisco", "武汉钢铁", "steel", "湖北省 武汉市"),
    ("jingmen-petro", "荆门石化", "petrochemical", "湖北省 荆门市"),
    ("daye-nonferrous", "大冶有色金属", "non-ferrous", "湖北省 黄石市"),
    ("dongfeng", "东风汽车", "automotive", "湖北省 武汉市"),
    ("wuhan-hgtech", "华工科技", "electronics", "湖北省 武汉市"),
    ("cosco-logistics", "中远海运物流", "logistics", "湖北省 武汉市"),
]

SUPPLIES = [
    ("wisco", "dongfeng", "HRC-Q235", 0.7, 21),
    ("jingmen-petro", "dongfeng", "PP-T30S", 0.55, 14),
    ("daye-nonferrous", "wuhan-hgtech", "CU-CATHODE", 0.8, 10),
    ("wuhan-hgtech", "dongfeng", "ECU-LASER-SENSOR", 1.0, 30),
    ("daye-nonferrous", "dongfeng", "CU-WIRE-2.5", 0.4, 12),
]


def envelope(
    *,
    eid: str,
    type_: str,
    subject: str,
    data: dict[str, Any],
    time: datetime,
    source: str = "demo-erp",
    sequence: int = 0,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": eid,
        "source": source,
        "type": type_,
        "time": time.isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "sequence": sequence,
        "data": data,
    }


def sample_events(now: datetime | None = None) -> list[dict[str, Any]]:
    """Partner registrations, then supply agreements between them."""
    t0 = (now or datetime.now(UTC)) - timedelta(hours=1)
    events = [
        envelope(
            eid=f"demo-partner-{eid}",
            type_="partner.registered",
            subject=eid,
            data={
                "enterprise_id": eid,
                "name": name,
                "industry": industry,
                "region": region,
                "country": "CN",
            },
            time=t0 + timedelta(seconds=i),
        )
        for i, (eid, name, industry, region) in enumerate(ENTERPRISES)
    ]
    events += [
        envelope(
            eid=f"demo-supply-{s}-{b}-{sku}",
            type_="supply.agreed",
            subject=b,
            data={
                "supplier_id": s,
                "buyer_id": b,
                "sku": sku,
                "share": share,
                "lead_time_days": lt,
                "valid_from": "2026-01-01",
            },
            time=t0 + timedelta(minutes=5, seconds=i),
        )
        for i, (s, b, sku, share, lt) in enumerate(SUPPLIES)
    ]
    return events
