"""Graph retention: resolved disruptions past the horizon of the stream clock are archived, then deleted
with their AFFECTS links; open ones and recently resolved ones stay, and risk reads the same.

Real Neo4j (the test's id prefix) and the record store (SQLite and the local PostgreSQL), events
projected as the worker does (``Projector``).
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest
from sqlalchemy import Engine

from bench.workload import Event, event
from connectors.kafka import EventProducer
from connectors.record_store import RecordStore
from graph.kpis import DAY_MS
from graph.maintenance import delete_offsets
from graph.retention import retain_disruptions
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from graph.writer import GraphWriter
from streams.projection import Projector
from supplynet.settings import Settings
from tests.integration.test_projection import dlq, incoming, project_all
from tests.integration.worker_proc import own_topics, running_worker

__all__ = ["dlq"]

T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)
HORIZON_DAYS = 90
CLOCK = T0 + 200 * DAY_MS
"""The stream clock the test's last record sets: the horizon's cutoff is day 110."""


def _events(p: str) -> list[Event]:
    out: list[Event] = []

    def emit(kind: str, subject: str, data: dict[str, Any], t: int) -> None:
        out.append(event(f"{p}e{len(out)}", kind, data[subject], data, t, source="retention-test"))

    for i in range(3):
        emit(
            "partner.registered",
            "enterprise_id",
            {"enterprise_id": f"{p}ent{i}", "name": f"企业 {i}", "region": f"{p}east", "country": "CN"},
            T0,
        )

    def reported(did: str, t: int, **target: str) -> None:
        emit(
            "disruption.reported",
            "disruption_id",
            {"disruption_id": did, "kind": "power-outage", "severity": "high", "expected_recovery_days": 3}
            | target,
            t,
        )

    def resolved(did: str, t: int) -> None:
        emit("disruption.resolved", "disruption_id", {"disruption_id": did, "note": "power back"}, t)

    # Resolved long before the horizon: at an enterprise, a facility and a region.
    reported(f"{p}old-ent", T0 + DAY_MS, enterprise_id=f"{p}ent0")
    reported(f"{p}old-fac", T0 + DAY_MS, facility_id=f"{p}fac0")
    reported(f"{p}old-reg", T0 + DAY_MS, region=f"{p}east")
    for did in ("old-ent", "old-fac", "old-reg"):
        resolved(f"{p}{did}", T0 + 3 * DAY_MS)
    # Open since long before the horizon: risk reads it, it stays.
    reported(f"{p}open-ent", T0 + DAY_MS, enterprise_id=f"{p}ent1")
    reported(f"{p}open-reg", T0 + 2 * DAY_MS, region=f"{p}east")
    # Reported long ago, resolved after the cutoff (day 110): one of its versions is too recent.
    reported(f"{p}late-ent", T0 + DAY_MS, enterprise_id=f"{p}ent2")
    resolved(f"{p}late-ent", T0 + 150 * DAY_MS)
    # Reported and resolved old, then reported again recently: open again, stays.
    reported(f"{p}again-ent", T0 + DAY_MS, enterprise_id=f"{p}ent2")
    resolved(f"{p}again-ent", T0 + 3 * DAY_MS)
    reported(f"{p}again-ent", T0 + 180 * DAY_MS, enterprise_id=f"{p}ent2")
    # A flow event: a record that moves the stream clock to day 200.
    emit(
        "equipment.alarm",
        "enterprise_id",
        {
            "alarm_id": f"{p}al0",
            "enterprise_id": f"{p}ent0",
            "equipment_id": f"{p}ent0-press-1",
            "signal": "vibration",
            "severity": "medium",
            "predicted_failure_days": 9,
        },
        CLOCK,
    )
    return out


OLD = ("old-ent", "old-fac", "old-reg")
KEPT = ("open-ent", "open-reg", "late-ent", "again-ent")


async def _project(driver: neo4j.AsyncDriver, sql_engine: Engine, dlq_out: EventProducer, p: str) -> None:
    projector = Projector(
        writer=GraphWriter(driver), dlq_out=dlq_out, group=f"ret-{p}", records=RecordStore(sql_engine)
    )
    await project_all(projector, incoming(_events(p)), 5)
    assert RecordStore(sql_engine).clock() == CLOCK


async def _graph(driver: neo4j.AsyncDriver, p: str) -> dict[str, list[str]]:
    """The test's disruptions and what each affects."""
    records, _, _ = await driver.execute_query(
        "MATCH (d:Disruption) WHERE d.id STARTS WITH $p "
        "RETURN d.id AS id, [(d)-[:AFFECTS]->(t) | coalesce(t.id, t.name)] AS targets",
        p=p,
    )
    return {r["id"].removeprefix(p): r["targets"] for r in records}


