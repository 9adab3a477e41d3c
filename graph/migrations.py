"""Constraints and indexes of the partner graph. Every statement is idempotent (``IF NOT EXISTS``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neo4j import AsyncDriver

from graph import model

if TYPE_CHECKING:
    from connectors.record_store import RecordStore

_UNIQUE: tuple[tuple[str, str, str], ...] = (
    ("enterprise_id", "Enterprise", "id"),
    ("facility_id", "Facility", "id"),
    ("region_name", "Region", "name"),
    ("material_sku", "Material", "sku"),
    ("certification_id", "Certification", "id"),
    ("disruption_id", "Disruption", "id"),
    ("design_project_id", "DesignProject", "id"),
    ("design_revision_id", "DesignRevision", "id"),
    ("change_request_id", "ChangeRequest", "id"),
    ("lot_id", "Lot", "id"),
    ("shipping_unit_id", "ShippingUnit", "id"),
    ("kafka_offset_id", "KafkaOffset", "id"),
    ("change_outbox_id", "ChangeOutbox", "id"),
    ("kpi_recheck_id", "KpiRecheck", "id"),
    ("schema_migration_id", "SchemaMigration", "id"),
    ("design_call_id", "DesignCall", "id"),
    ("design_proposal_id", "DesignProposal", "id"),
    ("equipment_id", "Equipment", "id"),
    ("work_order_id", "WorkOrder", "id"),
)

STATEMENTS: tuple[str, ...] = (
    *(
        f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
        for name, label, prop in _UNIQUE
    ),
    "CREATE INDEX enterprise_industry IF NOT EXISTS FOR (e:Enterprise) ON (e.industry)",
    "CREATE INDEX enterprise_region IF NOT EXISTS FOR (e:Enterprise) ON (e.region)",
    "CREATE TEXT INDEX enterprise_name_pinyin IF NOT EXISTS FOR (e:Enterprise) ON (e.namePinyin)",
    # The risky-nodes list filters and orders by score (graph/risk/store.py RiskStore.risky).
    "CREATE INDEX enterprise_risk_score IF NOT EXISTS FOR (e:Enterprise) ON (e.riskScore)",
    "CREATE INDEX disruption_status IF NOT EXISTS FOR (d:Disruption) ON (d.status)",
    # The certificates list reads in (validUntil, id) order, or one holder's (graph/record_views.py).
    "CREATE INDEX certification_valid_until IF NOT EXISTS FOR (c:Certification) ON (c.validUntil)",
    "CREATE INDEX certification_holder IF NOT EXISTS FOR (c:Certification) ON (c.enterpriseId)",
    "CREATE INDEX kafka_offset_group IF NOT EXISTS FOR (k:KafkaOffset) ON (k.group, k.topic)",
    "CREATE INDEX change_outbox_group IF NOT EXISTS FOR (o:ChangeOutbox) ON (o.group, o.createdAt)",
    "CREATE INDEX supplies_sku IF NOT EXISTS FOR ()-[s:SUPPLIES]-() ON (s.sku)",
    "CREATE INDEX supplies_valid_to IF NOT EXISTS FOR ()-[s:SUPPLIES]-() ON (s.validTo)",
    "CREATE INDEX lot_enterprise IF NOT EXISTS FOR (l:Lot) ON (l.enterpriseId)",
    "CREATE INDEX shipped_to_order IF NOT EXISTS FOR ()-[s:SHIPPED_TO]-() ON (s.orderId)",
    # A call's proposals, a proposer's proposals (graph/crowd_views.py).
    "CREATE INDEX design_proposal_call IF NOT EXISTS FOR (p:DesignProposal) ON (p.callId)",
    "CREATE INDEX design_proposal_enterprise IF NOT EXISTS FOR (p:DesignProposal) ON (p.enterpriseId)",
    "CREATE INDEX equipment_maker IF NOT EXISTS FOR (q:Equipment) ON (q.makerId)",
    "CREATE INDEX equipment_customer IF NOT EXISTS FOR (q:Equipment) ON (q.customerId)",
    "CREATE INDEX work_order_equipment IF NOT EXISTS FOR (w:WorkOrder) ON (w.equipmentId)",
)
"""Node uniqueness constraints (Community edition) on every business key; relationship uniqueness
follows from MERGE patterns between constrained nodes."""


WIDE_SEQUENCE = "versions-sequence-19-digits"
"""Data migration: versions written before the envelope bounded ``sequence`` (< 2^63) padded it to
10 digits, so sequence 10^10 sorted before 9,999,999,999; they are re-padded to 19 digits."""


def _old(v: str) -> str:
    # "<15 digits>:<10 digits>:<id>": a 19-digit sequence has a digit where this finds ':'.
    return (
        f"({v} IS :: STRING AND size({v}) > 27 "
        f"AND substring({v}, 15, 1) = ':' AND substring({v}, 26, 1) = ':')"
    )


def _repad(var: str, props: set[str]) -> tuple[str, str]:
    """(WHERE condition, SET clause) that re-pads the old-shaped versions among ``props`` of ``var``."""
    values = [f"{var}.{p}" for p in sorted(props)]
    where = " OR ".join(_old(v) for v in values)
    sets = ", ".join(
        f"{v} = CASE WHEN {_old(v)} THEN substring({v}, 0, 16) + '000000000' + substring({v}, 16) "
        f"ELSE {v} END"
        for v in values
    )
    return where, sets


def version_repad_statements() -> list[str]:
    """One statement per label and relationship type that holds versions (batched, idempotent)."""
    nodes, rels = model.version_properties()
    out: list[str] = []
    for label, props in sorted(nodes.items()):
        where, sets = _repad("x", props)
        out.append(f"MATCH (x:{label}) WHERE {where} CALL (x) {{ SET {sets} }} IN TRANSACTIONS OF 10000 ROWS")
    for rel, props in sorted(rels.items()):
        where, sets = _repad("x", props)
        out.append(
            f"MATCH ()-[x:{rel}]->() WHERE {where} CALL (x) {{ SET {sets} }} IN TRANSACTIONS OF 10000 ROWS"
        )
    return out


async def _data_migration(driver: AsyncDriver, name: str, statements: list[str], database: str) -> bool:
    """Run ``statements`` once per graph (recorded as a ``SchemaMigration`` node); True if it ran now."""
    done, _, _ = await driver.execute_query(
        "MATCH (m:SchemaMigration {id: $id}) RETURN m.id", id=name, database_=database
    )
    if done:
        return False
    async with driver.session(database=database) as session:
        for statement in statements:
            await (await session.run(statement)).consume()
    await driver.execute_query(
        "MERGE (m:SchemaMigration {id: $id}) SET m.at = timestamp()", id=name, database_=database
    )
    return True


NO_ORDER_NODES = "no-order-nodes"
"""Data migration: orders and shipments live in the record store (their KPIs in its day buckets); the
``Order`` nodes earlier releases wrote, their constraint and indexes are removed."""

NO_ORDER_NODES_STATEMENTS = [
    "MATCH (o:Order) CALL (o) { DETACH DELETE o } IN TRANSACTIONS OF 10000 ROWS",
    "DROP CONSTRAINT order_id IF EXISTS",
    "DROP INDEX order_supplier IF EXISTS",
    "DROP INDEX order_buyer IF EXISTS",
]

NO_FLOW_OF_CAPACITY_OR_QUALITY = "no-capacity-or-quality-in-graph"
"""Data migration: capacity reports and quality incidents live in the record store (incidents counted in
its day buckets); the ``QualityIncident`` nodes earlier releases wrote, their constraint and index, and
the capacity properties on ``PRODUCES``, ``Facility`` and ``Enterprise`` are removed (``PRODUCES``
itself stays: the enterprise makes the material)."""

_CAPACITY_PROPERTIES = "x.capacityPerDay, x.utilization, x.capacityReportedAt, x.capacityV"

NO_FLOW_OF_CAPACITY_OR_QUALITY_STATEMENTS = [
    "MATCH (q:QualityIncident) CALL (q) { DETACH DELETE q } IN TRANSACTIONS OF 10000 ROWS",
    "DROP CONSTRAINT quality_incident_id IF EXISTS",
    "DROP INDEX quality_incident_supplier IF EXISTS",
    *(
        f"MATCH {pattern} WHERE x.capacityV IS NOT NULL OR x.capacityPerDay IS NOT NULL "
        f"CALL (x) {{ REMOVE {_CAPACITY_PROPERTIES} }} IN TRANSACTIONS OF 10000 ROWS"
        for pattern in ("()-[x:PRODUCES]->()", "(x:Facility)", "(x:Enterprise)")
    ),
]


NO_STOCK_RELATIONSHIPS = "no-stock-relationships"
"""Data migration: stock lives in the record store and its days of cover reach the enterprise with each
batch's KPI row (``coverSkus`` / ``coverDays``; a link reads its buyer's). The ``STOCKS``
relationships earlier releases wrote are turned into those properties once, then removed with their
index, the links' stored ``daysOfCover`` and the refresh rounds' marks and indexes."""

NO_STOCK_RELATIONSHIPS_STATEMENTS = [
    """MATCH (e:Enterprise)-[st:STOCKS]->(m:Material) WHERE st.onHand IS NOT NULL
