"""Shared fixtures. Integration tests run against the real local stack (or configured servers)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, make_url, text

from supplynet.settings import Settings
from supplynet.stack.manager import StackManager

# Property tests check what the code answers, never how fast: hypothesis's default 200 ms deadline per
# example failed a CI run whose machine was busy with a benchmark (563 ms once, 0.12 ms on the rerun).
hypothesis_settings.register_profile("supplynet", deadline=None)
hypothesis_settings.load_profile("supplynet")


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


@pytest.fixture(scope="session")
def postgres_url(settings: Settings) -> Iterator[str]:
    """The local stack's PostgreSQL (started here if it is not running; stopped again if started here)."""
    manager = StackManager(settings, echo=lambda m: print(f"[stack] {m}"))
    running = any(s.answers for s in manager.status(["postgres"]))
    manager.up(["postgres"])
    yield manager.sql_url()
    if not running and not os.environ.get("SUPPLYNET_KEEP_STACK"):
        manager.down(["postgres"])


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty record store with every table: an SQLite file, and a fresh database on the local
    PostgreSQL (the production store), so a SQL test runs against both."""
    from supplynet.bootstrap import create_sql_tables

    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        create_sql_tables(engine)
        yield engine
        engine.dispose()
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(base.set(database=name))
    create_sql_tables(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "integration":
            item.add_marker(pytest.mark.integration)
