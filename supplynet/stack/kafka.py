"""Apache Kafka 4.0 in KRaft mode: one or more JVMs, each both broker and controller, on localhost.

One node is the default (``kafka``). With ``kafka.local_brokers`` = n > 1 the stack runs n nodes
``kafka-1`` … ``kafka-n`` with a static n-voter quorum (combined roles: no separate controller
processes to feed on a small machine; any majority elects the controller and the partition leaders),
replication n (up to 3) for the internal topics and ``min.insync.replicas`` 2 from 3 replicas on,
so one node may be lost without a pause beyond leader election. The n-th node's ports are the first
node's plus 10 (n-1); its data lives in its own folder.

The jars come from ``infra/maven/kafka/pom.xml`` (Maven Central); there is no Kafka distribution, so
this module writes the ``server.properties`` and log4j2 config the distribution would have shipped.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from supplynet.stack.spec import MAVEN_DIR, ServerSpec, StackPaths, properties_text

NAME = "kafka"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


def node_names(count: int) -> list[str]:
    """Server names of the local Kafka nodes: ``kafka`` alone, or ``kafka-1`` … ``kafka-n``."""
    return [NAME] if count == 1 else [f"{NAME}-{i}" for i in range(1, count + 1)]


# INFO keeps the lifecycle (startup steps, registration, group rebalances) and every warning; the
# loggers below are set to WARN because they print hundreds of lines at startup (config dump, raft
# and metadata-loader steps) and several lines per partition on every start and topic creation.
_QUIET_LOGGERS = (
    "org.apache.kafka.common.config.AbstractConfig",
    "org.apache.kafka.common.utils.AppInfoParser",
    "org.apache.kafka.raft",
    "kafka.raft",
    "org.apache.kafka.image.loader",
    "org.apache.kafka.controller.PeriodicTaskControlManager",
    "org.apache.kafka.server.purgatory",
    "org.apache.kafka.server.util",
    "kafka.server.ClientQuotaManager$ThrottledChannelReaper",  # log4j2 does not nest on '$'
    "kafka.server.NodeToControllerRequestThread",
    "kafka.server.ReplicaFetcherManager",
    "kafka.cluster.Partition",
    "kafka.log.LogManager",
    "org.apache.kafka.storage.internals.log",
    "org.apache.kafka.coordinator.common.runtime.CoordinatorRuntime",
    "kafka.coordinator.transaction.TransactionStateManager",
    "kafka.coordinator.transaction.TransactionCoordinator",
    "org.apache.kafka.controller.ReplicationControlManager",
    "org.apache.kafka.controller.ConfigurationControlManager",
    "kafka.request.logger",
    "state.change.logger",
    "kafka.log.LogCleaner",
)
_LOG4J2 = (
    "# Written by supplynet.stack.kafka; the stack manager redirects stdout to the log file.\n"
    "status = warn\n"
    "appender.console.type = Console\n"
    "appender.console.name = STDOUT\n"
    "appender.console.layout.type = PatternLayout\n"
    "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
    "rootLogger.level = info\n"
    "rootLogger.appenderRef.stdout.ref = STDOUT\n"
) + "".join(f"logger.q{i}.name = {name}\nlogger.q{i}.level = warn\n" for i, name in enumerate(_QUIET_LOGGERS))


def _random_cluster_id() -> str:
    """Kafka's ``Uuid.randomUuid().toString()``: URL-safe base64 of 16 bytes, never starting '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def _server_properties(
    *,
    node_id: int,
    host: str,
    port: int,
    controller_port: int,
    voters: str,
    nodes: int,
    log_dir: Path,
    partitions: int,
) -> str:
    """KRaft config of one combined node; internal topics replicated over up to 3 of ``nodes``."""
    rf = min(3, nodes)
    isr = 2 if rf >= 3 else 1
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        # Static voter set: a fixed quorum needs no dynamic-quorum bootstrap.
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": str(partitions),
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(isr),
        # Topics are declared by the application, so a typo must fail instead of creating a topic.
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(isr),
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(isr),
        # Fewer internal partitions than the default 50: the first group join/transaction on a
        # 2-core machine creates them all at once.
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        # One consumer per worker locally: no reason to wait 3 s before the first assignment.
        "group.initial.rebalance.delay.ms": "0",
        # Kafka 4.0 makes a restarted combined node wait out the previous incarnation's session
        # (DUPLICATE_BROKER_REGISTRATION until it expires; fixed upstream by KAFKA-19130): a 4 s
        # session instead of 9 s shortens every restart; broker and controller share one JVM here.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "4000",
        # Sized for a shared 2-core machine rather than a dedicated broker host.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
    }
    return properties_text(props, writer="supplynet.stack.kafka")


