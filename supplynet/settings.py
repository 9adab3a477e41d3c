"""One settings object, read from ``SUPPLYNET_*`` environment variables (nested with ``__``).

A server whose address is left empty is the local stack's own (started by ``supplynet stack up``);
set an address to use an existing server instead, and ``stack up`` starts nothing for it.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from graph.health import HealthSettings
from graph.risk.settings import RiskSettings


def _xdg(var: str, default: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / default)


class KafkaSettings(BaseModel):
    bootstrap: str | None = Field(None, description="host:port[,host:port]; empty = the local stack's broker")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    sasl_username: str | None = Field(None, description="SASL user")
    sasl_password: SecretStr | None = Field(None, description="SASL password")
    ssl_cafile: Path | None = Field(None, description="CA bundle that signed the brokers' certificates")
    local_port: int = Field(
        9092, description="Local stack: broker port (of the first broker; the n-th adds 10 (n-1))"
    )
    local_controller_port: int = Field(
        9093, description="Local stack: KRaft controller port (of the first node; the n-th adds 10 (n-1))"
    )
    local_brokers: int = Field(
        1,
        ge=1,
        le=9,
        description="Local stack: Kafka nodes (each broker and KRaft controller); 3 gives replication 3, "
        "min.insync.replicas 2",
    )
    heap_mb: int = Field(1024, description="Local stack: JVM max heap (MiB)")
    partitions: int = Field(6, ge=1, description="Partitions of events.raw / events.valid")
    dlq_partitions: int = Field(1, ge=1, description="Partitions of events.dlq")
    alerts_partitions: int = Field(1, ge=1, description="Partitions of risk.alerts")
    replication_factor: int | None = Field(
        None,
        ge=1,
        description="Replication factor of the topics `init` creates; default: the local stack's broker "
        "count up to 3, 1 for a configured cluster",
    )
    min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="min.insync.replicas of the topics `init` creates; default: 2 at replication 3 or more, "
        "else 1",
    )

    @property
    def managed(self) -> bool:
        return not self.bootstrap

    def local_ports(self) -> list[tuple[int, int]]:
        """(broker port, controller port) of each local Kafka node, first node first."""
        return [
            (self.local_port + 10 * i, self.local_controller_port + 10 * i) for i in range(self.local_brokers)
        ]

    def servers(self) -> str:
        """The bootstrap string: the configured one, or every local broker."""
        return self.bootstrap or ",".join(f"127.0.0.1:{port}" for port, _ in self.local_ports())

    def replication(self) -> int:
        """Replication factor of new topics (``replication_factor``, or what the stack can hold)."""
        if self.replication_factor is not None:
            return self.replication_factor
        return min(3, self.local_brokers) if self.managed else 1

    def min_insync(self) -> int:
        """min.insync.replicas of new topics: 2 once there are 3 replicas, so one broker may be lost."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return 2 if self.replication() >= 3 else 1

    def librdkafka(self) -> dict[str, str | int | float | bool]:
        """confluent-kafka (librdkafka) connection settings."""
        conf: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.servers(),
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else ""
        if self.ssl_cafile:
            conf["ssl.ca.location"] = str(self.ssl_cafile)
        return conf


class Neo4jSettings(BaseModel):
    uri: str | None = Field(
        None, description="bolt://, neo4j:// or neo4j+s:// URI; empty = the local stack's"
    )
    user: str = Field("neo4j", description="Neo4j user (with uri)")
    password: SecretStr | None = Field(
        None, description="Required with uri; the local stack generates its own"
    )
    database: str = Field("neo4j", description="Neo4j database name")
    local_bolt_port: int = Field(7687, description="Local stack: Bolt port")
    local_http_port: int = Field(
        0, description="Neo4j Browser HTTP port; 0 = off (supplynet speaks Bolt only)"
    )
    heap_mb: int = Field(1024, description="Local stack: JVM max heap (MiB)")
    pagecache_mb: int = Field(1024, description="Local stack: Neo4j page cache (MiB)")

    @property
    def managed(self) -> bool:
        return not self.uri


class PulsarSettings(BaseModel):
    url: str | None = Field(None, description="pulsar:// or pulsar+ssl:// URL; empty = the local stack's")
    admin_url: str | None = Field(None, description="Pulsar admin (HTTP) URL of a configured cluster")
    token: SecretStr | None = Field(None, description="Pulsar JWT token of a configured cluster")
    local_broker_port: int = Field(6650, description="Local stack: Pulsar broker port")
    local_web_port: int = Field(8080, description="Local stack: Pulsar admin/web port")
    local_bookie_port: int = Field(3181, description="Local stack: embedded BookKeeper port")
    heap_mb: int = Field(1024, description="Local stack: JVM max heap (MiB)")

    @property
    def managed(self) -> bool:
        return not self.url

    def service_url(self) -> str:
        return self.url or f"pulsar://127.0.0.1:{self.local_broker_port}"


