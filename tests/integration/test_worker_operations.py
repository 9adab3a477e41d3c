"""What an operator sees of a running worker: ``/metrics`` in Prometheus format whose counters move
with the events sent, and a log without warnings or errors while everything is healthy."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka import Record
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.worker_proc import own_topics, running_worker

pytestmark = pytest.mark.timeout(300)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
UNHEALTHY = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")


def scrape(port: int) -> Samples:
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
    r.raise_for_status()
    assert r.headers["content-type"].startswith("text/plain; version=")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for(port: int, done: Any, proc: Any, log: Path, timeout_s: float = 150) -> Samples:
    deadline = time.monotonic() + timeout_s
    samples: Samples = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            samples = scrape(port)
        except httpx.HTTPError:
            samples = {}
        if samples and done(samples):
            return samples
        time.sleep(0.5)
    raise AssertionError(f"metrics never got there: {samples}\n{log.read_text()[-3000:]}")


def caught_up(s: Samples) -> bool:
    """Both stages have a lag series per partition, all zero."""
    lags = [v for (name, _), v in s.items() if name == "supplynet_consumer_lag"]
    return bool(lags) and sum(lags) == 0


def partners(prefix: str, n: int, at: datetime) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        eid = f"{prefix}e{i}"
        out.append(
            envelope(
                eid=f"{prefix}reg{i}",
                type_="partner.registered",
                subject=eid,
                data={"enterprise_id": eid, "name": f"企业{i}", "industry": "steel", "region": "湖北省"},
                time=at,
            )
        )
    for i in range(1, n):
        out.append(
            envelope(
                eid=f"{prefix}sup{i}",
                type_="supply.agreed",
                subject=f"{prefix}e0",
                data={
                    "supplier_id": f"{prefix}e{i}",
                    "buyer_id": f"{prefix}e0",
                    "sku": "HRC-Q235",
                    "share": 0.1,
                    "lead_time_days": 7,
                },
                time=at,
            )
        )
    return out


def send(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = bootstrap.producer(settings, bootstrap.topic_names(settings).raw)
    producer.send_many([Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in events])
    producer.close()


def test_metrics_follow_the_events_and_a_healthy_worker_logs_no_warnings(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    prefix = f"ops{run_id}-"
    stack = own_topics(stack, f"ops-{run_id}.")  # only this test's events flow
    names = bootstrap.topic_names(stack)
    port = free_port()
    log = tmp_path / "worker.log"
    at = datetime.now(UTC) - timedelta(minutes=1)
    # A short stall timeout: faust's stall detector checks every 7 s, 3 s after start it may report.
    with running_worker(
        stack, f"ops-{run_id}", log, web_port=port, SUPPLYNET_STREAM__STALL_SECONDS="3"
    ) as proc:
        before = wait_for(port, caught_up, proc, log)
        good = partners(prefix, 20, at)
        send(stack, [*good, good[3]])  # one event sent twice: the copy is a duplicate
        flow = [partners(f"{prefix}w{wave}-", 500, at) for wave in range(6)]
        for wave in flow:  # input waiting while the stall detector looks (every 7 s)
            send(stack, wave)
        good += [e for wave in flow for e in wave]
        target = value(before, "supplynet_events_total", stage="project", outcome="applied") + len(good)

        def healthy_done(s: Samples) -> bool:
            applied = value(s, "supplynet_events_total", stage="project", outcome="applied")
            return applied >= target and caught_up(s)

        after = wait_for(port, healthy_done, proc, log)
        delta = [
            value(after, "supplynet_events_total", stage=stage, outcome=outcome)
            - value(before, "supplynet_events_total", stage=stage, outcome=outcome)
            for stage, outcome in (
                ("validate", "valid"),
                ("validate", "duplicate"),
                ("validate", "dlq"),
                ("project", "applied"),
            )
        ]
        assert delta == [len(good), 1, 0, len(good)]
        for stage in ("validate", "project"):
            assert value(after, "supplynet_batch_size_count", stage=stage) >= 1
            assert value(after, "supplynet_batch_seconds_sum", stage=stage) > 0
        partitions = stack.kafka.partitions
        for stage, topic in (("validate", names.raw), ("project", names.valid)):
            for p in range(partitions):
                assert (
                    "supplynet_consumer_lag",
                    (("partition", str(p)), ("stage", stage), ("topic", topic)),
                ) in after
        time.sleep(3)  # an offset commit after the batches
        healthy_log = log.read_text()  # from the start: startup, batches, commits
        assert "project: " in healthy_log  # the batches were logged (at INFO)
        unhealthy = [line for line in healthy_log.splitlines() if UNHEALTHY.search(line)]
        assert unhealthy == [], "\n".join(unhealthy[:20])
        # faust's folders go under the state folder, never into the folder the worker was started in
        assert (stack.state_dir / "worker" / f"ops-{run_id}").is_dir()
        assert not (Path.cwd() / f"ops-{run_id}-data").exists()

        bad = envelope(
            eid=f"{prefix}bad",
            type_="supply.agreed",
            subject=f"{prefix}e0",
            data={"supplier_id": f"{prefix}e1", "buyer_id": f"{prefix}e0", "sku": "X", "share": 7},
            time=at,
        )
        send(stack, [bad])
        dlq_before = value(after, "supplynet_events_total", stage="validate", outcome="dlq")
        wait_for(
            port,
            lambda s: value(s, "supplynet_events_total", stage="validate", outcome="dlq") == dlq_before + 1,
            proc,
            log,
        )
