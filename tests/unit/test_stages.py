"""Routing: valid events go on keyed by subject; rejects keep their bytes and say why in headers."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from streams.stages import Incoming, forwards, route
from supplynet.samples import sample_events


def msg(value: bytes, offset: int = 0) -> Incoming:
    return Incoming(topic="events.raw", partition=2, offset=offset, key=b"k", value=value)


def test_valid_and_invalid_events_are_split_and_nothing_is_lost() -> None:
    good = [msgspec.json.encode(e) for e in sample_events()]
    batch = [msg(v, i) for i, v in enumerate(good)] + [msg(b"not json", 99)]
    routed = route(batch)
    assert len(routed.valid) == len(good)
    assert len(routed.rejected) == 1
    out = forwards(routed, stage="validate", telemetry=False)
    valid, dead = [r for r, _ in out.valid], out.dead
    assert [r.value for r in valid] == good
    assert valid[-1].key == b"dongfeng"
    assert dead[0].value == b"not json"
    headers = dict(dead[0].headers)
    assert headers["__connect.errors.offset"] == b"99"
    assert headers["__connect.errors.partition"] == b"2"
    assert headers["__connect.errors.topic"] == b"events.raw"
    assert headers["supplynet.stage"] == b"validate"
    assert headers["__connect.errors.exception.class.name"] == b"supplynet.encoding"


def test_dlq_headers_name_event_and_field() -> None:
    ev = sample_events()[-1]
    ev["data"]["share"] = 2
    dead = forwards(route([msg(msgspec.json.encode(ev))]), stage="validate").dead
    headers = dict(dead[0].headers)
    assert headers["supplynet.field"] == b"$.data.share"
    assert headers["supplynet.event.id"] == ev["id"].encode()
    assert b"<= 1.0" in headers["supplynet.reason"]


def _equipment_event(eid: str, type_: str, data: dict[str, object]) -> bytes:
    return msgspec.json.encode(
        {
            "specversion": "1.0",
            "id": eid,
            "source": "test",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": "plant-1",
            "data": data,
        }
    )


def test_readings_go_to_events_telemetry_alone_and_what_the_service_job_folds_is_copied_there() -> None:
    installed = _equipment_event(
        "i1",
        "equipment.installed",
        {
            "equipment_id": "eq-1",
            "maker_id": "maker",
            "customer_id": "plant-1",
            "sku": "EAF",
            "serial": "SN1",
            "installed_on": "2025-01-01",
            "limits": [{"metric": "bearing-temp", "high": 90.0}],
        },
    )
    reading = _equipment_event(
        "r1",
        "equipment.telemetry",
        {"equipment_id": "eq-1", "customer_id": "plant-1", "metric": "bearing-temp", "value": 71.5},
    )
    erp = [msgspec.json.encode(e) for e in sample_events()]
    batch = [msg(v, i) for i, v in enumerate([installed, *erp, reading, b"not json"])]
    out = forwards(route(batch), stage="validate")
    assert [r.value for r, _ in out.valid] == [installed, *erp]
    assert [r.value for r, _ in out.telemetry] == [installed, reading], "in batch order"
    assert [dict(r.headers)["supplynet.event.type"] for r, _ in out.telemetry] == [
        b"equipment.installed",
        b"equipment.telemetry",
    ]
    assert [r.value for r in out.dead] == [b"not json"]
    # without an events.telemetry (a pipeline built without one) every valid event goes to events.valid
    legacy = forwards(route(batch), stage="validate", telemetry=False)
    assert [r.value for r, _ in legacy.valid] == [installed, *erp, reading]
    assert legacy.telemetry == []
