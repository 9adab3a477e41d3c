"""The contract: valid events decode; every broken one is rejected naming event, field and reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from schema import EventRejected, PartnerRegistered, SupplyAgreed, decode_event
from streams.stages import Incoming, route

NOW = datetime(2026, 6, 1, 1, tzinfo=UTC)  # just after the examples' time (00:30 UTC)


def event(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "sap-wisco",
        "type": "supply.agreed",
        "time": "2026-05-01T08:00:00+08:00",
        "subject": "dongfeng",
        "data": {
            "supplier_id": "wisco",
            "buyer_id": "dongfeng",
            "sku": "HRC-Q235",
            "share": 0.7,
            "lead_time_days": 21,
            "valid_from": "2026-01-01",
        },
    }
    data_over = over.pop("data", {})
    base.update(over)
    base["data"] = {**base["data"], **data_over}
    return base


def enc(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def rejected(raw: bytes) -> EventRejected:
    with pytest.raises(EventRejected) as exc:
        decode_event(raw, now=NOW)
    return exc.value


def test_a_supply_agreement_decodes_to_its_typed_payload_in_utc() -> None:
    ev = decode_event(enc(event()), now=NOW)
    assert isinstance(ev.data, SupplyAgreed)
    assert ev.data.share == 0.7
    assert ev.time == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert ev.time_ms == 1777593600000


def test_chinese_names_survive_decoding() -> None:
    obj = event(type="partner.registered", subject="wisco")
    obj["data"] = {
        "enterprise_id": "wisco",
        "name": "武汉钢铁",
        "industry": "steel",
        "region": "湖北省 武汉市",
    }
    raw = enc(obj)
    ev = decode_event(raw, now=NOW)
    assert isinstance(ev.data, PartnerRegistered)
    assert ev.data.name == "武汉钢铁"
    assert ev.data.region == "湖北省 武汉市"


@pytest.mark.parametrize(
    ("mutate", "field", "reason_part"),
    [
        ({"data": {"share": 1.7}}, "$.data.share", "<= 1.0"),
        ({"data": {"share": "0.5"}}, "$.data.share", "Expected `float`, got `str`"),
        ({"data": {"lead_time_days": -3}}, "$.data.lead_time_days", ">= 0"),
        ({"data": {"price": 3}}, "$.data", "unknown field `price`"),
        ({"data": {"buyer_id": "wisco", "supplier_id": "wisco"}}, "$.data", "cannot supply itself"),
        ({"type": "supply.promised"}, "$.type", "unknown event type"),
        ({"specversion": "0.3"}, "$.specversion", "must be '1.0'"),
        ({"subject": "someone-else"}, "$.subject", "must equal data.buyer_id"),
        ({"time": "2031-01-01T00:00:00Z"}, "$.time", "in the future"),
        ({"time": "2026-01-01T00:00:00"}, "$.time", "UTC offset"),
        ({"extra": 1}, "$", "unknown field `extra`"),
    ],
)
def test_broken_events_are_rejected_with_event_field_and_reason(
    mutate: dict[str, Any], field: str, reason_part: str
) -> None:
    err = rejected(enc(event(**mutate)))
    assert err.field == field
    assert reason_part in err.reason
    assert err.event_id == "evt-1"
    assert "evt-1" in str(err)


def test_a_missing_field_is_named() -> None:
    obj = event()
    del obj["data"]["sku"]
    err = rejected(enc(obj))
    assert err.field == "$.data"
    assert "missing required field `sku`" in err.reason


def test_not_json_is_rejected_as_encoding() -> None:
    err = rejected(b"{not json")
    assert err.error_class == "encoding"
    assert err.event_id is None


def test_invalid_utf8_is_rejected_with_its_byte_position() -> None:
    err = rejected(b'{"id": "\xff"}')
    assert err.error_class == "encoding"
    assert "byte 8" in err.reason


def test_an_oversize_event_is_rejected_before_parsing() -> None:
    err = rejected(b" " * (300 * 1024))
    assert err.error_class == "size"


@pytest.mark.parametrize("event_type", sorted(__import__("schema.events").events.CATALOG))
def test_every_catalog_example_is_valid(event_type: str) -> None:
    from schema.examples import example_event

    ev = decode_event(enc(example_event(event_type)), now=NOW)
    assert ev.type == event_type


def test_every_catalog_type_has_an_example() -> None:
    from schema.events import CATALOG
    from schema.examples import EXAMPLES

    assert set(EXAMPLES) == set(CATALOG)


def test_an_unknown_version_is_rejected() -> None:
    err = rejected(enc(event(dataschema="https://schemas.supplynet.dev/events/supply.agreed/v7.json")))
    assert err.field == "$.dataschema"
    assert err.error_class == "version"
    assert "unknown version 7" in err.reason


@pytest.mark.parametrize(
    ("event_type", "data_over", "field", "reason_part"),
    [
        ("order.placed", {"quantity": -5}, "$.data.quantity", "> 0"),
        ("inventory.reported", {"on_hand": -1}, "$.data.on_hand", ">= 0"),
        ("bom.defined", {"components": [{"sku": "BODY-IN-WHITE-EV1", "qty": 1}]}, "$.data", "of itself"),
        ("disruption.reported", {"enterprise_id": "wisco"}, "$.data", "exactly one"),
        ("facility.registered", {"latitude": 91}, "$.data.latitude", "<= 90"),
        ("order.shipped", {"expected_delivery": "2026-06-01"}, "$.data", "before the start"),
    ],
)
def test_impossible_values_are_rejected(
    event_type: str, data_over: dict[str, Any], field: str, reason_part: str
) -> None:
    from schema.examples import example_event

    obj = example_event(event_type)
    obj["data"] = {**obj["data"], **data_over}
    err = rejected(enc(obj))
    assert err.field == field
    assert reason_part in err.reason


def test_a_batch_of_readings_keeps_each_valid_one_and_names_the_broken_one() -> None:
    """The validate stage's high-rate path: one clock read per batch still refuses a future reading,
    and a broken reading is rejected naming event, field and reason, the others kept in order."""

    def reading(i: int, when: datetime, value: Any = 50.0) -> Incoming:
        raw = enc(
            {
                "specversion": "1.0",
                "id": f"r{i}",
                "source": "plc-7",
                "type": "equipment.telemetry",
                "time": when.isoformat(),
                "subject": "plant-1",
                "data": {"equipment_id": "eq-1", "customer_id": "plant-1", "metric": "rms", "value": value},
            }
        )
        return Incoming("events.raw", 0, i, b"plant-1", raw)

    now = datetime.now(UTC)
    batch = [
        reading(0, now),
        reading(1, now + timedelta(hours=1)),
        reading(2, now, value="high"),
        reading(3, now - timedelta(seconds=1)),
    ]
    routed = route(batch)
    assert [ev.id for _, ev in routed.valid] == ["r0", "r3"]
    [(_, future), (_, bad)] = routed.rejected
    assert (future.event_id, future.field, future.error_class) == ("r1", "$.time", "future")
    assert (bad.event_id, bad.field) == ("r2", "$.data.value")
    assert "Expected `float`" in bad.reason
    ev = routed.valid[0][1]
    with pytest.raises(AttributeError):
        ev.id = "other"  # type: ignore[misc]
