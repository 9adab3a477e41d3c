"""Request limits checked before anything runs: the operation to run, size arguments, cost, mutation rate.

Cost is an estimate from the operation's shape: the objects it may return. Every object costs 1 plus its
children. A field with a size argument (``SIZE_ARGS``) returns that many objects, taken from the literal, the
variable's value, the variable's default, or the schema's default — in that order. A list field without
one returns ``DEFAULT_FANOUT`` objects (``LIST_SIZES`` where a list's size is known), except the page
list of a sized connection or network
(``edges``/``nodes`` right under ``enterprises(first: …)`` or ``upstream(maxNodes: …)``), whose items
the size already counts. A field that aggregates over the whole graph adds its ``FIELD_WORK``. Aliases
and fragments count once per use. Scalars are free.

Size arguments are bounded (``SIZE_BOUNDS``): a value outside its range is refused with the range, never
passed on to a view (where ``LIMIT -1`` would fail inside Neo4j).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

DEFAULT_FANOUT = 20
SIZE_ARGS = ("first", "maxNodes")
"""Arguments that say how many objects a field returns. (``maxAffected``/``maxEnterprises`` bound what a
view computes over; the lists it returns have a ``first`` of their own.)"""

SIZE_BOUNDS: dict[tuple[str, str, str], tuple[int, int]] = {
    ("Query", "enterprises", "first"): (1, 500),
    ("Query", "upstream", "maxNodes"): (1, 20_000),
    ("Query", "downstream", "maxNodes"): (1, 20_000),
    ("Query", "regionNetwork", "maxNodes"): (1, 20_000),
    ("Query", "productChain", "maxNodes"): (1, 20_000),
    ("Query", "paths", "first"): (1, 5),
    ("Query", "designProjects", "first"): (1, 200),
    ("Query", "designCalls", "first"): (1, 200),
    ("Query", "designProposals", "first"): (1, 500),
    ("Query", "candidatePartners", "first"): (1, 200),
    ("Query", "reSourcing", "first"): (1, 200),
    ("Query", "riskyNodes", "first"): (1, 1_000),
    ("Query", "incidents", "first"): (1, 1_000),
    ("Query", "whatIf", "maxAffected"): (1, 20_000),
    ("Query", "whatIf", "alternatives"): (0, 20),
    ("Query", "sourcingReport", "maxEnterprises"): (1, 20_000),
    ("Query", "criticalNodes", "maxEnterprises"): (1, 20_000),
    ("Query", "traceBack", "maxNodes"): (1, 20_000),
    ("Query", "traceBack", "maxDepth"): (1, 20),
    ("Query", "traceForward", "maxNodes"): (1, 20_000),
    ("Query", "traceForward", "maxDepth"): (1, 20),
    ("Query", "recallScope", "maxNodes"): (1, 20_000),
    ("Query", "recallScope", "maxDepth"): (1, 20),
    ("Query", "installedBase", "first"): (1, 2_000),
    ("Query", "customerEquipment", "first"): (1, 2_000),
    ("WhatIfResult", "exposures", "first"): (1, 5_000),
    ("SourcingReportResult", "soleSources", "first"): (1, 5_000),
    ("SourcingReportResult", "concentration", "first"): (1, 5_000),
    ("CriticalNodesResult", "cutVertices", "first"): (1, 5_000),
    ("CriticalNodesResult", "topBetweenness", "first"): (1, 5_000),
    ("DataMap", "criticalMaterials", "first"): (1, 1_000),
    **{
        ("Query", view, "first"): (1, 500)
        for view in (
            "orders",
            "shipments",
            "stock",
            "capacity",
            "qualityIncidents",
            "equipmentAlarms",
            "certificates",
            "disruptions",
        )
    },
}
"""(type, field, argument) -> inclusive range. Every size argument of the schema has one (a test checks)."""

LIST_SIZES: dict[tuple[str, str], int] = {
    ("DataMap", "regions"): 100,
    ("DataMap", "industries"): 30,
    ("NetworkKpis", "riskHistogram"): 5,
    ("RegionKpis", "riskHistogram"): 5,
    ("IndustryKpis", "riskHistogram"): 5,
}
"""(type, field) -> objects a list without a size argument returns, where that is known to be other than
``DEFAULT_FANOUT``: the data map's regions (a province and its neighbours hold under 100 cities),
industries and the bins of a risk histogram."""

FIELD_WORK: dict[tuple[str, str], int] = {
    ("Query", "dataMap"): 2_000,
}
"""(type, field) -> cost added for the work a field does beyond the objects it returns: the data map
aggregates every enterprise and current supply link (at 100,000 enterprises, seconds of Neo4j time)."""

MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."
"""The GraphQL spec's request error (GetOperation) when a document has several operations and no name."""


