"""Start, stop and probe the local stack's servers. Idempotent: ``up`` twice is fine.

Jars are resolved once by Maven into the cache dir; each server's data, config, log and pid file live in
the state dir. A server whose address is configured (an existing cluster) is never started here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from supplynet.settings import Settings
from supplynet.stack.spec import ServerSpec, StackPaths

SERVERS = ("kafka", "neo4j", "pulsar", "postgres")
"""The servers of the stack; ``kafka`` stands for every local Kafka node (``kafka-1`` … if several)."""
DEFAULT_UP = ("kafka", "neo4j", "pulsar")
"""What ``up`` starts when no server is named: the pipeline's servers. PostgreSQL (the production record
store; SQLite is the embedded default) starts when named: ``supplynet stack up postgres``."""


class StackError(RuntimeError):
    """A server could not be resolved, started, or stopped; the message names the cause and log."""


@dataclass(frozen=True)
class ServerStatus:
    name: str
    managed: bool
    address: str
    pid: int | None
    answers: bool
    rss_mb: float | None
    log: Path | None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child not yet reaped) is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _port_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class StackManager:
    """Operates the servers of the local stack for one ``Settings``."""

    def __init__(self, settings: Settings, *, echo: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.paths = StackPaths(cache=settings.cache_dir, state=settings.state_dir)
        self.echo = echo

    # -- what the stack is -------------------------------------------------------------------

    @staticmethod
    def server_of(name: str) -> str:
        """The server a node belongs to: ``kafka-2`` -> ``kafka``."""
        return name.split("-", 1)[0]

    def nodes(self, name: str) -> list[str]:
        """The processes that make up a server: one, or each node of a local Kafka cluster."""
        if name == "kafka" and self.managed(name):
            from supplynet.stack import kafka

            return kafka.node_names(self.settings.kafka.local_brokers)
        return [name]

    def managed(self, name: str) -> bool:
        return bool(getattr(self.settings, self.server_of(name)).managed)

    def address(self, name: str) -> str:
        s = self.settings
        if name == "kafka":
            return s.kafka.servers()
        if name.startswith("kafka-"):
            return f"127.0.0.1:{s.kafka.local_ports()[self._kafka_node(name) - 1][0]}"
        if name == "neo4j":
            return s.neo4j.uri or f"bolt://127.0.0.1:{s.neo4j.local_bolt_port}"
        if name == "postgres":
            return f"postgresql://127.0.0.1:{s.postgres.local_port}"
        return s.pulsar.service_url()

    def sql_url(self) -> str:
        """The SQLAlchemy URL of the local PostgreSQL (``SUPPLYNET_SQL_URL`` for the production store)."""
        from supplynet.stack import postgres

        return postgres.url(self.paths, self.settings.postgres.local_port)

    def _kafka_node(self, name: str) -> int:
        """1-based node number of a Kafka node name of the configured layout; raises StackError."""
        from supplynet.stack import kafka

        names = kafka.node_names(self.settings.kafka.local_brokers)
        if name not in names:
            raise StackError(f"unknown server {name!r}; the local Kafka nodes are {', '.join(names)}")
        return names.index(name) + 1

    def spec(self, name: str) -> ServerSpec:
        s = self.settings
        if self.server_of(name) == "kafka":
            from supplynet.stack import kafka

            return kafka.spec(
                self.paths,
                ports=s.kafka.local_ports(),
                node=self._kafka_node(name),
                heap_mb=s.kafka.heap_mb,
                partitions=s.kafka.partitions,
            )
        if name == "neo4j":
            from supplynet.stack import neo4j

            return neo4j.spec(
                self.paths,
                bolt_port=s.neo4j.local_bolt_port,
                http_port=s.neo4j.local_http_port,
                heap_mb=s.neo4j.heap_mb,
                pagecache_mb=s.neo4j.pagecache_mb,
            )
        if name == "pulsar":
            from supplynet.stack import pulsar

            return pulsar.spec(
                self.paths,
                broker_port=s.pulsar.local_broker_port,
                web_port=s.pulsar.local_web_port,
                bookie_port=s.pulsar.local_bookie_port,
                heap_mb=s.pulsar.heap_mb,
            )
        if name == "postgres":
            from supplynet.stack import postgres

            return postgres.spec(
                self.paths, port=s.postgres.local_port, shared_buffers_mb=s.postgres.shared_buffers_mb
            )
        raise StackError(f"unknown server {name!r}; the stack has {', '.join(SERVERS)}")

    def _select(self, names: Iterable[str] | None, default: Iterable[str] = SERVERS) -> list[str]:
        """Node names of the selection: a server stands for all its nodes; a node name for itself."""
        chosen: list[str] = []
        for n in list(names) if names else list(default):
            if n in SERVERS:
                chosen += self.nodes(n)
            elif self.server_of(n) == "kafka" and self.managed("kafka"):
                self._kafka_node(n)
                chosen.append(n)
            else:
                raise StackError(f"unknown server {n!r}; the stack has {', '.join(SERVERS)}")
        return list(dict.fromkeys(chosen))

    # -- tools -------------------------------------------------------------------------------

    @staticmethod
    def _tool(name: str) -> str:
        if name == "java" and os.environ.get("JAVA_HOME"):
            candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
            if candidate.exists():
                return str(candidate)
        found = shutil.which(name)
        if not found:
            hint = (
                "install a JDK 17 (apt-get install openjdk-17-jre-headless)"
                if name == "java"
                else ("install Maven 3.8+ (apt-get install maven)")
            )
            raise StackError(f"`{name}` is not on PATH: {hint}")
        return found

    def classpath(self, spec: ServerSpec) -> str:
        """Resolve the server's jars with Maven once; re-resolve only when its pom changes."""
        if spec.pom is None:
            return ""  # a native server: nothing to resolve
        cp_file = self.paths.classpath_file(spec.jars)
        digest_file = cp_file.with_suffix(".sha256")
        digest = hashlib.sha256(spec.pom.read_bytes()).hexdigest()
        if cp_file.exists() and digest_file.exists() and digest_file.read_text() == digest:
            return cp_file.read_text().strip()
        cp_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.paths.state / "logs" / f"{spec.jars}-resolve.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.echo(f"resolving {spec.jars} jars from Maven Central (first time only; log: {log})")
        cmd = [
            self._tool("mvn"),
            "-B",
            "-q",
            "-f",
            str(spec.pom),
            "dependency:build-classpath",
            f"-Dmdep.outputFile={cp_file}",
            f"-Dmaven.repo.local={self.paths.m2}",
        ]
        with log.open("w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0 or not cp_file.exists():
            raise StackError(f"{spec.jars}: Maven could not resolve {spec.pom} (exit {rc}); see {log}")
        digest_file.write_text(digest)
        return cp_file.read_text().strip()

    def _read_pid(self, name: str) -> int | None:
        pid_file = self.paths.pid(name)
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _alive(pid):
            return pid
        pid_file.unlink(missing_ok=True)  # stale: the process is gone
        return None

    # -- commands ----------------------------------------------------------------------------

    def up(self, names: Iterable[str] | None = None) -> None:
        """Start every selected local server not yet running and wait until each answers.

        All jars are resolved before anything starts, so a Maven failure leaves nothing half-started.
        """
        pending: list[ServerSpec] = []
        running: list[ServerSpec] = []
        for name in self._select(names, DEFAULT_UP):
            if not self.managed(name):
                self.echo(f"{name}: using configured server {self.address(name)} (not started here)")
                continue
            spec = self.spec(name)
            pid = self._read_pid(name)
            if pid is not None:
                self.echo(f"{name}: already running (pid {pid})")
                running.append(spec)
            else:
                pending.append(spec)
        if any(spec.pom is not None for spec in pending):
            self._tool("java")
            self._tool("mvn")
        for spec in pending:
            self._check_ports(spec)
        classpaths = {spec.name: self.classpath(spec) for spec in pending}
        todo: list[tuple[ServerSpec, subprocess.Popen[bytes] | None, float]]
        todo = [(spec, None, time.monotonic()) for spec in running]
        todo += [(spec, self._start(spec, classpaths[spec.name]), time.monotonic()) for spec in pending]
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            errors = [e for e in pool.map(lambda t: self._await_ready(*t), todo) if e]
        if errors:
            raise StackError("; ".join(errors))

    def _check_ports(self, spec: ServerSpec) -> None:
        for port in spec.ports:
            if _port_taken(port):
                raise StackError(
                    f"{spec.name}: port {port} on 127.0.0.1 is already taken by another process "
                    f"(find it with `ss -ltnp 'sport = :{port}'`, or set another port in settings)"
                )

    def _start(self, spec: ServerSpec, cp: str) -> subprocess.Popen[bytes]:
        for d in (self.paths.data(spec.name), self.paths.conf(spec.name), self.paths.pid(spec.name).parent):
            if not d.is_symlink():  # a link (PostgreSQL's cluster folder) is the server's prepare() to mend
                d.mkdir(parents=True, exist_ok=True)
        try:
            spec.prepare()
        except Exception as e:
            raise StackError(f"{spec.name}: could not be prepared: {e}") from e
        log = self.paths.log(spec.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        if spec.command:
            cmd = list(spec.command)
        else:
            java = str(spec.java_home / "bin" / "java") if spec.java_home else self._tool("java")
            cmd = [java, *spec.jvm_opts, "-cp", cp, spec.main_class, *spec.args]
        with log.open("ab") as out:
            out.write(f"\n==== supplynet stack up {spec.name} at {time.strftime('%F %T')} ====\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=spec.cwd or self.paths.data(spec.name),
                env={**os.environ, **spec.env},
                start_new_session=True,  # its own process group: `down` stops it and its children
                user=spec.run_as[0] if spec.run_as else None,
                group=spec.run_as[1] if spec.run_as else None,
            )
        self.paths.pid(spec.name).write_text(str(proc.pid))
        self.echo(f"{spec.name}: starting (pid {proc.pid}, log {log})")
        return proc

    def _await_ready(
        self, spec: ServerSpec, proc: subprocess.Popen[bytes] | None, started: float
    ) -> str | None:
        log = self.paths.log(spec.name)
        deadline = started + spec.ready_timeout_s
        while time.monotonic() < deadline:
            if (spec.formed or spec.ready)():
                self.echo(f"{spec.name}: ready in {time.monotonic() - started:.1f}s")
                return None
            if proc is not None and proc.poll() is not None:
                self.paths.pid(spec.name).unlink(missing_ok=True)
                return f"{spec.name} exited with code {proc.returncode} before it was ready; see {log}"
            time.sleep(0.5)
        return f"{spec.name} did not answer within {spec.ready_timeout_s:.0f}s; see {log}"

    def down(self, names: Iterable[str] | None = None, *, timeout_s: float = 45.0) -> None:
        """Stop the selected local servers: SIGTERM to every process group at once, SIGKILL to those
        still running after ``timeout_s``.

        All at once because the nodes of a Kafka cluster stopped one by one wait for each other: the
        last nodes hang in their controlled shutdown until the timeout, the quorum being gone.
        ``kafka`` also stops Kafka nodes of another layout still running from this state folder.
        """
        chosen = self._select(names)
        if names is None or "kafka" in names:
            leftovers = sorted(p.stem for p in self.paths.pid("kafka").parent.glob("kafka*.pid"))
            chosen = [*leftovers, *chosen]
        running: dict[str, int] = {}
        for name in reversed(list(dict.fromkeys(chosen))):
            pid = self._read_pid(name)
            if pid is None:
                self.echo(f"{name}: not running")
                continue
            running[name] = pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while any(_alive(pid) for pid in running.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for name, pid in running.items():
            if _alive(pid):
                self.echo(f"{name}: did not stop within {timeout_s:.0f}s, killing")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            self.paths.pid(name).unlink(missing_ok=True)
            self.echo(f"{name}: stopped")

    def kill(self, name: str, *, sig: int = signal.SIGKILL, timeout_s: float = 30.0) -> int:
        """Send ``sig`` (default SIGKILL: a crash, nothing flushed) to one local server or node and
        wait until it is gone; return its pid. For fault drills: ``up`` starts it again."""
        nodes = self._select([name])
        if len(nodes) != 1:
            raise StackError(f"{name} has several nodes ({', '.join(nodes)}); name one")
        node = nodes[0]
        pid = self._read_pid(node)
        if pid is None:
            raise StackError(f"{node} is not running (no live pid in {self.paths.pid(node)})")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            raise StackError(f"{node} (pid {pid}) still runs {timeout_s:.0f}s after signal {sig}")
        # A JVM's main thread is reaped before its last thread lets go of the listening sockets.
        ports = self.spec(node).ports
        while any(_port_taken(p) for p in ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.paths.pid(node).unlink(missing_ok=True)
        self.echo(f"{node}: killed (pid {pid}, signal {signal.Signals(sig).name})")
        return pid

    def status(self, names: Iterable[str] | None = None) -> list[ServerStatus]:
        """The named servers; by default those ``up`` starts plus any other that is running."""
        default = [n for n in SERVERS if n in DEFAULT_UP or self._read_pid(n) is not None]
        rows = []
        for name in self._select(names, default):
            managed = self.managed(name)
            spec = self.spec(name) if managed else None
            pid = self._read_pid(name) if managed else None
            answers = self._probe(name, spec)
            rows.append(
                ServerStatus(
                    name=name,
                    managed=managed,
                    address=self.address(name),
                    pid=pid,
                    answers=answers,
                    rss_mb=_rss_mb(pid) if pid else None,
                    log=self.paths.log(name) if managed else None,
                )
            )
        return rows

    def _probe(self, name: str, spec: ServerSpec | None) -> bool:
        if spec is not None:
            return spec.ready()
        from supplynet import probes

        return probes.answers(name, self.settings)

    def log_path(self, name: str) -> Path:
        """The log of one server or node (a Kafka cluster's first node for ``kafka``)."""
        return self.paths.log(self._select([name])[0])
