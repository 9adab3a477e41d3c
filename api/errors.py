"""What a client sees of an error, and the HTTP status it travels with.

- A ``ClientError`` or a request error (validation, limits) is the client's to read, as is.
- The graph store not answering becomes ``graph store unavailable`` (``GRAPH_STORE_UNAVAILABLE``,
  ``retryAfter``), answered with HTTP 503 and ``Retry-After``.
- Anything else is an internal error: masked in production, shown with its type in development.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphql import GraphQLError
from neo4j.exceptions import ServiceUnavailable, SessionExpired
from strawberry.extensions import MaskErrors


class ClientError(GraphQLError):
    """An error whose message is meant for the client (never masked)."""


class Forbidden(ClientError):
    """The caller's role or scope does not allow this."""


GRAPH_STORE_UNAVAILABLE = "GRAPH_STORE_UNAVAILABLE"
RATE_LIMITED = "RATE_LIMITED"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
INTERNAL_ERROR = "INTERNAL_ERROR"

GRAPH_STORE_DOWN: tuple[type[Exception], ...] = (ServiceUnavailable, SessionExpired)
"""Driver errors that mean Neo4j is not reachable (as opposed to a query that failed)."""

MASKED_MESSAGE = "internal error; see the server log"


def is_internal(error: GraphQLError) -> bool:
    """Raised inside a resolver and not meant for the client (validation errors have no original)."""
    original = error.original_error
    return original is not None and not isinstance(original, ClientError)


def unreachable(original: BaseException | None) -> bool:
    """Neo4j cannot be reached, or is up but its database is not (starting, stopping)."""
    code = getattr(original, "code", None) or ""
    return isinstance(original, GRAPH_STORE_DOWN) or code.endswith("DatabaseUnavailable")


def graph_store_down(error: GraphQLError) -> bool:
    return unreachable(error.original_error)


class ServingErrors(MaskErrors):
    """Rewrites internal errors for the client: the graph store's absence said plainly (and retryable),
    anything else masked in production or shown with its type in development."""

    def __init__(self, *, production: bool, retry_after_s: int = 5) -> None:
        super().__init__(should_mask_error=is_internal, error_message=MASKED_MESSAGE)
        self.production = production
        self.retry_after_s = retry_after_s

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        extensions: dict[str, object]
        if "TransactionTimedOut" in (getattr(original, "code", None) or ""):
            message = "query stopped by the graph store's time bound per request: ask for less"
            extensions = {"code": QUERY_TIMEOUT}
        elif unreachable(original):
            message = f"graph store unavailable: Neo4j does not answer; retry in {self.retry_after_s} s"
            extensions = {"code": GRAPH_STORE_UNAVAILABLE, "retryAfter": self.retry_after_s}
        elif self.production:
            message, extensions = MASKED_MESSAGE, {"code": INTERNAL_ERROR}
        else:
            message = f"internal error: {type(original).__name__}: {original}"
            extensions = {"code": INTERNAL_ERROR, "exception": type(original).__name__}
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )


def error_code(error: Mapping[str, object]) -> str:
    """The ``extensions.code`` of a formatted error ("VALIDATION" when it has none)."""
    ext = error.get("extensions")
    code = ext.get("code") if isinstance(ext, Mapping) else None
    return str(code) if code else "VALIDATION"


def http_status(errors: Iterable[Mapping[str, object]]) -> tuple[int, dict[str, str]]:
    """The HTTP status and headers of a GraphQL answer with these formatted errors: 503 when the graph
    store is unavailable, 429 when rate limited (both with ``Retry-After``), 200 otherwise."""
    errors = list(errors)
    for status, code in ((503, GRAPH_STORE_UNAVAILABLE), (429, RATE_LIMITED)):
        for e in errors:
            if error_code(e) == code:
                ext = e.get("extensions")
                retry = ext.get("retryAfter", 5) if isinstance(ext, Mapping) else 5
                return status, {"Retry-After": str(retry)}
    return 200, {}


def timeout_error(seconds: float) -> dict[str, object]:
    """The formatted error of an operation stopped at the request time bound."""
    return {
        "message": f"query stopped after {seconds:g} s (the API's time bound per request): ask for less",
        "extensions": {"code": QUERY_TIMEOUT},
    }
