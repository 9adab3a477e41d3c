"""Does a configured (external) server answer? Used by ``supplynet stack status``."""

from __future__ import annotations

from supplynet.settings import Settings


def answers(name: str, settings: Settings) -> bool:
    """True when the server answers a real request within ~3 s; never raises."""
    try:
        if name == "kafka":
            from confluent_kafka.admin import AdminClient

            AdminClient(settings.kafka.librdkafka()).list_topics(timeout=3)
            return True
        if name == "neo4j":
            import neo4j

            from supplynet.bootstrap import neo4j_auth

            uri, auth = neo4j_auth(settings)
            with neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=3) as driver:
                driver.verify_connectivity()
            return True
        if name == "pulsar":
            import pulsar

            client = pulsar.Client(settings.pulsar.service_url(), operation_timeout_seconds=3)
            try:
                client.get_topic_partitions("persistent://public/default/supplynet-probe")
            finally:
                client.close()
            return True
    except Exception:  # a probe reports, it does not raise
        return False
    return False
