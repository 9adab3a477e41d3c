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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

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


def sku_covers(stocks: Iterable[Stock]) -> dict[str, float]:
    """Days of cover per sku (``cover`` over its sites), skus without usage left out."""
    by_sku: dict[str, list[Stock]] = {}
    for s in stocks:
        by_sku.setdefault(s.sku, []).append(s)
    out = {sku: cover(v) for sku, v in sorted(by_sku.items())}
    return {sku: c for sku, c in out.items() if c is not None}


def lowest_cover(stocks: Iterable[Stock]) -> float | None:
    """The lowest per-sku cover (the material that runs out first); None when none is used."""
    covers = sku_covers(stocks).values()
    return min(covers) if covers else None


def cover_kpis(stocks: Iterable[Stock]) -> Props:
    """An enterprise's cover properties: ``daysOfCover`` (the lowest) and the per-sku cover as two
    parallel lists, ``coverSkus`` (sorted) and ``coverDays`` (a link reads its buyer's, ``link_cover``)."""
    covers = sku_covers(stocks)
    return {
        "daysOfCover": min(covers.values()) if covers else None,
        "coverSkus": list(covers),
        "coverDays": list(covers.values()),
    }


def link_cover(link: str, buyer: str) -> str:
    """Cypher for a supply link's days of cover: its buyer's cover of the link's sku (null if none).

    ``link`` and ``buyer`` are the query's variable names (code, never request text)."""
    return (
        f"[i IN range(0, size(coalesce({buyer}.coverSkus, [])) - 1) "
        f"WHERE {buyer}.coverSkus[i] = {link}.sku | {buyer}.coverDays[i]][0]"
    )


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
"""Every KPI property written on ``Enterprise`` and ``SUPPLIES`` (``daysOfCover`` on ``Enterprise`` only,
with ``coverSkus`` / ``coverDays``: a link reads its buyer's, ``link_cover``)."""


# -- the flow's day buckets (``schema.aggregates``) ------------------------------------------------
#
# The live KPIs are computed from day buckets kept in the record store: each stored order and
# incident record *contributes* counts to the buckets of its link; a batch changes the buckets by
# (contribution after - contribution before) of the records it touched. The rolling N-day window
# ending at instant ``at`` is the N UTC days ending with ``at``'s day, ``(day(at) - N, day(at)]``:
# a delivery (incident) is in it when the UTC day of its event time is.

LinkKey = tuple[str, str, str]
"""(supplier, buyer, sku); ``""`` for a buyer or sku the record does not name."""

DAY_FIELDS: tuple[str, ...] = (
    "deliveries",
    "on_time",
    "in_full",
    "otif",
    "lead_count",
    "lead_sum",
    "incidents",
)

K = TypeVar("K")

Cell = tuple[Any, ...]
"""A bucket cell: ("day", link, day, field) | ("lead", link, day, lead_days) | ("open", link)."""


def day_of(ms: int) -> date:
    """The UTC day of an epoch-ms instant."""
    return _date(ms)


def order_cells(o: Mapping[Any, Any]) -> dict[Cell, int]:
    """The bucket counts one stored order record contributes (``schema.records.OrderRecord`` columns)."""
    link: LinkKey = (str(o["supplier_id"]), str(o["buyer_id"]), o["sku"] or "")
    out: dict[Cell, int] = {}
    delivered_t = o["delivered_t"]
    if o["placed_t"] is not None and delivered_t is None and o["cancelled_t"] is None:
        out[("open", link)] = 1
    if delivered_t is None:
        return out
    day = _date(delivered_t)
    on, due = o["delivered_on"], o["due_date"]
    qd, qo = o["quantity_delivered"], o["delivered_quantity_ordered"]
    on_time = on is not None and due is not None and on <= due
    in_full = qd is not None and qo is not None and qd >= qo
    cells = {
        "deliveries": 1,
        "on_time": int(on_time),
        "in_full": int(in_full),
        "otif": int(on_time and in_full),
    }
    start = o["delivered_ordered_on"] or o["ordered_on"]
    if start is not None and on is not None:
        lead = (on - start).days
        cells["lead_count"] = 1
        cells["lead_sum"] = lead
        out[("lead", link, day, lead)] = 1
    for name, n in cells.items():
        if n:
            out[("day", link, day, name)] = n
    return out


def incident_cells(q: Mapping[Any, Any]) -> dict[Cell, int]:
    """The bucket count one stored quality incident record contributes."""
    if q["report_t"] is None:
        return {}
    link: LinkKey = (str(q["supplier_id"]), q["buyer_id"] or "", q["sku"] or "")
    return {("day", link, _date(q["report_t"]), "incidents"): 1}


def delta(before: Iterable[Mapping[K, int]], after: Iterable[Mapping[K, int]]) -> dict[K, int]:
    """after - before, cell by cell, without the cells that did not move."""
    out: dict[K, int] = {}
    for sign, parts in ((-1, before), (1, after)):
        for part in parts:
            for cell, n in part.items():
                out[cell] = out.get(cell, 0) + sign * n
    return {c: n for c, n in out.items() if n}


@dataclass(slots=True)
class Buckets:
    """The buckets of one link or supplier that a KPI computation reads."""

    days: dict[date, dict[str, int]]
    leads: dict[tuple[date, int], int]
    open_orders: int = 0

    @classmethod
    def empty(cls) -> Buckets:
        return cls({}, {}, 0)

    def add_day(self, day: date, counts: Mapping[Any, Any]) -> None:
        held = self.days.setdefault(day, dict.fromkeys(DAY_FIELDS, 0))
        for k in DAY_FIELDS:
            held[k] += int(counts.get(k, 0))

    def add_lead(self, day: date, lead: int, n: int) -> None:
        self.leads[(day, lead)] = self.leads.get((day, lead), 0) + n


