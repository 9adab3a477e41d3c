"""The contracts of supplynet: the event envelope, typed payloads, validation errors and SQL tables.

Imports nothing of ours and nothing that does I/O.
"""

from schema.envelope import Envelope, ValidEvent
from schema.errors import EventRejected, SchemaError
from schema.events import CATALOG, Industry, PartnerRegistered, SupplyAgreed
from schema.validate import decode_event

__all__ = [
    "CATALOG",
    "Envelope",
    "EventRejected",
    "Industry",
    "PartnerRegistered",
    "SchemaError",
    "SupplyAgreed",
    "ValidEvent",
    "decode_event",
]
