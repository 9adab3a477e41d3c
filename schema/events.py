"""The event catalog: one typed, versioned payload per event type.

Field names are the supply-chain language ERP integrators use (``supplier_id``, ``sku``,
``lead_time_days``). Quantities, shares and dates are checked at the edge so the graph never holds an
impossible value. ``SUBJECT`` names the payload field that must equal the envelope's ``subject``: the
Kafka key, so that all events about one enterprise (or one material, order stream, disruption, design
project) stay in one partition, in order.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, ClassVar

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\s]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
DesignUri = Annotated[
    str, msgspec.Meta(min_length=1, max_length=2048, pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")
]
ContentHash = Annotated[str, msgspec.Meta(pattern=r"^sha256:[0-9a-f]{64}$")]
Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]
Quantity = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Country = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=2,
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code (upper case, e.g. CN, DE)",
    ),
]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Currency = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code (upper case, e.g. CNY, EUR)")
]


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


class FacilityKind(enum.StrEnum):
    PLANT = "plant"
    MINE = "mine"
    REFINERY = "refinery"
    WAREHOUSE = "warehouse"
    PORT = "port"
    DISTRIBUTION_CENTER = "distribution-center"
    LAB = "lab"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class DisruptionKind(enum.StrEnum):
    FIRE = "fire"
    FLOOD = "flood"
    EARTHQUAKE = "earthquake"
    TYPHOON = "typhoon"
    POWER_OUTAGE = "power-outage"
    STRIKE = "strike"
    PANDEMIC = "pandemic"
    SANCTION = "sanction"
    CYBER = "cyber"
    LOGISTICS = "logistics"
    EQUIPMENT = "equipment"
    INSOLVENCY = "insolvency"
    OTHER = "other"


class DesignRole(enum.StrEnum):
    OEM = "oem"
    TIER1 = "tier1"
    TIER2 = "tier2"
    MATERIAL_SUPPLIER = "material-supplier"
    DESIGN_HOUSE = "design-house"
    TOOLMAKER = "toolmaker"
    TESTING_LAB = "testing-lab"


class ChangeDecision(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_INFO = "needs-info"


class ComponentChange(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


class Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every payload; subclasses set the class attributes below."""

    TYPE: ClassVar[str] = ""
    """The CloudEvents ``type``."""
    VERSION: ClassVar[int] = 1
    """The payload's schema version; ``dataschema`` may name it (``…/<type>/v<N>.json``)."""
    SUBJECT: ClassVar[str] = ""
    """The payload field that must equal the envelope's ``subject`` (the Kafka key)."""
    GROUP: ClassVar[str] = ""
    """The catalog section, for docs."""


def _check_dates(start: date | None, end: date | None, what: str) -> None:
    if start and end and end < start:
        raise ValueError(f"{what}: the end date is before the start date")


# -- partners ------------------------------------------------------------------------------------


class PartnerRegistered(Payload):
    """An enterprise joined the network (or re-announced itself with its full master data)."""

    TYPE = "partner.registered"
    SUBJECT = "enterprise_id"
    GROUP = "partners"

    enterprise_id: Id
    name: Name
    industry: Industry
    region: Name | None = None
    country: Country | None = None
    capabilities: list[Name] = []


class PartnerUpdated(Payload):
    """Some master data of an enterprise changed; fields left out keep their value."""

    TYPE = "partner.updated"
    SUBJECT = "enterprise_id"
    GROUP = "partners"

    enterprise_id: Id
    name: Name | None = None
    industry: Industry | None = None
    region: Name | None = None
    country: Country | None = None
    capabilities: list[Name] | None = None


class FacilityRegistered(Payload):
    """A plant, mine, warehouse or port of an enterprise, with where it is."""

    TYPE = "facility.registered"
    SUBJECT = "enterprise_id"
    GROUP = "partners"

    facility_id: Id
    enterprise_id: Id
    name: Name
    kind: FacilityKind
    region: Name
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class CertificationGranted(Payload):
    """A quality, safety or environmental certificate (ISO 9001, IATF 16949, ISO 14001, …)."""

    TYPE = "certification.granted"
    SUBJECT = "enterprise_id"
    GROUP = "partners"

    enterprise_id: Id
    certificate_id: Id
    standard: Name
    valid_until: date
    issuer: Name | None = None
    valid_from: date | None = None

    def __post_init__(self) -> None:
        _check_dates(self.valid_from, self.valid_until, "certificate validity")


