"""Consumer lag measured against a Kafka that has just started, while its group coordinator is still
loading ``__consumer_offsets``: the process survives and the figures are right. Measured through the
admin API's ``list_consumer_group_offsets``, librdkafka dereferenced a missing consumer group on the
coordinator's NOT_COORDINATOR answer and the process died with SIGSEGV (``streams/group_offsets.py``):
the demo's worker did so on its first start in a fresh state folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
FRESH_STARTS = 2
"""Fresh brokers per test: the crash needed the coordinator's answer to fall in its loading window."""

MEASURE = r"""
import json, sys, threading
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from streams.metrics import ConsumedTopic, GroupLag

conf = {"bootstrap.servers": sys.argv[1]}
admin = AdminClient(conf)  # kept: a handle destroyed fails its futures
admin.create_topics([NewTopic("orders", 3, 1)])["orders"].result(timeout=60)
lag = GroupLag(conf, timeout_s=5.0)
outcomes = {"measured": 0, "timed out": 0}
guard = threading.Lock()

def measure(group):
    try:
        per_partition = lag.measure(ConsumedTopic("validate", group, "orders"))
        assert per_partition == {0: 0, 1: 0, 2: 0}, per_partition
        key = "measured"
    except KafkaException:  # the coordinator did not answer in time: the page counts a scrape error
        key = "timed out"
    with guard:
        outcomes[key] += 1

# Many new groups at once, at once after the start: their coordinators are still loading.
for burst in range(3):
    threads = [threading.Thread(target=measure, args=(f"new-{burst}-{i}",)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

producer = Producer(conf)
for n in range(10):
    producer.produce("orders", value=b"order", partition=0)
producer.flush(30)
member = Consumer({**conf, "group.id": "committed", "enable.auto.commit": False})
member.commit(offsets=[TopicPartition("orders", 0, 4)], asynchronous=False)
member.close()
committed = lag.measure(ConsumedTopic("validate", "committed", "orders"))
lag.close()
print(json.dumps({"outcomes": outcomes, "committed": committed}))
"""


@pytest.fixture
def fresh_kafka(settings: Settings, tmp_path: Path) -> Iterator[StackManager]:
    """A single Kafka node of the test's own, started from an empty state folder."""
    base = free_port()
    kafka = settings.kafka.model_copy(
        update={"bootstrap": None, "local_port": base, "local_controller_port": free_port(), "heap_mb": 384}
    )
    manager = StackManager(
        Settings(state_dir=tmp_path / "state", cache_dir=settings.cache_dir, kafka=kafka),
        echo=lambda m: print(f"[fresh kafka] {m}"),
    )
    yield manager
    manager.down(["kafka"])


def test_lag_of_new_groups_on_a_kafka_just_started_is_measured_and_never_kills_the_process(
    fresh_kafka: StackManager,
) -> None:
    for start in range(FRESH_STARTS):
        fresh_kafka.down(["kafka"])
        state = fresh_kafka.settings.state_dir
        shutil.rmtree(state, ignore_errors=True)
        fresh_kafka.up(["kafka"])
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, fresh_kafka.settings.kafka.servers()],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        print(f"start {start + 1}: exit {done.returncode}, {done.stdout.strip()}")
        assert done.returncode == 0, (
            f"killed by signal {-done.returncode}" if done.returncode < 0 else done.stderr
        )
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert sum(report["outcomes"].values()) == 90
        assert report["outcomes"]["measured"] > 0, report
        assert report["committed"] == {"0": 6, "1": 0, "2": 0}
