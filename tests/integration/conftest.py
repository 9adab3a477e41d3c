"""Fixtures of the integration tests that work under a per-test id prefix (the risk tests), and a crash."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator

import neo4j
import pytest

from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from supplynet import bootstrap
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager


@pytest.fixture
def prefix(run_id: str) -> str:
    """Ids of this test's data (deleted with it); modules may define their own."""
    return f"rk{run_id}{uuid.uuid4().hex[:4]}-"


@pytest.fixture
async def driver(stack: Settings, prefix: str) -> AsyncIterator[neo4j.AsyncDriver]:
    """A driver on the migrated graph; afterwards the test's data and regions are deleted by prefix."""
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await delete_by_prefix(d, prefix)
    await d.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=prefix)
    await d.close()


def crash_server(settings: Settings, name: str) -> None:
    """SIGKILL a local server's process group, as a crash would: no shutdown, no flush, no goodbye.

    ``StackManager(settings).up([name])`` starts it again on the same data.
    """
    manager = StackManager(settings, echo=lambda m: print(f"[stack] {m}"))
    pid_file = manager.paths.pid(name)
    pid = int(pid_file.read_text().strip())
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
