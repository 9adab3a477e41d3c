"""The GraphQL schema with its guards as extensions: depth, tokens, aliases, cost, masked errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.design import DesignQuery
from api.errors import ClientError
from api.limits import CostLimiter
from api.mutations import Mutation
from api.network import NetworkQuery
from api.provenance import ProvenanceQuery
from api.risk import RiskQuery
from api.risk_lists import RiskListQuery
from api.subscriptions import Subscription

MAX_DEPTH = 12
MAX_TOKENS = 2000
MAX_ALIASES = 15
MAX_COST = 50_000

__all__ = ["ClientError", "Query", "build_schema"]


@strawberry.type
class Query(RiskQuery, RiskListQuery, ProvenanceQuery, DesignQuery, NetworkQuery):
    """Every query: the supply-chain, design and provenance views, and the risk views."""


def _should_mask(error: GraphQLError) -> bool:
    # Validation errors (depth, tokens, unknown fields) have no original error: they are the client's
    # to read. Anything raised inside a resolver is masked unless it is a ClientError.
    original = error.original_error
    return original is not None and not isinstance(original, ClientError)


def build_schema(
    *, production: bool, max_depth: int = MAX_DEPTH, max_cost: int = MAX_COST
) -> strawberry.Schema:
    """The schema; introspection is refused in production."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        partial(ParserCache, maxsize=1024),
        partial(CostLimiter, max_cost=max_cost),
        partial(QueryDepthLimiter, max_depth=max_depth),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(
            MaskErrors, should_mask_error=_should_mask, error_message="internal error; see the server log"
        ),
    ]
    if production:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)
