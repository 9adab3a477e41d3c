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


def test_a_store_whose_alarms_predate_the_alarm_counts_is_counted_once_when_the_table_is_made(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from connectors import flow_store
    from connectors.record_store import RecordStore
    from graph.registry import record_rows
    from schema.envelope import ValidEvent
    from schema.events import EquipmentAlarm, Severity

    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    bootstrap.create_sql_tables(engine)
    at = datetime(2026, 5, 20, 8, tzinfo=UTC)
    alarms = [
        ValidEvent(
            id=f"ev{i}",
            source="mes",
            type=EquipmentAlarm.TYPE,
            time=at,
            subject="mill",
            sequence=0,
            data=EquipmentAlarm(
                alarm_id=f"a{i}",
                enterprise_id="mill",
                equipment_id="press",
                signal="vibration",
                severity=severity,
                facility_id="plant",
            ),
        )
        for i, severity in enumerate([Severity.HIGH, Severity.CRITICAL, Severity.MEDIUM])
    ]
    RecordStore(engine).apply(record_rows(alarms))
    with engine.begin() as conn:  # a store of the release before the alarm counts
        flow_store.ALARM_DAY.drop(conn)
    bootstrap.create_sql_tables(engine)
    bootstrap.create_sql_tables(engine)  # the table is there now: counted once, not again
    row = RecordStore(engine).alarmed_kpis().suppliers
    assert [
        (r["id"], r["props"]["alarmsHigh14d"], r["props"]["alarmsHighFacilityCounts14d"]) for r in row
    ] == [("mill", 2, [2])]
    engine.dispose()