def spec(
    paths: StackPaths,
    *,
    host: str = "127.0.0.1",
    ports: Sequence[tuple[int, int]] = ((9092, 9093),),
    node: int = 1,
    heap_mb: int = 1024,
    partitions: int = 6,
) -> ServerSpec:
    """Local Kafka node ``node`` (1-based) of ``len(ports)`` nodes, each given as (broker, controller)
    port; ``partitions`` is the default for newly created topics."""
    nodes = len(ports)
    name = node_names(nodes)[node - 1]
    port, controller_port = ports[node - 1]
    voters = ",".join(f"{i}@{host}:{cport}" for i, (_, cport) in enumerate(ports, start=1))
    conf_dir = paths.conf(name)
    data_dir = paths.data(name)
    log_dir = data_dir / "kraft-logs"
    props_file = conf_dir / "server.properties"
    log4j_file = conf_dir / "log4j2.properties"
    # One cluster id for every node of a cluster; the single node keeps it in its own folder.
    cluster_id_file = data_dir / "cluster.id" if nodes == 1 else paths.data(NAME) / f"cluster-{nodes}.id"

    def prepare() -> None:
        """Write the config every time (settings may change); format storage only the first time."""
        conf_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
        props_file.write_text(
            _server_properties(
                node_id=node,
                host=host,
                port=port,
                controller_port=controller_port,
                voters=voters,
                nodes=nodes,
                log_dir=log_dir,
                partitions=partitions,
            )
        )
        log4j_file.write_text(_LOG4J2)
        if (log_dir / "meta.properties").exists():
            return
        # The manager prepares the nodes of a cluster one after the other: the first writes the id.
        if cluster_id_file.exists():
            cluster_id = cluster_id_file.read_text().strip()
        else:
            cluster_id = _random_cluster_id()
            cluster_id_file.write_text(cluster_id + "\n")
        classpath = paths.classpath_file(NAME).read_text().strip()
        cmd = [
            "java",
            f"-Dlog4j2.configurationFile={log4j_file}",
            "-cp",
            classpath,
            STORAGE_TOOL,
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(props_file),
            "--ignore-formatted",
        ]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"Kafka storage format failed (exit {exc.returncode}) for {log_dir}:\n"
                f"{exc.stderr or ''}{exc.stdout or ''}"
            ) from exc

    def listed(expected: set[int]) -> bool:
        """True once this broker answers a metadata request that lists every node of ``expected`` as
        a registered broker (the import stays lazy on purpose)."""
        try:
            from confluent_kafka.admin import AdminClient

            # log_level 0: librdkafka would otherwise print "connection refused" on every poll.
            admin = AdminClient({"bootstrap.servers": f"{host}:{port}", "log_level": 0})
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        return expected <= set(metadata.brokers)

    # A node that lists itself answers; but right after `up` a peer's metadata may not list a node
    # that registered a moment ago (a CI run saw a client's view of the cluster hold two of three
    # brokers), so `up` waits until each node lists all of them.
    whole_cluster = set(range(1, nodes + 1))

    heap_min_mb = min(heap_mb, max(128, heap_mb // 4))
    return ServerSpec(
        name=name,
        pom=MAVEN_DIR / NAME / "pom.xml",
        main_class=MAIN_CLASS,
        ports=(port, controller_port),
        args=(str(props_file),),
        jvm_opts=(
            # Start small and grow to heap_mb: the machine is shared with Neo4j and Pulsar.
            f"-Xms{heap_min_mb}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j_file}",
        ),
        prepare=prepare,
        ready=lambda: listed({node}),
        formed=(lambda: listed(whole_cluster)) if nodes > 1 else None,
        ready_timeout_s=120.0,
    )
