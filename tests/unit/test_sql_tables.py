"""The SQL store's tables are created by whichever processes start first, at the same time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, inspect

from supplynet import bootstrap


def test_workers_starting_together_on_a_fresh_store_all_create_the_tables(tmp_path: Path) -> None:
    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'store-{round_}.db'}"
        engines = [create_engine(url) for _ in range(8)]
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(bootstrap.create_sql_tables, engines))  # raises what a worker would crash on
        assert {"order_record", "capacity_record", "api_key"} <= set(inspect(engines[0]).get_table_names())