WITH e, m.sku AS sku, sum(toFloat(st.onHand)) AS onHand, sum(toFloat(coalesce(st.dailyUsage, 0))) AS usage
WHERE usage > 0
WITH e, sku, onHand / usage AS cover ORDER BY e.id, sku
WITH e, collect(sku) AS skus, collect(cover) AS days
CALL (e, skus, days) { SET e.coverSkus = skus, e.coverDays = days } IN TRANSACTIONS OF 10000 ROWS""",
    "MATCH ()-[st:STOCKS]->() CALL (st) { DELETE st } IN TRANSACTIONS OF 10000 ROWS",
    "MATCH ()-[x:SUPPLIES]->() WHERE x.daysOfCover IS NOT NULL "
    "CALL (x) { REMOVE x.daysOfCover } IN TRANSACTIONS OF 10000 ROWS",
    "MATCH (e:Enterprise) WHERE e.kpiDirty IS NOT NULL OR e.kpiPendingAt IS NOT NULL "
    "OR e.kpiToken IS NOT NULL OR e.kpiDirtyAt IS NOT NULL "
    "CALL (e) { REMOVE e.kpiDirty, e.kpiDirtyAt, e.kpiPendingAt, e.kpiToken } IN TRANSACTIONS OF 10000 ROWS",
    "DROP INDEX stocks_site IF EXISTS",
    "DROP INDEX enterprise_kpi_dirty IF EXISTS",
    "DROP INDEX enterprise_kpi_pending IF EXISTS",
]


NO_ALARM_NODES = "no-equipment-alarms-in-graph"
"""Data migration: equipment alarms live in the record store (high and critical ones counted per
enterprise site and day); the ``EquipmentAlarm`` nodes and ``RAISED_AT`` links earlier releases wrote and
their constraint are removed. The enterprises' alarm properties (``graph.kpis.ALARM_PROPERTIES``) are
then filled from the record store (``fill_alarm_kpis``)."""

NO_ALARM_NODES_STATEMENTS = [
    "MATCH (a:EquipmentAlarm) CALL (a) { DETACH DELETE a } IN TRANSACTIONS OF 10000 ROWS",
    "DROP CONSTRAINT equipment_alarm_id IF EXISTS",
]

_ALARM_KPIS = f"UNWIND $rows AS r\nMATCH (e:Enterprise {{id: r.id}})\n{model.kpi_applied('e')}"
"""An enterprise's KPI row, applied like a batch's (``graph.writer``): a newer revision is never undone."""


async def fill_alarm_kpis(driver: AsyncDriver, records: RecordStore, *, database: str = "neo4j") -> int:
    """Write the KPI rows of every enterprise with recent high/critical alarms in the record store (the
    alarm counts at the stream clock); return how many. Idempotent."""
    rows = records.alarmed_kpis().suppliers
    for i in range(0, len(rows), 5_000):
        await driver.execute_query(_ALARM_KPIS, rows=rows[i : i + 5_000], database_=database)
    return len(rows)


async def migrate(driver: AsyncDriver, *, database: str = "neo4j", records: RecordStore | None = None) -> int:
    """Apply every constraint and index, then each data migration not yet applied; return how many
    schema statements ran. Safe to run again (and to re-run after an interrupted data migration).

    ``records``: the record store, whose recent alarms reach the enterprises' alarm properties when
    the alarm nodes are removed (without it those properties come with each enterprise's next KPI
    row)."""
    for statement in STATEMENTS:
        await driver.execute_query(statement, database_=database)
    await driver.execute_query("CALL db.awaitIndexes(60)", database_=database)
    await _data_migration(driver, WIDE_SEQUENCE, version_repad_statements(), database)
    await _data_migration(driver, NO_ORDER_NODES, NO_ORDER_NODES_STATEMENTS, database)
    await _data_migration(
        driver, NO_FLOW_OF_CAPACITY_OR_QUALITY, NO_FLOW_OF_CAPACITY_OR_QUALITY_STATEMENTS, database
    )
    await _data_migration(driver, NO_STOCK_RELATIONSHIPS, NO_STOCK_RELATIONSHIPS_STATEMENTS, database)
    if await _data_migration(driver, NO_ALARM_NODES, NO_ALARM_NODES_STATEMENTS, database) and records:
        await fill_alarm_kpis(driver, records, database=database)
    return len(STATEMENTS)
