"""Events -> graph rows: newest per entity wins inside a batch; relationship rows are ordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.mutations import to_mutations
from schema.envelope import ValidEvent
from schema.events import Industry, PartnerRegistered, SupplyAgreed

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def partner(eid: str, name: str, *, at: int, seq: int = 0, id_: str | None = None) -> ValidEvent:
    return ValidEvent(
        id=id_ or f"p-{eid}-{at}-{seq}",
        source="erp",
        type="partner.registered",
        time=T0 + timedelta(seconds=at),
        subject=eid,
        sequence=seq,
        data=PartnerRegistered(enterprise_id=eid, name=name, industry=Industry.STEEL),
    )


def supply(s: str, b: str, sku: str, share: float, *, at: int) -> ValidEvent:
    return ValidEvent(
        id=f"s-{s}-{b}-{sku}-{at}",
        source="erp",
        type="supply.agreed",
        time=T0 + timedelta(seconds=at),
        subject=b,
        sequence=0,
        data=SupplyAgreed(supplier_id=s, buyer_id=b, sku=sku, share=share, lead_time_days=7),
    )


def test_an_older_event_later_in_the_batch_does_not_win() -> None:
    m = to_mutations([partner("wisco", "武汉钢铁 new", at=10), partner("wisco", "old", at=5)])
    assert [r["name"] for r in m.enterprises] == ["武汉钢铁 new"]


def test_sequence_breaks_ties_of_equal_time() -> None:
    m = to_mutations([partner("w", "second", at=1, seq=2), partner("w", "first", at=1, seq=1)])
    assert m.enterprises[0]["name"] == "second"
    assert m.enterprises[0]["seq"] == 2


def test_rows_carry_provenance() -> None:
    m = to_mutations([partner("w", "x", at=1, id_="evt-9")])
    row = m.enterprises[0]
    assert (row["eid"], row["src"], row["t"]) == ("evt-9", "erp", int((T0.timestamp() + 1) * 1000))


def test_supply_rows_are_sorted_by_supplier_buyer_sku_to_avoid_deadlocks() -> None:
    m = to_mutations(
        [supply("z", "a", "k", 0.1, at=1), supply("a", "z", "k", 0.2, at=1), supply("a", "b", "k", 0.3, at=1)]
    )
    assert [(r["supplier"], r["buyer"]) for r in m.supplies] == [("a", "b"), ("a", "z"), ("z", "a")]


def test_one_supply_row_per_link_and_sku() -> None:
    m = to_mutations(
        [
            supply("a", "b", "k", 0.1, at=1),
            supply("a", "b", "k", 0.4, at=2),
            supply("a", "b", "other", 0.5, at=1),
        ]
    )
    assert len(m) == 2
    assert {r["sku"]: r["share"] for r in m.supplies} == {"k": 0.4, "other": 0.5}
