"""One realistic example payload per event type: rendered into the docs and checked by the tests."""

from __future__ import annotations

import copy
from typing import Any

EXAMPLES: dict[str, dict[str, Any]] = {
    "partner.registered": {
        "enterprise_id": "wisco",
        "name": "武汉钢铁",
        "industry": "steel",
        "region": "湖北省 武汉市",
        "country": "CN",
        "capabilities": ["hot-rolled coil", "cold-rolled sheet", "silicon steel"],
    },
    "partner.updated": {"enterprise_id": "wisco", "name": "宝武集团武汉钢铁有限公司"},
    "facility.registered": {
        "facility_id": "wisco-qingshan",
        "enterprise_id": "wisco",
        "name": "青山厂区",
        "kind": "plant",
        "region": "湖北省 武汉市",
        "latitude": 30.64,
        "longitude": 114.43,
    },
    "certification.granted": {
        "enterprise_id": "dongfeng-parts",
        "certificate_id": "IATF-0456123",
        "standard": "IATF 16949",
        "issuer": "TÜV SÜD",
        "valid_from": "2025-03-01",
        "valid_until": "2028-02-28",
    },
    "certification.expired": {
        "enterprise_id": "dongfeng-parts",
        "certificate_id": "IATF-0456123",
        "reason": "surveillance audit failed",
    },
    "material.defined": {"sku": "HRC-Q235", "name": "热轧卷板 Q235", "category": "steel/flat", "unit": "t"},
    "bom.defined": {
        "product_sku": "BODY-IN-WHITE-EV1",
        "components": [{"sku": "HRC-Q235", "qty": 0.42}, {"sku": "AL-6061-SHEET", "qty": 0.08}],
    },
    "supply.agreed": {
        "supplier_id": "wisco",
        "buyer_id": "dongfeng",
        "sku": "HRC-Q235",
        "share": 0.7,
        "lead_time_days": 21,
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "unit_price": 4150.0,
        "currency": "CNY",
        "annual_volume": 120000,
    },
    "supply.ended": {
        "supplier_id": "wisco",
        "buyer_id": "dongfeng",
        "sku": "HRC-Q235",
        "ended_on": "2026-12-31",
        "reason": "contract not renewed",
    },
    "order.placed": {
        "order_id": "PO-2026-000123",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "sku": "HRC-Q235",
        "quantity": 800,
        "requested_date": "2026-06-20",
        "unit_price": 4150.0,
        "currency": "CNY",
    },
    "order.confirmed": {
        "order_id": "PO-2026-000123",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "confirmed_quantity": 800,
        "promised_date": "2026-06-21",
    },
    "order.shipped": {
        "order_id": "PO-2026-000123",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "shipment_id": "SHP-88231",
        "quantity": 800,
        "shipped_on": "2026-06-18",
        "expected_delivery": "2026-06-21",
        "carrier_id": "cosco-logistics",
    },
    "order.delivered": {
        "order_id": "PO-2026-000123",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "quantity_ordered": 800,
        "quantity_delivered": 760,
        "promised_date": "2026-06-21",
        "delivered_on": "2026-06-23",
        "ordered_on": "2026-05-30",
    },
    "order.cancelled": {
        "order_id": "PO-2026-000124",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "reason": "demand plan revised",
    },
    "shipment.delayed": {
        "order_id": "PO-2026-000123",
        "buyer_id": "dongfeng",
        "supplier_id": "wisco",
        "shipment_id": "SHP-88231",
        "new_expected_delivery": "2026-06-23",
        "delay_days": 2,
        "reason": "长江航运 water level low",
    },
    "inventory.reported": {
        "enterprise_id": "dongfeng",
        "sku": "HRC-Q235",
        "on_hand": 2400,
        "daily_usage": 300,
        "facility_id": "dongfeng-xiangyang",
    },
    "capacity.reported": {
        "enterprise_id": "wisco",
        "capacity_per_day": 42000,
        "utilization": 0.87,
        "sku": "HRC-Q235",
        "facility_id": "wisco-qingshan",
    },
    "quality.incident": {
        "incident_id": "QI-2026-0042",
        "supplier_id": "wisco",
        "buyer_id": "dongfeng",
        "sku": "HRC-Q235",
        "severity": "high",
        "defect_ppm": 1800,
        "description": "surface cracks on coil batch 26-0611",
    },
    "equipment.alarm": {
        "alarm_id": "ALM-77812",
        "enterprise_id": "wisco",
        "facility_id": "wisco-qingshan",
        "equipment_id": "HSM-2250-F7",
        "signal": "main drive bearing vibration",
        "severity": "medium",
        "predicted_failure_days": 12,
    },
    "disruption.reported": {
        "disruption_id": "DSR-2026-07-flood-wuhan",
        "kind": "flood",
        "severity": "high",
        "expected_recovery_days": 10,
        "region": "湖北省 武汉市",
        "description": "长江 flood, plants in 青山 and 汉南 halted",
    },
    "disruption.resolved": {"disruption_id": "DSR-2026-07-flood-wuhan", "note": "production resumed"},
    "design.project.created": {
        "project_id": "EV1-BODY",
        "name": "EV1 轻量化车身",
        "owner_id": "dongfeng",
        "product_sku": "BODY-IN-WHITE-EV1",
    },
    "design.partner.joined": {
        "project_id": "EV1-BODY",
        "enterprise_id": "wisco",
        "role": "material-supplier",
    },
    "design.revision.published": {
        "project_id": "EV1-BODY",
        "revision_id": "EV1-BODY-R3",
        "label": "R3: aluminium door rings",
        "changed_components": [
            {"sku": "AL-6061-SHEET", "change": "added", "qty": 0.08},
            {"sku": "HRC-Q235", "change": "modified", "qty": 0.42},
        ],
        "uri": "https://plm.example.com/projects/EV1-BODY/revisions/R3.zip",
        "content_hash": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    },
    "design.change.requested": {
        "project_id": "EV1-BODY",
        "change_id": "ECR-2026-019",
        "affected_skus": ["HRC-Q235"],
        "reason": "raise yield strength for crash test",
        "required_by": "2026-09-01",
    },
    "design.change.answered": {
        "project_id": "EV1-BODY",
        "change_id": "ECR-2026-019",
        "enterprise_id": "baosteel",
        "decision": "accepted",
        "note": "Q355 coil from line 2, first lot in 6 weeks",
    },
    "lot.produced": {
        "lot_id": "lgtin:6901234.012345.H2607-118",
        "sku": "HRC-Q235",
        "quantity": 24.5,
        "enterprise_id": "wisco",
        "facility_id": "wisco-qingshan",
        "inputs": [
            {"lot_id": "lgtin:6901234.000011.SLAB-5531", "quantity": 25.1},
        ],
        "production_id": "HSM-2250-2026-07-01-118",
    },
    "lot.packed": {
        "unit_id": "sscc:6901234.0000123457",
        "enterprise_id": "wisco",
        "contents": [{"lot_id": "lgtin:6901234.012345.H2607-118", "quantity": 24.5}],
    },
    "lot.unpacked": {
        "unit_id": "sscc:6901234.0000123457",
        "enterprise_id": "dongfeng",
        "lot_ids": ["lgtin:6901234.012345.H2607-118"],
    },
    "lot.shipped": {
        "shipment_id": "DESADV-2026-07-0091",
        "supplier_id": "wisco",
        "buyer_id": "dongfeng",
        "units": ["sscc:6901234.0000123457"],
        "order_id": "PO-DF-2026-0412",
    },
    "lot.received": {
        "shipment_id": "DESADV-2026-07-0091",
        "supplier_id": "wisco",
        "buyer_id": "dongfeng",
        "units": ["sscc:6901234.0000123457"],
        "order_id": "PO-DF-2026-0412",
        "facility_id": "dongfeng-xiangyang",
    },
}


def example_event(event_type: str, *, event_id: str | None = None) -> dict[str, Any]:
    """A complete, valid envelope around the example payload of ``event_type``."""
    from schema.events import CATALOG, schema_uri

    cls = CATALOG[event_type]
    data = copy.deepcopy(EXAMPLES[event_type])  # callers may mutate it
    return {
        "specversion": "1.0",
        "id": event_id or f"example-{event_type}",
        "source": "sap-ecc/wisco" if event_type != "order.placed" else "kingdee/dongfeng",
        "type": event_type,
        "time": "2026-06-01T08:30:00+08:00",
        "subject": data[cls.SUBJECT],
        "sequence": 0,
        "dataschema": schema_uri(event_type, cls.VERSION),
        "data": data,
    }
