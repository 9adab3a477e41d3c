"""The dedup decision: forward once, drop redeliveries, dead-letter ids reused for other content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Engine

from schema.validate import decode_event
from streams.dedup import FirstSeen, SeenEvents, classify, digest
from streams.stages import Incoming


def _event(eid: str, name: str = "武汉钢铁") -> bytes:
    return msgspec.json.encode(
        {
            "specversion": "1.0",
            "id": eid,
            "source": "sap",
            "type": "partner.registered",
            "time": "2026-05-01T08:00:00+08:00",
            "subject": "wisco",
            "data": {"enterprise_id": "wisco", "name": name, "industry": "steel"},
        }
    )


def _pair(value: bytes, offset: int) -> tuple[Incoming, object]:
    return Incoming("events.raw", 0, offset, b"wisco", value), decode_event(value)


def test_the_first_copy_is_forwarded_and_a_redelivery_dropped_within_one_batch() -> None:
    a = _event("e1")
    v = classify([_pair(a, 1), _pair(a, 2)], {})  # type: ignore[list-item]
    assert [m.offset for m, _ in v.forward] == [1]
    assert [m.offset for m, _ in v.redelivered] == [2]
    assert v.reused == []


def test_an_id_reused_for_other_content_names_where_it_was_first_seen() -> None:
    known = {"e1": FirstSeen(digest(_event("e1")), "events.raw", 3, 42)}
    v = classify([_pair(_event("e1", "荆门石化"), 7)], known)  # type: ignore[list-item]
    [(msg, err)] = v.reused
    assert msg.offset == 7
    assert err.field == "$.id"
    assert err.event_id == "e1"
    assert err.reason == "event id reused with different content (first seen at events.raw/3/42)"
    assert v.forward == []


def test_the_ledger_remembers_forwarded_ids_and_prunes_old_ones(sql_engine: Engine) -> None:
    seen = SeenEvents(sql_engine, retention_days=7)
    batch = [_pair(_event("e1"), 1), _pair(_event("e2"), 2)]
    assert len(seen.check(batch).forward) == 2  # type: ignore[arg-type]
    seen.record(batch)  # type: ignore[arg-type]
    seen.record(batch)  # type: ignore[arg-type]  # idempotent
    again = seen.check([_pair(_event("e1"), 9), _pair(_event("e2", "x"), 10), _pair(_event("e3"), 11)])  # type: ignore[list-item]
    assert [m.offset for m, _ in again.forward] == [11]
    assert [m.offset for m, _ in again.redelivered] == [9]
    assert [m.offset for m, _ in again.reused] == [10]
    assert seen.prune(now=datetime.now(UTC) + timedelta(days=8)) == 2
    assert seen.known(["e1", "e2"]) == {}