class CertificationExpired(Payload):
    """A certificate lapsed or was withdrawn."""

    TYPE = "certification.expired"
    SUBJECT = "enterprise_id"
    GROUP = "partners"

    enterprise_id: Id
    certificate_id: Id
    reason: Text | None = None


# -- materials -----------------------------------------------------------------------------------


class MaterialDefined(Payload):
    """A material, part or product, identified by its sku."""

    TYPE = "material.defined"
    SUBJECT = "sku"
    GROUP = "materials"

    sku: Id
    name: Name
    category: Name
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] = "pcs"


class BomComponent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sku: Id
    qty: Quantity


class BomDefined(Payload):
    """A product's bill of materials: its direct components and quantities per unit (replaces the old)."""

    TYPE = "bom.defined"
    SUBJECT = "product_sku"
    GROUP = "materials"

    product_sku: Id
    components: Annotated[list[BomComponent], msgspec.Meta(min_length=1, max_length=2000)]

    def __post_init__(self) -> None:
        skus = [c.sku for c in self.components]
        if self.product_sku in skus:
            raise ValueError("a product cannot be a component of itself")
        if len(set(skus)) != len(skus):
            raise ValueError("a component sku is listed twice")


# -- supply relationships ------------------------------------------------------------------------


class SupplyAgreed(Payload):
    """A supplier agreed to deliver a material (``sku``) to a buyer; ``share`` of the buyer's need."""

    TYPE = "supply.agreed"
    SUBJECT = "buyer_id"
    GROUP = "supply relationships"

    supplier_id: Id
    buyer_id: Id
    sku: Id
    share: Share
    lead_time_days: Days
    valid_from: date | None = None
    valid_to: date | None = None
    unit_price: NonNegative | None = None
    currency: Currency | None = None
    annual_volume: NonNegative | None = None

    def __post_init__(self) -> None:
        if self.supplier_id == self.buyer_id:
            raise ValueError("supplier_id and buyer_id must differ (an enterprise cannot supply itself)")
        _check_dates(self.valid_from, self.valid_to, "agreement validity")


class SupplyEnded(Payload):
    """A supply agreement ended; the relationship is kept with its ``validTo`` for "as of" views."""

    TYPE = "supply.ended"
    SUBJECT = "buyer_id"
    GROUP = "supply relationships"

    supplier_id: Id
    buyer_id: Id
    sku: Id
    ended_on: date
    reason: Text | None = None


# -- orders and logistics ------------------------------------------------------------------------


class _OrderRef(Payload):
    order_id: Id
    buyer_id: Id
    supplier_id: Id


class OrderPlaced(_OrderRef):
    """A purchase order from a buyer to a supplier for one sku."""

    TYPE = "order.placed"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    sku: Id
    quantity: Quantity
    requested_date: date
    unit_price: NonNegative | None = None
    currency: Currency | None = None


class OrderConfirmed(_OrderRef):
    """The supplier confirmed a quantity and a promised delivery date."""

    TYPE = "order.confirmed"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    confirmed_quantity: Quantity
    promised_date: date


class OrderShipped(_OrderRef):
    """Goods left the supplier."""

    TYPE = "order.shipped"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    shipment_id: Id
    quantity: Quantity
    shipped_on: date
    expected_delivery: date
    carrier_id: Id | None = None

    def __post_init__(self) -> None:
        _check_dates(self.shipped_on, self.expected_delivery, "shipment")


class OrderDelivered(_OrderRef):
    """Goods arrived at the buyer: promised vs actual date and quantity feed on-time / in-full."""

    TYPE = "order.delivered"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    quantity_ordered: Quantity
    quantity_delivered: NonNegative
    promised_date: date
    delivered_on: date
    ordered_on: date | None = None
    """When the order was placed; with ``delivered_on`` it gives the realised lead time."""


