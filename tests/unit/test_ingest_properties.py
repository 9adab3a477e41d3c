"""Property-based tests of the ingest path without Kafka: random and mutated events through the validator
and through the HTTP ingest core (``check_events`` / ``split_body``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.http_ingest import JSON, NDJSON, Outcome, check_events, split_body
from schema.errors import EventRejected
from schema.events import CATALOG
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event


@dataclass(frozen=True)
class Caller:
    role: Role
    source: str | None = None


ERP = Caller(Role.ERP, "sap-ecc/wisco")
TYPES = sorted(CATALOG)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
ENVELOPE = ["id", "source", "type", "time", "subject", "sequence", "specversion", "dataschema", "data"]


def _mutate(obj: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """One random change: drop, replace or add a field of the envelope or of the payload."""
    target = obj["data"] if data.draw(st.booleans()) and isinstance(obj.get("data"), dict) else obj
    name = data.draw(st.sampled_from([*sorted(target), "__extra__"]))
    if name in target and data.draw(st.booleans()):
        del target[name]
    else:
        target[name] = data.draw(json_values)
    return obj


def _rejection(raw: bytes) -> EventRejected | None:
    """The validator's rejection of ``raw``, or None when it is valid; any other exception propagates."""
    try:
        decode_event(raw)
    except EventRejected as e:
        return e
    return None


@st.composite
def events(draw: st.DrawFn, index: int) -> bytes:
    """An event of the catalog, valid, mutated, from another source, or not an event at all."""
    kind = draw(st.sampled_from(["valid", "mutated", "foreign", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(max_size=60).filter(lambda b: b"\n" not in b and b.strip() != b""))
    obj = example_event(draw(st.sampled_from(TYPES)), event_id=f"p-{draw(st.integers(0, 5))}")
    if kind == "mutated":
        obj = _mutate(obj, draw(st.data()))
    elif kind == "foreign":
        obj["source"] = "kingdee/dongfeng" if obj["source"] != "kingdee/dongfeng" else "yonyou/jingmen"
    return msgspec.json.encode(obj)


batches = st.integers(0, 12).flatmap(lambda n: st.tuples(*(events(i) for i in range(n))))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TYPES), st.data())
def test_decode_event_raises_only_event_rejected_and_always_with_a_reason(
    event_type: str, data: st.DataObject
) -> None:
    obj = example_event(event_type)
    for _ in range(data.draw(st.integers(1, 3))):
        obj = _mutate(obj, data)
    error = _rejection(msgspec.json.encode(obj))
    if error is not None:
        assert error.reason.strip()
        assert error.error_class


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(ENVELOPE), json_values, max_size=len(ENVELOPE)))
def test_decode_event_on_random_envelopes_rejects_with_a_reason(obj: dict[str, Any]) -> None:
    error = _rejection(msgspec.json.encode(obj))
    if error is not None:
        assert error.reason.strip()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(batches, st.booleans())
def test_every_event_of_a_batch_is_accounted_for_once(batch: tuple[bytes, ...], admin: bool) -> None:
    caller = Caller(Role.ADMIN) if admin else ERP
    records, report = check_events(list(batch), caller)
    assert [r.index for r in report.events] == list(range(len(batch)))
    assert report.accepted + report.rejected == len(batch)
    accepted = [r for r in report.events if r.status is Outcome.ACCEPTED]
    assert len(accepted) == report.accepted == len(records)
    # the records are the accepted events' own bytes, in order, and no id is accepted twice
    assert [rec.value for rec in records] == [batch[r.index] for r in accepted]
    ids = [r.id for r in accepted]
    assert len(ids) == len(set(ids))
    for r in report.events:
        if r.status is Outcome.REJECTED:
            assert r.errors
            assert all(e.reason.strip() and e.error_class for e in r.errors)
        else:
            assert not r.errors
            if not admin:
                assert msgspec.json.decode(batch[r.index])["source"] == ERP.source


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_ndjson_and_a_json_array_of_the_same_json_events_split_alike(batch: tuple[bytes, ...]) -> None:
    readable = []
    for raw in batch:
        try:
            readable.append(msgspec.json.encode(msgspec.json.decode(raw)))
        except msgspec.DecodeError:
            continue
    ndjson = split_body(b"\n".join(readable) + b"\n", NDJSON)
    array = split_body(b"[" + b",".join(readable) + b"]", JSON)
    assert ndjson == array == readable
