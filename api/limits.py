"""Query cost: an estimate from the operation's shape, refused above a budget before anything runs.

Every object field costs 1 plus its children; a list field multiplies its children by its page size
(``first`` / ``maxNodes`` argument, or ``DEFAULT_FANOUT`` when it has none). Scalars are free.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

DEFAULT_FANOUT = 20
SIZE_ARGS = ("first", "maxNodes")


_VALIDATED: dict[tuple[str, int], list[GraphQLError]] = {}


class CostError(GraphQLError):
    """The query's estimated cost is above the budget."""


def _arg_int(node: FieldNode, names: tuple[str, ...], variables: Mapping[str, Any]) -> int | None:
    for a in node.arguments or ():
        if a.name.value in names:
            v = a.value
            if isinstance(v, IntValueNode):
                return int(v.value)
            if isinstance(v, VariableNode):
                got = variables.get(v.name.value)
                return int(got) if isinstance(got, int) else None
    return None


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def selection_cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType | None,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    seen: frozenset[str] = frozenset(),
) -> int:
    """Estimated cost of a selection set under ``parent`` (unknown fields cost 1; validation refuses them)."""
    if selection_set is None:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            fdef = parent.fields.get(sel.name.value) if isinstance(parent, GraphQLObjectType) else None
            if fdef is None:
                continue
            child = get_named_type(fdef.type)
            if not isinstance(child, GraphQLObjectType):
                continue
            inner = selection_cost(schema, child, sel.selection_set, fragments, variables, seen)
            size = _arg_int(sel, SIZE_ARGS, variables)
            if size is None:
                size = DEFAULT_FANOUT if _is_list(fdef.type) else 1
            total += 1 + max(size, 1) * inner
        elif isinstance(sel, InlineFragmentNode):
            cond = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            total += selection_cost(schema, cond, sel.selection_set, fragments, variables, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in seen:
                continue
            cond = schema.get_type(frag.type_condition.name.value)
            total += selection_cost(schema, cond, frag.selection_set, fragments, variables, seen | {name})
    return total


def operation_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any]
) -> int:
    """Cost of the operation a request would run (the named one, or the only one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        ops = [o for o in ops if o.name and o.name.value == operation_name]
    cost = 0
    for op in ops[:1]:
        root = schema.get_root_type(op.operation)
        cost = selection_cost(schema, root, op.selection_set, fragments, variables)
    return cost


class CostLimiter(SchemaExtension):
    """Refuses an operation whose estimated cost exceeds ``max_cost``, before validation and execution."""

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
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            # Validate first (depth, tokens, aliases, unknown fields: their errors come first), then cost.
            errors = self._validate(ctx.query, ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
            if not errors:
                cost = operation_cost(
                    ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables or {}
                )
                if cost > self.max_cost:
                    errors = [
                        CostError(
                            f"query cost {cost} exceeds the limit of {self.max_cost}: ask for fewer items "
                            f"(first/maxNodes) or fewer nested lists",
                            extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": self.max_cost},
                        )
                    ]
            ctx.pre_execution_errors = errors
        yield
