"""Which topic the validate stage forwards each valid event type to: the one decision, in one place.

- ``events.valid`` (the project stage, live risk, record views): every type with graph rows or records.
- ``events.telemetry`` (the service job alone): the streamed types with nothing to project
  (``equipment.telemetry``: no graph rows, no records), which go nowhere else, and a copy of each other
  type the service job folds, so the job reads one topic in the order of ``events.raw``.

Why a topic of its own: at 10,000 readings/s, every reading in ``events.valid`` was consumed by the
project stage only to be passed over, and every ERP event in it by the service job only to be skipped;
each consumer now reads only what it works on (docs/service.md).
"""

from __future__ import annotations

from graph.registry import REGISTRY
from schema.events import EquipmentAlarm, EquipmentInstalled, EquipmentTelemetry, MaintenanceCompleted

SERVICE_ONLY = frozenset(cls.TYPE for cls, unit in REGISTRY.items() if unit.streamed and unit.records is None)
"""Types forwarded to ``events.telemetry`` only: streamed, with no graph rows and no records."""

SERVICE_TYPES = frozenset(
    {
        EquipmentInstalled.TYPE,
        EquipmentTelemetry.TYPE,
        EquipmentAlarm.TYPE,
        MaintenanceCompleted.TYPE,
    }
)
"""The types the service job folds: all of them are forwarded to ``events.telemetry``."""


def to_valid(event_type: str) -> bool:
    """Whether an event of ``event_type`` is forwarded to ``events.valid``."""
    return event_type not in SERVICE_ONLY


def to_telemetry(event_type: str) -> bool:
    """Whether an event of ``event_type`` is forwarded to ``events.telemetry``."""
    return event_type in SERVICE_TYPES
