"""A generated world anyone in the field recognises: Hubei's manufacturing network as catalog events.

A synthetic ERP source: ``generate`` builds the world (deterministic by size, seed, end date and id
prefix) and streams a year of its events; ``manifest`` says what was generated and which risks were
planted, so tests can check the system finds them. See docs/world.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from connectors.world.catalog import BOMS, CHAIN_PATHS, MATERIALS
from connectors.world.history import COLLAPSE_DAYS, HISTORY_DAYS, Event, History
from connectors.world.world import SIZES, World, build

__all__ = ["SIZES", "Event", "Generation", "generate"]


@dataclass
class Generation:
    """One generation run: the world's structure and its history (a stream, consumed once)."""

    world: World
    history: History

    def events(self) -> Iterator[Event]:
        """Every event, in time order; streamed, never held."""
        return self.history.events()

    def manifest(self) -> dict[str, Any]:
        """What was generated (counts so far: call after ``events`` is exhausted) and the planted risks."""
        w, h = self.world, self.history
        p = w.planted
        assert p is not None
        ids = w.ids
        start = h.end - timedelta(days=HISTORY_DAYS)
        flood_region = w.region_of(w.city_of(p.flooded[0])) if p.flooded else None
        return {
            "size": w.size.name,
            "seed": w.seed,
            "prefix": w.prefix,
            "history": {"from": start.isoformat(), "to": h.end.isoformat()},
            "counts": {
                "enterprises": len(ids),
                "facilities": h.facilities,
                "materials": len(MATERIALS),
                "boms": len(BOMS),
                "supply_links": w.links,
                "orders": h.orders,
                "design_projects": len(h.projects),
                "disruptions": len(h.disruptions),
                "events": sum(h.counts.values()),
                "events_by_type": dict(sorted(h.counts.items())),
            },
            "chains": {k: list(v) for k, v in CHAIN_PATHS.items()},
            "planted": {
                "sole_sources": [
                    {
                        "sku": sku,
                        "supplier": ids[s],
                        "buyers": [ids[b] for b in buyers],
                        "expected_factor": "structure",
                    }
                    for sku, s, buyers in p.sole_sources
                ],
                "regional_concentration": {
                    "sku": p.concentrated_sku,
                    "region": w.region_of(w.city_of(p.concentrated_suppliers[0])),
                    "suppliers": [ids[i] for i in p.concentrated_suppliers],
                    "expected_factor": "concentration",
                },
                "region_flood": {
                    "disruption_id": f"{w.prefix}dis-flood-{p.flood_city}",
                    "region": flood_region,
                    "enterprises": [ids[i] for i in p.flooded],
                    "expected_factor": "events",
                },
                "plant_outage": {
                    "disruption_id": f"{w.prefix}dis-outage-{ids[p.outage]}",
                    "enterprise": ids[p.outage],
                    "facility": h.main_facility[p.outage] if h.main_facility else None,
                    "expected_factor": "events",
                },
                "performance_collapse": {
                    "supplier": ids[p.collapse],
                    "from": (h.end - timedelta(days=COLLAPSE_DAYS)).isoformat(),
                    "expected_factor": "performance",
                },
                "chronically_late": [ids[i] for i in p.chronically_late],
            },
            "design_projects": h.projects,
            "disruptions": h.disruptions,
        }


def generate(
    size: str, seed: int, end: date, *, prefix: str = "", shared_regions: bool = False
) -> Generation:
    """Build the world of ``size`` (``demo``, ``10k``, ``100k``) for the year ending at ``end``; region
    names carry ``prefix`` unless ``shared_regions`` (see ``world.build``).

    Raises ``KeyError`` for an unknown size.
    """
    world = build(SIZES[size], seed, prefix=prefix, shared_regions=shared_regions)
    return Generation(world, History(world, end))
