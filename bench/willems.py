"""Real multi-echelon supply chains (Willems 2008, "Data set — Real-world multiechelon supply chains used
for inventory optimization", MSOM 10(1)) as a risk ``Network``: one enterprise per stage, one supply link
per arc, read at run time from the data set's CSV files (never copied into this repository).

Each chain ``NN`` has ``chain_NN_SD.csv`` (stages: name, classification Part / Manuf / Trans / Retail,
stage time and its deviation) and ``chain_NN_LL.csv`` (arcs ``sourceStage,destinationStage``). An arc
becomes ``source -[:SUPPLIES {sku: <chain>-<source>}]-> destination``: each stage makes one item, so
every link is its buyer's sole source of that item (an assembly needs all its parts). Lead time is the
source's stage time; OTIF, lead-time spread, quality and cover are drawn with a fixed seed, as are
regions and the 2% of stages with an open disruption.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from graph.risk.facts import Enterprise, Network, OpenDisruption, SupplyLink

DEFAULT_DIR = Path("/work/shared/reference-data/willems2008")
INDUSTRY = {"Part": "steel", "Manuf": "machinery", "Trans": "logistics", "Retail": "electronics"}


def chain_sizes(folder: Path) -> dict[str, tuple[int, int]]:
    """Chain number -> (stages, links), for every chain in ``folder``."""
    out: dict[str, tuple[int, int]] = {}
    for sd in sorted(folder.glob("chain_*_SD.csv")):
        nn = sd.stem.split("_")[1]
        ll = folder / f"chain_{nn}_LL.csv"
        with sd.open(newline="") as f1, ll.open(newline="") as f2:
            out[nn] = (sum(1 for _ in f1) - 1, sum(1 for _ in f2) - 1)
    return out


def pick(sizes: dict[str, tuple[int, int]], target: int) -> list[str]:
    """Chains adding up to about ``target`` stages: the largest first (so the 2,025-stage, 16,225-link
    chain is always in), each next one the largest unused one that still fits (a chain repeats only
    once every chain that fits is in)."""
    chosen: list[str] = []
    total = 0
    while total < target:
        fits = [k for k in sizes if total + sizes[k][0] <= target]
        if not fits:
            break
        k = min(fits, key=lambda k: (chosen.count(k), -sizes[k][0], k))
        chosen.append(k)
        total += sizes[k][0]
    return chosen


def network(folder: Path, *, target: int = 11_000, prefix: str = "W", seed: int = 2008) -> Network:
    """About ``target`` enterprises made of the data set's chains (see ``pick``); ids
    ``<prefix>c<NN>[.<copy>]-<stage>``, regions ``<prefix>R0`` … ``<prefix>R9``."""
    rng = random.Random(seed)  # noqa: S311 (benchmark data)
    ents: list[Enterprise] = []
    links: list[SupplyLink] = []
    seen: dict[str, int] = {}
    for nn in pick(chain_sizes(folder), target):
        copy = seen.get(nn, 0)
        seen[nn] = copy + 1
        cid = f"{prefix}c{nn}" + (f".{copy}" if copy else "") + "-"
        stage_time: dict[str, float] = {}
        spread: dict[str, float] = {}
        with (folder / f"chain_{nn}_SD.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                name = row["Stage Name"]
                stage_time[name] = float(row["stageTime"] or 1)
                spread[name] = float(row["stdDev stageTime"] or 0)
                disrupted = rng.random() < 0.02
                ents.append(
                    Enterprise(
                        cid + name,
                        name=name,
                        industry=INDUSTRY.get(row["stageClassification"], "machinery"),
                        region=f"{prefix}R{rng.randrange(10)}",
                        days_of_cover=float(rng.randint(3, 30)),
                        disruptions=(
                            (
                                OpenDisruption(
                                    f"{cid}{name}-d", rng.choice(["medium", "high"]), "enterprise", 14.0
                                ),
                            )
                            if disrupted
                            else ()
                        ),
                        recent_alarms=1 if rng.random() < 0.05 else 0,
                    )
                )
        with (folder / f"chain_{nn}_LL.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                src, dst = row["sourceStage"], row["destinationStage"]
                lead = stage_time.get(src, 1.0)
                links.append(
                    SupplyLink(
                        cid + src,
                        cid + dst,
                        f"{cid}{src}",
                        share=1.0,
                        lead_time_days=lead,
                        otif=min(1.0, rng.betavariate(18, 1.5)),
                        lead_time_mean=lead,
                        lead_time_p90=lead + 1.28 * spread.get(src, 0.0) + lead * rng.uniform(0, 0.3),
                        quality_incident_rate=rng.expovariate(1 / 0.006),
                        days_of_cover=float(rng.randint(0, 30)),
                    )
                )
    return Network.of(ents, links)
