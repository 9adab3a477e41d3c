"""The local Neo4j password generator (pure): never an argument neo4j-admin would read as an option."""

from __future__ import annotations

from unittest import mock

from supplynet.stack import neo4j as stack_neo4j


def test_a_generated_password_never_starts_with_a_dash() -> None:
    drawn = iter(["-starts-with-a-dash", "-again", "fine_token"])
    with mock.patch.object(stack_neo4j.secrets, "token_urlsafe", side_effect=lambda n: next(drawn)):
        assert stack_neo4j.new_password() == "fine_token"
    assert all(not stack_neo4j.new_password().startswith("-") for _ in range(2000))
