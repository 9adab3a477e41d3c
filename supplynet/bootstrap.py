"""The composition root: the only place that builds concrete adapters from ``Settings``."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import neo4j
from sqlalchemy import Engine, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from connectors import flow_store
from connectors.kafka import EventProducer, TopicSpec
from connectors.record_store import RecordStore
from connectors.sql import sql_engine as engine_on
from graph import retention as graph_retention
from graph.writer import GraphWriter
from streams import topics
from streams.dedup import SeenEvents
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline
from supplynet.settings import Settings
from supplynet.stack.spec import StackPaths

log = logging.getLogger(__name__)


def neo4j_auth(settings: Settings) -> tuple[str, tuple[str, str]]:
    """The Bolt URI and credentials: configured ones, or the local stack's generated password."""
    s = settings.neo4j
    if s.uri:
        assert s.password is not None  # enforced by Settings
        return s.uri, (s.user, s.password.get_secret_value())
    from supplynet.stack import neo4j as local

    paths = StackPaths(cache=settings.cache_dir, state=settings.state_dir)
    return f"bolt://127.0.0.1:{s.local_bolt_port}", ("neo4j", local.password(paths))


def async_driver(settings: Settings) -> neo4j.AsyncDriver:
    """The Neo4j driver. The server does not send UNRECOGNIZED notifications ("the property key does
    not exist"): the graph's optional properties (risk scores, KPIs) appear as events arrive, so reading
    one that no node has yet is normal, and the driver would log each as a warning. Every other
    classification (deprecations, performance hints) still reaches the log."""
    uri, auth = neo4j_auth(settings)
    return neo4j.AsyncGraphDatabase.driver(
        uri,
        auth=auth,
        max_connection_pool_size=50,
        notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
    )


def producer(settings: Settings, topic: str) -> EventProducer:
    return EventProducer(settings.kafka.librdkafka(), topic)


def topic_names(settings: Settings) -> topics.Topics:
    """The topic names of this deployment (the defaults, or behind ``stream.topic_prefix``)."""
    return topics.Topics.prefixed(settings.stream.topic_prefix)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The topics of this deployment, replicated as ``kafka.replication()`` with ``kafka.min_insync()``."""
    k = settings.kafka
    rf = k.replication()
    isr = {"min.insync.replicas": str(k.min_insync())}
    names = topic_names(settings)
    return [
        TopicSpec(names.raw, k.partitions, rf, isr),
        TopicSpec(names.valid, k.partitions, rf, isr),
        # The DLQ is an audit trail ERP integrators replay from: keep it for 30 days.
        TopicSpec(names.dlq, k.dlq_partitions, rf, {**isr, "retention.ms": str(30 * 24 * 3600 * 1000)}),
        TopicSpec(names.alerts, k.alerts_partitions, rf, isr),
        TopicSpec(names.service_alerts, k.alerts_partitions, rf, isr),
        # Keyed like events.valid (by subject): as many partitions, so the risk processes share it alike.
        TopicSpec(names.changes, k.partitions, rf, isr),
        # Keyed by subject like events.raw: as many partitions, so several service jobs share it alike.
        TopicSpec(names.telemetry, k.partitions, rf, isr),
    ]


def sql_engine(settings: Settings) -> Engine:
    url = settings.database_url()
    if url.startswith("sqlite:///"):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    return engine_on(url)


def create_sql_tables(engine: Engine) -> None:
    """Create the SQL store's missing tables. Safe when several processes start at once: each checks,
    then creates, so two workers starting together on a fresh store raced ("table order_record already
    exists" crashed one in a fault drill); whoever loses the race checks again and finds them."""
    # Imported for their effect: they register the tables on SQLModel.metadata.
    import schema.aggregates
    import schema.records
    import schema.tables  # noqa: F401

    for attempt in range(5):
        try:
            held = sa_inspect(engine)
            had_aggregates = held.has_table(flow_store.LINK_OPEN.name)
            had_alarm_days = held.has_table(flow_store.ALARM_DAY.name)
            SQLModel.metadata.create_all(engine)
            _add_missing_columns(engine)
            _add_missing_indexes(engine)
            if not had_aggregates:
                flow_store.rebuild(engine)
            elif not had_alarm_days:  # alarms stored by a release that kept them in the graph
                with engine.begin() as conn:
                    flow_store.rebuild_alarms(conn)
            return
        except DBAPIError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _add_missing_indexes(engine: Engine) -> None:
    """Create the indexes a newer release declared on tables created by an older one (``create_all``
    makes a missing table's indexes only). On a large store the first start after an upgrade builds
    them: minutes at tens of millions of rows, writes to that table wait on PostgreSQL meanwhile."""
    inspector = sa_inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        held = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in held:
                index.create(engine, checkfirst=True)
        for name in SUPERSEDED_INDEXES.get(table.name, ()):
            if name in held:
                with engine.begin() as conn:
                    conn.execute(text(f"DROP INDEX IF EXISTS {name}"))  # a constant name, not input


SUPERSEDED_INDEXES: dict[str, tuple[str, ...]] = {
    "order_record": ("ix_order_supplier", "ix_order_supplier_ordered_on"),
    "shipment_record": ("ix_shipment_supplier", "ix_shipment_supplier_delayed"),
    "quality_incident_record": ("ix_quality_supplier",),
}
"""Indexes of an older release that a newer one replaced (each successor, ``..._buyer``, starts with
the columns of the index it replaces and adds the buyer): dropped, so the planner does not pick them
over their successor."""


def _add_missing_columns(engine: Engine) -> None:
    """Add the nullable columns a newer release declared to tables created by an older one."""
    inspector = sa_inspect(engine)
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            held = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in held and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))


