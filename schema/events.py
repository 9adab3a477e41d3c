"""The event catalog: one typed, versioned payload per event type.

Payload field names are the supply-chain language ERP integrators use (``supplier_id``, ``sku``,
``lead_time_days``). Amounts are validated at the edge so the graph never holds an impossible value.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\s]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]


class Industry(enum.StrEnum):
    STEEL = "steel"
    PETROCHEMICAL = "petrochemical"
    NON_FERROUS = "non-ferrous"
    CHEMICAL = "chemical"
    MACHINERY = "machinery"
    AUTOMOTIVE = "automotive"
    ELECTRONICS = "electronics"
    ENERGY = "energy"
    LOGISTICS = "logistics"
    OTHER = "other"


class Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every payload; subclasses set ``TYPE`` (the CloudEvents ``type``) and ``SUBJECT``."""

    TYPE = ""
    SUBJECT = ""
    """Name of the payload field that must equal the envelope's ``subject``."""


class PartnerRegistered(Payload):
    """An enterprise joined the network (or re-announced itself)."""

    TYPE = "partner.registered"
    SUBJECT = "enterprise_id"

    enterprise_id: Id
    name: Name
    industry: Industry
    region: Name | None = None
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=2)] | None = None


class SupplyAgreed(Payload):
    """A supplier agreed to deliver a material (``sku``) to a buyer; ``share`` of the buyer's need."""

    TYPE = "supply.agreed"
    SUBJECT = "buyer_id"

    supplier_id: Id
    buyer_id: Id
    sku: Id
    share: Share
    lead_time_days: Days
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if self.supplier_id == self.buyer_id:
            raise ValueError("supplier_id and buyer_id must differ (an enterprise cannot supply itself)")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")


CATALOG: dict[str, type[Payload]] = {p.TYPE: p for p in (PartnerRegistered, SupplyAgreed)}
"""Event type -> payload struct. The validator refuses any type not listed here."""
