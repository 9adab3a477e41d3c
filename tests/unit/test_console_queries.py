"""Every GraphQL query and subscription the console sends is valid and within the API's default limits.

The console's what-if once asked for 200 exposures with their alternatives: costed at 88,441, the API
refused it and the page showed nothing. This reads the queries from the console's sources, so a query
or a limit that changes is checked the day it changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import parse, validate

from api.limits import check_operation
from api.schema import MAX_COST, build_schema

SOURCES = Path(__file__).resolve().parents[2] / "console" / "src"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# The largest values the console passes as variables (network.ts: MAX_NODES; the tier pickers: 8).
VARIABLES: dict[str, Any] = {
    "max": 5000,
    "tiers": 8,
    "days": 30.0,
    "min": 0.0,
    "e": ["x"],
    "f": "x",
    "id": "x",
}
RUNTIME = {"field": ("upstream", "downstream")}
"""Placeholders chosen at run time, with every value they take."""


def _constants(src: str) -> dict[str, str]:
    found = {m[0]: m[1] for m in re.findall(r"const (\w+) = (\d+);", src)}
    found |= {m[0]: m[1] for m in re.findall(r"const (\w+) = `([^`$]*)`;", src)}
    found |= {m[0]: m[1] for m in re.findall(r'const (\w+) = "([^"]*)";', src)}
    return found


def _queries() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(SOURCES.rglob("*.ts")):
        src = path.read_text()
        consts = _constants(src)
        for raw in re.findall(r"[`\"]((?:query|subscription)\b[^`\"]*)[`\"]", src):
            text = PLACEHOLDER.sub(lambda m, c=consts: c.get(m[1], m[0]), raw)
            names = set(PLACEHOLDER.findall(text))
            assert names <= RUNTIME.keys(), f"{path.name}: unknown placeholders {names} in {raw[:80]}"
            variants = [text]
            for name in names:
                variants = [v.replace(f"${{{name}}}", value) for v in variants for value in RUNTIME[name]]
            out += [(path.name, v) for v in variants]
    return out


QUERIES = _queries()


def test_the_console_sources_were_found() -> None:
    assert len(QUERIES) >= 8, QUERIES


@pytest.mark.parametrize(("source", "query"), QUERIES, ids=[f"{s}:{i}" for i, (s, _) in enumerate(QUERIES)])
def test_a_console_query_is_valid_and_within_the_default_limits(source: str, query: str) -> None:
    schema = build_schema(production=True)._schema
    document = parse(query)
    assert validate(schema, document) == [], f"{source}: {query}"
    cost, size_errors = check_operation(schema, document, None, VARIABLES)
    assert size_errors == [], f"{source}: {size_errors}"
    assert cost <= MAX_COST, f"{source}: cost {cost} > {MAX_COST}: {query}"
