"""Committed offsets of consumer groups, read through a consumer handle of each group.

Never through ``AdminClient.list_consumer_group_offsets``: when the group coordinator answers its
OffsetFetch with NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE, librdkafka (2.4 to at least 2.16)
asks the admin handle's consumer group, which an admin client does not have, to look the coordinator
up again (``rd_kafka_handle_OffsetFetch`` → ``rd_kafka_cgrp_op(NULL, …)``, librdkafka issue #5040),
and the process dies with SIGSEGV in librdkafka's main thread. faulthandler cannot report it there
(librdkafka's threads block signals, so the kernel kills the process outright). A new broker answers
so while its ``__consumer_offsets`` partitions load: the demo's worker, whose ``/metrics`` measured
lag this way, died on its first start against a fresh Kafka. A consumer's ``committed`` takes the same
answer through its own group, which looks the coordinator up again and retries.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition


class GroupOffsets:
    """Committed offsets of any group, one idle consumer handle per group (made on first use, never
    subscribed: it does not join the group nor change its offsets). Thread-safe and blocking: one
    read at a time, and ``close`` waits for the read in flight (a handle is never closed under a
    call)."""

    def __init__(self, conf: Mapping[str, Any]) -> None:
        self._conf = {
            k: v for k, v in conf.items() if k not in ("group.id", "group.instance.id", "on_commit")
        }
        self._consumers: dict[str, Consumer] = {}
        self._lock = threading.Lock()
        self._closed = False

    def committed(
        self, group: str, partitions: Sequence[TopicPartition], *, timeout_s: float
    ) -> dict[tuple[str, int], int]:
        """The offsets ``group`` committed for ``partitions`` by (topic, partition); a partition
        without a committed offset is absent. Raises ``KafkaException`` if the coordinator does not
        answer within ``timeout_s``, ``RuntimeError`` once closed."""
        asked = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        with self._lock:
            if self._closed:
                raise RuntimeError("GroupOffsets is closed")
            consumer = self._consumers.get(group)
            if consumer is None:
                conf = {**self._conf, "group.id": group, "enable.auto.commit": False}
                consumer = self._consumers[group] = Consumer(conf)
            return {
                (tp.topic, tp.partition): tp.offset
                for tp in consumer.committed(asked, timeout=timeout_s)
                if tp.offset >= 0
            }

    def close(self) -> None:
        """Close every consumer handle (none of them is a group member: nothing to leave)."""
        with self._lock:
            self._closed = True
            for consumer in self._consumers.values():
                consumer.close()
            self._consumers.clear()
