"""Master data has an owner: the source (ERP system of record) whose event registered it first.

Master data here is what describes a partner or a thing in the network rather than what happens to it:
enterprises (``partner.registered`` / ``partner.updated``), facilities (``facility.registered``) and
materials with their bills of materials (``material.defined`` / ``bom.defined``). A later change of a
record from another source is refused (dead-lettered naming ``$.source`` and the owner), unless the
source is an admin source (``stream.admin_sources``). Decisions follow the log's order, which
keeps one record's events in one partition, so a replay decides the same. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from graph.registry import REGISTRY
from schema.envelope import ValidEvent
from schema.errors import EventRejected

M = TypeVar("M")

Record = tuple[str, str]
"""(label, business key) of a master-data node, e.g. ``("Enterprise", "wisco")``."""

KEYS: Mapping[str, str] = {"Enterprise": "id", "Facility": "id", "Material": "sku"}
"""The key property of each master-data label."""

_NOUN = {"Enterprise": "enterprise", "Facility": "facility", "Material": "material"}


def master_record(ev: ValidEvent) -> Record | None:
    """The master-data node ``ev`` changes (its type's ``master`` in ``graph.registry``), or None if it
    is not a master-data event."""
    master = REGISTRY[type(ev.data)].master
    return master(ev.data) if master is not None else None


@dataclass
class Verdict(Generic[M]):
    """Events to apply (in their order), those refused with why, and the owners the batch claims."""

    accepted: list[tuple[M, ValidEvent]] = field(default_factory=list)
    refused: list[tuple[M, EventRejected]] = field(default_factory=list)
    claims: dict[Record, str] = field(default_factory=dict)


def check_owners(
    events: Sequence[tuple[M, ValidEvent]], owners: Mapping[Record, str], admin_sources: Collection[str]
) -> Verdict[M]:
    """Refuse changes of master data by a source other than its owner (admin sources excepted).

    ``owners`` are the stored owners of the batch's records; a record without one is claimed by the
    source of its first master-data event in the batch (an admin source too: what an admin
    registered, an admin keeps). Deterministic in the order of ``events``.
    """
    out: Verdict[M] = Verdict()
    for meta, ev in events:
        rec = master_record(ev)
        if rec is None:
            out.accepted.append((meta, ev))
            continue
        owner = owners.get(rec) or out.claims.get(rec)
        if owner is None:
            out.claims[rec] = ev.source
        elif owner != ev.source and ev.source not in admin_sources:
            label, key = rec
            reason = (
                f"{_NOUN[label]} {key!r} is master data owned by source {owner!r}, which registered it; "
                f"source {ev.source!r} may not change it (only the owner or an admin source may)"
            )
            err = EventRejected(
                reason, field="$.source", event_id=ev.id, event_type=ev.type, error_class="ownership"
            )
            out.refused.append((meta, err))
            continue
        out.accepted.append((meta, ev))
    return out


def records_by_label(events: Sequence[ValidEvent]) -> dict[str, list[str]]:
    """label -> sorted keys of the master-data records ``events`` change (what to look owners up for)."""
    out: dict[str, set[str]] = {}
    for ev in events:
        rec = master_record(ev)
        if rec is not None:
            out.setdefault(rec[0], set()).add(rec[1])
    return {label: sorted(keys) for label, keys in out.items()}