class OrderCancelled(_OrderRef):
    """The order was cancelled by either side."""

    TYPE = "order.cancelled"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    reason: Text | None = None


class ShipmentDelayed(_OrderRef):
    """A shipment will arrive later than expected."""

    TYPE = "shipment.delayed"
    SUBJECT = "buyer_id"
    GROUP = "orders and logistics"

    shipment_id: Id
    new_expected_delivery: date
    delay_days: Annotated[int, msgspec.Meta(ge=1, le=3650)]
    reason: Text | None = None


# -- operations ----------------------------------------------------------------------------------


class InventoryReported(Payload):
    """Stock of a material at an enterprise (or one facility); with daily usage it gives days of cover."""

    TYPE = "inventory.reported"
    SUBJECT = "enterprise_id"
    GROUP = "operations"

    enterprise_id: Id
    sku: Id
    on_hand: NonNegative
    daily_usage: NonNegative
    facility_id: Id | None = None

    @property
    def days_of_cover(self) -> float | None:
        """on hand / daily usage; ``None`` when nothing is used (cover is unbounded)."""
        return self.on_hand / self.daily_usage if self.daily_usage > 0 else None


class CapacityReported(Payload):
    """Production capacity per day and its utilisation, for an enterprise or one facility."""

    TYPE = "capacity.reported"
    SUBJECT = "enterprise_id"
    GROUP = "operations"

    enterprise_id: Id
    capacity_per_day: Quantity
    utilization: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)]
    sku: Id | None = None
    facility_id: Id | None = None


class QualityIncident(Payload):
    """A quality problem with a supplier's material (defects in ppm, severity)."""

    TYPE = "quality.incident"
    SUBJECT = "supplier_id"
    GROUP = "operations"

    incident_id: Id
    supplier_id: Id
    sku: Id
    severity: Severity
    defect_ppm: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
    buyer_id: Id | None = None
    description: Text | None = None


class EquipmentAlarm(Payload):
    """A predictive-maintenance signal from service-oriented manufacturing (vibration, temperature, …)."""

    TYPE = "equipment.alarm"
    SUBJECT = "enterprise_id"
    GROUP = "operations"

    alarm_id: Id
    enterprise_id: Id
    equipment_id: Id
    signal: Name
    severity: Severity
    facility_id: Id | None = None
    predicted_failure_days: Days | None = None


# -- disruptions ---------------------------------------------------------------------------------


class DisruptionReported(Payload):
    """Something stopped or slowed an enterprise, a facility or a whole region."""

    TYPE = "disruption.reported"
    SUBJECT = "disruption_id"
    GROUP = "disruptions"

    disruption_id: Id
    kind: DisruptionKind
    severity: Severity
    expected_recovery_days: Days
    enterprise_id: Id | None = None
    facility_id: Id | None = None
    region: Name | None = None
    description: Text | None = None

    def __post_init__(self) -> None:
        targets = [t for t in (self.enterprise_id, self.facility_id, self.region) if t]
        if len(targets) != 1:
            raise ValueError("name exactly one of enterprise_id, facility_id or region")


class DisruptionResolved(Payload):
    """A disruption is over (the envelope's ``time`` is when)."""

    TYPE = "disruption.resolved"
    SUBJECT = "disruption_id"
    GROUP = "disruptions"

    disruption_id: Id
    note: Text | None = None


# -- collaborative design ------------------------------------------------------------------------


class DesignProjectCreated(Payload):
    """A collaborative design project (a new model, a lightweighting program, …) owned by an enterprise."""

    TYPE = "design.project.created"
    SUBJECT = "project_id"
    GROUP = "collaborative design"

    project_id: Id
    name: Name
    owner_id: Id
    product_sku: Id | None = None
    description: Text | None = None


