"""Pure mapping of valid events to graph mutation rows (one list per mutation kind).

Rows carry the event's (time, sequence) so the writer can apply last-writer-wins; within a batch,
only the newest row per entity is kept, so an older event later in the batch never wins.
Relationship rows are sorted by their end-node ids so concurrent writers lock nodes in one order
(no deadlocks between workers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schema.envelope import ValidEvent
from schema.events import PartnerRegistered, SupplyAgreed

Row = dict[str, Any]


@dataclass
class Mutations:
    enterprises: list[Row] = field(default_factory=list)
    supplies: list[Row] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.enterprises) + len(self.supplies)


def _stamp(ev: ValidEvent) -> Row:
    return {"t": ev.time_ms, "seq": ev.sequence, "eid": ev.id, "src": ev.source}


def _newest(rows: dict[tuple[str, ...], Row], key: tuple[str, ...], row: Row) -> None:
    old = rows.get(key)
    if old is None or (row["t"], row["seq"]) >= (old["t"], old["seq"]):
        rows[key] = row


def to_mutations(events: Iterable[ValidEvent]) -> Mutations:
    """Map events to rows; keep only the newest row per entity; order relationship rows by key."""
    enterprises: dict[tuple[str, ...], Row] = {}
    supplies: dict[tuple[str, ...], Row] = {}
    for ev in events:
        d = ev.data
        if isinstance(d, PartnerRegistered):
            _newest(
                enterprises,
                (d.enterprise_id,),
                {
                    "id": d.enterprise_id,
                    "name": d.name,
                    "industry": d.industry.value,
                    "region": d.region,
                    "country": d.country,
                    **_stamp(ev),
                },
            )
        elif isinstance(d, SupplyAgreed):
            _newest(
                supplies,
                (d.supplier_id, d.buyer_id, d.sku),
                {
                    "supplier": d.supplier_id,
                    "buyer": d.buyer_id,
                    "sku": d.sku,
                    "share": d.share,
                    "leadTimeDays": d.lead_time_days,
                    "validFrom": d.valid_from,
                    "validTo": d.valid_to,
                    **_stamp(ev),
                },
            )
    return Mutations(
        enterprises=[enterprises[k] for k in sorted(enterprises)],
        supplies=[supplies[k] for k in sorted(supplies)],
    )