class PostgresSettings(BaseModel):
    local_port: int = Field(55432, description="Local stack: PostgreSQL port (the production record store)")
    shared_buffers_mb: int = Field(128, ge=16, description="Local stack: PostgreSQL shared_buffers (MiB)")

    @property
    def managed(self) -> bool:
        """The local server is always ours; an existing one is used through ``sql_url``."""
        return True


class StreamSettings(BaseModel):
    app_id: str = Field("supplynet", description="faust app id = the Kafka consumer group of the workers")
    batch_size: int = Field(1000, ge=1, description="Most events the projector writes in one transaction")
    batch_seconds: float = Field(0.5, gt=0, description="Longest a partial batch waits before it is written")
    web_port: int = Field(6066, description="The faust worker's own web port (health, stats)")
    malloc_arenas: int = Field(
        2,
        ge=0,
        description="Most glibc malloc arenas a worker process keeps (each thread's arena stays resident: "
        "seven of them were half the pipeline worker's memory); 0 = glibc's default (8 per core)",
    )
    topic_prefix: str = Field(
        "", description="Prefix of every topic name (a test's or benchmark's own topics); empty = none"
    )
    dedup_retention_days: int = Field(
        14, ge=1, description="How long the validate stage remembers forwarded event ids (dedup window)"
    )
    record_retention_days: int = Field(
        400,
        ge=1,
        description="Finished records (delivered/cancelled orders, shipments, quality incidents, alarms) "
        "whose newest event is older than this many days before the stream clock are archived to "
        "<state_dir>/archive as gzip NDJSON and deleted from the record store (the KPI buckets keep them)",
    )
    bucket_retention_days: int = Field(
        120,
        ge=90,
        description="KPI day buckets older than this many days before the stream clock are dropped "
        "(at least the longest KPI window, 90 days); `asOf` KPI reads reach back this far",
    )
    disruption_retention_days: int = Field(
        90,
        ge=1,
        description="Resolved disruptions every version of which (reported, resolved, AFFECTS links) is "
        "older than this many days before the stream clock are archived to <state_dir>/archive as gzip "
        "NDJSON and deleted from the graph (the longest KPI window by default; open ones always stay)",
    )
    retention_seconds: float = Field(
        3600,
        gt=0,
        description="How often the worker runs retention of the record store and of the graph's "
        "resolved disruptions (also `supplynet records retain`)",
    )
    max_future_seconds: float = Field(
        300,
        ge=0,
        description="How far an event's `time` may be ahead of the validating clock (worker and HTTP "
        "ingest); further-dated events are refused naming `$.time` and can be replayed from the DLQ",
    )
    stall_seconds: float = Field(
        300,
        gt=0,
        description="How long a partition of a faust agent (validate, risk) may wait with input pending "
        "before the worker logs it as stalled (an ERROR: the stage or its commits stopped)",
    )
    admin_sources: list[str] = Field(
        default_factory=lambda: ["supplynet-admin"],
        description="Event sources that may change master data another source registered (JSON list)",
    )
    instance_id: str | None = Field(
        None,
        description="This worker's static group membership id (Kafka group.instance.id), stable across "
        "its restarts and unique among live workers: a restarted worker takes its partitions straight "
        "back. Default: <hostname>-<web_port>; empty string = dynamic membership",
    )
    session_timeout_s: float = Field(
        20.0,
        ge=6,
        description="Consumer group session timeout: how long the partitions of a worker that stopped "
        "for good (and was not restarted with its instance id) wait before moving to the others",
    )

    def member_id(self) -> str | None:
        """The static membership id: ``instance_id``, else ``<hostname>-<web_port>`` (two workers on
        one host cannot share a web port); ``None`` when set to the empty string."""
        if self.instance_id is None:
            return f"{socket.gethostname()}-{self.web_port}"
        return self.instance_id or None


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="API bind address")
    port: int = Field(8000, description="API port")
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    access_log: bool = Field(True, description="One log line per request (off saves per-request time)")
    graphiql: bool | None = Field(None, description="Default: on in development, off in production")
    max_body_bytes: int = Field(1_048_576, description="Largest request body the API reads (413 above)")
    jwt_issuer: str | None = Field(None, description="JWT: required `iss` claim; empty = JWT login off")
    jwt_audience: str | None = Field(None, description="JWT: required `aud` claim (optional)")
    jwt_hs256_secret: SecretStr | None = Field(None, description="JWT: HS256 shared secret")
    jwt_public_key: str | None = Field(None, description="JWT: RS256 public key, PEM text or a file path")
    max_cost: int = Field(50_000, ge=1, description="GraphQL: largest estimated query cost (refused above)")
    max_depth: int = Field(12, ge=1, description="GraphQL: deepest selection nesting")
    max_tiers: int = Field(8, ge=1, description="GraphQL: most tiers a network view may traverse")
    partner_tiers: int = Field(3, ge=1, description="Tiers around its own enterprise a partner may see")
    request_timeout_s: float = Field(
        30.0,
        gt=0,
        description="GraphQL: longest a request over HTTP may run (stopped after, QUERY_TIMEOUT); "
        "also Neo4j's transaction timeout of each read",
    )
    mutation_rate: str = Field(
        "20/second;600/minute",
        description="GraphQL: mutations per API key and API process (`limits` syntax, `;` between "
        "windows); 429 with Retry-After above",
    )

    @field_validator("mutation_rate")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate such as '20/second' or '20/second;600/minute'"
            ) from None
        return value


