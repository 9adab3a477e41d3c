"""POST /v1/events against a real API process (uvicorn) and the real Kafka: per-event answers, auth,
limits, and nothing reported accepted that Kafka did not keep."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from confluent_kafka.admin import AdminClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api.keys import create_key
from connectors.kafka import TopicSpec, ensure_topics
from schema.examples import example_event
from schema.tables import Role
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, event_id, read_from
from tests.integration.worker_proc import spawn_api, stop

pytestmark = pytest.mark.timeout(240)

SOURCE = "sap-ecc/wisco"


class Server:
    def __init__(self, url: str, raw_topic: str, keys: dict[str, str]) -> None:
        self.url = url
        self.raw_topic = raw_topic
        self.keys = keys

    def post(self, body: bytes, *, key: str | None, ndjson: bool = False) -> httpx.Response:
        headers = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.post(f"{self.url}/v1/events", content=body, headers=headers, timeout=60)


def _keys(stack: Settings, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(stack)
    return {
        "erp": create_key(engine, name=f"erp-{run_id}", role=Role.ERP, source=SOURCE)[1],
        "admin": create_key(engine, name=f"admin-{run_id}", role=Role.ADMIN)[1],
        "analyst": create_key(engine, name=f"analyst-{run_id}", role=Role.ANALYST)[1],
        "throttled": create_key(engine, name=f"thr-{run_id}", role=Role.ERP, source=SOURCE)[1],
    }


@pytest.fixture(scope="module")
def server(stack: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    prefix = f"test-http-{run_id}."
    topics = Topics.prefixed(prefix)
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topics.raw, 3)])
    proc, url = spawn_api(
        stack,
        tmp_path_factory.mktemp("api") / "api.log",
        SUPPLYNET_STREAM__TOPIC_PREFIX=prefix,
        SUPPLYNET_INGEST__MAX_BODY_BYTES="200000",
        SUPPLYNET_INGEST__RATE_PER_SECOND="1000",
        SUPPLYNET_INGEST__BURST="1000",
    )
    try:
        yield Server(url, topics.raw, _keys(stack, run_id))
    finally:
        stop(proc)
        AdminClient(stack.kafka.librdkafka()).delete_topics([topics.raw])


def ev(run_id: str, n: int, event_type: str = "inventory.reported", **changes: Any) -> dict[str, Any]:
    e = example_event(event_type, event_id=f"http-{run_id}-{n}")
    e["source"] = SOURCE
    e.update(changes)
    return e


def ids_in_topic(
    stack: Settings, topic: str, starts: dict[int, int], watch: set[str], accepted: int
) -> Counter[str]:
    """How often each id of ``watch`` is in ``topic`` after ``starts`` (read until ``accepted`` + 2 s)."""
    got: Counter[str] = Counter()
    for msg in read_from(
        stack,
        topic,
        starts,
        keep=lambda m: event_id(m) in watch,
        done=lambda ms: len(ms) >= accepted,
        settle_s=2,
    ):
        got[event_id(msg) or ""] += 1
    return got


@pytest.mark.parametrize("ndjson", [False, True], ids=["json-array", "ndjson"])
def test_mixed_batch_answers_per_event_and_kafka_keeps_each_accepted_once(
    stack: Settings, server: Server, run_id: str, ndjson: bool
) -> None:
    tag = f"{run_id}-{int(ndjson)}"
    good = ev(tag, 1)
    chinese = ev(tag, 2, "partner.registered")
    chinese["data"]["name"] = "武汉钢铁 (集团) 公司"
    chinese["subject"] = chinese["data"]["enterprise_id"]
    bad = ev(tag, 3)
    bad["data"]["on_hand"] = -5
    dup = dict(good)
    foreign = ev(tag, 4, source="kingdee/dongfeng")
    events = [good, chinese, bad, dup, foreign]
    encoded = [msgspec.json.encode(e) for e in events]
    body = b"\n".join(encoded) + b"\n" if ndjson else b"[" + b",".join(encoded) + b"]"
    starts = ends(stack, server.raw_topic)

    r = server.post(body, key=server.keys["erp"], ndjson=ndjson)

    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["accepted"], report["rejected"]) == (2, 3)
    by_index = {e["index"]: e for e in report["events"]}
    assert [by_index[i]["status"] for i in range(5)] == [
        "accepted",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [by_index[i]["id"] for i in range(5)] == [e["id"] for e in events]
    assert by_index[2]["errors"][0]["field"] == "$.data.on_hand"
    assert by_index[3]["errors"][0] == {
        "field": "$.id",
        "reason": "id already used by event 0 of this request; sent once",
        "error_class": "duplicate",
    }
    assert "kingdee/dongfeng" in by_index[4]["errors"][0]["reason"]
    assert SOURCE in by_index[4]["errors"][0]["reason"]
    assert by_index[4]["errors"][0]["error_class"] == "source"

    got = ids_in_topic(
        stack, server.raw_topic, starts, {good["id"], chinese["id"], bad["id"], foreign["id"]}, 2
    )
    assert got == Counter({good["id"]: 1, chinese["id"]: 1})
    # the Chinese name arrives in Kafka byte for byte
    msgs = read_from(
        stack,
        server.raw_topic,
        starts,
        keep=lambda m: event_id(m) == chinese["id"],
        done=lambda ms: len(ms) >= 1,
    )
    assert msgspec.json.decode(msgs[0].value() or b"")["data"]["name"] == "武汉钢铁 (集团) 公司"


def test_admin_may_send_any_source(server: Server, run_id: str) -> None:
    r = server.post(
        msgspec.json.encode([ev(run_id, 10, source="kingdee/dongfeng")]), key=server.keys["admin"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


def test_credentials_roles_and_limits(server: Server, run_id: str) -> None:
    body = msgspec.json.encode([ev(run_id, 20)])
    assert server.post(body, key=None).status_code == 401
    assert server.post(body, key="sn_dead_beef").status_code == 401
    r = server.post(body, key=server.keys["analyst"])
    assert r.status_code == 403
    assert "analyst" in r.json()["detail"]
    big = server.post(b"[" + b" " * 300_000 + b"]", key=server.keys["erp"])
    assert big.status_code == 413
    assert server.post(b"{}", key=server.keys["erp"]).status_code == 400
    r = httpx.post(
        f"{server.url}/v1/events",
        content=body,
        headers={"Authorization": f"Bearer {server.keys['erp']}", "Content-Type": "text/csv"},
    )
    assert r.status_code == 415


def test_rate_limit_answers_429_with_retry_after(
    stack: Settings, run_id: str, tmp_path: Path, server: Server
) -> None:
    proc, url = spawn_api(
        stack,
        tmp_path / "api.log",
        SUPPLYNET_STREAM__TOPIC_PREFIX=f"test-http-{run_id}.",
        SUPPLYNET_INGEST__RATE_PER_SECOND="0.1",
        SUPPLYNET_INGEST__BURST="2",
    )
    try:
        slow = Server(url, server.raw_topic, server.keys)
        body = msgspec.json.encode([ev(run_id, 30)])
        codes = [slow.post(body, key=server.keys["throttled"]).status_code for _ in range(3)]
        assert codes[:2] == [200, 200]
        last = slow.post(body, key=server.keys["throttled"])
        assert last.status_code == 429
        assert int(last.headers["Retry-After"]) >= 1
        # another key has its own bucket
        assert slow.post(body, key=server.keys["admin"]).status_code == 200
    finally:
        stop(proc)


def test_kafka_unreachable_answers_503_and_accepts_nothing(
    stack: Settings, run_id: str, tmp_path: Path, server: Server
) -> None:
    proc, url = spawn_api(
        stack,
        tmp_path / "api.log",
        SUPPLYNET_KAFKA__BOOTSTRAP="127.0.0.1:1",
        SUPPLYNET_INGEST__KAFKA_TIMEOUT_S="2",
    )
    try:
        down = Server(url, server.raw_topic, server.keys)
        r = down.post(msgspec.json.encode([ev(run_id, 40), ev(run_id, 41)]), key=server.keys["erp"])
        assert r.status_code == 503, r.text
        assert "none was accepted" in r.json()["detail"]
        assert "accepted" not in r.json() or r.json().get("accepted") == 0
    finally:
        stop(proc)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(
        st.one_of(
            st.builds(lambda n: ev("prop", n), st.integers(0, 5)),
            st.builds(
                lambda n, k, v: {**ev("prop", n), "data": {**ev("prop", n)["data"], k: v}},
                st.integers(0, 5),
                st.sampled_from(["on_hand", "daily_usage", "sku", "extra"]),
                _json_values,
            ),
            _json_values,
        ),
        max_size=8,
    ),
    ndjson=st.booleans(),
)
def test_property_never_a_500_and_every_event_accounted_for(
    server: Server, items: list[Any], ndjson: bool
) -> None:
    encoded = [msgspec.json.encode(i) for i in items]
    body = b"\n".join(encoded) if ndjson else b"[" + b",".join(encoded) + b"]"
    r = server.post(body, key=server.keys["erp"], ndjson=ndjson)
    assert r.status_code == 200, r.text
    report = r.json()
    assert [e["index"] for e in report["events"]] == list(range(len(items)))
    assert report["accepted"] + report["rejected"] == len(items)
    for e in report["events"]:
        assert e["status"] in ("accepted", "rejected")
        assert (e["status"] == "rejected") == bool(e["errors"])
