"""The local Kafka layout: node names, ports, bootstrap string and topic replication follow the count."""

from __future__ import annotations

from pathlib import Path

import pytest

from supplynet import bootstrap
from supplynet.settings import KafkaSettings, Settings
from supplynet.stack.kafka import node_names
from supplynet.stack.manager import StackError, StackManager


def test_one_node_keeps_the_single_broker_layout() -> None:
    k = KafkaSettings(local_port=9092, local_controller_port=9093)
    assert node_names(1) == ["kafka"]
    assert k.servers() == "127.0.0.1:9092"
    assert (k.replication(), k.min_insync()) == (1, 1)


def test_three_nodes_get_their_own_ports_and_replicate_topics_three_times() -> None:
    k = KafkaSettings(local_port=27092, local_controller_port=27093, local_brokers=3)
    assert node_names(3) == ["kafka-1", "kafka-2", "kafka-3"]
    assert k.local_ports() == [(27092, 27093), (27102, 27103), (27112, 27113)]
    assert k.servers() == "127.0.0.1:27092,127.0.0.1:27102,127.0.0.1:27112"
    assert (k.replication(), k.min_insync()) == (3, 2)
    specs = bootstrap.topic_specs(Settings(kafka=k))
    assert {(t.replication_factor, (t.config or {})["min.insync.replicas"]) for t in specs} == {(3, "2")}


def test_explicit_replication_and_a_configured_cluster_win() -> None:
    assert KafkaSettings(local_brokers=3, replication_factor=2).replication() == 2
    assert KafkaSettings(local_brokers=3, replication_factor=2).min_insync() == 1
    assert KafkaSettings(bootstrap="k1:9093", local_brokers=3).replication() == 1


def test_the_manager_selects_nodes_by_server_or_by_name(tmp_path: Path) -> None:
    k = KafkaSettings(local_port=27092, local_controller_port=27093, local_brokers=3)
    manager = StackManager(Settings(state_dir=tmp_path, kafka=k), echo=lambda m: None)
    assert manager.nodes("kafka") == ["kafka-1", "kafka-2", "kafka-3"]
    assert manager.address("kafka-2") == "127.0.0.1:27102"
    spec = manager.spec("kafka-3")
    assert spec.ports == (27112, 27113)
    assert spec.jars == "kafka"
    with pytest.raises(StackError, match="the local Kafka nodes are kafka-1, kafka-2, kafka-3"):
        manager.spec("kafka-4")
    with pytest.raises(StackError, match="several nodes"):
        manager.kill("kafka")
