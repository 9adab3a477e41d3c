"""ERP event -> Kafka -> faust worker -> Neo4j -> GraphQL over HTTP, with a bad event in between."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from api.keys import create_key
from connectors.kafka import Record
from schema.tables import Role
from streams import topics
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(240)


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "SUPPLYNET_SQL_URL": settings.database_url(), **extra}


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def worker(stack: Settings, run_id: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / "worker.log"
    proc = _spawn(
        ["worker"],
        _env(
            stack,
            SUPPLYNET_STREAM__APP_ID=f"supplynet-test-{run_id}",
            SUPPLYNET_STREAM__WEB_PORT=str(free_port()),
            SUPPLYNET_STREAM__BATCH_SECONDS="0.2",
        ),
        log,
    )
    yield proc, log
    _stop(proc)


@pytest.fixture
def api(stack: Settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = _spawn(["serve"], _env(stack, SUPPLYNET_API__PORT=str(port)), tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"API exited: {(tmp_path / 'api.log').read_text()[-2000:]}")
        time.sleep(0.3)
    yield url
    _stop(proc)


QUERY = """query($id: ID!) { enterprise(id: $id) { name industry region
  suppliers { sku share leadTimeDays partner { id name } } customers { sku partner { id } } } }"""


def _events(run_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    t = datetime.now(UTC) - timedelta(minutes=10)
    mill, oem = f"{run_id}-wisco", f"{run_id}-dongfeng"
    valid = [
        envelope(
            eid=f"{run_id}-1",
            type_="partner.registered",
            subject=mill,
            time=t,
            data={"enterprise_id": mill, "name": "武汉钢铁", "industry": "steel", "region": "湖北省 武汉市"},
        ),
        envelope(
            eid=f"{run_id}-2",
            type_="partner.registered",
            subject=oem,
            time=t,
            data={"enterprise_id": oem, "name": "东风汽车", "industry": "automotive"},
        ),
    ]
    bad = envelope(
        eid=f"{run_id}-bad",
        type_="supply.agreed",
        subject=oem,
        time=t,
        data={"supplier_id": mill, "buyer_id": oem, "sku": "HRC-Q235", "share": 1.7, "lead_time_days": 21},
    )
    behind = envelope(
        eid=f"{run_id}-3",
        type_="supply.agreed",
        subject=oem,
        time=t + timedelta(seconds=1),
        data={"supplier_id": mill, "buyer_id": oem, "sku": "HRC-Q235", "share": 0.7, "lead_time_days": 21},
    )
    return [*valid, bad, behind], bad


def _graphql(url: str, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/graphql",
        json={"query": QUERY, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    return body["data"]


def _dlq_headers(settings: Settings, event_id: str, timeout_s: float = 60) -> dict[str, bytes]:
    consumer = Consumer(
        {**settings.kafka.librdkafka(), "group.id": f"dlq-reader-{event_id}", "enable.auto.commit": False}
    )
    meta = consumer.list_topics(topics.DLQ, timeout=10).topics[topics.DLQ]
    consumer.assign([TopicPartition(topics.DLQ, p, 0) for p in meta.partitions])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            headers = {k: v for k, v in (msg.headers() or [])}
            if headers.get("supplynet.event.id") == event_id.encode():
                return headers
    finally:
        consumer.close()
    raise AssertionError(f"event {event_id} not found in {topics.DLQ} within {timeout_s}s")


def test_events_flow_from_kafka_through_the_worker_to_graphql(
    stack: Settings, run_id: str, worker: tuple[subprocess.Popen[bytes], Path], api: str
) -> None:
    worker_proc, worker_log = worker
    events, bad = _events(run_id)
    producer = bootstrap.producer(stack, topics.RAW)
    delivered = producer.send_many(
        [Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in events]
    )
    producer.close()
    assert len(delivered) == len(events)

    _, token = create_key(bootstrap.sql_engine(stack), name="e2e", role=Role.ANALYST)
    oem, mill = f"{run_id}-dongfeng", f"{run_id}-wisco"
    deadline = time.monotonic() + 120
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = _graphql(api, token, {"id": oem})
        if data["enterprise"] and data["enterprise"]["suppliers"]:
            break
        if worker_proc.poll() is not None:
            pytest.fail(f"the worker exited ({worker_proc.returncode}):\n{worker_log.read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        pytest.fail(
            f"graph never showed the supply link; last answer {data}; worker log:\n"
            f"{worker_log.read_text()[-3000:]}"
        )
    ent = data["enterprise"]
    assert ent["name"] == "东风汽车"
    # the valid event behind the malformed one reached the graph, with its own values
    assert ent["suppliers"] == [
        {"sku": "HRC-Q235", "share": 0.7, "leadTimeDays": 21, "partner": {"id": mill, "name": "武汉钢铁"}}
    ]
    assert _graphql(api, token, {"id": mill})["enterprise"]["customers"] == [
        {"sku": "HRC-Q235", "partner": {"id": oem}}
    ]
    headers = _dlq_headers(stack, bad["id"])
    assert headers["supplynet.field"] == b"$.data.share"
    assert b"<= 1.0" in headers["supplynet.reason"]
    assert headers["__connect.errors.topic"] == topics.RAW.encode()


def test_graphql_refuses_a_request_without_a_valid_key(stack: Settings, api: str) -> None:
    r = httpx.post(f"{api}/graphql", json={"query": '{ enterprise(id: "x") { name } }'}, timeout=10)
    assert r.status_code == 401
    assert "API key" in r.json()["detail"]
    r = httpx.post(
        f"{api}/graphql",
        json={"query": '{ enterprise(id: "x") { name } }'},
        headers={"Authorization": "Bearer sn_deadbeef_nope"},
        timeout=10,
    )
    assert r.status_code == 401


def test_graphql_refuses_a_too_deep_query(stack: Settings, api: str) -> None:
    _, token = create_key(bootstrap.sql_engine(stack), name="deep", role=Role.ANALYST)
    nested = "suppliers { partner { " * 7 + "id" + " } }" * 7
    r = httpx.post(
        f"{api}/graphql",
        json={"query": f'{{ enterprise(id: "x") {{ {nested} }} }}'},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    body = r.json()
    assert body["errors"][0]["message"].startswith("'anonymous' exceeds maximum operation depth")
