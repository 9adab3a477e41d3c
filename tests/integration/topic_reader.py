"""Reading what a test produced from a Kafka topic: remember the ends, then read from them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import msgspec
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from supplynet.settings import Settings

_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
}


_COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TIMED_OUT,
    KafkaError._WAIT_COORD,
}


def _high_watermark(c: Consumer, tp: TopicPartition) -> int:
    """The partition's next offset; retried while a just-created topic has no leader yet (a fresh
    broker answers NOT_LEADER_FOR_PARTITION for a moment)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return int(c.get_watermark_offsets(tp, timeout=10)[1])
        except KafkaException as e:
            if e.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def ends(settings: Settings, topic: str) -> dict[int, int]:
    """The next offset of every partition of ``topic`` (where a test's own records will start)."""
    c = Consumer({**settings.kafka.librdkafka(), "group.id": f"t-{uuid.uuid4().hex[:8]}"})
    try:
        # A topic just created may not be in every broker's metadata yet (no partitions listed): wait,
        # or the reader would be assigned nothing and see nothing.
        deadline = time.monotonic() + 30
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        assert parts, f"{topic}: no partitions listed in 30 s"
        return {p: _high_watermark(c, TopicPartition(topic, p)) for p in parts}
    finally:
        c.close()


def read_from(
    settings: Settings,
    topic: str,
    starts: dict[int, int],
    *,
    done: Callable[[list[Message]], bool],
    keep: Callable[[Message], bool] = lambda m: True,
    timeout_s: float = 60,
    settle_s: float = 0.0,
) -> list[Message]:
    """Records after ``starts`` that ``keep`` accepts, until ``done`` says enough (then ``settle_s`` more)."""
    c = Consumer(
        {**settings.kafka.librdkafka(), "group.id": f"t-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    out: list[Message] = []
    try:
        c.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            if settle_until is not None and time.monotonic() >= settle_until:
                return out
            msg = c.poll(0.3)
            if msg is not None and not msg.error() and keep(msg):
                out.append(msg)
            if settle_until is None and done(out):
                settle_until = time.monotonic() + settle_s
        if settle_until is not None:
            return out
        raise AssertionError(f"{topic}: condition not reached in {timeout_s}s; got {len(out)} record(s)")
    finally:
        c.close()


def event_id(msg: Message) -> str | None:
    try:
        obj = msgspec.json.decode(msg.value() or b"")
    except msgspec.DecodeError:
        return None
    return obj.get("id") if isinstance(obj, dict) else None


def header(msg: Message, name: str) -> str | None:
    for k, v in msg.headers() or []:
        if k == name:
            return bytes(v).decode() if v is not None else None
    return None


def read_all(settings: Settings, topic: str) -> list[Message]:
    """Every record of ``topic`` up to its ends at the time of the call."""
    until = {p: o for p, o in ends(settings, topic).items() if o > 0}
    if not until:
        return []
    c = Consumer(
        {**settings.kafka.librdkafka(), "group.id": f"t-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    out: list[Message] = []
    position = dict.fromkeys(until, 0)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in until])
        deadline = time.monotonic() + 120
        while any(position[p] < o for p, o in until.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: read {position} of {until} in 120 s")
            for m in c.consume(1000, timeout=0.5):
                if m.error() is None and (m.offset() or 0) < until[m.partition() or 0]:
                    out.append(m)
                    position[m.partition() or 0] = (m.offset() or 0) + 1
    finally:
        c.close()
    return out


def committed(settings: Settings, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets ``group`` committed on ``topic`` (partitions without a commit are left out)."""
    c = Consumer({**settings.kafka.librdkafka(), "group.id": group, "enable.auto.commit": False})
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
                break
            except KafkaException as e:  # a restarted broker is still loading its groups
                if e.args[0].code() not in _COORDINATOR_MOVING or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
