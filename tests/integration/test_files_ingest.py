"""`supplynet ingest` against the real Kafka: NDJSON + CSV + EPCIS, valid, invalid and duplicate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from streams import topics
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.topic_reader import ends, event_id, read_from
from tests.unit.test_epcis import epcis_document

pytestmark = pytest.mark.timeout(180)
T = "2026-05-01T08:00:00+08:00"


def write_files(tmp: Path, run_id: str) -> tuple[list[Path], set[str]]:
    """Three files of a mixed import; returns them and the ids of the NDJSON/CSV events that are valid."""
    from datetime import datetime

    t = datetime.fromisoformat(T)
    good = [
        envelope(
            eid=f"{run_id}-f1",
            type_="partner.registered",
            subject=f"{run_id}-wisco",
            time=t,
            data={"enterprise_id": f"{run_id}-wisco", "name": "武汉钢铁", "industry": "steel"},
        ),
        envelope(
            eid=f"{run_id}-f2",
            type_="partner.registered",
            subject=f"{run_id}-jingmen",
            time=t,
            data={"enterprise_id": f"{run_id}-jingmen", "name": "荆门石化", "industry": "petrochemical"},
        ),
    ]
    bad = envelope(
        eid=f"{run_id}-f-bad",
        type_="supply.agreed",
        subject=f"{run_id}-dongfeng",
        time=t,
        data={
            "supplier_id": f"{run_id}-wisco",
            "buyer_id": f"{run_id}-dongfeng",
            "sku": "HRC-Q235",
            "share": 1.7,
            "lead_time_days": 21,
        },
    )
    lines = [msgspec.json.encode(e) for e in [good[0], bad, good[1]]]
    nd = tmp / "orders.ndjson"
    nd.write_bytes(b"\n".join([*lines, b"{not json", lines[0]]) + b"\n")  # last line: a duplicate
    csv = tmp / "materials.csv"
    csv.write_text(
        "\ufefftype,id,time,sku,name,category,unit\n"
        f"material.defined,{run_id}-m1,{T},{run_id}-HRC,热轧卷板,steel,t\n"
        f"material.defined,{run_id}-m2,{T},{run_id}-PP,聚丙烯,petrochemical,t\n"
        f"material.defined,{run_id}-m3,{T},{run_id}-X,,steel,t\n",
        encoding="utf-8",
    )
    ep = tmp / "epcis.json"
    ep.write_bytes(msgspec.json.encode(epcis_document(run_id)))
    return [nd, csv, ep], {f"{run_id}-f1", f"{run_id}-f2", f"{run_id}-m1", f"{run_id}-m2"}


def ingest(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supplynet", "ingest", *args],
        env={**os.environ, "SUPPLYNET_SQL_URL": settings.database_url(), "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ours(run_id: str, ids: set[str]) -> Any:
    return lambda m: (event_id(m) or "") in ids


def test_a_mixed_import_sends_each_valid_event_once_and_explains_the_rest(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    files, plain_ids = write_files(tmp_path, run_id)
    from connectors.epcis import document_events

    epcis_ids = {
        msgspec.json.decode(i.event)["id"]
        for i in document_events(epcis_document(run_id), source=f"{run_id}-erp")
        if i.event is not None
    }
    assert len(epcis_ids) == 4
    expected = plain_ids | epcis_ids
    start = ends(stack, topics.RAW)
    rejects = tmp_path / "rejects.ndjson"
    done = ingest(
        stack, *map(str, files), "--source", f"{run_id}-erp", "--rejects", str(rejects), cwd=tmp_path
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "orders.ndjson" in done.stdout
    # per file: read / accepted / rejected / duplicates
    summary = {
        Path(cells[0]).name: cells[1:]
        for line in done.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 5 and cells[1].isdigit()
    }
    assert summary == {
        "orders.ndjson": ["5", "2", "2", "1"],
        "materials.csv": ["3", "2", "1", "0"],
        "epcis.json": ["5", "4", "1", "0"],
    }
    rows = [msgspec.json.decode(line) for line in rejects.read_bytes().splitlines()]
    by_pos = {(Path(r["file"]).name, r["position"]): r for r in rows}
    assert set(by_pos) == {
        ("orders.ndjson", 2),
        ("orders.ndjson", 4),
        ("materials.csv", 4),
        ("epcis.json", 4),
    }
    assert by_pos[("orders.ndjson", 2)]["field"] == "$.data.share"
    assert by_pos[("orders.ndjson", 2)]["event_id"] == f"{run_id}-f-bad"
    assert "<= 1.0" in by_pos[("orders.ndjson", 2)]["reason"]
    assert by_pos[("orders.ndjson", 4)]["reason"].startswith("not JSON")
    assert by_pos[("materials.csv", 4)]["field"] == "name"
    assert "inspecting" in by_pos[("epcis.json", 4)]["reason"]
    assert "热轧" not in by_pos[("materials.csv", 4)]["original"]

    got = read_from(
        stack,
        topics.RAW,
        start,
        keep=_ours(run_id, expected | {f"{run_id}-f-bad"}),
        done=lambda ms: len(ms) >= len(expected),
        settle_s=2,
    )
    counts = Counter(event_id(m) for m in got)
    assert counts == Counter({i: 1 for i in expected})
    wisco = next(m for m in got if event_id(m) == f"{run_id}-f1")
    assert wisco.key() == f"{run_id}-wisco".encode()
    assert "武汉钢铁" in (wisco.value() or b"").decode()

    # importing the same EPCIS document again yields the same ids (the pipeline applies them once)
    again_start = ends(stack, topics.RAW)
    again = ingest(stack, str(files[2]), "--source", f"{run_id}-erp", "--rejects", str(rejects), cwd=tmp_path)
    assert again.returncode == 1  # the unmappable event is still rejected
    regot = read_from(
        stack,
        topics.RAW,
        again_start,
        keep=_ours(run_id, epcis_ids),
        done=lambda ms: len(ms) >= 4,
        settle_s=1,
    )
    assert Counter(event_id(m) for m in regot) == Counter({i: 1 for i in epcis_ids})


def test_a_clean_import_exits_zero(stack: Settings, run_id: str, tmp_path: Path) -> None:
    csv = tmp_path / "inventory.csv"
    csv.write_text(
        f"time,enterprise_id,sku,on_hand,daily_usage\n{T},{run_id}-dongfeng,HRC-Q235,1200,40\n",
        encoding="utf-8",
    )
    done = ingest(stack, str(csv), "--type", "inventory.reported", "--source", "kingdee", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(tmp_path.glob("ingest-rejects-*.ndjson"))
