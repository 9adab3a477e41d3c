"""The stack manager's promises: idempotent up/init, clear one-line errors, stale pid files cleaned."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from supplynet.cli import run_init
from supplynet.settings import KafkaSettings, PostgresSettings, Settings
from supplynet.stack import postgres
from supplynet.stack.manager import StackError, StackManager


def test_up_twice_and_init_twice_are_fine(stack: Settings) -> None:
    manager = StackManager(stack, echo=lambda m: None)
    manager.up()
    assert all(s.answers for s in manager.status())
    second = dict(run_init(stack))
    assert second["kafka topic events.raw"].startswith("exists")
    assert all(s.pid for s in manager.status() if s.managed)


def test_a_taken_port_is_named_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        settings = Settings(
            state_dir=tmp_path, kafka=KafkaSettings(local_port=port, local_controller_port=port + 1)
        )
        with pytest.raises(StackError, match=f"kafka: port {port} on 127.0.0.1 is already taken") as exc:
            StackManager(settings, echo=lambda m: None).up(["kafka"])
    assert "\n" not in str(exc.value)


def test_a_missing_java_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(StackError, match="`java` is not on PATH"):
        StackManager(Settings(state_dir=tmp_path), echo=lambda m: None).up(["kafka"])


def test_a_stale_pid_file_is_cleaned(tmp_path: Path) -> None:
    manager = StackManager(
        Settings(state_dir=tmp_path, kafka=KafkaSettings(local_port=1)), echo=lambda m: None
    )
    pid_file = manager.paths.pid("kafka")
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text("999999")  # above the default pid_max: never a live process
    [status] = manager.status(["kafka"])
    assert status.pid is None
    assert not pid_file.exists()


def test_a_configured_server_is_not_started(tmp_path: Path) -> None:
    said: list[str] = []
    settings = Settings(state_dir=tmp_path, kafka=KafkaSettings(bootstrap="127.0.0.1:1"))
    StackManager(settings, echo=said.append).up(["kafka"])
    assert said == ["kafka: using configured server 127.0.0.1:1 (not started here)"]
    assert not (tmp_path / "run").exists()


def test_a_postgres_cluster_left_by_a_deleted_state_folder_is_made_again(tmp_path: Path) -> None:
    """Deleting the state folder takes the password with it; the next start must not meet the old cluster."""
    if os.geteuid() != 0:
        pytest.skip("the cluster lives outside the state folder only when running as root")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    state = tmp_path / "state"
    settings = Settings(state_dir=state, postgres=PostgresSettings(local_port=port))
    manager = StackManager(settings, echo=lambda m: None)
    cluster = postgres.cluster_dir(manager.paths)
    try:
        manager.up(["postgres"])
        manager.down(["postgres"])
        shutil.rmtree(state)
        assert (cluster / "PG_VERSION").exists()  # left behind, with the old password
        manager.up(["postgres"])  # waits until the new password logs in
        assert postgres.ready(port, manager.paths)
        manager.down(["postgres"])
        shutil.rmtree(cluster)  # the state folder's link now points nowhere
        manager.up(["postgres"])
        assert postgres.ready(port, manager.paths)
    finally:
        manager.down(["postgres"])
        shutil.rmtree(cluster, ignore_errors=True)
