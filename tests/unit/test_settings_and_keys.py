"""Settings refuse unsafe combinations; API keys are stored hashed and verified in constant time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.keys import create_key, is_live, key_prefix, revoke_key, verify_key
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


def test_an_erp_key_may_not_send_as_an_admin_source(engine) -> None:  # type: ignore[no-untyped-def]
    admin = Settings().stream.admin_sources
    with pytest.raises(ValueError, match="admin source"):
        create_key(engine, name="x", role=Role.ERP, source=admin[0], admin_sources=admin)
    row, _ = create_key(engine, name="y", role=Role.ERP, source="wisco-sap", admin_sources=admin)
    assert row.source == "wisco-sap"


def test_a_variable_named_like_a_section_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsError
    from typer.testing import CliRunner

    from supplynet.cli import app

    monkeypatch.setenv("SUPPLYNET_API", "http://api.example:8000")
    with pytest.raises(SettingsError, match=r"SUPPLYNET_API='http://api.example:8000' clashes with"):
        Settings()
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "SUPPLYNET_API='http://api.example:8000' clashes with the settings section 'api'" in out
    assert "SUPPLYNET_API__HOST" in out
    # the section as a JSON object is still accepted
    monkeypatch.delenv("SUPPLYNET_API__MAX_COST", raising=False)
    monkeypatch.setenv("SUPPLYNET_API", '{"max_cost": 777}')
    assert Settings().api.max_cost == 777


def test_mutation_rate_must_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLYNET_API__MUTATION_RATE", "fast")
    with pytest.raises(ValidationError, match="not a rate such as"):
        Settings()


def test_liveness_is_read_by_prefix_and_ends_with_revocation(engine) -> None:  # type: ignore[no-untyped-def]
    row, token = create_key(engine, name="mes", role=Role.ANALYST)
    assert key_prefix(token) == row.prefix
    assert key_prefix("eyJhbGciOi.x.y") is None
    assert is_live(engine, prefix=row.prefix)
    assert not is_live(engine, prefix="00000000")
    revoke_key(engine, prefix=row.prefix)
    assert not is_live(engine, prefix=row.prefix)
