"""Comparing canonical graph dumps: what is missing, beyond, or different is counted apart."""

from __future__ import annotations

from graph.canonical import Dump, compare


def _dump(nodes: dict[str, int], rels: dict[str, list[int]]) -> Dump:
    return Dump(
        nodes={("Enterprise", k): (("share", v),) for k, v in nodes.items()},
        relationships={("SUPPLIES", "a", b, "sku/"): [(("share", v),) for v in vs] for b, vs in rels.items()},
    )


def test_equal_dumps_differ_in_nothing() -> None:
    a = _dump({"e1": 1, "e2": 2}, {"b1": [1]})
    diff = compare(a, _dump({"e1": 1, "e2": 2}, {"b1": [1]}))
    assert (diff.missing, diff.extra, diff.differing, diff.lost) == (0, 0, 0, 0)
    assert diff.examples == []


def test_missing_extra_and_changed_entities_are_counted_apart() -> None:
    reference = _dump({"e1": 1, "e2": 2}, {"b1": [1], "b2": [2]})
    run = _dump({"e1": 9, "e3": 3}, {"b1": [1, 1], "b2": [5]})
    diff = compare(reference, run)
    assert diff.missing == 1  # node e2
    assert diff.differing == 2  # node e1, relationship to b2
    assert diff.extra == 2  # node e3, a second relationship to b1
    assert diff.lost == 3
    assert any("e2" in e for e in diff.examples)


def test_dump_size_counts_every_relationship() -> None:
    assert _dump({"e1": 1}, {"b1": [1, 2], "b2": [3]}).size == 4
