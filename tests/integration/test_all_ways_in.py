"""The issue's "done when": a mixed batch (valid, invalid, duplicate) through each way in.

Ways covered: Kafka directly, a file (`supplynet ingest`), Pulsar (`supplynet bridge pulsar`), HTTP
(`POST /v1/events` on a real `supplynet serve`) and the Python SDK (`connectors.sdk.Publisher`).

Every valid event reaches events.valid exactly once (by id); every invalid one sent over Kafka or
Pulsar is in the DLQ with its reason; the file import's reject file, the HTTP answer and the SDK's
local check give the same field and reason (they reject before Kafka, so those never reach the DLQ).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pulsar
import pytest

from api.keys import create_key
from connectors.kafka import Record
from connectors.sdk import Outgoing, Publisher
from schema.errors import EventRejected
from schema.events import SupplyAgreed
from schema.tables import Role
from streams import topics
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, event_id, header, read_from
from tests.integration.worker_proc import running_worker, spawn_api, stop, subprocess_env

pytestmark = pytest.mark.timeout(300)
REASON = "Expected `float` <= 1.0"


def mixed_batch(run_id: str, way: str) -> tuple[list[bytes], set[str], str]:
    """Three valid events, one invalid, and the first valid one again: (wire order, valid ids, bad id)."""
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    buyer = f"{run_id}-{way}-dongfeng"

    def supply(i: int, share: float) -> bytes:
        data = {
            "supplier_id": f"{run_id}-{way}-mill{i}",
            "buyer_id": buyer,
            "sku": f"HRC-Q235-{i}",
            "share": share,
            "lead_time_days": 21,
        }
        return msgspec.json.encode(
            envelope(eid=f"{run_id}-{way}-{i}", type_="supply.agreed", subject=buyer, time=t, data=data)
        )

    valid = [supply(i, 0.3) for i in range(3)]
    bad = supply(9, 1.7)
    return (
        [valid[0], bad, valid[1], valid[0], valid[2]],
        {f"{run_id}-{way}-{i}" for i in range(3)},
        f"{run_id}-{way}-9",
    )


def via_kafka(stack: Settings, events: list[bytes]) -> None:
    producer = bootstrap.producer(stack, topics.RAW)
    try:
        producer.send_many([Record(msgspec.json.decode(e)["subject"].encode(), e) for e in events])
    finally:
        producer.close()


def via_file(stack: Settings, events: list[bytes], tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "batch.ndjson"
    path.write_bytes(b"\n".join(events) + b"\n")
    rejects = tmp / "rejects.ndjson"
    done = subprocess.run(
        [sys.executable, "-m", "supplynet", "ingest", str(path), "--rejects", str(rejects)],
        env=subprocess_env(stack),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one event rejected
    return [msgspec.json.decode(line) for line in rejects.read_bytes().splitlines()]


def via_pulsar(stack: Settings, events: list[bytes], topic: str, tmp: Path) -> subprocess.Popen[bytes]:
    client = pulsar.Client(stack.pulsar.service_url(), operation_timeout_seconds=20)
    try:
        producer = client.create_producer(topic)
        for e in events:
            producer.send(e)
    finally:
        client.close()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supplynet",
            "bridge",
            "pulsar",
            "--topic",
            topic,
            "--subscription",
            "all-ways",
        ],
        env=subprocess_env(stack),
        stdout=(tmp / "bridge.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def via_http(stack: Settings, events: list[bytes], tmp: Path) -> dict[str, Any]:
    proc, url = spawn_api(stack, tmp / "api.log")
    try:
        _, key = create_key(bootstrap.sql_engine(stack), name=f"all-ways-{tmp.name}", role=Role.ADMIN)
        r = httpx.post(
            f"{url}/v1/events",
            content=b"\n".join(events),
            headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer
    finally:
        stop(proc)


def via_sdk(stack: Settings, events: list[bytes]) -> EventRejected:
    """Publish the batch's events with the SDK; the invalid one is refused locally, the rest sent."""
    items = []
    for raw in events:
        ev = msgspec.json.decode(raw)
        payload = SupplyAgreed(**ev["data"])  # the constructor does not check constraints; the SDK does
        items.append(Outgoing(payload, id=ev["id"], time=datetime.fromisoformat(ev["time"])))
    with Publisher.over_kafka(bootstrap.producer(stack, topics.RAW), source="demo-erp") as pub:
        refused: EventRejected | None = None
        good = []
        for item in items:
            try:
                pub.envelope(item)
                good.append(item)
            except EventRejected as e:
                refused = e
        results = pub.publish(good)
    assert len(results) == len(good)
    assert refused is not None
    return refused


