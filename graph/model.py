"""The partner graph's shape, as data: node, relationship and link kinds, and the Cypher they imply.

Each *kind* is one mutation list and one ``UNWIND`` statement. State is split into *aspects*: the
fields one event type owns, stamped with a version ``<aspect>V`` — the string
``"<time ms, 15 digits>:<sequence, 19 digits>:<event id>"``, so comparing versions as strings
compares (event time, sequence, event id). A row's aspect is applied only when its version is
strictly newer than the stored one: the graph is the same whatever the order, whatever the
duplicates (last-writer-wins per aspect; a re-sent event is a no-op). See docs/graph-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass

_PROVENANCE_FIELDS = ("lastEventId", "lastSource", "lastEventAt")

DATE_FIELDS = frozenset(
    {
        "validFrom",
        "validUntil",
        "validTo",
        "requestedDate",
        "promisedDate",
        "shippedOn",
        "expectedDelivery",
        "deliveredPromisedDate",
        "deliveredOn",
        "orderedOn",
        "requiredBy",
    }
)
"""Fields stored as Neo4j ``Date``: rows carry them as ISO strings (cheap to send), Cypher converts."""


def _value(f: str) -> str:
    return f"date(r.{f})" if f in DATE_FIELDS else f"r.{f}"


@dataclass(frozen=True)
class Aspect:
    """Fields written together by one kind of event; versioned by ``<name>V``."""

    name: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class NodeKind:
    """A node merged on ``label {key}``; ``derived`` is a SET clause computed after the aspects."""

    name: str
    label: str
    key: str
    aspects: tuple[Aspect, ...]
    derived: str = ""


@dataclass(frozen=True)
class RelKind:
    """A relationship merged between two nodes merged on their keys, plus optional key properties."""

    name: str
    rel: str
    src_label: str
    src_key: str
    dst_label: str
    dst_key: str
    rel_keys: tuple[str, ...]
    aspects: tuple[Aspect, ...]


@dataclass(frozen=True)
class LinkKind:
    """At most one current ``rel`` from a node to a target; a newer row moves (or removes) it.

    ``version`` is the property on the node that versions the link; ``mirror`` (optional) is a node
    property kept equal to the target key (e.g. ``Enterprise.region``).
    """

    name: str
    label: str
    key: str
    rel: str
    target_label: str
    target_key: str
    version: str
    outgoing: bool = True
    mirror: str = ""


def _aspect_sets(aspects: tuple[Aspect, ...]) -> list[str]:
    # One map per aspect, empty unless the row's aspect is newer: unchanged aspects write nothing.
    sets: list[str] = []
    for a in aspects:
        fields = ", ".join([*(f"{f}: {_value(f)}" for f in a.fields), f"{a.name}V: r.{a.name}V"])
        sets.append(f"x += CASE WHEN r.{a.name}V > coalesce(x.{a.name}V, '') THEN {{{fields}}} ELSE {{}} END")
    prov = ", ".join([*(f"{p}: r.{p}" for p in _PROVENANCE_FIELDS), "lastVersion: r.v"])
    sets.append(f"x += CASE WHEN r.v > coalesce(x.lastVersion, '') THEN {{{prov}}} ELSE {{}} END")
    return sets


def node_cypher(k: NodeKind) -> str:
    sets = ",\n    ".join(_aspect_sets(k.aspects))
    derived = f"\nSET {k.derived}" if k.derived else ""
    return f"UNWIND $rows AS r\nMERGE (x:{k.label} {{{k.key}: r.k}})\nSET {sets}{derived}"


def rel_cypher(k: RelKind) -> str:
    keys = ", ".join(f"{p}: r.{p}" for p in k.rel_keys)
    keys = f" {{{keys}}}" if keys else ""
    sets = ",\n    ".join(_aspect_sets(k.aspects))
    return (
        "UNWIND $rows AS r\n"
        f"MERGE (a:{k.src_label} {{{k.src_key}: r.a}})\n"
        f"MERGE (b:{k.dst_label} {{{k.dst_key}: r.b}})\n"
        f"MERGE (a)-[x:{k.rel}{keys}]->(b)\n"
        f"SET {sets}"
    )


def link_cypher(k: LinkKind) -> str:
    arrow = f"-[old:{k.rel}]->" if k.outgoing else f"<-[old:{k.rel}]-"
    new = f"-[l:{k.rel}]->" if k.outgoing else f"<-[l:{k.rel}]-"
    mirror = f", x.{k.mirror} = r.to" if k.mirror else ""
    return (
        "UNWIND $rows AS r\n"
        f"MERGE (x:{k.label} {{{k.key}: r.k}})\n"
        f"WITH x, r WHERE r.v > coalesce(x.{k.version}, '')\n"
        f"SET x.{k.version} = r.v{mirror}\n"
        "WITH x, r\n"
        f"OPTIONAL MATCH (x){arrow}(t:{k.target_label}) WHERE r.to IS NULL OR t.{k.target_key} <> r.to\n"
        "DELETE old\n"
        "WITH DISTINCT x, r WHERE r.to IS NOT NULL\n"
        f"MERGE (t:{k.target_label} {{{k.target_key}: r.to}})\n"
        f"MERGE (x){new}(t)\n"
        "SET l.lastEventId = r.lastEventId, l.lastSource = r.lastSource, l.lastEventAt = r.lastEventAt, "
        "l.lastVersion = r.v"
    )


# -- the model -----------------------------------------------------------------------------------

CAPACITY = Aspect("capacity", ("capacityPerDay", "utilization", "capacityReportedAt"))

ENTERPRISE = NodeKind(
    "enterprises",
    "Enterprise",
    "id",
    (
        Aspect("name", ("name", "namePinyin")),
        Aspect("industry", ("industry",)),
        Aspect("country", ("country",)),
        Aspect("capabilities", ("capabilities",)),
        CAPACITY,
    ),
)
FACILITY = NodeKind(
    "facilities",
    "Facility",
    "id",
    (Aspect("registered", ("name", "kind", "latitude", "longitude")), CAPACITY),
)
MATERIAL = NodeKind("materials", "Material", "sku", (Aspect("defined", ("name", "category", "unit")),))
CERTIFICATION = NodeKind(
    "certifications",
    "Certification",
    "id",
    (
        Aspect("granted", ("standard", "issuer", "validFrom", "validUntil")),
        Aspect("expired", ("expiredReason", "expiredAt")),
    ),
    derived="x.status = CASE WHEN coalesce(x.expiredV, '') > coalesce(x.grantedV, '') "
    "THEN 'expired' ELSE 'active' END",
)
QUALITY_INCIDENT = NodeKind(
    "quality_incidents",
    "QualityIncident",
    "id",
    (
        Aspect(
            "reported",
            ("supplierId", "buyerId", "sku", "severity", "defectPpm", "description", "reportedAt"),
        ),
    ),
)
EQUIPMENT_ALARM = NodeKind(
    "equipment_alarms",
    "EquipmentAlarm",
    "id",
    (
        Aspect(
            "raised",
            ("equipmentId", "signal", "severity", "facilityId", "predictedFailureDays", "raisedAt"),
        ),
    ),
)
DISRUPTION = NodeKind(
    "disruptions",
    "Disruption",
    "id",
    (
        Aspect(
            "reported",
            (
                "kind",
                "severity",
                "expectedRecoveryDays",
                "description",
                "targetKind",
                "targetId",
                "reportedAt",
            ),
        ),
        Aspect("resolved", ("resolvedAt", "resolutionNote")),
    ),
    derived="x.status = CASE WHEN coalesce(x.resolvedV, '') > coalesce(x.reportedV, '') "
    "THEN 'resolved' ELSE 'open' END",
)
DESIGN_PROJECT = NodeKind(
    "design_projects",
    "DesignProject",
    "id",
    (Aspect("created", ("name", "description", "productSku", "createdAt")),),
)
DESIGN_REVISION = NodeKind(
    "design_revisions",
    "DesignRevision",
    "id",
    (Aspect("published", ("label", "projectId", "publishedAt", "uri", "contentHash")),),
)
CHANGE_REQUEST = NodeKind(
    "change_requests",
    "ChangeRequest",
    "id",
    (
        Aspect("requested", ("projectId", "reason", "requiredBy", "affectedSkus", "requestedAt")),
        Aspect("answered", ("status", "answeredBy", "answerNote", "answeredAt")),
    ),
)

LOT = NodeKind(
    "lots",
    "Lot",
    "id",
    (
        Aspect(
            "produced",
            ("sku", "quantity", "enterpriseId", "facilityId", "productionId", "serials", "producedAt"),
        ),
    ),
)
"""A lot (batch) or a serialised item; ``produced`` once its maker reports it (input-only lots have none)."""

NODE_KINDS: tuple[NodeKind, ...] = (
    ENTERPRISE,
    FACILITY,
    MATERIAL,
    CERTIFICATION,
    QUALITY_INCIDENT,
    EQUIPMENT_ALARM,
    DISRUPTION,
    DESIGN_PROJECT,
    DESIGN_REVISION,
    CHANGE_REQUEST,
    LOT,
)

ENTERPRISE_REGION = LinkKind(
    "enterprise_region", "Enterprise", "id", "LOCATED_IN", "Region", "name", "regionV", mirror="region"
)
FACILITY_REGION = LinkKind(
    "facility_region", "Facility", "id", "LOCATED_IN", "Region", "name", "regionV", mirror="region"
)
FACILITY_OPERATOR = LinkKind(
    "facility_operator",
    "Facility",
    "id",
    "OPERATED_BY",
    "Enterprise",
    "id",
    "operatorV",
    mirror="enterpriseId",
)
CERTIFICATION_HOLDER = LinkKind(
    "certification_holder",
    "Certification",
    "id",
    "HOLDS",
    "Enterprise",
    "id",
    "holderV",
    outgoing=False,
    mirror="enterpriseId",
)
DISRUPTION_ENTERPRISE = LinkKind(
    "disruption_enterprise", "Disruption", "id", "AFFECTS", "Enterprise", "id", "affectsEnterpriseV"
)
DISRUPTION_FACILITY = LinkKind(
    "disruption_facility", "Disruption", "id", "AFFECTS", "Facility", "id", "affectsFacilityV"
)
DISRUPTION_REGION = LinkKind(
    "disruption_region", "Disruption", "id", "AFFECTS", "Region", "name", "affectsRegionV"
)
INCIDENT_SUPPLIER = LinkKind(
    "incident_supplier", "QualityIncident", "id", "AGAINST", "Enterprise", "id", "supplierLinkV"
)
ALARM_SITE = LinkKind("alarm_site", "EquipmentAlarm", "id", "RAISED_AT", "Enterprise", "id", "siteV")
PROJECT_OWNER = LinkKind(
    "project_owner",
    "DesignProject",
    "id",
    "OWNS",
    "Enterprise",
    "id",
    "ownerV",
    outgoing=False,
    mirror="ownerId",
)
PROJECT_PRODUCT = LinkKind("project_product", "DesignProject", "id", "DESIGNS", "Material", "sku", "productV")
REVISION_PROJECT = LinkKind(
    "revision_project", "DesignRevision", "id", "REVISES", "DesignProject", "id", "projectV"
)
CHANGE_PROJECT = LinkKind(
    "change_project", "ChangeRequest", "id", "REQUESTS_CHANGE_TO", "DesignProject", "id", "projectV"
)

LOT_PRODUCER = LinkKind("lot_producer", "Lot", "id", "PRODUCED_BY", "Enterprise", "id", "producerV")
LOT_FACILITY = LinkKind("lot_facility", "Lot", "id", "PRODUCED_AT", "Facility", "id", "facilityV")

LINK_KINDS: tuple[LinkKind, ...] = (
    ENTERPRISE_REGION,
    FACILITY_REGION,
    FACILITY_OPERATOR,
    CERTIFICATION_HOLDER,
    DISRUPTION_ENTERPRISE,
    DISRUPTION_FACILITY,
    DISRUPTION_REGION,
    INCIDENT_SUPPLIER,
    ALARM_SITE,
    PROJECT_OWNER,
    PROJECT_PRODUCT,
    REVISION_PROJECT,
    CHANGE_PROJECT,
    LOT_PRODUCER,
    LOT_FACILITY,
)

SUPPLIES = RelKind(
    "supplies",
    "SUPPLIES",
    "Enterprise",
    "id",
    "Enterprise",
    "id",
    ("sku",),
    (
        Aspect("agreed", ("share", "leadTimeDays", "validFrom", "unitPrice", "currency", "annualVolume")),
        Aspect("validity", ("validTo", "endReason")),
    ),
)
STOCKS = RelKind(
    "stocks",
    "STOCKS",
    "Enterprise",
    "id",
    "Material",
    "sku",
    ("site",),
    (Aspect("stock", ("onHand", "dailyUsage", "daysOfCover", "stockReportedAt")),),
)
PRODUCES = RelKind("produces", "PRODUCES", "Enterprise", "id", "Material", "sku", ("site",), (CAPACITY,))
COLLABORATES_ON = RelKind(
    "collaborates_on",
    "COLLABORATES_ON",
    "Enterprise",
    "id",
    "DesignProject",
    "id",
    (),
    (Aspect("joined", ("role", "joinedAt")),),
)
CHANGES = RelKind(
    "revision_changes",
    "CHANGES",
    "DesignRevision",
    "id",
    "Material",
    "sku",
    (),
    (Aspect("change", ("change", "qty")),),
)
IMPACTS = RelKind("change_impacts", "IMPACTS", "ChangeRequest", "id", "Material", "sku", (), ())

MADE_FROM = RelKind(
    "made_from", "MADE_FROM", "Lot", "id", "Lot", "id", (), (Aspect("consumed", ("quantity", "consumedAt")),)
)
"""Output lot -> input lot, with the quantity of the input consumed (inputs accumulate, never removed)."""
PACKED_IN = RelKind(
    "packed_in",
    "PACKED_IN",
    "Lot",
    "id",
    "ShippingUnit",
    "id",
    (),
    (
        Aspect("packed", ("packedQuantity", "packedBy", "packedAt")),
        Aspect("unpacked", ("unpackedBy", "unpackedAt")),
    ),
)
"""Packed while ``packedV`` is newer than ``unpackedV`` (pack and unpack commute: newest wins)."""
_MOVEMENT = (
    Aspect("parties", ("supplierId",)),
    Aspect("order", ("orderId",)),
    Aspect("shipped", ("shippedQuantity", "shippedAt")),
    Aspect("received", ("receivedQuantity", "receivedAt", "receivedFacilityId")),
)
LOT_SHIPPED = RelKind(
    "lot_shipped", "SHIPPED_TO", "Lot", "id", "Enterprise", "id", ("shipmentId",), _MOVEMENT
)
UNIT_SHIPPED = RelKind(
    "unit_shipped", "SHIPPED_TO", "ShippingUnit", "id", "Enterprise", "id", ("shipmentId",), _MOVEMENT
)
"""A shipping unit moved whole; its lots are resolved through ``PACKED_IN`` when read (order-free)."""

REL_KINDS: tuple[RelKind, ...] = (
    SUPPLIES,
    STOCKS,
    PRODUCES,
    COLLABORATES_ON,
    CHANGES,
    IMPACTS,
    MADE_FROM,
    PACKED_IN,
    LOT_SHIPPED,
    UNIT_SHIPPED,
)

BOMS = "boms"
"""Bill of materials: replaces a product's components; removed ones keep their ``validTo``."""

