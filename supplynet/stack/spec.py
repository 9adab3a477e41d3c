"""What a server of the local stack is: how to resolve, prepare, start and probe it.

Each server module in this package (``kafka``, ``neo4j``, ``pulsar``) exposes one function
``spec(paths: StackPaths, cfg: <its config>) -> ServerSpec``; the manager (``manager.py``) is the only
code that starts or stops processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MAVEN_DIR = REPO_ROOT / "infra" / "maven"


@dataclass(frozen=True)
class StackPaths:
    """Where jars are cached (``cache``) and where data, logs and pid files live (``state``)."""

    cache: Path
    state: Path

    def data(self, server: str) -> Path:
        return self.state / "data" / server

    def conf(self, server: str) -> Path:
        return self.state / "conf" / server

    def log(self, server: str) -> Path:
        return self.state / "logs" / f"{server}.log"

    def pid(self, server: str) -> Path:
        return self.state / "run" / f"{server}.pid"

    @property
    def m2(self) -> Path:
        """Maven local repository: resolved once, shared by every server, outside the repo."""
        return self.cache / "m2"

    def classpath_file(self, server: str) -> Path:
        return self.cache / "classpath" / f"{server}.txt"


@dataclass(frozen=True)
class ServerSpec:
    """One server: a JVM started from jars resolved by the Maven project ``infra/maven/<name>/pom.xml``,
    or (``command`` set, ``pom`` None) a native server installed from Debian's packages."""

    name: str
    pom: Path | None
    main_class: str
    ports: tuple[int, ...]
    """Ports the server binds; each must be free before start (first one is shown by ``status``)."""
    args: tuple[str, ...] = ()
    jvm_opts: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] = lambda: None
    """Writes config files and one-time state (e.g. storage format, initial password). Idempotent.
    Called with the resolved classpath available at ``StackPaths.classpath_file(name)``."""
    ready: Callable[[], bool] = lambda: True
    """True once the server answers a real client request. Must not raise; fast (≤ 2 s)."""
    formed: Callable[[], bool] | None = None
    """What ``up`` waits for when it is more than ``ready``: a node of a cluster is started only once
    it and every peer are in the cluster's view, while ``status`` still shows a node that answers
    during a peer's outage as answering. Same contract as ``ready``."""
    ready_timeout_s: float = 120.0
    java_home: Path | None = None
    command: tuple[str, ...] = ()
    """A native server's whole command line (no JVM, no Maven)."""
    run_as: tuple[int, int] | None = None
    """(uid, gid) to run the server as (PostgreSQL refuses root)."""
    cwd: Path | None = None
    """Working folder; default: the server's data folder."""

    @property
    def jars(self) -> str:
        """The Maven project (``infra/maven/<jars>``) whose resolved classpath this server runs on;
        several servers (the nodes of a Kafka cluster) may share one; a native server has none."""
        return self.pom.parent.name if self.pom is not None else self.name


def stored_secret(path: Path, new: Callable[[], str]) -> str:
    """The secret kept at ``path`` (mode 0600); made with ``new()`` on first use, never a built-in default.

    Safe against a concurrent first use: the file is created exclusively, so racing processes agree.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = new()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def properties_text(props: Mapping[str, object], *, writer: str) -> str:
    """A Java ``.properties`` file rewritten on every start: settings live in code, not in the file."""
    lines = [f"# Written by {writer} on every start; edit the code, not this file."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"
