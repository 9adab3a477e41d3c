"""``supplynet bridge pulsar | alerts-to-pulsar``: Pulsar in, risk alerts out; both at-least-once."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def register(app: typer.Typer) -> None:
    bridge_app = typer.Typer(help="Bridges between a Pulsar bus and Kafka.", no_args_is_help=True)
    app.add_typer(bridge_app, name="bridge")
    console = Console(stderr=True)

    @bridge_app.command("pulsar")
    def pulsar_in(
        topic: Annotated[
            str, typer.Option(help="Pulsar topic of events, e.g. persistent://public/default/erp-events")
        ],
        subscription: Annotated[
            str, typer.Option(help="Pulsar subscription (failover)")
        ] = "supplynet-bridge",
        batch_size: Annotated[int, typer.Option(min=1, help="Most messages per Kafka batch")] = 500,
        batch_wait_ms: Annotated[int, typer.Option(min=1, help="Longest a partial batch waits")] = 200,
    ) -> None:
        """Forward a Pulsar topic to events.raw; a message is acked in Pulsar after Kafka acked it."""
        from connectors.pulsar_bridge import PulsarToKafka
        from supplynet import bootstrap
        from supplynet.cli import _settings

        logging.getLogger("connectors").setLevel(logging.INFO)
        settings = _settings()
        stop = _stop_on_signals()
        client = bootstrap.pulsar_client(settings)
        producer = bootstrap.producer(settings, bootstrap.topic_names(settings).raw)
        bridge = PulsarToKafka(
            client,
            topic=topic,
            subscription=subscription,
            producer=producer,
            batch_max=batch_size,
            batch_wait_ms=batch_wait_ms,
        )
        console.print(
            f"bridging {topic} ({subscription}) -> {bootstrap.topic_names(settings).raw}", highlight=False
        )
        try:
            bridge.run(stop)
        finally:
            bridge.close()
            producer.close()
            client.close()
        console.print(f"forwarded {bridge.forwarded} event(s)")

    @bridge_app.command("alerts-to-pulsar")
    def alerts_out(
        topic: Annotated[str, typer.Option(help="Pulsar topic the alerts are mirrored to")],
        group: Annotated[
            str, typer.Option(help="Kafka consumer group of the mirror")
        ] = "supplynet-alerts-mirror",
    ) -> None:
        """Mirror risk.alerts to Pulsar; Kafka offsets are committed after Pulsar acked the sends."""
        from confluent_kafka import Consumer

        from connectors.pulsar_bridge import AlertsToPulsar
        from supplynet import bootstrap
        from supplynet.cli import _settings

        settings = _settings()
        stop = _stop_on_signals()
        client = bootstrap.pulsar_client(settings)
        consumer = Consumer(
            {
                **settings.kafka.librdkafka(),
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        mirror = AlertsToPulsar(
            consumer, client.create_producer(topic), kafka_topic=bootstrap.topic_names(settings).alerts
        )
        console.print(f"mirroring {bootstrap.topic_names(settings).alerts} -> {topic}", highlight=False)
        try:
            mirror.run(stop)
        finally:
            mirror.close()
            client.close()
        console.print(f"mirrored {mirror.mirrored} alert(s)")
