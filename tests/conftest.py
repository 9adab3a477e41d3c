"""Shared fixtures. Integration tests run against the real local stack (or configured servers)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from supplynet.settings import Settings
from supplynet.stack.manager import StackManager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id that keeps this run's business ids apart from earlier runs' data."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    sql = tmp_path_factory.mktemp("sql") / "supplynet.db"
    return Settings(sql_url=os.environ.get("SUPPLYNET_SQL_URL") or f"sqlite:///{sql}")


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """Bring up the local stack (idempotent); stop at the end only the servers this fixture started."""
    manager = StackManager(settings, echo=lambda m: print(f"[stack] {m}"))
    running = {s.name for s in manager.status() if s.answers}
    manager.up()
    from supplynet.cli import run_init

    run_init(settings)
    yield settings
    started_here = [n for n in ("kafka", "neo4j", "pulsar") if n not in running and manager.managed(n)]
    if started_here and not os.environ.get("SUPPLYNET_KEEP_STACK"):
        manager.down(started_here)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "integration":
            item.add_marker(pytest.mark.integration)