BOM_CYPHER = """
UNWIND $rows AS r
MERGE (p:Material {sku: r.k})
WITH p, r WHERE r.v > coalesce(p.bomV, '')
SET p.bomV = r.v
WITH p, r
OPTIONAL MATCH (c:Material)-[old:COMPONENT_OF]->(p)
  WHERE old.validTo IS NULL AND NOT c.sku IN [x IN r.components | x.sku]
SET old.validTo = date(r.on), old.lastEventId = r.lastEventId, old.lastSource = r.lastSource,
    old.lastEventAt = r.lastEventAt, old.lastVersion = r.v
WITH DISTINCT p, r
UNWIND r.components AS comp
MERGE (c:Material {sku: comp.sku})
MERGE (c)-[x:COMPONENT_OF]->(p)
SET x.qty = comp.qty,
    x.validFrom = CASE WHEN x.validFrom IS NULL OR x.validTo IS NOT NULL THEN date(r.on) ELSE x.validFrom END,
    x.validTo = null,
    x.lastEventId = r.lastEventId, x.lastSource = r.lastSource, x.lastEventAt = r.lastEventAt,
    x.lastVersion = r.v
"""


def statements() -> list[tuple[str, str]]:
    """(kind name, Cypher) in the one order every writer uses: nodes, links, relationships, BOMs."""
    out = [(k.name, node_cypher(k)) for k in NODE_KINDS]
    out += [(k.name, link_cypher(k)) for k in LINK_KINDS]
    out += [(k.name, rel_cypher(k)) for k in REL_KINDS]
    out.append((BOMS, BOM_CYPHER))
    return out


KIND_NAMES: tuple[str, ...] = tuple(name for name, _ in statements())


def version_properties() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Every property that holds a version: (node label -> properties, relationship type -> properties)."""
    nodes: dict[str, set[str]] = {}
    rels: dict[str, set[str]] = {}
    for n in NODE_KINDS:
        nodes.setdefault(n.label, {"lastVersion"}).update(f"{a.name}V" for a in n.aspects)
    for link in LINK_KINDS:
        nodes.setdefault(link.label, {"lastVersion"}).add(link.version)
        rels.setdefault(link.rel, set()).add("lastVersion")
    for r in REL_KINDS:
        rels.setdefault(r.rel, {"lastVersion"}).update(f"{a.name}V" for a in r.aspects)
    nodes["Material"].add("bomV")
    rels.setdefault("COMPONENT_OF", set()).add("lastVersion")
    return nodes, rels