_VALIDATED: dict[tuple[str, int], list[GraphQLError]] = {}


class CostError(GraphQLError):
    """The query's estimated cost is above the budget."""


class LimitError(GraphQLError):
    """A request refused before execution by one of these limits; ``extensions.code`` says which."""


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


@dataclass
class _Walk:
    """One pass over an operation: its cost, and the size arguments outside their bounds."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    defaults: Mapping[str, Any]
    errors: list[GraphQLError] = field(default_factory=list)

    def arg(self, node: FieldNode, name: str, schema_default: Any) -> Any:
        """An argument's value: literal, variable value, variable default, schema default (or Undefined)."""
        for a in node.arguments or ():
            if a.name.value != name:
                continue
            if isinstance(a.value, VariableNode):
                var = a.value.name.value
                got = self.variables.get(var)
                if got is None:
                    got = self.defaults.get(var)
                return schema_default if got is None else got
            return value_from_ast_untyped(a.value)
        return schema_default

    def field_size(self, parent: GraphQLObjectType, node: FieldNode) -> int | None:
        fdef = parent.fields[node.name.value]
        size: int | None = None
        for name, adef in fdef.args.items():
            bounds = SIZE_BOUNDS.get((parent.name, node.name.value, name))
            if bounds is None and name not in SIZE_ARGS:
                continue
            value = self.arg(node, name, adef.default_value)
            if not isinstance(value, int) or isinstance(value, bool):
                continue  # absent, or not an Int: argument coercion refuses it with its own error
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                self.errors.append(
                    LimitError(
                        f"{name} must be between {bounds[0]} and {bounds[1]}, got {value} "
                        f"({parent.name}.{node.name.value})",
                        nodes=[node],
                        extensions={
                            "code": "ARGUMENT_OUT_OF_RANGE",
                            "argument": name,
                            "min": bounds[0],
                            "max": bounds[1],
                        },
                    )
                )
            if name in SIZE_ARGS:
                size = value
        return size

    def cost(
        self,
        parent: GraphQLNamedType | None,
        selection_set: SelectionSetNode | None,
        *,
        paged: bool = False,
        seen: frozenset[str] = frozenset(),
    ) -> int:
        """Cost of a selection set under ``parent``; ``paged``: its lists are the page a size counted."""
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                if not isinstance(parent, GraphQLObjectType) or sel.name.value not in parent.fields:
                    continue  # validation refuses unknown fields
                fdef = parent.fields[sel.name.value]
                size = self.field_size(parent, sel)
                child = get_named_type(fdef.type)
                if not isinstance(child, GraphQLObjectType):
                    continue
                is_list = _is_list(fdef.type)
                inner = self.cost(child, sel.selection_set, paged=size is not None and not is_list, seen=seen)
                if size is None and is_list:
                    size = 1 if paged else LIST_SIZES.get((parent.name, sel.name.value), DEFAULT_FANOUT)
                total += max(size or 1, 1) * (1 + inner) + FIELD_WORK.get((parent.name, sel.name.value), 0)
            elif isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                total += self.cost(cond, sel.selection_set, paged=paged, seen=seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                cond = self.schema.get_type(frag.type_condition.name.value)
                total += self.cost(cond, frag.selection_set, paged=paged, seen=seen | {name})
        return total


def given_operation_name(ctx: Any) -> str | None:
    """The operation name the request gave. Strawberry's ``operation_name`` falls back to the first
    operation's name, which hides a missing one; the name as given is kept only on this attribute
    (tests/unit/test_api_limits.py fails if that changes)."""
    given = getattr(ctx, "_provided_operation_name", ctx.operation_name)
    return given if isinstance(given, str) else None


def chosen_operation(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the named one, or the only one (``None`` if that is ambiguous)."""
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in ops if o.name and o.name.value == operation_name), None)
    return ops[0] if len(ops) == 1 else None


def check_operation(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any]
) -> tuple[int, list[GraphQLError]]:
    """(estimated cost, size arguments out of range) of the operation a request would run."""
    op = chosen_operation(document, operation_name)
    if op is None:
        return 0, []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    defaults = {
        v.variable.name.value: value_from_ast_untyped(v.default_value)
        for v in op.variable_definitions or ()
        if v.default_value is not None
    }
    walk = _Walk(schema, fragments, variables, defaults)
    cost = walk.cost(schema.get_root_type(op.operation), op.selection_set)
    return cost, walk.errors


def operation_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any]
) -> int:
    """Estimated cost of the operation a request would run (0 when no single operation is chosen)."""
    return check_operation(schema, document, operation_name, variables)[0]


class CostLimiter(SchemaExtension):
    """Before execution: one operation chosen (the spec's error otherwise), the document valid, its size
    arguments in range, and its estimated cost within ``max_cost``."""

    def __init__(self, *, max_cost: int) -> None:
        self.max_cost = max_cost

    @staticmethod
    def _validate(query: str | None, schema: GraphQLSchema, document: Any, rules: Any) -> list[GraphQLError]:
        """Validation errors of a document; cached by query text (validation does not see variables)."""
        if query is None:
            return list(validate_document(schema, document, rules))
        key = (query, id(schema))
        hit = _VALIDATED.get(key)
        if hit is None:
            hit = list(validate_document(schema, document, rules))
            if len(_VALIDATED) > 2048:
                _VALIDATED.clear()
            _VALIDATED[key] = hit
        return list(hit)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and ctx.pre_execution_errors is None:
            ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if given_operation_name(ctx) is None and len(ops) > 1:
                ctx.pre_execution_errors = [
                    LimitError(MULTIPLE_OPERATIONS, extensions={"code": "OPERATION_NAME_REQUIRED"})
                ]
                yield
                return
            schema = ctx.schema._schema
            # Validate first (depth, tokens, aliases, unknown fields: their errors come first), then cost.
            errors = self._validate(ctx.query, schema, document, ctx.validation_rules)
            if not errors:
                cost, errors = check_operation(schema, document, ctx.operation_name, ctx.variables or {})
                if not errors and cost > self.max_cost:
                    errors = [
                        CostError(
                            f"query cost {cost} exceeds the limit of {self.max_cost}: ask for fewer items "
                            f"(first/maxNodes) or fewer nested lists",
                            extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": self.max_cost},
                        )
                    ]
            ctx.pre_execution_errors = errors
        yield


# -- mutation rate -------------------------------------------------------------------------------------


def caller_key(context: Any) -> str:
    """Whom a request's rate counts against: a digest of its bearer token or API key header (per key),
    else its principal (a websocket authenticated at connection_init)."""
    request = getattr(context, "request", None)
    headers = getattr(request, "headers", None)
    if headers is not None:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-api-key")
        if token:
            return hashlib.sha256(token.encode()).hexdigest()[:32]
    return repr(getattr(context, "principal", None))


class MutationRate:
    """Mutations per caller under ``rate`` (``limits`` syntax: ``"20/second;300/minute"``), in a moving
    window held in memory (per API process; expired windows are dropped by the storage)."""

    def __init__(self, rate: str, *, key: Callable[[Any], str] = caller_key) -> None:
        self.items: list[RateLimitItem] = parse_many(rate)
        self.rate = rate
        self.key = key
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, context: Any) -> float:
        """0 if the caller may run a mutation now (and counts it); else the seconds until it may."""
        who = self.key(context)
        for item in self.items:
            if not self._limiter.hit(item, "mutation", who):
                reset, _ = self._limiter.get_window_stats(item, "mutation", who)
                return max(reset - time.time(), 0.001)
        return 0.0


class MutationRateLimiter(SchemaExtension):
    """Refuses a mutation above the caller's rate (``extensions.code`` RATE_LIMITED with ``retryAfter``
    seconds; the HTTP answer is 429 with ``Retry-After``). Queries are not counted."""

    def __init__(self, *, rate: MutationRate) -> None:
        self.rate = rate

    def on_validate(self) -> Iterator[None]:
        # Runs after CostLimiter's check (listed before it): refused requests are not counted.
        ctx = self.execution_context
        document = ctx.graphql_document
        op = (
            None
            if ctx.pre_execution_errors or document is None
            else chosen_operation(document, ctx.operation_name)
        )
        wait = self.rate.take(ctx.context) if op and op.operation is OperationType.MUTATION else 0.0
        if wait > 0:
            retry = max(1, math.ceil(wait))
            ctx.pre_execution_errors = [
                LimitError(
                    f"mutation rate limit of {self.rate.rate} for this key reached; retry in {retry} s",
                    extensions={"code": "RATE_LIMITED", "retryAfter": retry},
                )
            ]
        yield