class DesignPartnerJoined(Payload):
    """An enterprise joined a design project in a role."""

    TYPE = "design.partner.joined"
    SUBJECT = "project_id"
    GROUP = "collaborative design"

    project_id: Id
    enterprise_id: Id
    role: DesignRole


class RevisionComponent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sku: Id
    change: ComponentChange
    qty: Quantity | None = None


class DesignRevisionPublished(Payload):
    """A new revision of a design, with the components it added, removed or modified."""

    TYPE = "design.revision.published"
    SUBJECT = "project_id"
    GROUP = "collaborative design"

    project_id: Id
    revision_id: Id
    label: Name
    changed_components: list[RevisionComponent] = []
    uri: DesignUri | None = None
    """Where the design files are (the system never stores them)."""
    content_hash: ContentHash | None = None
    """``sha256:<hex>`` of the files at ``uri``, so every partner can check it has the same revision."""


class DesignChangeRequested(Payload):
    """An engineering change request that affects the suppliers of the given skus."""

    TYPE = "design.change.requested"
    SUBJECT = "project_id"
    GROUP = "collaborative design"

    project_id: Id
    change_id: Id
    affected_skus: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=500)]
    reason: Text
    required_by: date | None = None


class DesignChangeAnswered(Payload):
    """A project member's answer to a change request (the latest answer is the request's status)."""

    TYPE = "design.change.answered"
    SUBJECT = "project_id"
    GROUP = "collaborative design"

    project_id: Id
    change_id: Id
    enterprise_id: Id
    decision: ChangeDecision
    note: Text | None = None


# -- traceability --------------------------------------------------------------------------------


class LotQuantity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A quantity of one lot (or one serialised item: quantity 1)."""

    lot_id: Id
    quantity: Quantity


def _check_lots(lots: list[LotQuantity], what: str) -> None:
    ids = [x.lot_id for x in lots]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{what}: a lot is listed twice")


class LotProduced(Payload):
    """A lot (a heat, a coil, a batch) made at an enterprise from input lots; none for a raw-material lot.

    ``lot_id`` is unique across the network (GS1: the LGTIN ``gtin.lot``, or the SGTIN of a serial).
    """

    TYPE = "lot.produced"
    SUBJECT = "enterprise_id"
    GROUP = "traceability"

    lot_id: Id
    sku: Id
    quantity: Quantity
    enterprise_id: Id
    facility_id: Id | None = None
    inputs: Annotated[list[LotQuantity], msgspec.Meta(max_length=2000)] = []
    """The input lots consumed and how much of each."""
    serials: Annotated[list[Id], msgspec.Meta(max_length=10000)] = []
    production_id: Id | None = None
    """The production order or EPCIS ``transformationID`` that made it."""

    def __post_init__(self) -> None:
        _check_lots(self.inputs, "inputs")
        if any(x.lot_id == self.lot_id for x in self.inputs):
            raise ValueError("a lot cannot be made from itself")


class LotPacked(Payload):
    """Lots packed into a shipping unit (a pallet or container, GS1 SSCC) at an enterprise."""

    TYPE = "lot.packed"
    SUBJECT = "enterprise_id"
    GROUP = "traceability"

    unit_id: Id
    enterprise_id: Id
    contents: Annotated[list[LotQuantity], msgspec.Meta(min_length=1, max_length=10000)]
    facility_id: Id | None = None

    def __post_init__(self) -> None:
        _check_lots(self.contents, "contents")


class LotUnpacked(Payload):
    """Lots taken out of a shipping unit (the envelope's ``time`` is when)."""

    TYPE = "lot.unpacked"
    SUBJECT = "enterprise_id"
    GROUP = "traceability"

    unit_id: Id
    enterprise_id: Id
    lot_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10000)]
    facility_id: Id | None = None