def test_a_mixed_batch_through_every_way_in(stack: Settings, run_id: str, tmp_path: Path) -> None:
    ways = ["kafka", "file", "pulsar", "http", "sdk"]
    batches = {w: mixed_batch(run_id, w) for w in ways}
    valid_ids = set().union(*(b[1] for b in batches.values()))
    bad_ids = {w: b[2] for w, b in batches.items()}
    valid_start, dlq_start = ends(stack, topics.VALID), ends(stack, topics.DLQ)

    via_kafka(stack, batches["kafka"][0])
    file_rejects = via_file(stack, batches["file"][0], tmp_path)
    http_answer = via_http(stack, batches["http"][0], tmp_path)
    sdk_refusal = via_sdk(stack, batches["sdk"][0])
    bridge = via_pulsar(
        stack, batches["pulsar"][0], f"persistent://public/default/all-ways-{run_id}", tmp_path
    )
    try:
        with running_worker(stack, f"supplynet-test-all-ways-{run_id}", tmp_path / "worker.log"):
            valid = read_from(
                stack,
                topics.VALID,
                valid_start,
                keep=lambda m: event_id(m) in valid_ids,
                done=lambda ms: {event_id(m) for m in ms} == valid_ids,
                timeout_s=120,
                settle_s=4,
            )
            stream_bad = {bad_ids["kafka"], bad_ids["pulsar"]}
            dead = read_from(
                stack,
                topics.DLQ,
                dlq_start,
                keep=lambda m: event_id(m) in stream_bad | valid_ids,
                done=lambda ms: {event_id(m) for m in ms} >= stream_bad,
                timeout_s=60,
                settle_s=1,
            )
    finally:
        if bridge.poll() is None:
            os.killpg(bridge.pid, signal.SIGTERM)
            bridge.wait(30)

    # every valid event exactly once, whichever way it came in (duplicates included in every batch)
    assert Counter(event_id(m) for m in valid) == Counter(dict.fromkeys(valid_ids, 1))
    # every invalid event that reached Kafka is in the DLQ once, with its field and reason
    assert Counter(event_id(m) for m in dead) == Counter(dict.fromkeys(stream_bad, 1))
    for m in dead:
        assert header(m, "supplynet.field") == "$.data.share"
        assert header(m, "supplynet.reason") == REASON
    # the file import explains its invalid event with the same field and reason, and nothing else
    assert [(r["event_id"], r["field"], r["reason"]) for r in file_rejects] == [
        (bad_ids["file"], "$.data.share", REASON)
    ]
    # HTTP answers per event: three accepted, the invalid one and the repeated id rejected with reasons
    http_events = http_answer["events"]
    assert (http_answer["accepted"], http_answer["rejected"]) == (3, 2)
    assert {e["id"] for e in http_events if e["status"] == "accepted"} == batches["http"][1]
    [bad_http] = [e for e in http_events if e["id"] == bad_ids["http"]]
    assert (bad_http["errors"][0]["field"], bad_http["errors"][0]["reason"]) == ("$.data.share", REASON)
    assert [e["errors"][0]["error_class"] for e in http_events if e["status"] == "rejected"] == [
        "contract",
        "duplicate",
    ]
    # the SDK refuses the invalid event before sending, with the same field and reason
    assert (sdk_refusal.event_id, sdk_refusal.field, sdk_refusal.reason) == (
        bad_ids["sdk"],
        "$.data.share",
        REASON,
    )
