"""Neo4j 5.26 LTS Community: one JVM running ``CommunityEntryPoint`` in console mode, bound to localhost.

The jars come from ``infra/maven/neo4j/pom.xml`` (Maven Central); there is no Neo4j distribution, so
this module writes the ``neo4j.conf`` it would have shipped and passes the JVM flags that ``bin/neo4j``
would have read from ``server.jvm.additional``. Auth is always on: the password is generated on first
use, kept in the state dir (mode 0600) and applied once with ``neo4j-admin dbms set-initial-password``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from supplynet.stack.spec import MAVEN_DIR, ServerSpec, StackPaths, properties_text, stored_secret

NAME = "neo4j"
USER = "neo4j"
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"  # what `neo4j-admin` runs, minus the re-launching bootloader

_log = logging.getLogger(__name__)

# The flags the distribution's neo4j.conf passes as server.jvm.additional; the --add-opens are needed
# on Java 17 (Neo4j reaches into NIO buffers and channels), the rest are its recommended defaults.
_NEO4J_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    "-Dfile.encoding=UTF-8",
)


def password_file(paths: StackPaths) -> Path:
    """Where the generated password lives: in the state dir, next to the data it protects."""
    return paths.state / NAME / "password"


def new_password() -> str:
    """32 url-safe characters that never start with ``-``: neo4j-admin reads such an argument as an
    option and fails with "Missing required parameter: '<password>'" (1 fresh stack in 64 did)."""
    while True:
        value = secrets.token_urlsafe(24)
        if not value.startswith("-"):
            return value


def password(paths: StackPaths) -> str:
    """The local server's password for user ``neo4j``; generated once, never a built-in default."""
    return stored_secret(password_file(paths), new_password)


