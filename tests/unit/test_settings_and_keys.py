"""Settings refuse unsafe combinations; API keys are stored hashed and verified in constant time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.keys import create_key, revoke_key, verify_key
from schema.tables import ApiKey, Role
from supplynet.settings import Settings


def test_external_neo4j_requires_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLYNET_NEO4J__URI", "neo4j+s://example.databases.neo4j.io")
    with pytest.raises(ValidationError, match="SUPPLYNET_NEO4J__PASSWORD"):
        Settings()


def test_production_refuses_sqlite_and_graphiql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLYNET_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings()
    monkeypatch.setenv("SUPPLYNET_SQL_URL", "postgresql+psycopg://u@db/supplynet")
    monkeypatch.setenv("SUPPLYNET_API__GRAPHIQL", "true")
    with pytest.raises(ValidationError, match="GraphiQL"):
        Settings()


def test_configured_kafka_is_not_managed_and_carries_sasl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLYNET_KAFKA__BOOTSTRAP", "k1:9093,k2:9093")
    monkeypatch.setenv("SUPPLYNET_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SUPPLYNET_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("SUPPLYNET_KAFKA__SASL_USERNAME", "sn")
    monkeypatch.setenv("SUPPLYNET_KAFKA__SASL_PASSWORD", "pw")
    k = Settings().kafka
    assert not k.managed
    conf = k.librdkafka()
    assert conf["bootstrap.servers"] == "k1:9093,k2:9093"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "pw"


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    """The keys live in the record store: SQLite and PostgreSQL (tests/conftest.py)."""
    return sql_engine


def test_a_key_verifies_and_only_its_digest_is_stored(engine) -> None:  # type: ignore[no-untyped-def]
    row, token = create_key(engine, name="wisco-sap", role=Role.ERP, source="sap-wisco")
    assert verify_key(engine, token=token) is not None
    with Session(engine) as s:
        stored = s.exec(select(ApiKey)).one()
    assert token.split("_", 2)[2] not in stored.digest
    assert verify_key(engine, token=token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify_key(engine, token="garbage") is None
    assert revoke_key(engine, prefix=row.prefix)
    assert verify_key(engine, token=token) is None


def test_an_erp_key_must_name_its_source(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="source"):
        create_key(engine, name="x", role=Role.ERP)
