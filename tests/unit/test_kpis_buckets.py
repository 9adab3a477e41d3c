"""The pure bucket arithmetic of the live KPIs (graph/kpis.py) against the plain definitions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from graph import kpis


def test_histogram_p90_is_the_nearest_rank_p90_of_the_values() -> None:
    rnd = random.Random(3)
    for _ in range(200):
        values = [rnd.randint(-3, 40) for _ in range(rnd.randint(1, 60))]
        hist: dict[int, int] = {}
        for v in values:
            hist[v] = hist.get(v, 0) + 1
        assert kpis.histogram_p90(hist) == kpis.p90([float(v) for v in values])
    assert kpis.histogram_p90({}) is None


def _order(**kw: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(
        (
            "placed_t",
            "delivered_t",
            "cancelled_t",
            "delivered_on",
            "due_date",
            "quantity_delivered",
            "delivered_quantity_ordered",
            "delivered_ordered_on",
            "ordered_on",
        )
    )
    return {"supplier_id": "s", "buyer_id": "b", "sku": "k", **base, **kw}


def test_an_order_moves_from_open_to_delivered_and_a_replay_moves_nothing() -> None:
    t = int(datetime(2026, 5, 10, 12, tzinfo=UTC).timestamp() * 1000)
    placed = _order(placed_t=t - 5 * kpis.DAY_MS, ordered_on=date(2026, 5, 5))
    delivered = {
        **placed,
        "delivered_t": t,
        "delivered_on": date(2026, 5, 10),
        "due_date": date(2026, 5, 9),
        "quantity_delivered": 10.0,
        "delivered_quantity_ordered": 10.0,
    }
    assert kpis.order_cells(placed) == {("open", ("s", "b", "k")): 1}
    moved = kpis.delta([kpis.order_cells(placed)], [kpis.order_cells(delivered)])
    day = date(2026, 5, 10)
    assert moved == {
        ("open", ("s", "b", "k")): -1,
        ("day", ("s", "b", "k"), day, "deliveries"): 1,
        ("day", ("s", "b", "k"), day, "in_full"): 1,
        ("day", ("s", "b", "k"), day, "lead_count"): 1,
        ("day", ("s", "b", "k"), day, "lead_sum"): 5,
        ("lead", ("s", "b", "k"), day, 5): 1,
    }
    assert kpis.delta([kpis.order_cells(delivered)], [kpis.order_cells(delivered)]) == {}


def test_windows_are_whole_utc_days_ending_with_the_clock_day() -> None:
    b = kpis.Buckets.empty()
    b.add_day(date(2026, 5, 1), {"deliveries": 2, "on_time": 1})
    b.add_day(date(2026, 3, 2), {"deliveries": 1, "on_time": 1})  # the 90th day back
    b.add_day(date(2026, 3, 1), {"deliveries": 4})  # the 91st: outside
    at = int(datetime(2026, 5, 30, 23, 59, tzinfo=UTC).timestamp() * 1000)
    props = kpis.bucket_kpis(b, at)
    assert props["deliveries30d"] == 2 and props["onTimeRate30d"] == 0.5
    assert props["deliveries90d"] == 3
    later = kpis.bucket_kpis(b, at + 2 * kpis.DAY_MS)  # 1 May left the 30-day window
    assert later["deliveries30d"] == 0 and later["onTimeRate30d"] is None


def _ms(d: date, hour: int = 12) -> int:
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=UTC).timestamp() * 1000)


def test_alarms_count_high_and_critical_on_the_14_utc_days_ending_with_the_clock_day() -> None:
    def alarm(e: str, f: str | None, severity: str, d: date) -> dict[str, object]:
        return {"enterprise_id": e, "facility_id": f, "severity": severity, "report_t": _ms(d, 23)}

    clock = _ms(date(2026, 5, 20), 1)
    alarms = [
        alarm("mill", "plant", "high", date(2026, 5, 7)),  # the window's first day
        alarm("mill", "plant", "critical", date(2026, 5, 20)),  # the clock's day
        alarm("mill", "yard", "high", date(2026, 5, 10)),
        alarm("mill", None, "critical", date(2026, 5, 12)),  # no facility: the enterprise only
        alarm("mill", "plant", "high", date(2026, 5, 6)),  # a day before the window
        alarm("mill", "plant", "medium", date(2026, 5, 15)),  # below high: not counted
        alarm("mill", "plant", "low", date(2026, 5, 15)),
        alarm("other", "plant", "high", date(2026, 5, 15)),  # another enterprise's
    ]
    cells = kpis.delta([], (kpis.alarm_cells(a) for a in alarms))
    mill = {(f, d): n for (e, f, d), n in cells.items() if e == "mill"}
    assert kpis.alarm_kpis(mill, clock) == {
        "alarmsHigh14d": 4,
        "alarmsHighFacilities": ["plant", "yard"],
        "alarmsHighFacilityCounts14d": [2, 1],
    }
    # a day later the alarm of the window's first day has aged out; before any record, nothing counts
    assert kpis.alarm_kpis(mill, clock + kpis.DAY_MS)["alarmsHighFacilityCounts14d"] == [1, 1]
    assert kpis.alarm_kpis(mill, None) == {
        "alarmsHigh14d": 0,
        "alarmsHighFacilities": [],
        "alarmsHighFacilityCounts14d": [],
    }
    # a newer version that lowers an alarm's severity takes its count back
    lowered = kpis.delta([kpis.alarm_cells(alarms[1])], [kpis.alarm_cells({**alarms[1], "severity": "low"})])
    assert lowered == {("mill", "plant", date(2026, 5, 20)): -1}