def max_future(settings: Settings) -> timedelta:
    """How far an event's time may be ahead of the validating clock."""
    return timedelta(seconds=settings.stream.max_future_seconds)


def pipeline(settings: Settings, metrics: WorkerMetrics | None = None) -> Pipeline:
    """The worker's adapters: Kafka producers, the graph writer, and one SQL engine for the dedup
    ledger and the record store (tables created if missing)."""
    engine = sql_engine(settings)
    create_sql_tables(engine)
    return Pipeline(
        valid_out=producer(settings, topic_names(settings).valid),
        dlq_out=producer(settings, topic_names(settings).dlq),
        changes_out=producer(settings, topic_names(settings).changes),
        telemetry_out=producer(settings, topic_names(settings).telemetry),
        writer=GraphWriter(async_driver(settings), database=settings.neo4j.database),
        seen=SeenEvents(engine, retention_days=settings.stream.dedup_retention_days),
        max_future=max_future(settings),
        metrics=metrics,
        records=RecordStore(engine),
    )


def pulsar_client(settings: Settings) -> Any:
    """A pulsar-client ``Client`` for the configured (or local) Pulsar, with its token if set."""
    import pulsar

    token = settings.pulsar.token
    return pulsar.Client(
        settings.pulsar.service_url(),
        authentication=pulsar.AuthenticationToken(token.get_secret_value()) if token else None,
        operation_timeout_seconds=30,
    )


def faust_credentials(settings: Settings) -> Any:
    """aiokafka credentials for faust matching the librdkafka settings (None for PLAINTEXT)."""
    k = settings.kafka
    if k.security_protocol == "PLAINTEXT":
        return None
    import ssl

    import faust

    ctx = ssl.create_default_context(cafile=str(k.ssl_cafile) if k.ssl_cafile else None)
    if k.sasl_mechanism is None:
        return faust.SSLCredentials(ctx)
    password = k.sasl_password.get_secret_value() if k.sasl_password else ""
    if k.sasl_mechanism == "PLAIN":
        return faust.SASLCredentials(
            username=k.sasl_username,
            password=password,
            ssl_context=ctx if "SSL" in k.security_protocol else None,
        )
    return faust.SASLCredentials(
        username=k.sasl_username,
        password=password,
        mechanism=k.sasl_mechanism,
        ssl_context=ctx if "SSL" in k.security_protocol else None,
    )


def worker_app(settings: Settings) -> Any:
    from streams.app import create_app

    metrics = WorkerMetrics()
    return create_app(
        app_id=settings.stream.app_id,
        brokers=settings.kafka.servers(),
        broker_credentials=faust_credentials(settings),
        batch_size=settings.stream.batch_size,
        batch_seconds=settings.stream.batch_seconds,
        consumer_conf=settings.kafka.librdkafka(),
        instance_id=settings.stream.member_id(),
        session_timeout_s=settings.stream.session_timeout_s,
        web_port=settings.stream.web_port,
        pipeline_factory=lambda: pipeline(settings, metrics),
        topic_names=topic_names(settings),
        admin_sources=settings.stream.admin_sources,
        metrics=metrics,
        stall_seconds=settings.stream.stall_seconds,
        retention=lambda: retain_records(settings),
        graph_retention=lambda turn: retain_disruptions(settings, turn=turn),
        retention_seconds=settings.stream.retention_seconds,
        datadir=settings.state_dir / "worker" / settings.stream.app_id,
    )


