"""The SDK publisher on the real stack: straight to Kafka and through POST /v1/events."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from confluent_kafka.admin import AdminClient

from connectors.http_ingest import Outcome
from connectors.kafka import EventProducer, TopicSpec, ensure_topics
from connectors.sdk import EventRejected, Outgoing, Publisher
from schema.events import InventoryReported, PartnerRegistered
from schema.examples import EXAMPLES
from streams.topics import Topics
from supplynet.settings import Settings
from tests.integration.test_http_ingest import SOURCE, Server, ids_in_topic, server
from tests.integration.topic_reader import ends, event_id, read_from

__all__ = ["server"]  # the module-scoped API process of test_http_ingest, reused here

pytestmark = pytest.mark.timeout(120)


def _payloads(run_id: str, tag: str) -> list[InventoryReported | PartnerRegistered]:
    partner = msgspec.convert(EXAMPLES["partner.registered"], PartnerRegistered)
    partner = msgspec.structs.replace(partner, enterprise_id=f"sdk-{run_id}-{tag}-ent", name="荆门石化")
    stock = msgspec.convert(EXAMPLES["inventory.reported"], InventoryReported)
    return [partner, msgspec.structs.replace(stock, enterprise_id=f"sdk-{run_id}-{tag}-ent")]


@pytest.fixture
def kafka_topic(stack: Settings, run_id: str) -> Iterator[str]:
    topic = Topics.prefixed(f"test-sdk-{run_id}.").raw
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 3)])
    yield topic
    AdminClient(stack.kafka.librdkafka()).delete_topics([topic])


def test_publisher_over_kafka_fills_the_envelope_and_kafka_keeps_each_event_once(
    stack: Settings, run_id: str, kafka_topic: str
) -> None:
    starts = ends(stack, kafka_topic)
    ids = [f"sdk-{run_id}-k1", f"sdk-{run_id}-k2"]
    with Publisher.over_kafka(EventProducer(stack.kafka.librdkafka(), kafka_topic), source=SOURCE) as pub:
        results = pub.publish([Outgoing(p, id=i) for p, i in zip(_payloads(run_id, "k"), ids, strict=True)])
    assert [(r.index, r.id, r.status) for r in results] == [
        (0, ids[0], Outcome.ACCEPTED),
        (1, ids[1], Outcome.ACCEPTED),
    ]
    got = ids_in_topic(stack, kafka_topic, starts, set(ids), 2)
    assert got == {ids[0]: 1, ids[1]: 1}
    msgs = read_from(
        stack, kafka_topic, starts, keep=lambda m: event_id(m) == ids[0], done=lambda ms: len(ms) >= 1
    )
    sent = msgspec.json.decode(msgs[0].value() or b"")
    assert msgs[0].key() == f"sdk-{run_id}-k-ent".encode()
    assert (sent["type"], sent["subject"], sent["source"]) == (
        "partner.registered",
        f"sdk-{run_id}-k-ent",
        SOURCE,
    )
    assert sent["data"]["name"] == "荆门石化"


def test_publisher_refuses_an_invalid_payload_locally_and_sends_nothing(
    stack: Settings, kafka_topic: str
) -> None:
    stock = msgspec.convert(EXAMPLES["inventory.reported"], InventoryReported)
    bad = msgspec.structs.replace(stock, on_hand=-1)
    before = ends(stack, kafka_topic)
    producer = EventProducer(stack.kafka.librdkafka(), kafka_topic)
    with Publisher.over_kafka(producer, source=SOURCE) as pub, pytest.raises(EventRejected) as e:
        pub.publish([stock, bad])
    assert e.value.field == "$.data.on_hand"
    assert ends(stack, kafka_topic) == before


def test_publisher_over_http_returns_the_servers_per_event_results(
    stack: Settings, run_id: str, server: Server
) -> None:
    starts = ends(stack, server.raw_topic)
    ids = [f"sdk-{run_id}-h1", f"sdk-{run_id}-h2"]
    items = [Outgoing(p, id=i) for p, i in zip(_payloads(run_id, "h"), ids, strict=True)]
    with Publisher.over_http(server.url, api_key=server.keys["erp"], source=SOURCE) as pub:
        results = pub.publish(items)
    assert [(r.id, r.status) for r in results] == [(ids[0], Outcome.ACCEPTED), (ids[1], Outcome.ACCEPTED)]
    assert ids_in_topic(stack, server.raw_topic, starts, set(ids), 2) == {ids[0]: 1, ids[1]: 1}
    # a publisher whose source is not its key's: the server rejects each event and says why
    with Publisher.over_http(server.url, api_key=server.keys["erp"], source="kingdee/dongfeng") as pub:
        refused = pub.publish(_payloads(run_id, "x"))
    assert [r.status for r in refused] == [Outcome.REJECTED, Outcome.REJECTED]
    assert refused[0].errors[0].field == "$.source"
