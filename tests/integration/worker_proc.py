"""Running `supplynet worker` / `supplynet serve` processes of a test's own (own consumer group, own SQL
store, own topics when asked) as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from connectors.kafka import ensure_topics
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port


def own_topics(settings: Settings, prefix: str) -> Settings:
    """``settings`` on topics of their own (``prefix`` + every topic name), created if missing."""
    own = settings.model_copy(update={"stream": settings.stream.model_copy(update={"topic_prefix": prefix})})
    ensure_topics(own.kafka.librdkafka(), bootstrap.topic_specs(own))
    return own


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "SUPPLYNET_SQL_URL": settings.database_url(), **extra}


def spawn_worker(
    settings: Settings, group: str, log: Path, *, web_port: int | None = None, **extra: str
) -> subprocess.Popen[bytes]:
    """A worker in consumer group ``group`` (its app id) on ``settings``' topics, logging to ``log``
    (appended); ``extra`` are more ``SUPPLYNET_*`` variables (batch size, instance id, …)."""
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker"],
        env=subprocess_env(
            settings,
            SUPPLYNET_STREAM__APP_ID=group,
            SUPPLYNET_STREAM__WEB_PORT=str(web_port or free_port()),
            SUPPLYNET_STREAM__BATCH_SECONDS="0.2",
            **{"SUPPLYNET_STREAM__TOPIC_PREFIX": settings.stream.topic_prefix, **extra},
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the process group; SIGKILL it if it has not exited within 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextmanager
def running_worker(
    settings: Settings, group: str, log: Path, *, web_port: int | None = None, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn_worker(settings, group, log, web_port=web_port, **extra)
    try:
        yield proc
    finally:
        stop(proc)


def spawn_api(
    settings: Settings, log: Path, *, ready: str = "/healthz", **extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`supplynet serve` on a free port; returns the process and its base URL once ``ready`` answers 200
    (``/readyz``: also once the graph store is reachable)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "supplynet", "serve"],
        env=subprocess_env(settings, SUPPLYNET_API__PORT=str(port), **extra),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{ready}", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    stop(proc)
    raise AssertionError(f"API did not start: {log.read_text()[-2000:]}")