def retain_records(settings: Settings) -> None:
    """One retention run of the record store (``connectors.retention``), with the configured horizons."""
    from connectors.retention import retain

    engine = sql_engine(settings)
    try:
        done = retain(
            engine,
            record_days=settings.stream.record_retention_days,
            bucket_days=settings.stream.bucket_retention_days,
            archive_dir=settings.state_dir / "archive",
        )
    finally:
        engine.dispose()
    if done.archived or done.buckets_dropped:
        log.info("retention: archived %s, dropped %d day buckets", done.archived, done.buckets_dropped)


async def retain_disruptions(
    settings: Settings, *, turn: asyncio.Lock | None = None
) -> graph_retention.RetainedDisruptions:
    """One retention run of the graph's resolved disruptions (``graph.retention``) at the stream clock
    of the record store; nothing before the first record. The clock is read off the event loop;
    ``turn`` is the worker's graph-writer lock its deletes take."""
    engine = sql_engine(settings)
    try:
        now = await asyncio.to_thread(RecordStore(engine).clock)
    finally:
        engine.dispose()
    if now is None:
        return graph_retention.RetainedDisruptions()
    driver = async_driver(settings)
    try:
        done = await graph_retention.retain_disruptions(
            driver,
            now_ms=now,
            days=settings.stream.disruption_retention_days,
            archive_dir=settings.state_dir / "archive",
            database=settings.neo4j.database,
            turn=turn,
        )
    finally:
        await driver.close()
    if done.archived:
        log.info("retention: %d resolved disruptions archived to %s and deleted", done.archived, done.file)
    return done


# -- the GraphQL API ---------------------------------------------------------------------------------


def jwt_config(settings: Settings) -> Any:
    """The API's JWT checks, or ``None`` when no issuer is configured (JWT login off)."""
    from api.auth import JwtConfig

    a = settings.api
    if not a.jwt_issuer:
        return None
    if a.jwt_hs256_secret is None and a.jwt_public_key is None:
        raise ValueError("SUPPLYNET_API__JWT_ISSUER needs JWT_HS256_SECRET or JWT_PUBLIC_KEY")
    return JwtConfig(
        issuer=a.jwt_issuer,
        audience=a.jwt_audience,
        hs256_secret=a.jwt_hs256_secret.get_secret_value() if a.jwt_hs256_secret else None,
        public_key=JwtConfig.load_key(a.jwt_public_key),
    )


def tail_consumer_factory(settings: Settings) -> Any:
    """topic -> an unstarted aiokafka consumer of it without a group (a subscriber's own reader)."""
    k = settings.kafka

    def make(topic: str) -> Any:
        import ssl

        from aiokafka import AIOKafkaConsumer

        extra: dict[str, Any] = {}
        if k.security_protocol != "PLAINTEXT":
            extra["security_protocol"] = k.security_protocol
            if "SSL" in k.security_protocol:
                extra["ssl_context"] = ssl.create_default_context(
                    cafile=str(k.ssl_cafile) if k.ssl_cafile else None
                )
            if k.sasl_mechanism:
                extra["sasl_mechanism"] = k.sasl_mechanism
                extra["sasl_plain_username"] = k.sasl_username
                extra["sasl_plain_password"] = k.sasl_password.get_secret_value() if k.sasl_password else ""
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=k.servers(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **extra,
        )

    return make


