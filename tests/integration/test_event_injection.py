"""Cypher injection through event fields: every string of every catalog event is stored as data, never run.

Each catalog type's example event gets every string field replaced by an injection payload (ids keep
this test's prefix so its data can be deleted). What validation refuses is fine (and must name the
field); what it accepts is projected by the real writer, and afterwards no node that existed before is
gone and the hostile strings are stored verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import neo4j
import pytest

from graph.mutations import to_mutations
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.events import CATALOG
from schema.examples import example_event
from schema.validate import decode_event

PAYLOADS = (
    "x'}) MATCH (n) DETACH DELETE n //",
    'x"}) MATCH (n) DETACH DELETE n //',
    "x` {id: 1}) DETACH DELETE n WITH 1 AS `y",
    "$p } ) CALL { MATCH (n) DETACH DELETE n } //",
    "\\u0027; MATCH (n) SET n.owned = true //",
)


def _strings(value: Any, path: str = "") -> Iterator[str]:
    """JSON paths of every string inside ``value``."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _set(doc: dict[str, Any], path: str, new: str) -> None:
    parts = path.strip(".").replace("[", ".[").split(".")
    node: Any = doc
    for p in parts[:-1]:
        node = node[int(p[1:-1])] if p.startswith("[") else node[p]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = new
    else:
        node[last] = new


def hostile_events(prefix: str) -> Iterator[tuple[str, str, bytes]]:
    """(event type, JSON path of the hostile string, event bytes) for every string of every type."""
    for n, event_type in enumerate(sorted(CATALOG)):
        base = example_event(event_type)
        for j, path in enumerate(_strings(base["data"])):
            for k, payload in enumerate(PAYLOADS):
                own = f"{prefix}{n}.{j}.{k}-"
                doc = example_event(event_type, event_id=f"{own}event")
                # Every string starts with the prefix (ids stay this test's, deletable by prefix), and
                # each variant has ids of its own, so no variant overwrites another's stored value.
                for other in _strings(doc["data"]):
                    _set(doc["data"], other, own + _get(doc["data"], other))
                _set(doc["data"], path, own + payload)
                doc["subject"] = _get(doc["data"], CATALOG[event_type].SUBJECT)
                yield event_type, path, json.dumps(doc, ensure_ascii=False).encode()


def _get(doc: dict[str, Any], path: str) -> str:
    node: Any = doc
    for p in path.strip(".").replace("[", ".[").split("."):
        node = node[int(p[1:-1])] if p.startswith("[") else node[p]
    return str(node)


@pytest.fixture
def prefix(run_id: str) -> str:
    return f"inj{run_id}-"


async def test_hostile_strings_in_every_event_field_are_stored_never_run(
    driver: neo4j.AsyncDriver, prefix: str
) -> None:
    before, _, _ = await driver.execute_query("MATCH (n) RETURN collect(elementId(n)) AS ids")
    existing = set(before[0]["ids"])
    accepted: list[ValidEvent] = []
    refused = 0
    for event_type, path, raw in hostile_events(prefix):
        try:
            accepted.append(decode_event(raw))
        except EventRejected as e:
            refused += 1
            # A refusal must say which field and why (enums, formats and id patterns refuse payloads).
            assert e.field, f"{event_type} {path}: refused without naming the field: {e.describe()}"
    assert accepted, "no hostile event passed validation: the test would prove nothing"

    writer = GraphWriter(driver)
    for i in range(0, len(accepted), 200):
        await writer.write(to_mutations(accepted[i : i + 200]))

    after, _, _ = await driver.execute_query(
        "UNWIND $ids AS id OPTIONAL MATCH (n) WHERE elementId(n) = id "
        "RETURN count(n) AS kept, count(*) AS asked",
        ids=sorted(existing),
    )
    assert after[0]["kept"] == after[0]["asked"], "nodes that existed before the hostile events are gone"
    owned, _, _ = await driver.execute_query("MATCH (n) WHERE 'owned' IN keys(n) RETURN count(n) AS n")
    assert owned[0]["n"] == 0

    stored, _, _ = await driver.execute_query(
        "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p AND e.name CONTAINS 'DETACH DELETE' "
        "RETURN collect(e.name) AS names",
        p=prefix,
    )
    stored_payloads = {name[len(prefix) :].split("-", 1)[1] for name in stored[0]["names"]}
    assert set(PAYLOADS[:4]) <= stored_payloads, "hostile names must be stored verbatim"
