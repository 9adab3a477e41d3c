"""The GraphQL schema with its guards as extensions: operation choice, depth, tokens, aliases, size
arguments, cost, mutation rate, served errors (``api.errors``) and metrics (``api.metrics``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.crowd import CrowdQuery
from api.crowd_mutations import CrowdMutation
from api.data_map import DataMapQuery
from api.design import DesignQuery
from api.design_mutations import DesignMutation
from api.errors import ClientError, ServingErrors, graph_store_down, is_internal
from api.limits import CostLimiter, MutationRate, MutationRateLimiter
from api.metrics import ApiMetrics, OperationMetrics
from api.mutations import Mutation
from api.network import NetworkQuery
from api.provenance import ProvenanceQuery
from api.records import RecordQuery
from api.resourcing import ResourcingQuery
from api.risk import RiskQuery
from api.risk_lists import RiskListQuery
from api.service import ServiceQuery, ServiceSubscription
from api.subscriptions import Subscription
from api.trace import TraceQuery

MAX_DEPTH = 12
MAX_TOKENS = 2000
MAX_ALIASES = 15
MAX_COST = 50_000

__all__ = ["ClientError", "Query", "build_schema"]


@strawberry.type
class Query(
    RecordQuery,
    TraceQuery,
    RiskQuery,
    RiskListQuery,
    ResourcingQuery,
    ProvenanceQuery,
    DesignQuery,
    CrowdQuery,
    DataMapQuery,
    NetworkQuery,
    ServiceQuery,
):
    """Every query: the supply-chain, design and provenance views, re-sourcing, lot traceability, the
    record views, the risk views, the data map and the installed base."""


@strawberry.type(name="Mutation")
class Mutations(Mutation, DesignMutation, CrowdMutation):
    """Every mutation: ingest, disruptions, the incident workflow, collaborative and crowd design."""


@strawberry.type(name="Subscription")
class Subscriptions(Subscription, ServiceSubscription):
    """Every subscription: graph changes, risk alerts and service alerts."""


log = logging.getLogger("api.schema")


class ServedSchema(strawberry.Schema):
    """Logs only what the server must look at: an internal error with its traceback, the graph store's
    absence in one line. Client errors (refusals, validation, limits) are the client's, not logged."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            if graph_store_down(error):
                log.warning("graph store unavailable: %s", error.original_error)
            elif is_internal(error):
                log.error("internal error: %s", error, exc_info=error.original_error)


def build_schema(
    *,
    production: bool,
    max_depth: int = MAX_DEPTH,
    max_cost: int = MAX_COST,
    mutation_rate: MutationRate | None = None,
    metrics: ApiMetrics | None = None,
) -> strawberry.Schema:
    """The schema; introspection is refused and internal errors masked in production."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = []
    if metrics is not None:  # first: it sees the errors as served (hooks exit in reverse order)
        extensions.append(partial(OperationMetrics, metrics=metrics))
    extensions += [
        partial(ParserCache, maxsize=1024),
        partial(CostLimiter, max_cost=max_cost),
        partial(QueryDepthLimiter, max_depth=max_depth),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(ServingErrors, production=production),
    ]
    if mutation_rate is not None:
        extensions.append(partial(MutationRateLimiter, rate=mutation_rate))
    if production:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return ServedSchema(query=Query, mutation=Mutations, subscription=Subscriptions, extensions=extensions)
