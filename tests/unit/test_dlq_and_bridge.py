"""Pure parts of the DLQ tooling and the Pulsar bridge."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from connectors.pulsar_bridge import kafka_key
from streams.dlq import REPLAYED_FROM, DeadLetter, DlqError, parse_address, replay_record


def _letter(value: bytes, event_id: str | None = "e1") -> DeadLetter:
    headers = [("supplynet.reason", b"Expected `float` <= 1.0")]
    if event_id:
        headers.append(("supplynet.event.id", event_id.encode()))
    return DeadLetter(0, 17, datetime.now(UTC), b"dongfeng", value, tuple(headers))


def test_addresses_are_offsets_or_partition_offsets() -> None:
    assert parse_address("17") == (0, 17)
    assert parse_address("2:17") == (2, 17)
    with pytest.raises(DlqError):
        parse_address("latest")


def test_a_replay_resends_the_original_with_where_it_came_from() -> None:
    rec = replay_record(_letter(b'{"id": "e1"}'))
    assert (rec.key, rec.value) == (b"dongfeng", b'{"id": "e1"}')
    assert list(rec.headers) == [(REPLAYED_FROM, b"events.dlq/0/17")]


def test_a_corrected_version_must_keep_the_event_id() -> None:
    fixed = msgspec.json.encode({"id": "e1", "x": 1})
    assert replay_record(_letter(b"{}"), fixed=fixed).value == fixed
    with pytest.raises(DlqError, match="must keep the id 'e1'"):
        replay_record(_letter(b"{}"), fixed=b'{"id": "e2"}')
    with pytest.raises(DlqError):
        replay_record(_letter(b"{}"), fixed=b"not json")


def test_the_bridge_keys_events_by_subject_and_never_fails_on_garbage() -> None:
    assert kafka_key(b'{"subject": "wisco", "id": "x"}', None) == b"wisco"
    assert kafka_key(b"\xff not json", "pulsar-key") == b"pulsar-key"
    assert kafka_key(b'{"subject": 7}', None) is None
