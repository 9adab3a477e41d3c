"""Live supplier KPIs, as pure functions over the order, quality and stock records of one supplier.

Exact and replay-safe: the inputs are the graph's current order / incident / stock state (itself
order- and duplicate-independent), and the outputs depend on nothing else — no counters, no clock.

Definitions (documented in docs/graph-model.md):

- the rolling windows (30 and 90 days) end at the supplier's *as-of* instant: the newest event time
  among its order placements, deliveries, cancellations and quality incidents;
- a delivery is in a window when its ``order.delivered`` event time is in ``(asOf - N days, asOf]``;
  on time = ``delivered_on <= promised_date``; in full = ``quantity_delivered >= quantity_ordered``;
  OTIF = both; lead time = ``delivered_on - ordered_on`` in days (``ordered_on`` from the delivery,
  else the UTC date of the ``order.placed`` event), mean and p90 (nearest rank);
- quality incident rate = incidents in the window / deliveries in the window;
- open orders = orders placed and neither delivered nor cancelled (not windowed);
- days of cover: of a link = the buyer's stock of the sku (sum of on-hand / sum of daily usage over
  its sites); of an enterprise = the lowest cover over the skus it stocks (``None`` = unbounded).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

WINDOWS_DAYS: tuple[int, ...] = (30, 90)
DAY_MS = 86_400_000

Props = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderRecord:
    buyer: str | None
    sku: str | None
    placed_at: int | None
    delivered_at: int | None
    delivered_on: date | None
    promised_date: date | None
    quantity_ordered: float | None
    quantity_delivered: float | None
    ordered_on: date | None
    cancelled_at: int | None


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    buyer: str | None
    sku: str | None
    at: int


@dataclass(frozen=True, slots=True)
class Stock:
    sku: str
    on_hand: float
    daily_usage: float


def cover(stocks: Iterable[Stock]) -> float | None:
    """Days of cover of one sku over its sites: sum on hand / sum daily usage; None if no usage."""
    on_hand = usage = 0.0
    for s in stocks:
        on_hand += s.on_hand
        usage += s.daily_usage
    return on_hand / usage if usage > 0 else None


def lowest_cover(stocks: Iterable[Stock]) -> float | None:
    """The lowest per-sku cover (the material that runs out first); None when none is used."""
    by_sku: dict[str, list[Stock]] = {}
    for s in stocks:
        by_sku.setdefault(s.sku, []).append(s)
    covers = [c for c in (cover(v) for v in by_sku.values()) if c is not None]
    return min(covers) if covers else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def as_of(orders: Iterable[OrderRecord], incidents: Iterable[IncidentRecord]) -> int | None:
    """The end of the supplier's rolling windows: its newest order or quality event time."""
    times = [t for o in orders for t in (o.placed_at, o.delivered_at, o.cancelled_at) if t is not None]
    times += [i.at for i in incidents]
    return max(times) if times else None


def window_kpis(orders: Sequence[OrderRecord], incidents: Sequence[IncidentRecord], at: int | None) -> Props:
    """The KPI properties for one set of records (a link or a whole supplier)."""
    props: Props = {
        "openOrders": sum(
            1 for o in orders if o.placed_at is not None and o.delivered_at is None and o.cancelled_at is None
        )
    }
    for days in WINDOWS_DAYS:
        sfx = f"{days}d"
        if at is None:
            delivered: list[OrderRecord] = []
            n_incidents = 0
        else:
            lo = at - days * DAY_MS
            delivered = [o for o in orders if o.delivered_at is not None and lo < o.delivered_at <= at]
            n_incidents = sum(1 for i in incidents if lo < i.at <= at)
        n = len(delivered)
        on_time = [
            o.delivered_on is not None and o.promised_date is not None and o.delivered_on <= o.promised_date
            for o in delivered
        ]
        in_full = [
            o.quantity_delivered is not None
            and o.quantity_ordered is not None
            and o.quantity_delivered >= o.quantity_ordered
            for o in delivered
        ]
        leads: list[float] = []
        for o in delivered:
            start = o.ordered_on or (_date(o.placed_at) if o.placed_at is not None else None)
            if start is not None and o.delivered_on is not None:
                leads.append(float((o.delivered_on - start).days))
        props[f"deliveries{sfx}"] = n
        props[f"onTimeRate{sfx}"] = sum(on_time) / n if n else None
        props[f"inFullRate{sfx}"] = sum(in_full) / n if n else None
        props[f"otifRate{sfx}"] = (
            sum(a and b for a, b in zip(on_time, in_full, strict=True)) / n if n else None
        )
        props[f"leadTimeMeanDays{sfx}"] = sum(leads) / len(leads) if leads else None
        props[f"leadTimeP90Days{sfx}"] = p90(leads)
        props[f"qualityIncidents{sfx}"] = n_incidents
        props[f"qualityIncidentRate{sfx}"] = n_incidents / n if n else None
    props["kpiAsOf"] = at
    return props


def supplier_kpis(
    orders: Sequence[OrderRecord],
    incidents: Sequence[IncidentRecord],
    own_stock: Sequence[Stock],
) -> Props:
    """KPIs of a supplier over all its orders and incidents, and its own lowest days of cover."""
    return {
        **window_kpis(orders, incidents, as_of(orders, incidents)),
        "daysOfCover": lowest_cover(own_stock),
    }


def link_kpis(
    buyer: str,
    sku: str,
    orders: Sequence[OrderRecord],
    incidents: Sequence[IncidentRecord],
    buyer_stock: Sequence[Stock],
    at: int | None,
) -> Props:
    """KPIs of one supply link (supplier -> buyer, sku); ``at`` is the supplier's as-of instant."""
    mine = [o for o in orders if o.buyer == buyer and o.sku == sku]
    mine_incidents = [i for i in incidents if i.buyer == buyer and i.sku == sku]
    return {
        **window_kpis(mine, mine_incidents, at),
        "daysOfCover": cover(s for s in buyer_stock if s.sku == sku),
    }


KPI_PROPERTIES: tuple[str, ...] = tuple(
    ["openOrders", "kpiAsOf", "daysOfCover"]
    + [
        f"{name}{d}d"
        for d in WINDOWS_DAYS
        for name in (
            "deliveries",
            "onTimeRate",
            "inFullRate",
            "otifRate",
            "leadTimeMeanDays",
            "leadTimeP90Days",
            "qualityIncidents",
            "qualityIncidentRate",
        )
    ]
)
"""Every KPI property written on ``Enterprise`` and ``SUPPLIES``."""
