"""Re-sourcing by spare capacity (graph.resourcing): spare capacity from capacity reports, the ranking's
parts, and the plan that covers a lost volume with its residual shortfall."""

from __future__ import annotations

import pytest

from graph.resourcing import (
    DAY_MS,
    WEIGHTS,
    best,
    candidate,
    haversine_km,
    nearest_km,
    option,
    plan,
    rank,
    spare_capacity,
)

NOW = 1_000 * DAY_MS
WUHAN = (30.59, 114.31)
SHANGHAI = (31.23, 121.47)
BEIJING = (39.90, 116.40)


def _row(
    eid: str,
    *,
    sites: list[tuple[float, float, int]] = (),  # type: ignore[assignment]
    risk: float | None = None,
    at: tuple[float, float] | None = None,
    certs: tuple[str, ...] = (),
    lead: float | None = None,
) -> dict[str, object]:
    return {
        "sku": "HRC",
        "e": {"id": eid, "riskScore": risk},
        "sites": [{"capacityPerDay": c, "utilization": u, "capacityReportedAt": t} for c, u, t in sites],
        "coordinates": [list(at)] if at else [],
        "certifications": list(certs),
        "leadTimeDays": lead,
    }


def _opt(row: dict[str, object], need: float | None = 100.0, cert: str | None = None):  # type: ignore[no-untyped-def]
    return option(
        row, needed_per_day=need, origins=[WUHAN], certification=cert, now_ms=NOW, max_report_age_days=30
    )


def test_weights_sum_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_spare_capacity_is_capacity_minus_utilisation_summed_over_sites_with_the_oldest_reports_age() -> None:
    s = spare_capacity(
        [
            {"capacityPerDay": 100.0, "utilization": 0.75, "capacityReportedAt": NOW - 2 * DAY_MS},
            {"capacityPerDay": 50.0, "utilization": 1.2, "capacityReportedAt": NOW - DAY_MS},  # over-used: 0
        ],
        now_ms=NOW,
        max_report_age_days=30,
    )
    assert (s.capacity_per_day, s.spare_per_day, s.stale) == (150.0, 25.0, False)
    assert s.report_age_days == pytest.approx(2.0)
    assert s.utilization == pytest.approx(125 / 150)


def test_a_stale_or_missing_report_counts_as_no_spare_capacity() -> None:
    old = spare_capacity(
        [{"capacityPerDay": 100.0, "utilization": 0.0, "capacityReportedAt": NOW - 31 * DAY_MS}],
        now_ms=NOW,
        max_report_age_days=30,
    )
    assert (old.spare_per_day, old.stale) == (0.0, True)
    assert old.report_age_days == pytest.approx(31.0)
    none = spare_capacity([], now_ms=NOW, max_report_age_days=30)
    assert (none.spare_per_day, none.stale, none.report_age_days) == (0.0, True, None)


def test_haversine_wuhan_to_shanghai_is_about_690_km() -> None:
    assert haversine_km(WUHAN, SHANGHAI) == pytest.approx(688, abs=10)
    assert nearest_km([WUHAN], [BEIJING, SHANGHAI]) == pytest.approx(haversine_km(WUHAN, SHANGHAI))
    assert nearest_km([], [SHANGHAI]) is None


def test_more_spare_capacity_for_the_volume_ranks_first_all_else_equal() -> None:
    a = _opt(_row("a", sites=[(100.0, 0.9, NOW)]))  # 10/day
    b = _opt(_row("b", sites=[(100.0, 0.0, NOW)]))  # 100/day
    assert [o.enterprise_id for o in rank([a, b])] == ["b", "a"]
    assert (a.covers_per_day, a.cover_share) == (pytest.approx(10.0), pytest.approx(0.1))
    assert (b.covers_per_day, b.cover_share) == (100.0, 1.0)


def test_each_part_moves_the_rank_risk_distance_certification_and_lead_time() -> None:
    same = [(100.0, 0.0, NOW)]
    risky, safe = _opt(_row("a", sites=same, risk=0.8)), _opt(_row("b", sites=same, risk=0.1))
    assert rank([risky, safe])[0].enterprise_id == "b"
    far, near = _opt(_row("a", sites=same, at=BEIJING)), _opt(_row("b", sites=same, at=SHANGHAI))
    assert rank([far, near])[0].enterprise_id == "b"
    assert near.distance_km is not None and near.distance_km < (far.distance_km or 0)
    lacks = _opt(_row("a", sites=same), cert="IATF 16949")
    holds = _opt(_row("b", sites=same, certs=("IATF 16949",)), cert="IATF 16949")
    assert (lacks.certified, holds.certified) == (False, True)
    assert rank([lacks, holds])[0].enterprise_id == "b"
    slow, quick = _opt(_row("a", sites=same, lead=60)), _opt(_row("b", sites=same, lead=7))
    assert rank([slow, quick])[0].enterprise_id == "b"
    assert quick.score == pytest.approx(sum(WEIGHTS[k] * v for k, v in quick.parts.items()), abs=1e-6)


def test_the_plan_takes_spare_capacity_in_rank_order_and_reports_the_residual_shortfall() -> None:
    ranked = rank(
        [
            _opt(_row("a", sites=[(100.0, 0.5, NOW)]), need=120.0),  # 50
            _opt(_row("b", sites=[(40.0, 0.0, NOW)]), need=120.0),  # 40
            _opt(_row("c", sites=[(1000.0, 0.0, NOW - 60 * DAY_MS)]), need=120.0),  # stale: 0
        ]
    )
    p = plan(ranked, 120.0)
    assert [(a.option.enterprise_id, a.quantity_per_day) for a in p.allocations] == [("a", 50.0), ("b", 40.0)]
    assert (p.covered_per_day, p.residual_shortfall_per_day) == (90.0, 30.0)
    full = plan(ranked, 60.0)
    assert [(a.option.enterprise_id, a.quantity_per_day) for a in full.allocations] == [
        ("a", 50.0),
        ("b", 10.0),
    ]
    assert full.residual_shortfall_per_day == 0.0


def test_the_plan_skips_an_option_without_the_required_certification() -> None:
    lacks = _opt(_row("a", sites=[(1000.0, 0.0, NOW)]), cert="API Q1")
    holds = _opt(_row("b", sites=[(10.0, 0.0, NOW)], certs=("API Q1",)), cert="API Q1")
    p = plan(rank([lacks, holds]), 100.0)
    assert [a.option.enterprise_id for a in p.allocations] == ["b"]
    assert p.residual_shortfall_per_day == 90.0


def test_best_for_a_buyer_equals_the_full_ranking_cut_at_k() -> None:
    rows = [
        _row(
            f"e{i:02d}",
            sites=[(50.0 + 7 * i, (i % 4) / 4, NOW)],
            risk=(i % 7) / 10,
            at=(30.0 + (i % 9), 110.0 + (i % 5)),
            lead=None if i % 3 == 0 else float(i % 20),
        )
        for i in range(40)
    ]
    cands = [candidate(r, now_ms=NOW, max_report_age_days=30) for r in rows]
    for need in (None, 60.0, 500.0):
        full = rank(
            option(
                r,
                needed_per_day=need,
                origins=[WUHAN],
                certification=None,
                now_ms=NOW,
                max_report_age_days=30,
            )
            for r in rows
        )
        got = best(cands, 7, needed_per_day=need, origins=[WUHAN])
        assert [(o.enterprise_id, o.score) for o in got] == [(o.enterprise_id, o.score) for o in full[:7]]
