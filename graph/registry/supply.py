"""Supply relationships: who supplies whom with which material, and when that ends."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, named
from graph.rows import GraphRows, Stamp
from schema.events import SupplyAgreed, SupplyEnded


def _agreed(b: GraphRows, d: SupplyAgreed, st: Stamp) -> None:
    keys = {"sku": d.sku}
    agreed = {
        "share": d.share,
        "leadTimeDays": d.lead_time_days,
        "validFrom": d.valid_from or st.on,
        "unitPrice": d.unit_price,
        "currency": d.currency,
        "annualVolume": d.annual_volume,
    }
    b.rel(model.SUPPLIES, d.supplier_id, d.buyer_id, keys, "agreed", agreed, st)
    b.rel(
        model.SUPPLIES,
        d.supplier_id,
        d.buyer_id,
        keys,
        "validity",
        {"validTo": d.valid_to, "endReason": None},
        st,
    )


def _ended(b: GraphRows, d: SupplyEnded, st: Stamp) -> None:
    validity = {"validTo": d.ended_on, "endReason": d.reason}
    b.rel(model.SUPPLIES, d.supplier_id, d.buyer_id, {"sku": d.sku}, "validity", validity, st)


def _parties(d: SupplyAgreed | SupplyEnded) -> Named:
    return named(enterprises=[d.supplier_id, d.buyer_id])


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(SupplyAgreed, _agreed, _parties),
    EventUnit(SupplyEnded, _ended, _parties),
)
