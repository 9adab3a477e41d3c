"""The API's errors meant for the client (never masked by the schema's error masking)."""

from __future__ import annotations

from graphql import GraphQLError


class ClientError(GraphQLError):
    """An error whose message is meant for the client (never masked)."""


class Forbidden(ClientError):
    """The caller's role or scope does not allow this."""
