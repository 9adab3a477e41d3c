"""Pulsar round trip with pulsar-client against the local standalone broker."""

from __future__ import annotations

import pulsar

from supplynet.settings import Settings


def test_a_message_round_trips_through_pulsar(stack: Settings, run_id: str) -> None:
    client = pulsar.Client(stack.pulsar.service_url(), operation_timeout_seconds=20)
    try:
        topic = f"persistent://public/default/supplynet-smoke-{run_id}"
        consumer = client.subscribe(topic, "smoke", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic)
        producer.send("武汉钢铁 → 东风汽车".encode(), properties={"event-id": run_id})
        msg = consumer.receive(timeout_millis=20_000)
        consumer.acknowledge(msg)
        assert msg.data().decode() == "武汉钢铁 → 东风汽车"
        assert msg.properties()["event-id"] == run_id
    finally:
        client.close()
