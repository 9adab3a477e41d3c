"""Apache Pulsar 3.0.x standalone for the local stack: broker + one embedded bookie, no ZooKeeper.

Pulsar 3.0's ``PulsarStandaloneStarter`` keeps its metadata in RocksDB (PIP-117) unless a ZooKeeper
data directory already exists, so the only ports are the broker, the web/admin service and the
bookie. The functions worker is switched off (``-nfw``); stream storage only exists in ZooKeeper
mode. Jars come from ``infra/maven/pulsar/pom.xml`` (``pulsar-broker`` + log4j2; no 3.0.x
``pulsar-server-distribution`` is published on Maven Central).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from supplynet.stack.spec import MAVEN_DIR, ServerSpec, StackPaths, properties_text

NAME = "pulsar"
MAIN_CLASS = "org.apache.pulsar.PulsarStandaloneStarter"
CLUSTER = "standalone"
DIRECT_MEMORY_MB = 512

# What bin/pulsar passes on Java 9+: BookKeeper's posix_fadvise / direct CRC32 and Netty's direct
# buffers need these packages open, otherwise they fall back to slow paths or log stack traces.
ADD_OPENS = (
    "java.base/java.io",
    "java.base/java.util.zip",
    "java.base/java.nio",
    "java.base/jdk.internal.misc",
    "java.base/sun.net",
    "java.management/sun.management",
)

# Loggers that repeat themselves at INFO (per-ledger, per-request, per-bundle lines) without telling
# an operator anything; errors and warnings still come through.
QUIET_LOGGERS = (
    "org.apache.bookkeeper",
    "org.apache.pulsar.metadata.bookkeeper",
    "org.apache.pulsar.broker.web.RequestLog",
    "org.apache.pulsar.broker.loadbalance",
    "org.apache.pulsar.client.impl.ConsumerStatsRecorderImpl",
    "org.apache.pulsar.client.impl.ProducerStatsRecorderImpl",
    "org.eclipse.jetty",
    "org.glassfish.jersey",
    "org.rocksdb",
)


def _standalone_conf(*, host: str, broker_port: int, web_port: int, bookie_port: int, data: Path) -> str:
    """Broker and bookie settings in one file: standalone loads it as both configurations."""
    settings: dict[str, str | int | float] = {
        # --- broker
        "clusterName": CLUSTER,
        "bindAddress": host,
        "advertisedAddress": host,
        "brokerServicePort": broker_port,
        "webServicePort": web_port,
        # Left empty: standalone then uses rocksdb://<--metadata-dir> (no ZooKeeper to run).
        "metadataStoreUrl": "",
        "configurationMetadataStoreUrl": "",
        "loadManagerClassName": "org.apache.pulsar.broker.loadbalance.NoopLoadManager",
        "loadBalancerEnabled": "false",
        "managedLedgerDefaultEnsembleSize": 1,
        "managedLedgerDefaultWriteQuorum": 1,
        "managedLedgerDefaultAckQuorum": 1,
        "managedLedgerCacheSizeMB": 64,
        "defaultNumberOfNamespaceBundles": 4,
        "allowAutoTopicCreation": "true",
        "allowAutoTopicCreationType": "non-partitioned",
        # Our topics are declared by the application; an idle one must survive a quiet weekend.
        "brokerDeleteInactiveTopicsEnabled": "false",
        "transactionCoordinatorEnabled": "false",
        "functionsWorkerEnabled": "false",
        "enablePackagesManagement": "false",
        "webSocketServiceEnabled": "false",
        "authenticationEnabled": "false",
        "authorizationEnabled": "false",
        "bookkeeperClientRackawarePolicyEnabled": "false",
        "bookkeeperUseV2WireProtocol": "true",
        "narExtractionDirectory": str(data / "tmp"),
        "statusFilePath": "",
        # --- embedded bookie (same file)
        "allowEphemeralPorts": "true",  # makes BKCluster bind --bookkeeper-port instead of a random one
        "allowLoopback": "true",
        # Any value makes the bookie bind advertisedAddress (= host) instead of 0.0.0.0.
        "listeningInterface": "lo",
        "httpServerEnabled": "false",
        "ledgerStorageClass": "org.apache.bookkeeper.bookie.storage.ldb.DbLedgerStorage",
        "dbStorage_writeCacheMaxSizeMb": 32,
        "dbStorage_readAheadCacheMaxSizeMb": 32,
        "dbStorage_rocksDB_blockCacheSize": 33554432,
        "dbStorage_rocksDB_writeBufferSizeMB": 4,
        "dbStorage_rocksDB_sstSizeInMB": 4,
        "journalMaxGroupWaitMSec": 1,
        "journalSyncData": "false",
        "flushInterval": 60000,
        "diskUsageThreshold": 0.99,
        "diskUsageWarnThreshold": 0.99,
        "gcWaitTime": 300000,
        "nettyMaxFrameSizeBytes": 5253120,
    }
    return properties_text(settings, writer="supplynet.stack.pulsar")


def _log4j2_xml() -> str:
    """Console only: the stack manager redirects stdout into the server's log file."""
    quiet = "\n".join(f'    <Logger name="{name}" level="warn"/>' for name in QUIET_LOGGERS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{{ISO8601}} %-5level [%t] %c{{1.}} - %msg%n"/>
    </Console>
  </Appenders>
  <Loggers>
{quiet}
    <Root level="info">
      <AppenderRef ref="Console"/>
    </Root>
  </Loggers>
</Configuration>
"""


def spec(
    paths: StackPaths,
    *,
    host: str = "127.0.0.1",
    broker_port: int = 6650,
    web_port: int = 8080,
    heap_mb: int = 1024,
    bookie_port: int = 3181,
) -> ServerSpec:
    """Pulsar standalone bound to ``host``; data under ``paths.data("pulsar")``."""
    conf_dir = paths.conf(NAME)
    data = paths.data(NAME).resolve()
    conf_file = conf_dir / "standalone.conf"
    log_conf = conf_dir / "log4j2.xml"

    def prepare() -> None:
        """(Re)write the config from the arguments; data directories are created, never wiped."""
        conf_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("metadata", "bookkeeper", "tmp"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        conf_file.write_text(
            _standalone_conf(
                host=host, broker_port=broker_port, web_port=web_port, bookie_port=bookie_port, data=data
            ),
            encoding="utf-8",
        )
        log_conf.write_text(_log4j2_xml(), encoding="utf-8")

    namespaces_url = f"http://{host}:{web_port}/admin/v2/namespaces/public"

    def ready() -> bool:
        """Standalone creates ``public/default`` only after broker and bookie are both serving."""
        try:
            with urllib.request.urlopen(namespaces_url, timeout=2) as resp:
                namespaces = json.loads(resp.read().decode("utf-8"))
        except Exception:
            return False
        return isinstance(namespaces, list) and "public/default" in namespaces

    jvm_opts = (
        f"-Xms{heap_mb}m",
        f"-Xmx{heap_mb}m",
        # Broker entry cache + bookie write/read caches + Netty buffers all live off-heap.
        f"-XX:MaxDirectMemorySize={DIRECT_MEMORY_MB}m",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.net.preferIPv4Stack=true",
        "-Dio.netty.tryReflectionSetAccessible=true",
        *(f"--add-opens={pkg}=ALL-UNNAMED" for pkg in ADD_OPENS),
        f"-Dlog4j.configurationFile={log_conf}",
        # PulsarStandaloneStarter's own shutdown hook flushes log4j after closing the broker.
        "-Dlog4j.shutdownHookEnabled=false",
        "-Dlog4j2.is.webapp=false",
        "-Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver",
        "-Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver",
        # RocksDB's JNI library is unpacked here (and removed on exit) rather than into a shared /tmp.
        f"-Djava.io.tmpdir={data / 'tmp'}",
    )
    args = (
        "--config",
        str(conf_file),
        "--no-functions-worker",
        "--no-stream-storage",
        "--metadata-dir",
        str(data / "metadata"),
        "--bookkeeper-dir",
        str(data / "bookkeeper"),
        "--bookkeeper-port",
        str(bookie_port),
        # Must never exist: its presence switches standalone to ZooKeeper mode (port 2181, 4181).
        "--zookeeper-dir",
        str(data / "zookeeper-unused"),
        "--advertised-address",
        host,
    )
    return ServerSpec(
        name=NAME,
        pom=MAVEN_DIR / NAME / "pom.xml",
        main_class=MAIN_CLASS,
        ports=(broker_port, web_port, bookie_port),
        args=args,
        jvm_opts=jvm_opts,
        # An inherited PULSAR_STANDALONE_USE_ZOOKEEPER=1 would also switch to ZooKeeper mode.
        env={"PULSAR_STANDALONE_USE_ZOOKEEPER": "false"},
        prepare=prepare,
        ready=ready,
        ready_timeout_s=180.0,
    )
