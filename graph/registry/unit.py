"""One registered unit per event type: what its payload writes to the graph and the record store, and
the ids it names. Pure declarations; ``graph.registry`` assembles them and checks them complete."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graph.rows import GraphRows, Row, Stamp
from schema.events import Payload
from schema.records import Group

P = TypeVar("P", bound=Payload)

RecordRows = list[tuple[Group, Row]]
"""Rows for the record store, each with the field group it writes (versions are added by the caller)."""


@dataclass(frozen=True, slots=True)
class Named:
    """The ids of the network an event names, by kind (what live risk rescores)."""

    enterprises: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    disruptions: tuple[str, ...] = ()


def named(
    *,
    enterprises: Iterable[str | None] = (),
    facilities: Iterable[str | None] = (),
    regions: Iterable[str | None] = (),
    disruptions: Iterable[str | None] = (),
) -> Named:
    """``Named`` without the optional ids an event left out (None)."""
    return Named(
        tuple(i for i in enterprises if i is not None),
        tuple(i for i in facilities if i is not None),
        tuple(i for i in regions if i is not None),
        tuple(i for i in disruptions if i is not None),
    )


@dataclass(frozen=True)
class EventUnit(Generic[P]):
    """Everything an event type does downstream of validation, keyed by its payload type.

    ``graph`` adds the event's rows to a batch (``GraphRows``: folded newest-per-aspect later);
    ``records`` returns its record-store rows (``None``: the type writes no records, i.e. it is not
    part of the flow); ``names`` returns the enterprises, facilities, regions and disruptions it names;
    ``master`` the master-data node it changes, as (label, key) (``None``: not master data; see
    ``graph.ownership``); ``streamed`` marks a type whose events write no graph rows of their own. All
    are pure.
    """

    payload: type[P]
    graph: Callable[[GraphRows, P, Stamp], None]
    names: Callable[[P], Named]
    records: Callable[[P, Stamp], RecordRows] | None = None
    master: Callable[[P], tuple[str, str]] | None = None
    streamed: bool = False
    """A high-rate type aggregated by a stream job (``equipment.telemetry``): ``graph`` writes nothing
    per event; the job writes the aggregate."""


def enum_value(v: Any) -> Any:
    """An enum member's value (what the graph stores), anything else unchanged."""
    return v.value if v is not None and hasattr(v, "value") else v
