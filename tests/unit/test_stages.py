"""Routing: valid events go on keyed by subject; rejects keep their bytes and say why in headers."""

from __future__ import annotations

import msgspec

from streams.stages import Incoming, route, split_records
from supplynet.samples import sample_events


def msg(value: bytes, offset: int = 0) -> Incoming:
    return Incoming(topic="events.raw", partition=2, offset=offset, key=b"k", value=value)


def test_valid_and_invalid_events_are_split_and_nothing_is_lost() -> None:
    good = [msgspec.json.encode(e) for e in sample_events()]
    batch = [msg(v, i) for i, v in enumerate(good)] + [msg(b"not json", 99)]
    routed = route(batch)
    assert len(routed.valid) == len(good)
    assert len(routed.rejected) == 1
    valid, dead = split_records(routed, stage="validate")
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
    _, dead = split_records(route([msg(msgspec.json.encode(ev))]), stage="validate")
    headers = dict(dead[0].headers)
    assert headers["supplynet.field"] == b"$.data.share"
    assert headers["supplynet.event.id"] == ev["id"].encode()
    assert b"<= 1.0" in headers["supplynet.reason"]
