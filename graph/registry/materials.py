"""Materials and their bills of materials (master data)."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named
from graph.rows import GraphRows, Stamp
from schema.events import BomDefined, MaterialDefined


def _defined(b: GraphRows, d: MaterialDefined, st: Stamp) -> None:
    b.node(model.MATERIAL, d.sku, "defined", {"name": d.name, "category": d.category, "unit": d.unit}, st)


def _bom(b: GraphRows, d: BomDefined, st: Stamp) -> None:
    b.bom(d, st)


def _nothing(_: MaterialDefined | BomDefined) -> Named:
    return Named()


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(MaterialDefined, _defined, _nothing, master=lambda d: ("Material", d.sku)),
    EventUnit(BomDefined, _bom, _nothing, master=lambda d: ("Material", d.product_sku)),
)