async def _affects(driver: neo4j.AsyncDriver, p: str) -> int:
    """AFFECTS links into the test's enterprises, facilities and region."""
    records, _, _ = await driver.execute_query(
        "MATCH ()-[a:AFFECTS]->(t) WHERE coalesce(t.id, t.name) STARTS WITH $p RETURN count(a) AS n", p=p
    )
    return int(records[0]["n"])


async def _open_at_risk(driver: neo4j.AsyncDriver, p: str) -> dict[str, list[tuple[str, str]]]:
    ents, _ = await RiskStore(driver, RiskSettings()).facts_of([f"{p}ent{i}" for i in range(3)])
    return {e.id: sorted((d.id, d.where) for d in e.disruptions) for e in ents}


def _archived(path: Path, p: str) -> dict[str, dict[str, Any]]:
    with gzip.open(path, "rb") as f:
        rows = [orjson.loads(line) for line in f]
    return {r["id"].removeprefix(p): r for r in rows if r["id"].startswith(p)}


async def test_resolved_disruptions_past_the_horizon_are_archived_then_deleted_and_risk_reads_the_same(
    driver: neo4j.AsyncDriver,
    sql_engine: Engine,
    prefix: str,
    dlq: tuple[str, EventProducer],
    tmp_path: Path,
) -> None:
    p = prefix
    try:
        await _project(driver, sql_engine, dlq[1], p)
        before = await _graph(driver, p)
        assert set(before) == {*OLD, *KEPT}
        assert await _affects(driver, p) == 7
        risk_before = await _open_at_risk(driver, p)
        assert risk_before[f"{p}ent1"] == [(f"{p}open-ent", "enterprise")]

        clock = RecordStore(sql_engine).clock()
        assert clock is not None
        done = await retain_disruptions(
            driver, now_ms=clock, days=HORIZON_DAYS, archive_dir=tmp_path, batch=2
        )

        assert done.file is not None and done.file.parent == tmp_path
        assert done.archived >= len(OLD)
        after = await _graph(driver, p)
        assert set(after) == set(KEPT)
        assert await _affects(driver, p) == 4  # the archived three's links went with them
        archived = _archived(done.file, p)
        assert set(archived) == set(OLD)
        for did in OLD:
            row = archived[did]
            assert row["status"] == "resolved"
            assert row["reportedAt"] == T0 + DAY_MS and row["resolvedAt"] == T0 + 3 * DAY_MS
            assert row["resolutionNote"] == "power back"
            assert [a["key"] for a in row["affects"]] == before[did]
        assert [(a["label"], a["key"]) for a in archived["old-fac"]["affects"]] == [("Facility", f"{p}fac0")]
        assert [(a["label"], a["key"]) for a in archived["old-reg"]["affects"]] == [("Region", f"{p}east")]
        assert await _open_at_risk(driver, p) == risk_before

        again = await retain_disruptions(driver, now_ms=clock, days=HORIZON_DAYS, archive_dir=tmp_path)
        assert again.archived == 0 and again.file is None
        assert set(await _graph(driver, p)) == set(KEPT)
    finally:
        await delete_offsets(driver, f"ret-{p}")