def api_app(settings: Settings) -> Any:
    """The ASGI app with every adapter wired from ``settings`` (nothing connects until its lifespan)."""
    from api.app import create_app
    from api.context import Limits
    from api.ingest import EventGateway
    from api.metrics import ApiMetrics, count_ingest
    from graph.risk.store import RiskStore

    a = settings.api
    graphiql = a.graphiql if a.graphiql is not None else settings.is_development
    gateway: EventGateway | None = None
    metrics = ApiMetrics()

    async def ingest(events: Any, principal: Any) -> Any:
        nonlocal gateway
        if gateway is None:  # the producer is made on first use, never at import or startup
            gateway = EventGateway(producer(settings, topic_names(settings).raw))
        result = await gateway(events, principal)
        count_ingest(metrics, "graphql", len(result.accepted), len(result.refused))
        return result

    return create_app(
        driver_factory=lambda: async_driver(settings),
        engine=sql_engine(settings),
        database=settings.neo4j.database,
        graphiql=graphiql,
        production=not settings.is_development,
        max_body_bytes=a.max_body_bytes,
        jwt_config=jwt_config(settings),
        max_cost=a.max_cost,
        max_depth=a.max_depth,
        limits=Limits(max_tiers=min(a.max_tiers, 10), partner_tiers=a.partner_tiers),
        ingest=ingest,
        consumer_factory=tail_consumer_factory(settings),
        topics=topic_names(settings),
        risk_store_factory=lambda driver: RiskStore(driver, settings.risk, database=settings.neo4j.database),
        ingest_producer_factory=lambda: ingest_producers(settings),
        ingest_limits=ingest_limits(settings),
        request_timeout_s=a.request_timeout_s,
        mutation_rate=a.mutation_rate,
        metrics=metrics,
    )


def ingest_producer(settings: Settings) -> EventProducer:
    """The HTTP ingest's producer to the raw topic (waits ``ingest.kafka_timeout_s`` for acks)."""
    return EventProducer(
        settings.kafka.librdkafka(), topic_names(settings).raw, timeout_s=settings.ingest.kafka_timeout_s
    )


def ingest_producers(settings: Settings) -> Any:
    """``ingest.producers`` producers behind one ``send_many`` (``connectors.http_ingest.ProducerPool``)."""
    from connectors.http_ingest import ProducerPool

    return ProducerPool([ingest_producer(settings) for _ in range(settings.ingest.producers)])


def ingest_limits(settings: Settings) -> Any:
    from connectors.http_router import IngestLimits

    i = settings.ingest
    return IngestLimits(
        max_body_bytes=i.max_body_bytes,
        rate_per_second=i.rate_per_second,
        burst=i.burst,
        max_future=max_future(settings),
    )


# -- live risk ---------------------------------------------------------------------------------------


def risk_service(settings: Settings) -> Any:
    """The risk process's service: Neo4j store, risk.alerts producer, SQL store for incidents and claims."""
    from graph.risk.store import RiskStore
    from streams.risk import RiskService

    engine = sql_engine(settings)
    create_sql_tables(engine)
    return RiskService(
        store=RiskStore(async_driver(settings), settings.risk, database=settings.neo4j.database),
        settings=settings.risk,
        alerts_out=producer(settings, topic_names(settings).alerts),
        sql=engine,
        scope=settings.risk.scope,
    )


def risk_process(settings: Settings) -> Any:
    """The risk process (``supplynet worker --role risk``): its own consumer group on the risk input."""
    from streams.risk_process import RiskProcess

    service = risk_service(settings)
    return RiskProcess(
        service=service,
        conf=settings.kafka.librdkafka(),
        app_id=settings.stream.app_id,
        topic=topic_names(settings).risk_input,
        sql=service.sql,
        full_seconds=settings.risk.full_recompute_seconds,
        reload_every=settings.risk.full_reload_every,
        batch_size=settings.stream.batch_size,
        batch_seconds=max(settings.stream.batch_seconds, settings.risk.incremental_seconds),
        slice_size=settings.risk.incremental_slice,
    )


# -- the service job ---------------------------------------------------------------------------------


def service_job(settings: Settings) -> Any:
    """The predictive-maintenance job (``supplynet worker --role service``): its own consumer group on
    ``events.telemetry``, health rows to Neo4j, alerts to ``service.alerts``."""
    from graph.writer import GraphWriter
    from streams.service import ServiceJob

    names = topic_names(settings)
    return ServiceJob(
        writer=GraphWriter(async_driver(settings), database=settings.neo4j.database),
        alerts_out=producer(settings, names.service_alerts),
        conf=settings.kafka.librdkafka(),
        app_id=settings.stream.app_id,
        topic=names.telemetry,
        settings=settings.service,
        batch_size=settings.service.batch_size,
        batch_seconds=settings.stream.batch_seconds,
        flush_seconds=settings.service.flush_seconds,
    )
