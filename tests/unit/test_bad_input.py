"""Bad input the validator must explain, never crash on: the cases test_validate.py leaves out,
and property-based tests with random and mutated events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.events import CATALOG
from schema.examples import example_event
from schema.validate import decode_event

NOW = datetime(2026, 6, 1, 1, tzinfo=UTC)  # just after the examples' time (00:30 UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _outcome(raw: bytes) -> ValidEvent | EventRejected:
    try:
        return decode_event(raw, now=NOW)
    except EventRejected as e:
        return e


def _rejected(raw: bytes) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        decode_event(raw, now=NOW)
    return info.value


@pytest.mark.parametrize(
    ("change", "field", "reason_part"),
    [
        ({"id": ""}, "$.id", "length >= 1"),
        ({"id": 42}, "$.id", "Expected `str`, got `int`"),
        ({"sequence": -1}, "$.sequence", ">= 0"),
        ({"sequence": "1"}, "$.sequence", "Expected `int`"),
        ({"time": "yesterday"}, "$.time", "Invalid RFC3339"),
        ({"data": "not an object"}, "$.data", "Expected `object`"),
        ({"dataschema": "https://example.com/other.json"}, "$.dataschema", "unknown version"),
    ],
)
def test_broken_envelopes_name_the_attribute(change: dict[str, Any], field: str, reason_part: str) -> None:
    err = _rejected(msgspec.json.encode({**example_event("order.placed"), **change}))
    assert err.field == field
    assert reason_part in err.reason


@pytest.mark.parametrize("missing", ["id", "source", "type", "time", "subject", "data", "specversion"])
def test_a_missing_envelope_attribute_is_named(missing: str) -> None:
    obj = example_event("order.placed")
    del obj[missing]
    err = _rejected(msgspec.json.encode(obj))
    assert f"missing required field `{missing}`" in err.reason


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"event"', b"null", b""])
def test_json_that_is_not_an_object_is_rejected(raw: bytes) -> None:
    err = _rejected(raw)
    assert err.reason
    assert err.event_id is None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_are_rejected_with_a_reason_or_accepted_never_crash(raw: bytes) -> None:
    out = _outcome(raw)
    assert isinstance(out, ValidEvent) or out.reason


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CATALOG)), st.data())
def test_mutated_payloads_are_valid_or_rejected_naming_a_field(event_type: str, data: st.DataObject) -> None:
    obj = example_event(event_type)
    fields = [*sorted(obj["data"]), "__unknown__"]
    name = data.draw(st.sampled_from(fields))
    if data.draw(st.booleans()) and name in obj["data"]:
        del obj["data"][name]
    else:
        obj["data"][name] = data.draw(json_values)
    out = _outcome(msgspec.json.encode(obj))
    if isinstance(out, EventRejected):
        assert out.reason
        assert out.field is not None
        assert out.field.startswith("$")
        assert out.event_type == event_type
    assert out.event_id == obj["id"] if isinstance(out, EventRejected) else out.id == obj["id"]