class _LotMovement(Payload):
    shipment_id: Id
    supplier_id: Id
    buyer_id: Id
    lots: Annotated[list[LotQuantity], msgspec.Meta(max_length=10000)] = []
    units: Annotated[list[Id], msgspec.Meta(max_length=10000)] = []
    """Shipping units moved whole: their packed lots moved with them."""
    order_id: Id | None = None
    facility_id: Id | None = None

    def __post_init__(self) -> None:
        if self.supplier_id == self.buyer_id:
            raise ValueError("supplier_id and buyer_id must differ")
        if not self.lots and not self.units:
            raise ValueError("name at least one lot or shipping unit")
        _check_lots(self.lots, "lots")


class LotShipped(_LotMovement):
    """Lots (loose or in shipping units) left a supplier for a buyer."""

    TYPE = "lot.shipped"
    SUBJECT = "supplier_id"
    GROUP = "traceability"


class LotReceived(_LotMovement):
    """Lots (loose or in shipping units) arrived at a buyer from a supplier."""

    TYPE = "lot.received"
    SUBJECT = "buyer_id"
    GROUP = "traceability"


# -- crowd design (open calls) -------------------------------------------------------------------

Score = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class DesignCallOpened(Payload):
    """A design task of a project opened to the network (an open call, 众包设计): the requirements a
    proposer must meet and the deadline. ``supply_annual_volume`` (with ``material_sku``): the award
    also makes the winner a supplier of that material to the calling enterprise."""

    TYPE = "design.call.opened"
    SUBJECT = "call_id"
    GROUP = "crowd design"

    call_id: Id
    project_id: Id
    enterprise_id: Id
    """The calling enterprise (the project's owner)."""
    task: Text
    deadline: AwareTime
    """Proposals whose event time is later are refused."""
    capability: Name | None = None
    material_sku: Id | None = None
    """The proposer must produce (a capacity report) or currently supply this material."""
    certification: Name | None = None
    """A standard (e.g. IATF 16949) the proposer must hold, active and valid on the proposal's day."""
    required_region: Name | None = None
    """The proposer's enterprise, or one of its facilities, must be in this region."""
    supply_annual_volume: Quantity | None = None

    def __post_init__(self) -> None:
        if self.supply_annual_volume is not None and self.material_sku is None:
            raise ValueError("supply_annual_volume needs material_sku (the material to supply)")
        if not self.task.strip():
            raise ValueError("task: must not be blank")


class DesignProposalSubmitted(Payload):
    """An enterprise's proposal to an open call; its design files stay where ``uri`` points. Eligibility
    is checked when it is projected: an ineligible proposal is kept as ``refused`` with the reason."""

    TYPE = "design.proposal.submitted"
    SUBJECT = "call_id"
    GROUP = "crowd design"

    call_id: Id
    proposal_id: Id
    enterprise_id: Id
    summary: Text
    uri: DesignUri | None = None
    content_hash: ContentHash | None = None


class DesignProposalEvaluated(Payload):
    """The calling enterprise's evaluation of a proposal: a score from 0 to 100 and notes."""

    TYPE = "design.proposal.evaluated"
    SUBJECT = "call_id"
    GROUP = "crowd design"

    call_id: Id
    proposal_id: Id
    score: Score
    notes: Text | None = None


class DesignCallAwarded(Payload):
    """The call is awarded to a proposal: its enterprise joins the project in ``role`` and, where the
    call names a supply, becomes a supplier of that material to the calling enterprise."""

    TYPE = "design.call.awarded"
    SUBJECT = "call_id"
    GROUP = "crowd design"

    call_id: Id
    proposal_id: Id
    role: DesignRole = DesignRole.DESIGN_HOUSE
    share: Share | None = None
    """Of the supply, when the call names one (default 1.0)."""
    lead_time_days: Days | None = None


# -- service-oriented manufacturing ----------------------------------------------------------------


