"""The API's request limits as pure code: cost by literal, variable, variable default and schema
default; size arguments bounded; one operation chosen; mutations rate-limited; served errors; metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema, get_named_type, parse
from neo4j.exceptions import ServiceUnavailable

from api.errors import ServingErrors, http_status
from api.limits import (
    DEFAULT_FANOUT,
    MULTIPLE_OPERATIONS,
    SIZE_ARGS,
    SIZE_BOUNDS,
    MutationRate,
    check_operation,
)
from api.metrics import ApiMetrics
from api.schema import build_schema

NESTED = "edges { node { suppliers { partner { suppliers { partner { id } } } } } }"


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(production=False)._schema


def cost(schema: GraphQLSchema, q: str, variables: dict[str, Any] | None = None) -> int:
    got, errors = check_operation(schema, parse(q), None, variables or {})
    assert not errors, errors
    return got


def test_a_page_size_costs_the_same_as_literal_variable_and_variable_default(schema: GraphQLSchema) -> None:
    literal = cost(schema, f"{{ a: enterprises(first: 500) {{ {NESTED} }} }}")
    assert literal > 50_000
    by_value = cost(schema, f"query($n: Int!) {{ a: enterprises(first: $n) {{ {NESTED} }} }}", {"n": 500})
    by_default = cost(schema, f"query($n: Int = 500) {{ a: enterprises(first: $n) {{ {NESTED} }} }}")
    assert literal == by_value == by_default
    # an explicit value wins over the default; null falls back to the schema's default (20)
    assert cost(schema, f"query($n: Int = 500) {{ enterprises(first: $n) {{ {NESTED} }} }}", {"n": 10}) < (
        literal / 40
    )
    absent = cost(schema, f"{{ enterprises {{ {NESTED} }} }}")
    assert absent == cost(schema, f"{{ enterprises(first: 20) {{ {NESTED} }} }}")


def test_page_lists_are_counted_once_and_unsized_lists_fan_out(schema: GraphQLSchema) -> None:
    assert cost(schema, "{ enterprises(first: 10) { edges { node { id } } } }") == 10 * 3
    q = "{ enterprises(first: 100) { edges { node { suppliers { partner { customers { sku } } } } } } }"
    nested = cost(schema, q)
    assert nested >= 100 * DEFAULT_FANOUT * DEFAULT_FANOUT
    assert cost(schema, '{ upstream(id: "x", maxNodes: 4000) { nodes { id } } }') > 4000


def test_aliases_multiply_and_fragments_count_per_use(schema: GraphQLSchema) -> None:
    one = cost(schema, f"{{ enterprises(first: 50) {{ {NESTED} }} }}")
    three = cost(
        schema,
        f"{{ a: enterprises(first: 50) {{ {NESTED} }} b: enterprises(first: 50) {{ {NESTED} }} "
        f"c: enterprises(first: 50) {{ {NESTED} }} }}",
    )
    assert three == 3 * one
    via_fragment = cost(
        schema,
        f"query {{ a: enterprises(first: 50) {{ ...Page }} b: enterprises(first: 50) {{ ...Page }} }} "
        f"fragment Page on EnterpriseConnection {{ {NESTED} }}",
    )
    assert via_fragment == 2 * one
    inline = cost(schema, f"{{ enterprises(first: 50) {{ ... on EnterpriseConnection {{ {NESTED} }} }} }}")
    assert inline == one


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            '{ productChain(sku: "x", maxNodes: -1) { sku } }',
            {},
            "maxNodes must be between 1 and 20000, got -1",
        ),
        (
            'query($m: Int = 1000000000) { productChain(sku: "x", maxNodes: $m) { sku } }',
            {},
            "maxNodes must be between 1 and 20000, got 1000000000",
        ),
        (
            "query($n: Int!) { incidents(first: $n) { id } }",
            {"n": 0},
            "first must be between 1 and 1000, got 0",
        ),
        ("{ enterprises(first: 501) { totalCount } }", {}, "first must be between 1 and 500, got 501"),
        (
            '{ whatIf(days: 1, region: "r", alternatives: 21) { affectedCount } }',
            {},
            "alternatives must be between 0 and 20, got 21",
        ),
        (
            '{ whatIf(days: 1, region: "r") { exposures(first: 0) { tier } } }',
            {},
            "first must be between 1 and 5000, got 0",
        ),
    ],
)
def test_size_arguments_out_of_range_are_refused_with_their_range(
    schema: GraphQLSchema, query: str, variables: dict[str, Any], message: str
) -> None:
    _, errors = check_operation(schema, parse(query), None, variables)
    assert [e.message.split(" (")[0] for e in errors] == [message]
    assert errors[0].extensions["code"] == "ARGUMENT_OUT_OF_RANGE"


def test_every_size_argument_of_the_schema_has_bounds(schema: GraphQLSchema) -> None:
    sized = {
        (tname, fname, aname)
        for tname, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and not tname.startswith("__")
        for fname, f in t.fields.items()
        for aname, a in f.args.items()
        if get_named_type(a.type).name == "Int"
        and (aname in (*SIZE_ARGS, "alternatives") or (aname.startswith("max") and aname != "maxHops"))
    }
    assert sized == set(SIZE_BOUNDS)


def run(q: str, operation_name: str | None = None, **kw: Any) -> Any:
    s = build_schema(production=False, **kw)
    return asyncio.run(s.execute(q, operation_name=operation_name))


def test_several_operations_without_a_name_is_the_specs_request_error() -> None:
    result = run("query A { __typename } query B { __typename }")
    assert result.data is None
    assert [e.message for e in result.errors] == [MULTIPLE_OPERATIONS]
    named = run("query A { __typename } query B { __typename }", operation_name="B")
    assert named.data == {"__typename": "Query"}
    assert not named.errors


def test_mutation_rate_refuses_above_the_window_and_names_the_wait() -> None:
    class Caller:
        request = None
        principal = "k1"

    rate = MutationRate("2/minute", key=lambda ctx: ctx.principal)
    assert rate.take(Caller()) == 0.0
    assert rate.take(Caller()) == 0.0
    wait = rate.take(Caller())
    assert 0 < wait <= 60
    other = Caller()
    other.principal = "k2"
    assert rate.take(other) == 0.0
    with pytest.raises(ValueError):
        MutationRate("lots")


def test_served_errors_say_graph_store_unavailable_and_mask_only_in_production() -> None:
    down = GraphQLError("x", original_error=ServiceUnavailable("Couldn't connect to 127.0.0.1:7687"))
    served = ServingErrors(production=True).anonymise_error(down).formatted
    assert served["message"].startswith("graph store unavailable")
    assert http_status([served]) == (503, {"Retry-After": "5"})

    class DatabaseStarting(Exception):  # what the driver raises carries this code (a Neo4jError)
        code = "Neo.TransientError.General.DatabaseUnavailable"

    starting = DatabaseStarting("database is starting")
    served = ServingErrors(production=True).anonymise_error(GraphQLError("x", original_error=starting))
    assert served.formatted["extensions"]["code"] == "GRAPH_STORE_UNAVAILABLE"
    boom = GraphQLError("x", original_error=KeyError("secret detail"))
    prod = ServingErrors(production=True).anonymise_error(boom).formatted
    assert prod["message"] == "internal error; see the server log"
    assert "secret" not in str(prod)
    dev = ServingErrors(production=False).anonymise_error(boom).formatted
    assert "KeyError" in dev["message"] and "secret detail" in dev["message"]
    assert http_status([prod, dev]) == (200, {})
    limited = {"message": "m", "extensions": {"code": "RATE_LIMITED", "retryAfter": 7}}
    assert http_status([limited]) == (429, {"Retry-After": "7"})


def test_metric_labels_stay_bounded() -> None:
    m = ApiMetrics(max_operation_names=3)
    assert [m.operation_label(n) for n in ("A", "B", None, "A", "C", "D", "bad name!")] == [
        "A",
        "B",
        "anonymous",
        "A",
        "C",
        "other",
        "other",
    ]
    m.record("A", "query", 0.01, ["VALIDATION"])
    text = m.exposition().decode()
    assert 'supplynet_graphql_operations_total{operation="A",type="query"} 1.0' in text
    assert 'supplynet_graphql_errors_total{code="VALIDATION",operation="A",type="query"} 1.0' in text