class IngestSettings(BaseModel):
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="HTTP ingest: largest request body (413 above)"
    )
    rate_per_second: float = Field(
        50.0, gt=0, description="HTTP ingest: requests per second per key (429 above)"
    )
    burst: int = Field(
        100, ge=1, description="HTTP ingest: requests a key may send at once before the rate applies"
    )
    kafka_timeout_s: float = Field(
        10.0, gt=0, description="HTTP ingest: longest wait for Kafka's acknowledgement (503 after)"
    )
    producers: int = Field(
        4, ge=1, description="HTTP ingest: Kafka producers per API process (requests in flight at once)"
    )


class _SectionClash(PydanticBaseSettingsSource):
    """Refuses an environment variable named like a settings section (``SUPPLYNET_API=http://…``)
    unless it holds that section as a JSON object, naming the variable and the section's own variables;
    pydantic-settings would say only "error parsing value for field "api"". Contributes no values."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        for name, field in self.settings_cls.model_fields.items():
            section = field.annotation
            if not (isinstance(section, type) and issubclass(section, BaseModel)):
                continue
            var = f"SUPPLYNET_{name.upper()}"
            value = env.get(var)
            if value is None or _json_object(value):
                continue
            example = ", ".join(f"{var}__{f.upper()}" for f in list(section.model_fields)[:3])
            raise SettingsError(
                f"environment variable {var}={value!r} clashes with the settings section '{name}' "
                f"(its settings are {var}__<NAME>, e.g. {example}): unset {var}, or give it the whole "
                f"section as a JSON object"
            )
        return {}


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything supplynet reads from its environment; see ``docs/configuration.md``."""

    model_config = SettingsConfigDict(env_prefix="SUPPLYNET_", env_nested_delimiter="__", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _SectionClash(settings_cls),
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )

    environment: Literal["development", "production"] = Field(
        "development", description="production refuses SQLite and GraphiQL and turns introspection off"
    )
    state_dir: Path = Field(
        default_factory=lambda: _xdg("SUPPLYNET_STATE_DIR", ".local/state/supplynet"),
        description="Local stack data, config, logs, pid files; the SQLite file (~/.local/state/supplynet)",
    )
    cache_dir: Path = Field(
        default_factory=lambda: _xdg("SUPPLYNET_CACHE_DIR", ".cache/supplynet"),
        description="Maven repository and resolved classpaths of the local stack (~/.cache/supplynet)",
    )
    sql_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the state dir")
    kafka: KafkaSettings = KafkaSettings()
    neo4j: Neo4jSettings = Neo4jSettings()
    pulsar: PulsarSettings = PulsarSettings()
    postgres: PostgresSettings = PostgresSettings()
    stream: StreamSettings = StreamSettings()
    api: ApiSettings = ApiSettings()
    risk: RiskSettings = RiskSettings()
    ingest: IngestSettings = IngestSettings()
    service: HealthSettings = HealthSettings()

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.neo4j.uri and self.neo4j.password is None:
            raise ValueError("SUPPLYNET_NEO4J__PASSWORD is required when SUPPLYNET_NEO4J__URI is set")
        if self.environment == "production":
            if self.api.graphiql:
                raise ValueError("GraphiQL must stay off in production")
            if not self.sql_url or self.sql_url.startswith("sqlite"):
                raise ValueError("production needs SUPPLYNET_SQL_URL pointing at PostgreSQL")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def risk_live(self) -> bool:
        """Whether ``supplynet worker --role risk`` scores live (``risk.live``; default: only in production).
        The pipeline worker never runs risk."""
        return self.risk.live if self.risk.live is not None else not self.is_development

    def database_url(self) -> str:
        return self.sql_url or f"sqlite:///{self.state_dir / 'supplynet.db'}"