class MetricLimit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The allowed band of one telemetry metric of an installed piece of equipment (either end optional)."""

    metric: Name
    low: float | None = None
    high: float | None = None
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] | None = None

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ValueError(f"limit of {self.metric}: name low, high or both")
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError(f"limit of {self.metric}: high is below low")


class EquipmentInstalled(Payload):
    """A maker's product (one serial) installed at a customer's site: the installed base it serves.

    Keyed by the customer, the enterprise where the equipment runs (as its telemetry, alarms and
    maintenance are), so one piece of equipment's events stay in one partition, in order.
    """

    TYPE = "equipment.installed"
    SUBJECT = "customer_id"
    GROUP = "service"

    equipment_id: Id
    maker_id: Id
    customer_id: Id
    sku: Id
    serial: Id
    installed_on: date
    facility_id: Id | None = None
    limits: Annotated[list[MetricLimit], msgspec.Meta(max_length=100)] = []
    """Per-metric bands; a reading outside its band is a threshold crossing (docs/service.md)."""

    def __post_init__(self) -> None:
        if self.maker_id == self.customer_id:
            raise ValueError("maker_id and customer_id must differ (equipment sold to its own maker)")
        metrics = [x.metric for x in self.limits]
        if len(set(metrics)) != len(metrics):
            raise ValueError("limits: a metric is listed twice")


class EquipmentTelemetry(Payload):
    """One reading of one metric of installed equipment (the envelope's ``time`` is when it was taken).

    High rate: aggregated in the stream into the equipment's health, never one graph write per reading.
    """

    TYPE = "equipment.telemetry"
    SUBJECT = "customer_id"
    GROUP = "service"

    equipment_id: Id
    customer_id: Id
    metric: Name
    value: float
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] | None = None


class _WorkOrderRef(Payload):
    work_order_id: Id
    equipment_id: Id
    customer_id: Id


class MaintenanceRequested(_WorkOrderRef):
    """A service work order opened on a piece of equipment (by the customer, the maker or an alert)."""

    TYPE = "maintenance.requested"
    SUBJECT = "customer_id"
    GROUP = "service"

    reason: Text
    priority: Severity = Severity.MEDIUM


class MaintenanceScheduled(_WorkOrderRef):
    """A work order got a date (and a technician)."""

    TYPE = "maintenance.scheduled"
    SUBJECT = "customer_id"
    GROUP = "service"

    scheduled_for: date
    technician: Name | None = None


class MaintenanceCompleted(_WorkOrderRef):
    """A work order was done: what was found, what was replaced, whether the equipment is restored.

    ``restored`` (default) resets the equipment's health indicator: its alarm rate and threshold
    crossings start again from zero.
    """

    TYPE = "maintenance.completed"
    SUBJECT = "customer_id"
    GROUP = "service"

    completed_on: date
    findings: Text
    parts_replaced: Annotated[list[Id], msgspec.Meta(max_length=500)] = []
    restored: bool = True


PAYLOADS: tuple[type[Payload], ...] = (
    PartnerRegistered,
    PartnerUpdated,
    FacilityRegistered,
    CertificationGranted,
    CertificationExpired,
    MaterialDefined,
    BomDefined,
    SupplyAgreed,
    SupplyEnded,
    OrderPlaced,
    OrderConfirmed,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    ShipmentDelayed,
    InventoryReported,
    CapacityReported,
    QualityIncident,
    EquipmentAlarm,
    DisruptionReported,
    DisruptionResolved,
    DesignProjectCreated,
    DesignPartnerJoined,
    DesignRevisionPublished,
    DesignChangeRequested,
    DesignChangeAnswered,
    LotProduced,
    LotPacked,
    LotUnpacked,
    LotShipped,
    LotReceived,
    DesignCallOpened,
    DesignProposalSubmitted,
    DesignProposalEvaluated,
    DesignCallAwarded,
    EquipmentInstalled,
    EquipmentTelemetry,
    MaintenanceRequested,
    MaintenanceScheduled,
    MaintenanceCompleted,
)

CATALOG: dict[str, type[Payload]] = {p.TYPE: p for p in PAYLOADS}
"""Event type -> payload struct (its current version). The validator refuses any type not listed."""

SCHEMA_BASE = "https://schemas.supplynet.dev/events"


def schema_uri(event_type: str, version: int) -> str:
    """The ``dataschema`` URI of a type's version; also the ``$id`` of its exported JSON Schema."""
    return f"{SCHEMA_BASE}/{event_type}/v{version}.json"
