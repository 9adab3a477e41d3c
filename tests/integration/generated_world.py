"""A generated world (``supplynet generate``) loaded into Neo4j for browser tests: its master data and
its deliveries projected by the real ``GraphWriter`` in batches (with their KPI rows) and the risk
engine's full recompute written — what a worker and the risk worker make of those events.

Only master data (materials, BOMs, enterprises, facilities, certificates, supply links) and
``order.delivered`` events are projected: a delivery carries what OTIF is computed from (promised date,
quantities), and the other ~90,000 operational events would take minutes on a shared machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.record_store import RecordStore
from graph.mutations import to_mutations
from graph.risk.engine import RiskEngine
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from graph.writer import GraphWriter
from schema.validate import decode_event
from streams.recording import RecordWriter
from supplynet import bootstrap
from supplynet.settings import Settings

BATCH = 5_000
PROJECTED = (
    "material.defined",
    "bom.defined",
    "partner.registered",
    "facility.registered",
    "certification.granted",
    "supply.agreed",
    "order.delivered",
)


@dataclass(frozen=True)
class GeneratedWorld:
    """A world's prefix, manifest and registrations: enterprise id → (name, region, industry)."""

    prefix: str
    manifest: dict[str, Any]
    enterprises: dict[str, tuple[str, str, str]]

    def regions(self) -> dict[str, list[str]]:
        """Region → the world's enterprise ids registered there, sorted."""
        out: dict[str, list[str]] = {}
        for eid, (_, region, _) in sorted(self.enterprises.items()):
            out.setdefault(region, []).append(eid)
        return out


def generate(folder: Path, *, prefix: str, size: str = "demo", seed: int = 3) -> tuple[Path, GeneratedWorld]:
    """Runs ``supplynet generate`` into ``folder``: (its NDJSON events, the world they describe)."""
    events, manifest = folder / "world.ndjson", folder / "manifest.json"
    # The data map draws regions by their real names: this world shares them with the graph's others.
    command = ["generate", "--size", size, "--seed", str(seed), "--prefix", prefix, "--shared-regions"]
    command += ["--out", str(events), "--manifest", str(manifest)]
    subprocess.run([sys.executable, "-m", "supplynet", *command], check=True, capture_output=True)
    registered: dict[str, tuple[str, str, str]] = {}
    with events.open("rb") as f:
        for line in f:
            if b'"partner.registered"' in line:
                d = json.loads(line)["data"]
                registered[d["enterprise_id"]] = (d["name"], d["region"], d["industry"])
    return events, GeneratedWorld(prefix, json.loads(manifest.read_text()), registered)


async def load(settings: Settings, events: Path) -> None:
    """Projects the world's master data and deliveries (and their KPIs), writes risk scores."""
    wanted = tuple(f'"type":"{t}"'.encode() for t in PROJECTED)
    driver = bootstrap.async_driver(settings)
    flow = RecordStore(bootstrap.sql_engine(settings))
    records: RecordWriter[None] = RecordWriter(flow)
    try:
        writer = GraphWriter(driver, database=settings.neo4j.database)

        async def project(batch: list[Any]) -> None:
            # As the project stage: records and day buckets first, their KPI rows with the graph write.
            recorded = await records.write([(None, ev) for ev in batch])
            await writer.write(to_mutations(batch), kpis=recorded.kpis)

        batch: list[Any] = []
        with events.open("rb") as f:
            for line in f:
                if any(w in line for w in wanted):
                    batch.append(decode_event(line))
                if len(batch) == BATCH:
                    await project(batch)
                    batch = []
        if batch:
            await project(batch)
        store = RiskStore(driver, RiskSettings(), database=settings.neo4j.database)
        scores = RiskEngine(RiskSettings()).full(await store.network())
        await store.write_scores(list(scores.values()), computed_at_ms=int(time.time() * 1000))
    finally:
        await driver.close()