def _java() -> str:
    """The same java the manager uses: ``$JAVA_HOME/bin/java`` if set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java") or "java"


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _argfile_quote(value: str) -> str:
    """Quote one token for a java ``@argfile`` (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _neo4j_conf(*, home: Path, host: str, bolt_port: int, http_port: int, pagecache_mb: int) -> str:
    """Single-instance config; heap is not set here because the JVM flags are ours, not bin/neo4j's."""
    props = {
        "server.directories.data": str(home / "data"),
        "server.directories.logs": str(home / "logs"),
        "server.directories.run": str(home / "run"),
        "server.directories.import": str(home / "import"),
        "server.directories.plugins": str(home / "plugins"),
        "server.default_listen_address": host,
        "server.default_advertised_address": host,
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"{host}:{bolt_port}",
        "server.bolt.tls_level": "DISABLED",
        # The HTTP API is handy for curl-debugging; http_port=0 turns it off (Bolt is all we use).
        "server.http.enabled": "true" if http_port else "false",
        "server.http.listen_address": f"{host}:{http_port or 7474}",
        "server.https.enabled": "false",
        "dbms.security.auth_enabled": "true",
        "dbms.usage_report.enabled": "false",
        "server.memory.pagecache.size": f"{pagecache_mb}m",
        # Development data: keep two small transaction log files instead of 2 days of 256 MiB ones.
        "db.tx_log.rotation.retention_policy": "2 files",
        "db.tx_log.rotation.size": "64m",
        "db.tx_log.preallocate": "false",  # else each database reserves a full log file up front
    }
    return properties_text(props, writer="supplynet.stack.neo4j")


def spec(
    paths: StackPaths,
    *,
    host: str = "127.0.0.1",
    bolt_port: int = 7687,
    http_port: int = 7474,
    heap_mb: int = 1024,
    pagecache_mb: int = 512,
) -> ServerSpec:
    """The local Neo4j server; ``http_port=0`` disables the HTTP connector."""
    conf_dir = paths.conf(NAME)
    home = paths.data(NAME)
    conf_file = conf_dir / "neo4j.conf"
    system_db = home / "data" / "databases" / "system"
    # sha256 of the password applied by set-initial-password: lets prepare() notice, without a running
    # server, that the password file no longer matches the database.
    applied_file = home / "initial-password.sha256"

    def prepare() -> None:
        """Write the config every time; set the initial password only before the first start."""
        conf_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "logs", "run", "import", "plugins"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        conf_file.write_text(
            _neo4j_conf(
                home=home, host=host, bolt_port=bolt_port, http_port=http_port, pagecache_mb=pagecache_mb
            )
        )
        secret = password(paths)
        if system_db.exists():
            applied = applied_file.read_text().strip() if applied_file.exists() else None
            if applied is None:
                raise RuntimeError(
                    f"Neo4j data in {home} was initialised outside supplynet, so its password is unknown; "
                    f"delete {home} to start afresh"
                )
            if not hmac.compare_digest(applied, _fingerprint(secret)):
                raise RuntimeError(
                    f"{password_file(paths)} does not hold the password that Neo4j in {home} was "
                    f"initialised with; restore that file, or delete {home} (losing the graph) to start over"
                )
            return
        classpath = paths.classpath_file(NAME).read_text().strip()
        # The password goes through a 0600 @argfile, not argv, so `ps` never shows it.
        fd, argfile = tempfile.mkstemp(prefix="set-initial-password.", dir=conf_dir)
        try:
            with os.fdopen(fd, "w") as out:
                tokens = ["-cp", classpath, ADMIN_TOOL, "dbms", "set-initial-password", secret]
                out.write("\n".join(_argfile_quote(t) for t in tokens) + "\n")
            env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(conf_dir)}
            subprocess.run([_java(), f"@{argfile}"], check=True, capture_output=True, text=True, env=env)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"neo4j-admin dbms set-initial-password failed (exit {exc.returncode}) for {home}:\n"
                f"{exc.stderr or ''}{exc.stdout or ''}"
            ) from exc
        finally:
            os.unlink(argfile)
        fd = os.open(applied_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(_fingerprint(secret) + "\n")

    def ready() -> bool:
        """True once Bolt accepts our credentials; the driver import stays lazy on purpose."""
        try:
            from neo4j import GraphDatabase
            from neo4j.exceptions import AuthError
        except ImportError:
            return False
        try:
            auth = (USER, password(paths))
            with GraphDatabase.driver(
                f"bolt://{host}:{bolt_port}", auth=auth, connection_timeout=1.5, max_connection_pool_size=1
            ) as driver:
                driver.verify_connectivity()
        except AuthError:
            # Not a startup delay: say so instead of letting the manager wait for its timeout silently.
            _log.warning("neo4j at %s:%s refused the password in %s", host, bolt_port, password_file(paths))
            return False
        except Exception:
            return False
        return True

    heap_min_mb = min(heap_mb, max(128, heap_mb // 4))
    return ServerSpec(
        name=NAME,
        pom=MAVEN_DIR / NAME / "pom.xml",
        main_class=MAIN_CLASS,
        ports=(bolt_port, http_port) if http_port else (bolt_port,),
        args=(f"--home-dir={home}", f"--config-dir={conf_dir}", "--console-mode"),
        jvm_opts=(
            # Start small and grow to heap_mb: the machine is shared with Kafka and Pulsar.
            f"-Xms{heap_min_mb}m",
            f"-Xmx{heap_mb}m",
            "-XX:+ExitOnOutOfMemoryError",
            *_NEO4J_JVM_FLAGS,
        ),
        env={"NEO4J_HOME": str(home), "NEO4J_CONF": str(conf_dir)},
        prepare=prepare,
        ready=ready,
        # After a SIGKILL, Neo4j replays its transaction log before Bolt opens: with a few million
        # records on a loaded 2-core machine that took 3 min 16 s (a fault drill), so 120 s gave up
        # on a server that was about to answer. A server that exits is still reported at once.
        ready_timeout_s=600.0,
    )