def window_start(at: int, days: int) -> date:
    """The first day of the ``days``-day window ending with ``at``'s day."""
    return date.fromordinal(_date(at).toordinal() - days + 1)


def bucket_kpis(b: Buckets, at: int | None) -> Props:
    """The KPI properties (all but days of cover) from buckets, windows ending at ``at`` (epoch ms)."""
    props: Props = {"openOrders": b.open_orders, "kpiAsOf": at}
    for days in WINDOWS_DAYS:
        sfx = f"{days}d"
        sums = dict.fromkeys(DAY_FIELDS, 0)
        hist: dict[int, int] = {}
        if at is not None:
            lo, hi = window_start(at, days), _date(at)
            for day, counts in b.days.items():
                if lo <= day <= hi:
                    for k in DAY_FIELDS:
                        sums[k] += counts[k]
            for (day, lead), n in b.leads.items():
                if lo <= day <= hi and n:
                    hist[lead] = hist.get(lead, 0) + n
        n = sums["deliveries"]
        props[f"deliveries{sfx}"] = n
        props[f"onTimeRate{sfx}"] = sums["on_time"] / n if n else None
        props[f"inFullRate{sfx}"] = sums["in_full"] / n if n else None
        props[f"otifRate{sfx}"] = sums["otif"] / n if n else None
        props[f"leadTimeMeanDays{sfx}"] = (
            sums["lead_sum"] / sums["lead_count"] if sums["lead_count"] else None
        )
        props[f"leadTimeP90Days{sfx}"] = histogram_p90(hist)
        props[f"qualityIncidents{sfx}"] = sums["incidents"]
        props[f"qualityIncidentRate{sfx}"] = sums["incidents"] / n if n else None
    return props


def histogram_p90(hist: Mapping[int, int]) -> float | None:
    """Nearest-rank 90th percentile of a histogram value -> count (exact, like ``p90``)."""
    total = sum(hist.values())
    if total <= 0:
        return None
    rank = math.ceil(0.9 * total)
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return float(value)
    raise AssertionError("unreachable: the ranks add up to the total")


# -- equipment alarms (``schema.aggregates.AlarmDay``) ---------------------------------------------
#
# High and critical alarms are counted per enterprise site and UTC day; an enterprise's KPI row carries
# their count over the ``ALARM_WINDOW_DAYS`` days ending with the stream clock's day, in total and per
# facility (two parallel lists, like ``coverSkus`` / ``coverDays``). An alarm leaves the count when the
# clock's day moves past its window, with or without a new alarm.

ALARM_WINDOW_DAYS = 14
"""Days an equipment alarm counts for: the UTC days ``(day(clock) - 14, day(clock)]``."""

ALARM_SEVERITIES: tuple[str, ...] = ("high", "critical")
"""The severities an alarm is counted with."""

ALARM_PROPERTIES: tuple[str, ...] = (
    f"alarmsHigh{ALARM_WINDOW_DAYS}d",
    "alarmsHighFacilities",
    f"alarmsHighFacilityCounts{ALARM_WINDOW_DAYS}d",
)
"""The alarm properties on ``Enterprise``: the count, the facilities with alarms (sorted) and their
counts (parallel to the facilities)."""

SiteDay = tuple[str, str, date]
"""(enterprise, facility or ``""``, UTC day)."""


def alarm_cells(a: Mapping[Any, Any]) -> dict[SiteDay, int]:
    """The count one stored alarm record (``schema.records.EquipmentAlarmRecord``) contributes: one on
    its site's day when high or critical, nothing otherwise."""
    if a["report_t"] is None or a["severity"] not in ALARM_SEVERITIES:
        return {}
    return {(str(a["enterprise_id"]), a["facility_id"] or "", _date(a["report_t"])): 1}


def alarm_kpis(days: Mapping[tuple[str, date], int], at: int | None) -> Props:
    """An enterprise's alarm properties (``ALARM_PROPERTIES``) from its (facility, day) counts, the
    window ending with ``at``'s day (no alarms before the first record)."""
    per_facility: dict[str, int] = {}
    total = 0
    if at is not None:
        lo, hi = window_start(at, ALARM_WINDOW_DAYS), _date(at)
        for (facility, day), n in days.items():
            if lo <= day <= hi and n:
                total += n
                if facility:
                    per_facility[facility] = per_facility.get(facility, 0) + n
    facilities = sorted(f for f, n in per_facility.items() if n)
    return {
        ALARM_PROPERTIES[0]: total,
        ALARM_PROPERTIES[1]: facilities,
        ALARM_PROPERTIES[2]: [per_facility[f] for f in facilities],
    }


def facility_alarms(facility: str, operator: str) -> str:
    """Cypher for a facility's recent high/critical alarms: its operator's count of the facility (0 if
    none). ``facility`` and ``operator`` are the query's variable names (code, never request text)."""
    ids, counts = f"{operator}.{ALARM_PROPERTIES[1]}", f"{operator}.{ALARM_PROPERTIES[2]}"
    return (
        f"coalesce([i IN range(0, size(coalesce({ids}, [])) - 1) "
        f"WHERE {ids}[i] = {facility}.id | {counts}[i]][0], 0)"
    )
