"""The partner graph's shape, as data: node, relationship and link kinds, and the Cypher they imply.

Each *kind* is one mutation list and one ``UNWIND`` statement. State is split into *aspects*: the
fields one event type owns, stamped with a version ``<aspect>V`` — the string
``"<time ms, 15 digits>:<sequence, 19 digits>:<event id>"``, so comparing versions as strings
compares (event time, sequence, event id). A row's aspect is applied only when its version is
strictly newer than the stored one: the graph is the same whatever the order, whatever the
duplicates (last-writer-wins per aspect; a re-sent event is a no-op). Every statement returns what
it applied (and nothing for a row it ignored): the writer reports it as the batch's changes (see
docs/graph-changes.md). See docs/graph-model.md.

Every statement write-locks an entity (``locked``) before it reads the versions it compares: Neo4j
reads at read-committed and locks on write only, so two transactions (two workers, or a worker handing
a partition over while its last batch commits) could both read the same stored version, both pass the
check, and the one that got the lock second overwrote the newer write with its older one, or reported
a change it did not make.
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
        "installedOn",
        "scheduledFor",
        "completedOn",
    }
)
"""Fields stored as Neo4j ``Date``: rows carry them as ISO strings (cheap to send), Cypher converts."""


def locked(var: str) -> str:
    """Cypher that write-locks node or relationship ``var`` until the transaction ends, *before* any
    later clause reads it, so a check such as ``WITH x WHERE r.v > x.version`` reads the newest
    committed version, not one a transaction waiting for the lock is about to overwrite.

    Neo4j's documented idiom ("Concurrent data access" in its operations manual): set a property, then
    remove it; nothing is stored. The SET is needed: a REMOVE alone (~8% cheaper on the direct ceiling)
    takes no lock on a database that has never seen the property key — it passed on a long-lived stack
    and failed on CI's fresh one. ``tests/integration/test_graph_writer.py`` makes an older KPI row wait
    for a newer uncommitted one and fails if it was not locked out."""
    return f"SET {var}._lock = true REMOVE {var}._lock\n"


def kpi_applied(var: str, *keep: str) -> str:
    """Cypher applying KPI row ``r`` ({rev, props}) to the node or relationship ``var`` unless the
    stored ``kpiRev`` is newer: the newest enterprise revision wins, whatever order two workers
    commit in. The variables in ``keep`` stay in scope after it (only rows that applied go on).

    The entity is write-locked *before* its revision is read. Neo4j reads at read-committed and takes a
    write lock only when it writes, so a plain ``WITH … WHERE kpiRev <= r.rev`` then ``SET`` let two
    transactions both pass the check on the same stored revision; the one that got the lock second
    then overwrote the newer row with its older one (a two-worker run left an enterprise at revision
    6 with the record store at 7: tests/integration/test_graph_writer.py). ``locked`` takes the
    lock first."""
    return (
        f"{locked(var)}"
        f"WITH {', '.join((var, 'r', *keep))} WHERE coalesce({var}.kpiRev, -1) <= r.rev\n"
        f"SET {var} += r.props, {var}.kpiRev = r.rev\n"
    )


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
    create_only: bool = False
    """A structural fact with no aspects: the relationship carries the provenance of the oldest event
    that names it (whatever the delivery order: an older row arriving later takes its place), and a
    newer row writes nothing (no per-event property write)."""


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


def _moved(aspects: tuple[Aspect, ...]) -> str:
    """The names of the aspects a row is newer on (evaluated before its SET); for a kind without
    aspects, ``['provenance']`` when the row is newer than the stored provenance."""
    if not aspects:
        return "CASE WHEN r.v > coalesce(x.lastVersion, '') THEN ['provenance'] ELSE [] END"
    names = ", ".join(
        f"CASE WHEN r.{a.name}V > coalesce(x.{a.name}V, '') THEN '{a.name}' END" for a in aspects
    )
    return f"[a IN [{names}] WHERE a IS NOT NULL]"


# Node and relationship statements return the rows they applied: the key (`k`; a relationship's
# `a`, `b` and its key properties in `rel_keys` order), whether the entity had no data before
# (`created`) and the aspects it moved; rows older than (or as old as) the stored versions are not
# returned. Link statements return every row newer than the link's version, with whether the target
# was already linked (`kept`) and the targets it left (`gone`).


def node_cypher(k: NodeKind) -> str:
    sets = ",\n    ".join(_aspect_sets(k.aspects))
    derived = f"\nSET {k.derived}" if k.derived else ""
    return (
        "UNWIND $rows AS r\n"
        f"MERGE (x:{k.label} {{{k.key}: r.k}})\n"
        f"{locked('x')}"
        f"WITH x, r, x.lastVersion IS NULL AS created, {_moved(k.aspects)} AS moved\n"
        f"SET {sets}{derived}\n"
        "WITH r, created, moved WHERE size(moved) > 0\n"
        "RETURN r.k AS k, created, moved"
    )


def rel_cypher(k: RelKind) -> str:
    keys = ", ".join(f"{p}: r.{p}" for p in k.rel_keys)
    keys = f" {{{keys}}}" if keys else ""
    rel_keys = ", ".join(f"r.{p}" for p in k.rel_keys)
    returned = f"RETURN r.a AS a, r.b AS b, [{rel_keys}] AS keys, created, moved"
    if k.create_only:
        prov = ", ".join([*(f"{p}: r.{p}" for p in _PROVENANCE_FIELDS), "lastVersion: r.v"])
        return (
            "UNWIND $rows AS r\n"
            f"MERGE (a:{k.src_label} {{{k.src_key}: r.a}})\n"
            f"MERGE (b:{k.dst_label} {{{k.dst_key}: r.b}})\n"
            f"MERGE (a)-[x:{k.rel}{keys}]->(b)\n"
            f"{locked('x')}"
            "WITH x, r, x.lastVersion IS NULL AS created, ['provenance'] AS moved\n"
            "WHERE created OR r.v < x.lastVersion\n"
            f"SET x += {{{prov}}}\n"
            f"{returned}"
        )
    sets = ",\n    ".join(_aspect_sets(k.aspects))
    return (
        "UNWIND $rows AS r\n"
        f"MERGE (a:{k.src_label} {{{k.src_key}: r.a}})\n"
        f"MERGE (b:{k.dst_label} {{{k.dst_key}: r.b}})\n"
        f"MERGE (a)-[x:{k.rel}{keys}]->(b)\n"
        f"{locked('x')}"
        f"WITH x, r, x.lastVersion IS NULL AS created, {_moved(k.aspects)} AS moved\n"
        f"SET {sets}\n"
        "WITH r, created, moved WHERE size(moved) > 0\n"
        f"{returned}"
    )


def link_cypher(k: LinkKind) -> str:
    arrow = f"-[old:{k.rel}]->" if k.outgoing else f"<-[old:{k.rel}]-"
    new = f"-[l:{k.rel}]->" if k.outgoing else f"<-[l:{k.rel}]-"
    kept = f"-[:{k.rel}]->" if k.outgoing else f"<-[:{k.rel}]-"
    mirror = f", x.{k.mirror} = r.to" if k.mirror else ""
    return (
        "UNWIND $rows AS r\n"
        f"MERGE (x:{k.label} {{{k.key}: r.k}})\n"
        f"{locked('x')}"
        f"WITH x, r WHERE r.v > coalesce(x.{k.version}, '')\n"
        f"SET x.{k.version} = r.v{mirror}\n"
        f"WITH x, r, EXISTS {{ (x){kept}(:{k.target_label} {{{k.target_key}: r.to}}) }} AS kept\n"
        f"OPTIONAL MATCH (x){arrow}(t:{k.target_label}) WHERE r.to IS NULL OR t.{k.target_key} <> r.to\n"
        "DELETE old\n"
        f"WITH x, r, kept, collect(t.{k.target_key}) AS gone\n"
        "FOREACH (_ IN CASE WHEN r.to IS NULL THEN [] ELSE [1] END |\n"
        f"  MERGE (t:{k.target_label} {{{k.target_key}: r.to}})\n"
        f"  MERGE (x){new}(t)\n"
        "  SET l.lastEventId = r.lastEventId, l.lastSource = r.lastSource, l.lastEventAt = r.lastEventAt, "
        "l.lastVersion = r.v)\n"
        "RETURN r.k AS k, r.to AS to, kept, gone"
    )


# -- the model -----------------------------------------------------------------------------------

ENTERPRISE = NodeKind(
    "enterprises",
    "Enterprise",
    "id",
    (
        Aspect("name", ("name", "namePinyin")),
        Aspect("industry", ("industry",)),
        Aspect("country", ("country",)),
        Aspect("capabilities", ("capabilities",)),
    ),
)
FACILITY = NodeKind(
    "facilities",
    "Facility",
    "id",
    (Aspect("registered", ("name", "kind", "latitude", "longitude")),),
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

DESIGN_CALL = NodeKind(
    "design_calls",
    "DesignCall",
    "id",
    (
        Aspect(
            "opened",
            (
                "projectId",
                "enterpriseId",
                "task",
                "deadlineAt",
                "capability",
                "materialSku",
                "certification",
                "region",
                "supplyAnnualVolume",
                "openedAt",
            ),
        ),
        Aspect(
            "awarded", ("awardedProposalId", "awardRole", "supplyShare", "supplyLeadTimeDays", "awardedAt")
        ),
    ),
)
"""An open call of a design project; whether its award took effect is set by ``CALL_AWARDS_CYPHER``."""
DESIGN_PROPOSAL = NodeKind(
    "design_proposals",
    "DesignProposal",
    "id",
    (
        Aspect("submitted", ("callId", "enterpriseId", "summary", "uri", "contentHash", "submittedAt")),
        Aspect("evaluated", ("score", "evaluationNotes", "evaluatedAt")),
    ),
)
"""A proposal to an open call; its eligibility is set by ``PROPOSAL_CHECKS_CYPHER``."""
EQUIPMENT = NodeKind(
    "equipment",
    "Equipment",
    "id",
    (
        Aspect("installed", ("sku", "serial", "installedOn", "limits", "installedAt")),
        Aspect(
            "health",
            (
                "health",
                "healthStatus",
                "alarmRate",
                "exceedance",
                "worstMetric",
                "healthReason",
                "readings",
                "healthAt",
                "healthState",
            ),
        ),
    ),
)
"""A maker's installed product (one serial); ``health`` is written by the service stream job only
(``streams/service.py``), at most once per flush and only when it changed, never per reading."""
WORK_ORDER = NodeKind(
    "work_orders",
    "WorkOrder",
    "id",
    (
        Aspect("requested", ("reason", "priority", "requestedAt")),
        Aspect("scheduled", ("scheduledFor", "technician", "scheduledAt")),
        Aspect("completed", ("completedOn", "findings", "partsReplaced", "restored", "completedAt")),
    ),
    derived="x.status = CASE WHEN x.completedV IS NOT NULL THEN 'completed' "
    "WHEN x.scheduledV IS NOT NULL THEN 'scheduled' ELSE 'requested' END",
)
"""A maintenance work order on one piece of equipment; open until ``completed``."""

NODE_KINDS: tuple[NodeKind, ...] = (
    ENTERPRISE,
    FACILITY,
    MATERIAL,
    CERTIFICATION,
    DISRUPTION,
    DESIGN_PROJECT,
    DESIGN_REVISION,
    CHANGE_REQUEST,
    LOT,
    DESIGN_CALL,
    DESIGN_PROPOSAL,
    EQUIPMENT,
    WORK_ORDER,
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

CALL_PROJECT = LinkKind("call_project", "DesignCall", "id", "CALLS_FOR", "DesignProject", "id", "projectV")
PROPOSAL_CALL = LinkKind("proposal_call", "DesignProposal", "id", "ANSWERS", "DesignCall", "id", "callV")
PROPOSAL_PROPOSER = LinkKind(
    "proposal_proposer", "DesignProposal", "id", "PROPOSES", "Enterprise", "id", "proposerV", outgoing=False
)
EQUIPMENT_MAKER = LinkKind(
    "equipment_maker", "Equipment", "id", "MADE_BY", "Enterprise", "id", "makerV", mirror="makerId"
)
EQUIPMENT_CUSTOMER = LinkKind(
    "equipment_customer", "Equipment", "id", "OWNED_BY", "Enterprise", "id", "customerV", mirror="customerId"
)
EQUIPMENT_FACILITY = LinkKind(
    "equipment_facility", "Equipment", "id", "INSTALLED_AT", "Facility", "id", "siteV", mirror="facilityId"
)
EQUIPMENT_PRODUCT = LinkKind(
    "equipment_product", "Equipment", "id", "INSTANCE_OF", "Material", "sku", "productV"
)
WORK_ORDER_EQUIPMENT = LinkKind(
    "work_order_equipment",
    "WorkOrder",
    "id",
    "SERVICES",
    "Equipment",
    "id",
    "equipmentV",
    mirror="equipmentId",
)
WORK_ORDER_CUSTOMER = LinkKind(
    "work_order_customer", "WorkOrder", "id", "FOR", "Enterprise", "id", "customerV", mirror="customerId"
)

LINK_KINDS: tuple[LinkKind, ...] = (
    ENTERPRISE_REGION,
    FACILITY_REGION,
    FACILITY_OPERATOR,
    CERTIFICATION_HOLDER,
    DISRUPTION_ENTERPRISE,
    DISRUPTION_FACILITY,
    DISRUPTION_REGION,
    PROJECT_OWNER,
    PROJECT_PRODUCT,
    REVISION_PROJECT,
    CHANGE_PROJECT,
    LOT_PRODUCER,
    LOT_FACILITY,
    CALL_PROJECT,
    PROPOSAL_CALL,
    PROPOSAL_PROPOSER,
    EQUIPMENT_MAKER,
    EQUIPMENT_CUSTOMER,
    EQUIPMENT_FACILITY,
    EQUIPMENT_PRODUCT,
    WORK_ORDER_EQUIPMENT,
    WORK_ORDER_CUSTOMER,
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
PRODUCES = RelKind(
    "produces", "PRODUCES", "Enterprise", "id", "Material", "sku", ("site",), (), create_only=True
)
"""The enterprise makes the material at a site (``""``: not named): network, created by the first capacity
report of the sku there. Capacity and utilisation are flow: records (``schema.records.CapacityRecord``)."""
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
"""Bill of materials: replaces a product's components; removed ones keep their ``validTo``. Returns
each applied product with the components that left it (``ended``) and those added (``added``)."""

BOM_CYPHER = (
    "UNWIND $rows AS r\nMERGE (p:Material {sku: r.k})\n"
    + locked("p")
    + """WITH p, r WHERE r.v > coalesce(p.bomV, '')
