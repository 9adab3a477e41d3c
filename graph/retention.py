"""Retention of the graph: resolved disruptions past the horizon archived (gzip NDJSON) and deleted.

The graph holds the network; its one piece of history is ``Disruption`` nodes, made by every
``disruption.reported`` and only marked by ``disruption.resolved``. Open disruptions are what risk reads
(``graph/risk/store.py``); a resolved disruption goes once every version stamped on it (``reportedV``,
``resolvedV`` and its ``AFFECTS`` link versions, ``graph.model``) is older than the horizon before the
stream's event-time clock (``connectors.flow_store.clock``, the record retention's clock), so a replayed
history is retained like a live one.

A run first writes every such disruption — its properties and its ``AFFECTS`` targets — to one archive
file, ``disruption-<clock day>-<run>.ndjson.gz``, and closes it; only then does it ``DETACH DELETE`` them,
``batch`` per transaction, each checked again in the deleting transaction, so a disruption that a newer
event reopened or touched in between stays (and is also in the file). Reads are keyset pages of
``batch``; file writes run off the event loop. Two runs at once may archive a disruption twice (the rows
carry their ids). An event for a disruption archived earlier recreates it from that event alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from neo4j import AsyncDriver, RoutingControl

from graph import kpis, model

DISRUPTION_VERSIONS: tuple[str, ...] = tuple(sorted(model.version_properties()[0][model.DISRUPTION.label]))
"""Every property of a ``Disruption`` that holds a version: its aspects', its links' and ``lastVersion``."""

_RESOLVED_BEFORE = """
MATCH (d:Disruption)
WHERE d.id > $afterId AND d.status = 'resolved'
  AND all(p IN $versions WHERE coalesce(d[p], '') < $cutoff)
WITH d ORDER BY d.id LIMIT $limit
RETURN properties(d) AS disruption,
       [(d)-[a:AFFECTS]->(t) | {label: head(labels(t)), key: coalesce(t.id, t.name), link: properties(a)}]
         AS affects
"""

_DELETE = (
    "UNWIND $ids AS id\nMATCH (d:Disruption {id: id})\n"
    # locked first: a worker's commit that reopens or updates it meanwhile is read, not deleted
    + model.locked("d")
    + """WITH d WHERE d.status = 'resolved' AND all(p IN $versions WHERE coalesce(d[p], '') < $cutoff)
DETACH DELETE d
"""
)


@dataclass(frozen=True, slots=True)
class RetainedDisruptions:
    """What one run did: disruptions deleted from the graph, and the archive file (None: nothing went)."""

    archived: int = 0
    file: Path | None = None


def cutoff_version(cutoff_ms: int) -> str:
    """The version prefix that every version of an event older than ``cutoff_ms`` sorts before
    (``graph.rows.version``: 15 digits of milliseconds first)."""
    return f"{max(cutoff_ms, 0):015d}"


def _json(v: Any) -> Any:
    if hasattr(v, "iso_format"):
        return v.iso_format()
    raise TypeError(f"not archivable: {type(v).__name__}")


def _open(path: Path) -> gzip.GzipFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    return gzip.open(path, "wb")


def _write(out: gzip.GzipFile, disruptions: list[dict[str, Any]]) -> None:
    """One NDJSON line per disruption (encoded and compressed off the event loop)."""
    out.write(
        b"".join(orjson.dumps(d, default=_json, option=orjson.OPT_SORT_KEYS) + b"\n" for d in disruptions)
    )


async def retain_disruptions(
    driver: AsyncDriver,
    *,
    now_ms: int,
    days: int,
    archive_dir: Path,
    database: str = "neo4j",
    batch: int = 1000,
    turn: asyncio.Lock | None = None,
) -> RetainedDisruptions:
    """Archive, then delete, the resolved disruptions every version of which is older than ``days``
    before ``now_ms`` (the stream clock). Idempotent: a second run at the same clock finds nothing.

    ``turn``: a lock each delete holds, the worker's graph writer's (``GraphWriter.serial``). A delete
    detaches disruptions from the enterprises a projection batch is writing in the same moment, and
    the two, taking their node and relationship-group locks in different orders, deadlocked (Neo4j
    then fails one of them and it is retried: a long run logged 12-22 such warnings); the reads that
    find and archive them need no turn."""
    cutoff = cutoff_version(now_ms - days * kpis.DAY_MS)
    params: dict[str, Any] = {"versions": list(DISRUPTION_VERSIONS), "cutoff": cutoff}
    path = archive_dir / f"disruption-{kpis.day_of(now_ms).isoformat()}-{uuid.uuid4().hex[:8]}.ndjson.gz"
    out: gzip.GzipFile | None = None
    ids: list[str] = []
    try:
        while True:
            records, _, _ = await driver.execute_query(
                _RESOLVED_BEFORE,
                {**params, "afterId": ids[-1] if ids else "", "limit": batch},
                routing_=RoutingControl.READ,
                database_=database,
            )
            if not records:
                break
            if out is None:
                out = await asyncio.to_thread(_open, path)
            await asyncio.to_thread(
                _write, out, [{**r["disruption"], "affects": r["affects"]} for r in records]
            )
            ids += [r["disruption"]["id"] for r in records]
    except BaseException:
        if out is not None:
            await asyncio.to_thread(out.close)
            await asyncio.to_thread(path.unlink, missing_ok=True)  # an incomplete archive: nothing deleted
        raise
    if out is None:
        return RetainedDisruptions()
    await asyncio.to_thread(out.close)
    deleted = 0
    for i in range(0, len(ids), batch):
        async with turn or contextlib.nullcontext():
            _, summary, _ = await driver.execute_query(
                _DELETE,
                {**params, "ids": ids[i : i + batch]},
                routing_=RoutingControl.WRITE,
                database_=database,
            )
        deleted += summary.counters.nodes_deleted
    return RetainedDisruptions(deleted, path)
