"""The embedded record store (a real SQLite file) runs with the settings of ``connectors.sql``: the API
reads while a worker's batch is open, and a second writer waits for the first instead of failing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from supplynet import bootstrap
from supplynet.settings import Settings


def test_a_sqlite_store_reads_during_an_open_batch_and_a_second_writer_waits(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", sql_url=f"sqlite:///{tmp_path / 'store.db'}")
    engine = bootstrap.sql_engine(settings)
    with engine.connect() as conn:
        pragmas: dict[str, object] = {
            name: conn.execute(text(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "synchronous", "busy_timeout")
        }
    # synchronous 2 = FULL: a batch the store acknowledged survives a power cut (its offsets follow it)
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 30000}
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (1, 'before')"))

    second_done: list[float] = []

    def second_writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2, 'second')"))
        second_done.append(time.monotonic())

    with engine.begin() as batch:  # a worker's batch, open
        batch.execute(text("UPDATE t SET v = 'during' WHERE k = 1"))
        with engine.connect() as reader:  # the API: neither blocked nor shown the uncommitted row
            assert reader.execute(text("SELECT v FROM t WHERE k = 1")).scalar_one() == "before"
        writer = threading.Thread(target=second_writer)
        writer.start()
        time.sleep(1.0)
        assert second_done == []  # waiting for the batch, not failed
        released = time.monotonic()
    writer.join(timeout=30)
    assert len(second_done) == 1 and second_done[0] >= released
    with engine.connect() as conn:
        assert conn.execute(text("SELECT k, v FROM t ORDER BY k")).all() == [(1, "during"), (2, "second")]
    engine.dispose()
