"""The benchmark report at its smallest size through the real stack: it writes its JSON result and its
Markdown table with every expected key. Its figures are printed, never asserted (speed is shown by
benchmarks, not by timed tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.integration.worker_proc import subprocess_env

pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = {"dedup", "ingest", "projection", "risk", "api", "what-if"}
REPORT_KEYS = {"size", "seed", "command", "finished", "world", "results", "machine", "versions", "commit"}
ROW_KEYS = {"bench", "figure", "value", "unit", "peer", "peer_value", "ratio"}


def test_the_smallest_report_writes_its_json_and_markdown_with_every_key(
    settings: Settings, tmp_path: Path
) -> None:
    from supplynet.cli import run_init

    StackManager(settings, echo=lambda m: print(f"[stack] {m}")).up(["kafka", "neo4j"])
    run_init(settings)
    done = subprocess.run(
        # the demo world's first 8,000 events: every benchmark runs, in 2/3 of the whole world's time
        [sys.executable, "-m", "bench", "--size", "demo", "--events", "8000", "--requests", "10",
         "--out", str(tmp_path)],
        cwd=ROOT, env=subprocess_env(settings), capture_output=True, text=True, timeout=1700, check=False,
    )  # fmt: skip
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report-demo.json").read_text(encoding="utf-8"))
    assert set(report) >= REPORT_KEYS
    assert {r["bench"] for r in report["results"]} == BENCHMARKS
    for r in report["results"]:
        assert set(r) == ROW_KEYS, r
        assert all(isinstance(r[k], float | int) for k in ("value", "peer_value", "ratio")), r
    assert {"cores", "memory_gib", "load_average", "load_average_start"} <= set(report["machine"])
    assert {"python", "packages", "kafka", "neo4j"} <= set(report["versions"])
    assert report["versions"]["neo4j"] and report["versions"]["kafka"]
    assert len(report["commit"]["commit"]) == 40
    table = (tmp_path / "report-demo.md").read_text(encoding="utf-8")
    assert "| benchmark | figure | value | ceiling or peer (same run) | value | ratio |" in table
    for name in BENCHMARKS:
        assert f"| {name} |" in table
