"""Constraints and indexes of the partner graph. Every statement is idempotent (``IF NOT EXISTS``)."""

from __future__ import annotations

from neo4j import AsyncDriver

_UNIQUE: tuple[tuple[str, str, str], ...] = (
    ("enterprise_id", "Enterprise", "id"),
    ("facility_id", "Facility", "id"),
    ("region_name", "Region", "name"),
    ("material_sku", "Material", "sku"),
    ("certification_id", "Certification", "id"),
    ("order_id", "Order", "id"),
    ("quality_incident_id", "QualityIncident", "id"),
    ("equipment_alarm_id", "EquipmentAlarm", "id"),
    ("disruption_id", "Disruption", "id"),
    ("design_project_id", "DesignProject", "id"),
    ("design_revision_id", "DesignRevision", "id"),
    ("change_request_id", "ChangeRequest", "id"),
    ("kafka_offset_id", "KafkaOffset", "id"),
)

STATEMENTS: tuple[str, ...] = (
    *(
        f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
        for name, label, prop in _UNIQUE
    ),
    "CREATE INDEX enterprise_industry IF NOT EXISTS FOR (e:Enterprise) ON (e.industry)",
    "CREATE INDEX enterprise_region IF NOT EXISTS FOR (e:Enterprise) ON (e.region)",
    "CREATE TEXT INDEX enterprise_name_pinyin IF NOT EXISTS FOR (e:Enterprise) ON (e.namePinyin)",
    "CREATE INDEX enterprise_kpi_dirty IF NOT EXISTS FOR (e:Enterprise) ON (e.kpiDirty)",
    "CREATE INDEX enterprise_kpi_pending IF NOT EXISTS FOR (e:Enterprise) ON (e.kpiPendingAt)",
    # The risky-nodes list filters and orders by score (graph/risk/store.py RiskStore.risky).
    "CREATE INDEX enterprise_risk_score IF NOT EXISTS FOR (e:Enterprise) ON (e.riskScore)",
    "CREATE INDEX order_supplier IF NOT EXISTS FOR (o:Order) ON (o.supplierId)",
    "CREATE INDEX order_buyer IF NOT EXISTS FOR (o:Order) ON (o.buyerId)",
    "CREATE INDEX quality_incident_supplier IF NOT EXISTS FOR (q:QualityIncident) ON (q.supplierId)",
    "CREATE INDEX disruption_status IF NOT EXISTS FOR (d:Disruption) ON (d.status)",
    "CREATE INDEX kafka_offset_group IF NOT EXISTS FOR (k:KafkaOffset) ON (k.group, k.topic)",
    "CREATE INDEX supplies_sku IF NOT EXISTS FOR ()-[s:SUPPLIES]-() ON (s.sku)",
    "CREATE INDEX supplies_valid_to IF NOT EXISTS FOR ()-[s:SUPPLIES]-() ON (s.validTo)",
    "CREATE INDEX stocks_site IF NOT EXISTS FOR ()-[s:STOCKS]-() ON (s.site)",
)
"""Node uniqueness constraints (Community edition) on every business key; relationship uniqueness
follows from MERGE patterns between constrained nodes."""


async def migrate(driver: AsyncDriver, *, database: str = "neo4j") -> int:
    """Apply every constraint and index; return how many statements ran. Safe to run again."""
    for statement in STATEMENTS:
        await driver.execute_query(statement, database_=database)
    await driver.execute_query("CALL db.awaitIndexes(60)", database_=database)
    return len(STATEMENTS)
