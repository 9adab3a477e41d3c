"""The benchmark mix cut into parts: one history over the same structure, no id in two parts."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.workload import generate

END = datetime(2026, 11, 1, tzinfo=UTC)
MASTER = {"partner.registered", "material.defined", "facility.registered", "certification.granted"}


def test_parts_share_the_structure_but_no_event_or_order_id() -> None:
    parts = [
        generate(prefix="w-", enterprises=200, events=3000, chunk=k, chunks=3, end=END) for k in range(3)
    ]
    assert {e.type for e in parts[0]} >= MASTER
    assert not MASTER & {e.type for p in parts[1:] for e in p}
    ids = [e.id for p in parts for e in p]
    assert len(ids) == len(set(ids))
    orders = [{e.data["order_id"] for e in p if e.type == "order.placed"} for p in parts]
    assert orders[1] and orders[2] and not orders[1] & orders[2] and not orders[0] & orders[1]
    known = {e.data["enterprise_id"] for e in parts[0] if e.type == "partner.registered"}
    for p in parts[1:]:
        assert {e.data["supplier_id"] for e in p if e.type == "order.placed"} <= known
        assert len(p) == 3000


def test_each_part_draws_in_its_own_slice_of_the_days() -> None:
    placed = [
        [
            e.time_ms
            for e in generate(prefix="w-", enterprises=200, events=3000, chunk=k, chunks=3, end=END)
            if e.type == "order.placed"
        ]
        for k in range(3)
    ]
    assert max(placed[0]) <= min(placed[1]) and max(placed[1]) <= min(placed[2])


def test_one_part_is_the_history_it_always_was() -> None:
    whole = generate(prefix="w-", enterprises=200, events=3000, end=END)
    assert [e.value for e in whole] == [
        e.value for e in generate(prefix="w-", enterprises=200, events=3000, end=END, chunks=1)
    ]