async def test_records_retain_archives_the_graphs_old_resolved_disruptions(
    driver: neo4j.AsyncDriver,
    sql_engine: Engine,
    prefix: str,
    dlq: tuple[str, EventProducer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``supplynet records retain`` runs the graph's retention on the record store's clock and says so."""
    from typer.testing import CliRunner

    from supplynet.cli import app

    if sql_engine.dialect.name != "sqlite":
        pytest.skip("the CLI path is the same for every record store")
    p = prefix
    try:
        await _project(driver, sql_engine, dlq[1], p)
        monkeypatch.setenv("SUPPLYNET_SQL_URL", str(sql_engine.url))
        monkeypatch.setenv("SUPPLYNET_STREAM__DISRUPTION_RETENTION_DAYS", str(HORIZON_DAYS))
        archive_dir = Settings().state_dir / "archive"
        held = set(archive_dir.glob("disruption-*.ndjson.gz"))
        result = await asyncio.to_thread(CliRunner().invoke, app, ["records", "retain"])
        assert result.exit_code == 0, result.output
        count = re.search(
            r"resolved disruptions archived and deleted from the graph: ([\d,]+)", result.output
        )
        assert count is not None and int(count.group(1).replace(",", "")) >= len(OLD)
        (archive,) = set(archive_dir.glob("disruption-*.ndjson.gz")) - held
        try:
            assert set(_archived(archive, p)) == set(OLD)
        finally:
            archive.unlink()
        assert set(await _graph(driver, p)) == set(KEPT)
    finally:
        await delete_offsets(driver, f"ret-{p}")


async def test_the_worker_retains_old_resolved_disruptions_every_retention_seconds(
    driver: neo4j.AsyncDriver,
    sql_engine: Engine,
    stack: Settings,
    prefix: str,
    dlq: tuple[str, EventProducer],
    tmp_path: Path,
) -> None:
    """The worker's retention task runs the graph's retention on its record store's clock."""
    if sql_engine.dialect.name != "sqlite":
        pytest.skip("the worker's path is the same for every record store")
    p = prefix
    archive_dir = stack.state_dir / "archive"
    held = set(archive_dir.glob("disruption-*.ndjson.gz"))
    try:
        await _project(driver, sql_engine, dlq[1], p)
        with running_worker(
            own_topics(stack, p),
            f"ret-worker-{p}",
            tmp_path / "worker.log",
            SUPPLYNET_SQL_URL=str(sql_engine.url),
            SUPPLYNET_STREAM__RETENTION_SECONDS="1",
            SUPPLYNET_STREAM__DISRUPTION_RETENTION_DAYS=str(HORIZON_DAYS),
        ) as worker:
            deadline = time.monotonic() + 90
            while set(await _graph(driver, p)) != set(KEPT):
                if time.monotonic() > deadline or worker.poll() is not None:
                    pytest.fail(f"not retained: {(tmp_path / 'worker.log').read_text()[-3000:]}")
                await asyncio.sleep(0.5)
        files = set(archive_dir.glob("disruption-*.ndjson.gz")) - held
        archived: dict[str, dict[str, Any]] = {}
        for path in files:
            archived |= _archived(path, p)
        assert set(archived) == set(OLD)
    finally:
        for path in set(archive_dir.glob("disruption-*.ndjson.gz")) - held:
            path.unlink()
        await delete_offsets(driver, f"ret-{p}")


async def test_retention_deletes_wait_their_turn_behind_the_writers_batch(
    driver: neo4j.AsyncDriver,
    sql_engine: Engine,
    prefix: str,
    dlq: tuple[str, EventProducer],
    tmp_path: Path,
) -> None:
    """In a worker, a delete takes the graph writer's lock (``turn``): while a batch holds it, nothing is
    deleted (the two deadlocked on the same enterprises' relationships); once it is released, all is."""
    p = prefix
    try:
        await _project(driver, sql_engine, dlq[1], p)
        clock = RecordStore(sql_engine).clock()
        assert clock is not None
        writer = GraphWriter(driver)
        async with writer.serial:  # a projection batch in flight
            run = asyncio.create_task(
                retain_disruptions(
                    driver, now_ms=clock, days=HORIZON_DAYS, archive_dir=tmp_path, turn=writer.serial
                )
            )
            await asyncio.sleep(2.0)
            assert not run.done()
            assert set(await _graph(driver, p)) == {*OLD, *KEPT}
        done = await asyncio.wait_for(run, timeout=60)
        assert done.archived >= len(OLD) and done.file is not None
        done.file.unlink()
        assert set(await _graph(driver, p)) == set(KEPT)
    finally:
        await delete_offsets(driver, f"ret-{p}")