SET p.bomV = r.v
WITH p, r
OPTIONAL MATCH (c:Material)-[old:COMPONENT_OF]->(p)
  WHERE old.validTo IS NULL AND NOT c.sku IN [x IN r.components | x.sku]
SET old.validTo = date(r.on), old.lastEventId = r.lastEventId, old.lastSource = r.lastSource,
    old.lastEventAt = r.lastEventAt, old.lastVersion = r.v
WITH p, r, collect(c.sku) AS ended
UNWIND r.components AS comp
MERGE (c:Material {sku: comp.sku})
MERGE (c)-[x:COMPONENT_OF]->(p)
WITH r, ended, comp, x, x.lastVersion IS NULL OR x.validTo IS NOT NULL AS added
SET x.qty = comp.qty,
    x.validFrom = CASE WHEN x.validFrom IS NULL OR x.validTo IS NOT NULL THEN date(r.on) ELSE x.validFrom END,
    x.validTo = null,
    x.lastEventId = r.lastEventId, x.lastSource = r.lastSource, x.lastEventAt = r.lastEventAt,
    x.lastVersion = r.v
RETURN r.k AS k, ended, collect(CASE WHEN added THEN comp.sku END) AS added
"""
)


ELIGIBILITY = """CASE
  WHEN t > c.deadlineAt THEN 'submitted after the deadline of call ' + c.id
  WHEN e IS NULL OR e.nameV IS NULL THEN 'enterprise ' + coalesce(e.id, '?') + ' is not registered'
  WHEN e.id = c.enterpriseId THEN 'enterprise ' + e.id + ' opened call ' + c.id + ' itself'
  WHEN c.capability IS NOT NULL AND NOT c.capability IN coalesce(e.capabilities, [])
    THEN 'enterprise ' + e.id + ' lacks the capability ' + c.capability
  WHEN c.materialSku IS NOT NULL
    AND NOT EXISTS { (e)-[:PRODUCES]->(:Material {sku: c.materialSku}) }
    AND NOT EXISTS { (e)-[x:SUPPLIES {sku: c.materialSku}]->(:Enterprise)
      WHERE x.validTo IS NULL OR x.validTo >= day }
    THEN 'enterprise ' + e.id + ' neither produces nor supplies ' + c.materialSku
  WHEN c.certification IS NOT NULL AND NOT EXISTS {
      (e)-[:HOLDS]->(k:Certification {standard: c.certification})
      WHERE k.status = 'active' AND k.validUntil >= day AND (k.validFrom IS NULL OR k.validFrom <= day) }
    THEN CASE WHEN EXISTS { (e)-[:HOLDS]->(:Certification {standard: c.certification}) }
      THEN 'enterprise ' + e.id + ' holds no valid ' + c.certification + ' on ' + toString(day) + ' (expired)'
      ELSE 'enterprise ' + e.id + ' holds no ' + c.certification + ' certification' END
  WHEN c.region IS NOT NULL AND coalesce(e.region, '') <> c.region
    AND NOT EXISTS { (:Facility {region: c.region})-[:OPERATED_BY]->(e) }
    THEN 'enterprise ' + e.id + ' is not in region ' + c.region
  ELSE null
