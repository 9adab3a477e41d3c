"""Apache Kafka 4.0 in KRaft mode: one JVM that is both broker and controller, bound to localhost.

The jars come from ``infra/maven/kafka/pom.xml`` (Maven Central); there is no Kafka distribution, so
this module writes the ``server.properties`` and log4j2 config the distribution would have shipped.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from supplynet.stack.spec import MAVEN_DIR, ServerSpec, StackPaths, properties_text

NAME = "kafka"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
NODE_ID = 1

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


def _server_properties(*, host: str, port: int, controller_port: int, log_dir: Path, partitions: int) -> str:
    """Single-node KRaft config; replication factors are 1 because there is only one broker."""
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        # Static voter set: a fixed one-node quorum needs no dynamic-quorum bootstrap.
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": str(partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Topics are declared by the application, so a typo must fail instead of creating a topic.
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
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
    port: int = 9092,
    controller_port: int = 9093,
    heap_mb: int = 1024,
    partitions: int = 6,
) -> ServerSpec:
    """The local Kafka broker+controller; ``partitions`` is the default for newly created topics."""
    conf_dir = paths.conf(NAME)
    data_dir = paths.data(NAME)
    log_dir = data_dir / "kraft-logs"
    props_file = conf_dir / "server.properties"
    log4j_file = conf_dir / "log4j2.properties"
    cluster_id_file = data_dir / "cluster.id"

    def prepare() -> None:
        """Write the config every time (settings may change); format storage only the first time."""
        conf_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        props_file.write_text(
            _server_properties(
                host=host,
                port=port,
                controller_port=controller_port,
                log_dir=log_dir,
                partitions=partitions,
            )
        )
        log4j_file.write_text(_LOG4J2)
        if (log_dir / "meta.properties").exists():
            return
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

    def ready() -> bool:
        """True once the broker answers a metadata request; the import stays lazy on purpose."""
        try:
            from confluent_kafka.admin import AdminClient

            # log_level 0: librdkafka would otherwise print "connection refused" on every poll.
            admin = AdminClient({"bootstrap.servers": f"{host}:{port}", "log_level": 0})
            admin.list_topics(timeout=2)
        except Exception:
            return False
        return True

    heap_min_mb = min(heap_mb, max(128, heap_mb // 4))
    return ServerSpec(
        name=NAME,
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
        ready=ready,
        ready_timeout_s=120.0,
    )
