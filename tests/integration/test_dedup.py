"""The validate stage forwards each event id once: redeliveries dropped, reused ids dead-lettered."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from connectors.kafka import Record
from streams import topics
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, event_id, header, read_from
from tests.integration.worker_proc import running_worker

pytestmark = pytest.mark.timeout(240)


def test_the_same_event_twice_is_forwarded_once_and_a_reused_id_is_dead_lettered(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    t = datetime.now(UTC).replace(microsecond=0)
    ent = f"{run_id}-daye"

    def event(eid: str, name: str) -> bytes:
        data = {"enterprise_id": ent, "name": name, "industry": "non-ferrous"}
        return msgspec.json.encode(
            envelope(eid=eid, type_="partner.registered", subject=ent, time=t, data=data)
        )

    twice, other = event(f"{run_id}-d1", "大冶有色金属"), event(f"{run_id}-d2", "大冶有色")
    reused = event(f"{run_id}-d2", "大冶有色金属集团")  # same id as `other`, other content
    ids = {f"{run_id}-d1", f"{run_id}-d2"}
    valid_start, dlq_start = ends(stack, topics.VALID), ends(stack, topics.DLQ)
    producer = bootstrap.producer(stack, topics.RAW)
    # the duplicate in the same batch, and again in a later batch (a redelivery after a crash)
    producer.send_many([Record(ent.encode(), v) for v in (twice, other, twice)])
    with running_worker(stack, f"supplynet-test-dedup-{run_id}", tmp_path / "worker.log"):
        read_from(
            stack, topics.VALID, valid_start, keep=lambda m: event_id(m) in ids, done=lambda ms: len(ms) >= 2
        )
        producer.send_many([Record(ent.encode(), v) for v in (twice, reused)])
        dead = read_from(
            stack,
            topics.DLQ,
            dlq_start,
            keep=lambda m: event_id(m) in ids,
            done=lambda ms: len(ms) >= 1,
            settle_s=3,
        )
        valid = read_from(
            stack,
            topics.VALID,
            valid_start,
            keep=lambda m: event_id(m) in ids,
            done=lambda ms: len(ms) >= 2,
            settle_s=3,
        )
    producer.close()
    assert Counter(event_id(m) for m in valid) == Counter({f"{run_id}-d1": 1, f"{run_id}-d2": 1})
    assert {m.value() for m in valid} == {twice, other}
    [letter] = dead
    assert letter.value() == reused
    assert header(letter, "supplynet.field") == "$.id"
    assert (header(letter, "supplynet.reason") or "").startswith(
        "event id reused with different content (first seen at events.raw/"
    )
