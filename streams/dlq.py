"""Reading and replaying ``events.dlq``.

The reader ``assign``s partitions and never commits offsets (no consumer group state is created or
moved), so listing the DLQ changes nothing. Replay re-sends a dead letter's original key and bytes to
``events.raw`` with a ``supplynet.replayed-from`` header; the validate stage then treats it like any
event, and its dedup ledger makes replaying the same letter twice forward it at most once.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from connectors.kafka import Record
from streams import topics

REPLAYED_FROM = "supplynet.replayed-from"
"""Header naming the dead letter a replayed event came from: ``events.dlq/<partition>/<offset>``."""

Conf = Mapping[str, str | int | float | bool]


class DlqError(Exception):
    """A dead letter could not be found or replayed as asked."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of ``events.dlq``: where it is, when, the original bytes and the reason headers."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    topic: str = topics.DLQ

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", errors="replace")
        return None

    @property
    def address(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def event_id(self) -> str | None:
        return self.header("supplynet.event.id")

    @property
    def event_type(self) -> str | None:
        return self.header("supplynet.event.type")

    @property
    def field(self) -> str | None:
        return self.header("supplynet.field")

    @property
    def reason(self) -> str | None:
        return self.header("supplynet.reason") or self.header("__connect.errors.exception.message")


def parse_address(text: str) -> tuple[int, int]:
    """``OFFSET`` (partition 0) or ``PARTITION:OFFSET`` -> (partition, offset)."""
    try:
        if ":" in text:
            p, o = text.split(":", 1)
            return int(p), int(o)
        return 0, int(text)
    except ValueError:
        raise DlqError(f"{text!r} is not OFFSET or PARTITION:OFFSET") from None


def _consumer(conf: Conf) -> Consumer:
    return Consumer(
        {
            **conf,
            "group.id": f"supplynet-dlq-reader-{uuid.uuid4().hex[:8]}",  # never committed
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )


def _bytes(v: str | bytes | None) -> bytes:
    return v.encode() if isinstance(v, str) else (v or b"")


def _letter(m: Message, topic: str) -> DeadLetter:
    _, ts = m.timestamp()
    key = m.key()
    return DeadLetter(
        partition=m.partition() or 0,
        offset=m.offset() or 0,
        timestamp=datetime.fromtimestamp(ts / 1000, UTC),
        key=_bytes(key) if key is not None else None,
        value=_bytes(m.value()),
        headers=tuple((k, _bytes(v)) for k, v in cast(list[tuple[str, Any]], m.headers() or [])),
        topic=topic,
    )


def _read(
    consumer: Consumer, starts: Sequence[TopicPartition], ends: Mapping[int, int], timeout_s: float
) -> Iterator[Message]:
    """Yield messages from ``starts`` up to (not including) each partition's end offset."""
    todo = {tp.partition for tp in starts if tp.offset < ends[tp.partition] or tp.offset < 0}
    todo = {p for p in todo if ends[p] > 0}
    if not todo:
        return
    consumer.assign(list(starts))
    deadline = time.monotonic() + timeout_s
    while todo and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        p, o = msg.partition() or 0, msg.offset()
        if p in todo and o is not None and o < ends[p]:
            yield msg
        if o is not None and o >= ends[p] - 1:
            todo.discard(p)
    if todo:
        raise DlqError(f"reading the DLQ timed out after {timeout_s:.0f}s")


def list_letters(
    conf: Conf,
    *,
    since: datetime | None = None,
    event_type: str | None = None,
    limit: int = 50,
    timeout_s: float = 30,
    topic: str = topics.DLQ,
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters (optionally since a time, of one type), oldest first."""
    consumer = _consumer(conf)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = sorted(meta.partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        if since is not None:
            ms = int(since.timestamp() * 1000)
            starts = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in parts], timeout=10)
            starts = [
                tp if tp.offset >= 0 else TopicPartition(topic, tp.partition, ends[tp.partition])
                for tp in starts
            ]
        else:
            starts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts]
        newest: deque[DeadLetter] = deque(maxlen=limit)
        for msg in _read(consumer, starts, ends, timeout_s):
            letter = _letter(msg, topic)
            if event_type is None or letter.event_type == event_type:
                newest.append(letter)
        return sorted(newest, key=lambda d: (d.timestamp, d.partition, d.offset))
    finally:
        consumer.close()


def fetch_letters(
    conf: Conf, addresses: Iterable[tuple[int, int]], *, timeout_s: float = 30, topic: str = topics.DLQ
) -> list[DeadLetter]:
    """The dead letters at the given (partition, offset)s, in the order asked; raises if one is missing."""
    wanted = list(dict.fromkeys(addresses))
    consumer = _consumer(conf)
    found: dict[tuple[int, int], DeadLetter] = {}
    try:
        for p, o in wanted:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if not low <= o < high:
                raise DlqError(f"{topic} partition {p} has offsets {low}..{high - 1}, not {o}")
            for msg in _read(consumer, [TopicPartition(topic, p, o)], {p: o + 1}, timeout_s):
                found[(p, o)] = _letter(msg, topic)
        return [found[a] for a in wanted if a in found]
    finally:
        consumer.close()


def replay_record(letter: DeadLetter, *, fixed: bytes | None = None) -> Record:
    """The record that re-sends a dead letter to ``events.raw`` (or its corrected version).

    A corrected version must keep the dead letter's event id, so the graph still applies it once.
    """
    value = letter.value if fixed is None else fixed
    if fixed is not None and letter.event_id is not None:
        try:
            new_id = msgspec.json.decode(fixed).get("id")
        except (msgspec.DecodeError, AttributeError):
            new_id = None
        if new_id != letter.event_id:
            raise DlqError(
                f"the corrected event must keep the id {letter.event_id!r} of {letter.address}, "
                f"got {new_id!r}"
            )
    return Record(key=letter.key, value=value, headers=[(REPLAYED_FROM, letter.address.encode())])
