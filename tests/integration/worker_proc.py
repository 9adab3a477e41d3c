"""Running a `supplynet worker` of a test's own (own consumer group, own SQL store) as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def running_worker(
    settings: Settings, group: str, log: Path, *, web_port: int | None = None, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker"],
        env=subprocess_env(
            settings,
            SUPPLYNET_STREAM__APP_ID=group,
            SUPPLYNET_STREAM__WEB_PORT=str(web_port or free_port()),
            SUPPLYNET_STREAM__BATCH_SECONDS="0.2",
            SUPPLYNET_STREAM__TOPIC_PREFIX=settings.stream.topic_prefix,
            **env,
        ),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
