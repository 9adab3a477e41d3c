"""A canonical dump of one run's subgraph, and the difference between two dumps.

Two projections of the same events (an uninterrupted reference and a run with faults, a rebuild from
the log and the live graph) must dump equal: every node whose business key starts with the run's id
prefix and every relationship leaving one, with all their properties, the prefix replaced by
``<run>`` and the bookkeeping of work in progress left out (the revision and stream-clock instant a
KPI set was computed at, risk scores computed on their own schedule). The KPIs commit with the
batches, so a dump taken once every batch committed is complete.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from neo4j import AsyncDriver

from graph.maintenance import KEYED
from graph.names import name_search_keys

VOLATILE = frozenset(
    {
        "kpiRev",
        "kpiAsOf",
        "riskScore",
        "riskFactors",
        "riskComputedAt",
    }
)
"""Properties that say what work is pending or was last computed when, not what the events said."""

Props = tuple[tuple[str, Any], ...]
NodeKey = tuple[str, str]
RelKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Dump:
    """Nodes by (label, key); relationships by (type, start, end, sku/site) with their property sets."""

    nodes: dict[NodeKey, Props]
    relationships: dict[RelKey, list[Props]]

    @property
    def size(self) -> int:
        return len(self.nodes) + sum(len(v) for v in self.relationships.values())


@dataclass
class Difference:
    """What a run's dump lacks (``missing``), holds beyond the reference (``extra``: duplicates or
    entities no event made) and holds otherwise (``differing``), with a few examples of each."""

    missing: int = 0
    extra: int = 0
    differing: int = 0
    examples: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    """How many of each kind: "<label> missing", "<label> differs", "<type> differs", ... ."""

    @property
    def lost(self) -> int:
        """Entities of the reference not found as they are: missing or with other properties."""
        return self.missing + self.differing

    def note(self, text: str, kind: str = "") -> None:
        if kind:
            self.kinds[kind] += 1
        # the first example of each kind, then the first few: one kind must not hide another
        if len(self.examples) < 5 or (kind and self.kinds[kind] == 1 and len(self.examples) < 12):
            self.examples.append(text[:300])


def _canon(v: Any, prefix: str) -> Any:
    if isinstance(v, str):
        return v.replace(prefix, "<run>")
    if isinstance(v, list):
        return tuple(_canon(x, prefix) for x in v)
    if hasattr(v, "iso_format"):
        return v.iso_format()
    return v


def _props(d: dict[str, Any], prefix: str) -> Props:
    d = {k: v for k, v in d.items() if k not in VOLATILE}
    if "namePinyin" in d and "name" in d:
        # Derived from the name by a pure function that transforms the prefix too: compare the
        # names, and only whether the search key still matches its name.
        d["namePinyin"] = "<derived>" if d["namePinyin"] == name_search_keys(d["name"]) else d["namePinyin"]
    return tuple(sorted((k, _canon(v, prefix)) for k, v in d.items()))


async def canonical_dump(driver: AsyncDriver, prefix: str, *, database: str = "neo4j") -> Dump:
    """Read every node keyed under ``prefix`` and every relationship leaving one. Read-only."""
    if len(prefix) < 4:
        raise ValueError(f"prefix {prefix!r} is too short to dump by")
    nodes: dict[NodeKey, Props] = {}
    rels: dict[RelKey, list[Props]] = {}
    for label, key in KEYED:
        records, _, _ = await driver.execute_query(
            f"MATCH (n:{label}) WHERE n.{key} STARTS WITH $p RETURN n.{key} AS k, properties(n) AS props",
            p=prefix,
            database_=database,
        )
        for r in records:
            nodes[(label, _canon(r["k"], prefix))] = _props(r["props"], prefix)
        records, _, _ = await driver.execute_query(
            f"MATCH (n:{label})-[x]->(m) WHERE n.{key} STARTS WITH $p "
            f"RETURN type(x) AS t, n.{key} AS a, labels(m)[0] + ':' + coalesce(m.id, m.sku, m.name) AS b, "
            "coalesce(x.sku, '') + '/' + coalesce(x.site, '') AS rk, properties(x) AS props",
            p=prefix,
            database_=database,
        )
        for r in records:
            rel_key = (
                r["t"],
                f"{label}:{_canon(r['a'], prefix)}",
                _canon(r["b"], prefix),
                _canon(r["rk"], prefix),
            )
            rels.setdefault(rel_key, []).append(_props(r["props"], prefix))
    for found in rels.values():
        found.sort(key=repr)
    return Dump(nodes=nodes, relationships=rels)


def compare(reference: Dump, run: Dump) -> Difference:
    """How ``run`` differs from ``reference``; all zero when they are equal."""
    diff = Difference()
    for node, props in reference.nodes.items():
        other = run.nodes.get(node)
        if other is None:
            diff.missing += 1
            diff.note(f"node missing: {node}", f"{node[0]} missing")
        elif other != props:
            diff.differing += 1
            changed = sorted(set(props) ^ set(other))
            diff.note(f"node differs: {node}: {changed[:6]}", f"{node[0]} differs")
    for node in run.nodes.keys() - reference.nodes.keys():
        diff.extra += 1
        diff.note(f"node extra: {node}", f"{node[0]} extra")
    for k in reference.relationships.keys() | run.relationships.keys():
        want, got = reference.relationships.get(k, []), run.relationships.get(k, [])
        if want == got:
            continue
        if len(want) == len(got) == 1:
            diff.differing += 1
            diff.note(
                f"relationship differs: {k}: {sorted(set(want[0]) ^ set(got[0]))[:6]}", f"{k[0]} differs"
            )
            continue
        lacking = Counter(want) - Counter(got)
        beyond = Counter(got) - Counter(want)
        diff.missing += sum(lacking.values())
        diff.extra += sum(beyond.values())
        diff.note(f"relationship {k}: {len(want)} in the reference, {len(got)} in the run", f"{k[0]} count")
    return diff