END"""
"""Why enterprise ``e`` may not propose to call ``c`` at epoch ms ``t`` (on ``day``), or null: the
deadline, registration, not its own call, capability, material (produces or currently supplies it),
certificate (active and valid on ``day``), region (its own or one of its facilities'). One text for
the projector and the views, so a proposal is judged the same way before and after it is sent."""

PROPOSAL_CHECKS = "proposal_checks"
PROPOSAL_CHECKS_CYPHER = f"""
UNWIND $rows AS r
MATCH (p:DesignProposal {{id: r.k}})
{locked("p")}WITH p, r WHERE p.submittedV IS NOT NULL AND coalesce(p.checkedV, '') < p.submittedV
OPTIONAL MATCH (c:DesignCall {{id: p.callId}})
OPTIONAL MATCH (e:Enterprise {{id: p.enterpriseId}})
WITH p, c, e, p.submittedAt AS t, date(datetime({{epochMillis: p.submittedAt}})) AS day
WITH p, CASE
  WHEN c IS NULL OR c.openedV IS NULL THEN 'call ' + p.callId + ' is not known'
  WHEN c.awardedV IS NOT NULL AND c.awardedV < p.submittedV THEN 'call ' + c.id + ' was already awarded'
  WHEN e IS NULL THEN 'enterprise ' + p.enterpriseId + ' is not registered'
  ELSE {ELIGIBILITY}
END AS reason
SET p.eligible = reason IS NULL, p.refusalReason = reason, p.checkedV = p.submittedV
"""
"""Eligibility of each proposal the batch submitted, checked once per submission against the graph as
committed with the batch (the call, the proposer's capabilities, certificates, region, production
and supply links): ``eligible`` and, if refused, ``refusalReason``. Idempotent (``checkedV``)."""

CALL_AWARDS = "call_awards"
CALL_AWARDS_CYPHER = (
    "UNWIND $rows AS r\nMATCH (c:DesignCall {id: r.k})\n"
    + locked("c")
    + """WITH c, r WHERE c.awardedV = r.v AND coalesce(c.awardCheckedV, '') < c.awardedV
OPTIONAL MATCH (p:DesignProposal {id: c.awardedProposalId})
WITH c, p, r, CASE
  WHEN c.openedV IS NULL THEN 'call ' + c.id + ' is not known'
  WHEN p IS NULL OR p.submittedV IS NULL THEN 'proposal ' + c.awardedProposalId + ' is not known'
  WHEN p.callId <> c.id THEN 'proposal ' + p.id + ' answers another call'
  WHEN p.eligible IS NULL OR NOT p.eligible
    THEN 'proposal ' + p.id + ' was refused: ' + coalesce(p.refusalReason, 'not checked')
  ELSE null
END AS reason
SET c.awardCheckedV = c.awardedV, c.awardRefusalReason = reason,
    c.awardedTo = CASE WHEN reason IS NULL THEN p.enterpriseId ELSE null END
WITH c, p, r WHERE reason IS NULL
MATCH (e:Enterprise {id: p.enterpriseId})
WITH c, e, r,
     EXISTS { (e)-[:COLLABORATES_ON]->(:DesignProject {id: c.projectId}) } AS joinedBefore,
     c.materialSku IS NOT NULL AND c.supplyAnnualVolume IS NOT NULL AS supplies,
     EXISTS { (e)-[:SUPPLIES {sku: c.materialSku}]->(:Enterprise {id: c.enterpriseId}) } AS suppliedBefore
MERGE (project:DesignProject {id: c.projectId})
MERGE (e)-[j:COLLABORATES_ON]->(project)
SET j += CASE WHEN r.v > coalesce(j.joinedV, '')
      THEN {role: c.awardRole, joinedAt: r.lastEventAt, joinedV: r.v} ELSE {} END,
    j += CASE WHEN r.v > coalesce(j.lastVersion, '')
    THEN {lastEventId: r.lastEventId, lastSource: r.lastSource, lastEventAt: r.lastEventAt, lastVersion: r.v}
      ELSE {} END
WITH c, e, r, joinedBefore, supplies, suppliedBefore
CALL (c, e, r, supplies) {
  WITH c, e, r WHERE supplies
  MATCH (b:Enterprise {id: c.enterpriseId})
  MERGE (e)-[s:SUPPLIES {sku: c.materialSku}]->(b)
  SET s += CASE WHEN r.v > coalesce(s.agreedV, '') THEN {share: coalesce(c.supplyShare, 1.0),
        leadTimeDays: c.supplyLeadTimeDays, validFrom: date(r.on), unitPrice: null, currency: null,
        annualVolume: c.supplyAnnualVolume, agreedV: r.v} ELSE {} END,
      s += CASE WHEN r.v > coalesce(s.validityV, '') THEN {validTo: null, endReason: null, validityV: r.v}
        ELSE {} END,
      s += CASE WHEN r.v > coalesce(s.lastVersion, '') THEN {lastEventId: r.lastEventId,
        lastSource: r.lastSource, lastEventAt: r.lastEventAt, lastVersion: r.v} ELSE {} END
}
RETURN r.k AS k, e.id AS enterprise, c.projectId AS project, joinedBefore,
       CASE WHEN supplies THEN c.materialSku END AS sku, c.enterpriseId AS buyer, suppliedBefore
"""
)
"""Each award the batch made takes effect once (``awardCheckedV``), if its proposal answered this call
and was found eligible: the proposer joins the project in the award's role (``COLLABORATES_ON``) and,
where the call names a supply, supplies that material to the calling enterprise (``SUPPLIES``, as
``supply.agreed`` would); otherwise the call keeps ``awardRefusalReason``. Returns the awards that took
effect (what ``graph.changes`` reports: the membership and the supply link, created or changed)."""

CHECKS: tuple[tuple[str, str], ...] = (
    (PROPOSAL_CHECKS, PROPOSAL_CHECKS_CYPHER),
    (CALL_AWARDS, CALL_AWARDS_CYPHER),
)
"""Statements that read what the batch wrote, so they run after every other kind, in this order."""


def statements() -> list[tuple[str, str]]:
    """(kind name, Cypher) in the one order every writer uses: nodes, links, relationships, BOMs, checks."""
    out = [(k.name, node_cypher(k)) for k in NODE_KINDS]
    out += [(k.name, link_cypher(k)) for k in LINK_KINDS]
    out += [(k.name, rel_cypher(k)) for k in REL_KINDS]
    out.append((BOMS, BOM_CYPHER))
    out += CHECKS
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
    nodes["DesignProposal"].add("checkedV")
    nodes["DesignCall"].add("awardCheckedV")
    rels.setdefault("COMPONENT_OF", set()).add("lastVersion")
    return nodes, rels
