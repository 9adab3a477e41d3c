"""The pure parts of the console's region view and live updates: what a region's view keeps
(``graph.views.region_view``) and which changes move an enterprise into a watched region
(``api.subscriptions.joined_region``)."""

from __future__ import annotations

from typing import Any

from api.changes import GraphChange, NodeRef, RelRef
from api.subscriptions import joined_region
from graph.views import region_view


def _node(i: str, region: str | None = "R", risk: float | None = None) -> dict[str, Any]:
    return {"id": i, "name": i, "industry": None, "region": region, "country": None, "riskScore": risk}


def _edge(s: str, b: str, sku: str = "x") -> dict[str, Any]:
    return {"supplierId": s, "buyerId": b, "sku": sku, "share": 0.5}


def test_a_region_view_keeps_its_members_first_then_the_best_linked_outside_enterprises() -> None:
    members = [_node("b", risk=0.9), _node("a", risk=0.1)]
    others = [_node("o1", "S"), _node("o2", "S"), _node("o3", None)]
    edges = [
        _edge("a", "b"),
        _edge("o1", "a"),
        _edge("o2", "a"),
        _edge("o2", "b", "y"),
        _edge("b", "o3"),
        _edge("o1", "o2"),  # between two outside enterprises: never drawn
    ]
    nodes, kept, truncated = region_view(members, others, edges, max_nodes=10)
    assert [(n["id"], n["inRegion"]) for n in nodes] == [
        ("b", True),
        ("a", True),
        ("o2", False),  # two links to the region
        ("o1", False),
        ("o3", False),
    ]
    assert not truncated
    assert {(e["supplierId"], e["buyerId"]) for e in kept} == {
        ("a", "b"),
        ("o1", "a"),
        ("o2", "a"),
        ("o2", "b"),
        ("b", "o3"),
    }

    nodes, kept, truncated = region_view(members, others, edges, max_nodes=3)
    assert [n["id"] for n in nodes] == ["b", "a", "o2"]
    assert truncated
    assert all(e["supplierId"] in {"a", "b", "o2"} and e["buyerId"] in {"a", "b", "o2"} for e in kept)


def test_a_region_view_cut_inside_the_region_drops_the_links_of_the_members_left_out() -> None:
    members = [_node("c", risk=0.9), _node("b", risk=0.5), _node("a", risk=0.1)]  # read: max_nodes + 1
    nodes, kept, truncated = region_view(members, [], [_edge("a", "b"), _edge("b", "c")], max_nodes=2)
    assert [n["id"] for n in nodes] == ["c", "b"]
    assert truncated
    assert [(e["supplierId"], e["buyerId"]) for e in kept] == [("b", "c")]


def test_an_empty_region_is_an_empty_view() -> None:
    assert region_view([], [], [], max_nodes=5) == ([], [], False)


def test_an_enterprise_located_in_the_region_joins_it() -> None:
    registered = GraphChange(
        "ev1",
        "partner.registered",
        nodes=[NodeRef("Enterprise", "n", "created")],
        relationships=[RelRef("LOCATED_IN", "Enterprise", "n", "Region", "R", None, "created")],
    )
    assert joined_region(registered, "R") == {"n"}
    assert joined_region(registered, "S") == set()
    moved_away = GraphChange(
        "ev2",
        "partner.updated",
        relationships=[RelRef("LOCATED_IN", "Enterprise", "n", "Region", "R", None, "ended")],
    )
    assert joined_region(moved_away, "R") == set()
    facility = GraphChange(
        "ev3", "facility.registered", relationships=[RelRef("LOCATED_IN", "Facility", "f", "Region", "R")]
    )
    assert joined_region(facility, "R") == set()
