"""The ``supplynet`` command: stack, init, worker, serve, demo, keys."""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.memory import limit_malloc_arenas
from supplynet.settings import Settings
from supplynet.stack.manager import StackError, StackManager

app = typer.Typer(help="supplynet: ERP events -> Kafka -> faust -> Neo4j -> GraphQL", no_args_is_help=True)
stack_app = typer.Typer(help="The local stack: Kafka, Neo4j, Pulsar from Maven Central jars.")
keys_app = typer.Typer(help="API keys of the GraphQL and ingest API.")
app.add_typer(stack_app, name="stack")
app.add_typer(keys_app, name="keys")

console = Console()
err = Console(stderr=True)

Servers = Annotated[
    list[str] | None,
    typer.Argument(
        help="kafka, neo4j, pulsar, postgres (default: up starts the first three), or a Kafka node (kafka-2)"
    ),
]
KafkaBrokers = Annotated[
    int | None,
    typer.Option(
        "--kafka-brokers",
        min=1,
        max=9,
        help="Local Kafka nodes (default: kafka.local_brokers); give the same count to every stack command",
    ),
]


def _settings(kafka_brokers: int | None = None) -> Settings:
    try:
        settings = Settings()
        if kafka_brokers is not None:
            kafka = settings.kafka.model_copy(update={"local_brokers": kafka_brokers})
            settings = settings.model_copy(update={"kafka": kafka})
        return settings
    except Exception as e:  # pydantic's message names the setting
        err.print(f"[red]error:[/red] invalid settings: {e}")
        raise typer.Exit(2) from None


def _fail(msg: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {msg}")
    return typer.Exit(1)


# -- stack ---------------------------------------------------------------------------------------


@stack_app.command("up")
def stack_up(servers: Servers = None, kafka_brokers: KafkaBrokers = None) -> None:
    """Start the local servers (idempotent) and wait until each answers."""
    started = time.monotonic()
    settings = _settings(kafka_brokers)
    try:
        StackManager(settings, echo=console.print).up(servers)
    except StackError as e:
        raise _fail(str(e)) from None
    console.print(f"stack up in {time.monotonic() - started:.1f}s")
    if kafka_brokers is not None and kafka_brokers != Settings().kafka.local_brokers:
        console.print(
            f"the other commands (init, worker, serve, ...) reach these brokers with "
            f"SUPPLYNET_KAFKA__LOCAL_BROKERS={kafka_brokers} (bootstrap {settings.kafka.servers()})"
        )


@stack_app.command("down")
def stack_down(servers: Servers = None, kafka_brokers: KafkaBrokers = None) -> None:
    """Stop the local servers this stack started (every Kafka node it runs, whatever the layout)."""
    try:
        StackManager(_settings(kafka_brokers), echo=console.print).down(servers)
    except StackError as e:
        raise _fail(str(e)) from None


@stack_app.command("kill")
def stack_kill(
    server: Annotated[str, typer.Argument(help="neo4j, pulsar, kafka (one node) or a node: kafka-2")],
    kafka_brokers: KafkaBrokers = None,
    term: Annotated[bool, typer.Option("--term", help="SIGTERM (orderly) instead of SIGKILL")] = False,
) -> None:
    """Kill one server or Kafka node (SIGKILL: a crash) for a fault drill; `stack up NAME` restarts it."""
    try:
        StackManager(_settings(kafka_brokers), echo=console.print).kill(
            server, sig=signal.SIGTERM if term else signal.SIGKILL
        )
    except StackError as e:
        raise _fail(str(e)) from None


@stack_app.command("status")
def stack_status(servers: Servers = None, kafka_brokers: KafkaBrokers = None) -> None:
    """Each server (each Kafka node), where it is, its pid and memory, and whether it answers.
    Exit 1 if any does not."""
    try:
        rows = StackManager(_settings(kafka_brokers), echo=console.print).status(servers)
    except StackError as e:
        raise _fail(str(e)) from None
    table = Table("server", "mode", "address", "pid", "RSS", "answers")
    for r in rows:
        foreign = r.managed and r.answers and not r.pid
        table.add_row(
            r.name,
            ("local" if r.managed else "external") + (" (not started by this stack)" if foreign else ""),
            r.address,
            str(r.pid) if r.pid else "-",
            f"{r.rss_mb:.0f} MiB" if r.rss_mb else "-",
            "[green]yes[/green]" if r.answers else "[red]no[/red]",
        )
    console.print(table)
    for r in rows:
        if not r.answers and r.log:
            console.print(f"{r.name} does not answer; its log: {r.log}")
    if not all(r.answers for r in rows):
        raise typer.Exit(1)


@stack_app.command("url")
def stack_url(server: Annotated[str, typer.Argument(help="postgres")] = "postgres") -> None:
    """Print the local PostgreSQL's SQLAlchemy URL, for ``SUPPLYNET_SQL_URL`` (it holds the password)."""
    if server != "postgres":
        raise _fail(f"`stack url` knows postgres only, not {server!r}")
    console.print(StackManager(_settings()).sql_url(), soft_wrap=True, highlight=False)


@stack_app.command("logs")
def stack_logs(
    server: Annotated[str, typer.Argument(help="kafka, neo4j, pulsar or a Kafka node (kafka-2)")],
    lines: Annotated[int, typer.Option("-n", help="How many last lines")] = 50,
    follow: Annotated[bool, typer.Option("-f", help="Keep printing new lines")] = False,
    kafka_brokers: KafkaBrokers = None,
) -> None:
    """Print the last lines of a server's log."""
    try:
        path = StackManager(_settings(kafka_brokers)).log_path(server)
    except StackError as e:
        raise _fail(str(e)) from None
    if not path.exists():
        raise _fail(f"no log yet at {path} (has `supplynet stack up {server}` run?)")
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(path)]
    raise typer.Exit(subprocess.call(cmd))


# -- init ----------------------------------------------------------------------------------------


def init_topics(settings: Settings) -> list[tuple[str, str]]:
    """Create the Kafka topics (idempotent). Returns (what, result) rows."""
    from connectors.kafka import ensure_topics
    from supplynet import bootstrap

    specs = bootstrap.topic_specs(settings)
    # librdkafka's informational lines (e.g. BGQUEUE when the admin client closes) are not news here.
    created = ensure_topics({**settings.kafka.librdkafka(), "log_level": 4}, specs)
    return [
        (
            f"kafka topic {t.name}",
            f"{'created' if t.name in created else 'exists'} "
            f"({t.partitions} partitions, replication {t.replication_factor})",
        )
        for t in specs
    ]


def init_graph(settings: Settings) -> list[tuple[str, str]]:
    """Create the Neo4j constraints and indexes (idempotent). Returns (what, result) rows."""
    from connectors.record_store import RecordStore
    from graph.migrations import migrate
    from supplynet import bootstrap

    async def _graph() -> int:
        driver = bootstrap.async_driver(settings)
        engine = bootstrap.sql_engine(settings)
        try:
            bootstrap.create_sql_tables(engine)
            records = RecordStore(engine)
            return await migrate(driver, database=settings.neo4j.database, records=records)
        finally:
            await driver.close()
            engine.dispose()

    return [("neo4j constraints and indexes", f"{asyncio.run(_graph())} ensured")]


def run_init(settings: Settings) -> list[tuple[str, str]]:
    """Create topics, graph constraints and SQL tables. Idempotent. Returns (what, result) rows."""
    from supplynet import bootstrap

    rows = init_topics(settings) + init_graph(settings)
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    rows.append(("sql tables", f"ensured at {engine.url.render_as_string(hide_password=True)}"))
    return rows


@app.command("init")
def init() -> None:
    """Create the Kafka topics, the Neo4j constraints/indexes and the SQL tables (idempotent)."""
    table = Table("what", "result")
    for what, result in run_init(_settings()):
        table.add_row(what, result)
    console.print(table)


# -- worker / serve ------------------------------------------------------------------------------


class WorkerRole(enum.StrEnum):
    pipeline = "pipeline"
    risk = "risk"
    service = "service"


@app.command("worker")
def worker(
    loglevel: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
    role: Annotated[
        WorkerRole,
        typer.Option(
            help="pipeline: validate events.raw, project events.valid into Neo4j, refresh KPIs; "
            "risk: live risk scores and alerts, in a consumer group of its own (needs risk.live); "
            "service: equipment health and service alerts from telemetry and alarms"
        ),
    ] = WorkerRole.pipeline,
) -> None:
    """Run the stream processor (``--role pipeline``, the default) or the live risk process
    (``--role risk``; run as many as you like, they share the work)."""
    settings = _settings()
    limit_malloc_arenas(settings.stream.malloc_arenas)  # before any thread starts
    if role is WorkerRole.risk:
        _risk_worker(settings, loglevel)
        return
    if role is WorkerRole.service:
        _service_worker(settings, loglevel)
        return
    from faust.worker import Worker

    from supplynet.bootstrap import worker_app

    faust_app = worker_app(settings)
    Worker(faust_app, loglevel=loglevel).execute_from_commandline()


def _risk_worker(settings: Settings, loglevel: str) -> None:
    from supplynet.bootstrap import risk_process

    if not settings.risk_live:
        err.print(
            "risk.live is off (the development default): "
            "set SUPPLYNET_RISK__LIVE=true to run the risk process"
        )
        raise typer.Exit(2)
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s", force=True
    )
    # The driver's notifications name properties no row has yet (e.g. ``annualVolume``): not news.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    os.nice(settings.risk.nice)

    async def main() -> None:
        from streams.risk_process import serve_health

        process = risk_process(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, process.stop)
        health = await serve_health(process, host="127.0.0.1", port=settings.risk.web_port)
        try:
            await process.run()
        finally:
            await health.cleanup()
            process.service.close()
            await process.service.store.driver.close()

    asyncio.run(main())


def _service_worker(settings: Settings, loglevel: str) -> None:
    from supplynet.bootstrap import service_job

    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

    async def main() -> None:
        job = service_job(settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, job.stop)
        try:
            await job.run()
        finally:
            await job.writer.driver.close()

    asyncio.run(main())


def build_api(settings: Settings):  # type: ignore[no-untyped-def]
    from supplynet import bootstrap

    return bootstrap.api_app(settings)


@app.command("serve")
def serve() -> None:
    """Serve the GraphQL API (GraphiQL at /graphql in development)."""
    import uvicorn

    settings = _settings()
    console.print(f"GraphQL at http://{settings.api.host}:{settings.api.port}/graphql")
    uvicorn.run(
        "supplynet.asgi:app",
        host=settings.api.host,
        port=settings.api.port,
        workers=settings.api.workers,
        log_level="info",
        access_log=settings.api.access_log,
        loop="uvloop",
    )


# -- schema --------------------------------------------------------------------------------------

schema_app = typer.Typer(help="The event contracts.")
app.add_typer(schema_app, name="schema")


@schema_app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where the JSON Schemas and AsyncAPI document go")] = Path(
        "docs/contracts"
    ),
    docs: Annotated[Path, typer.Option(help="Where the Markdown event catalog goes")] = Path(
        "docs/events.md"
    ),
) -> None:
    """Write a JSON Schema per event type, an AsyncAPI 3.0 document and docs/events.md, from the models."""
    from schema import export

    written = 0
    for rel, text in export.files().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(export.events_markdown() + "\n", encoding="utf-8")
    console.print(f"wrote {written} contract files under {out} and the catalog {docs}")


# -- config --------------------------------------------------------------------------------------

config_app = typer.Typer(help="Settings: what is in effect, and their documentation.")
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings as JSON (secrets masked)."""
    console.print_json(_settings().model_dump_json())


@config_app.command("docs")
def config_docs(
    out: Annotated[Path, typer.Option(help="Where to write")] = Path("docs/configuration.md"),
) -> None:
    """Write docs/configuration.md from the settings model."""
    from supplynet.configdoc import configuration_markdown

    out.write_text(configuration_markdown(), encoding="utf-8")
    console.print(f"wrote {out}")


# -- records -------------------------------------------------------------------------------------

records_app = typer.Typer(help="The record store: retention.")
app.add_typer(records_app, name="records")


@records_app.command("retain")
def records_retain() -> None:
    """Archive and delete finished records past stream.record_retention_days, drop old KPI day buckets,
    and archive and delete resolved disruptions past stream.disruption_retention_days from the graph."""
    from connectors.retention import retain
    from supplynet import bootstrap

    settings = _settings()
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    done = retain(
        engine,
        record_days=settings.stream.record_retention_days,
        bucket_days=settings.stream.bucket_retention_days,
        archive_dir=settings.state_dir / "archive",
    )
    for table, n in sorted(done.archived.items()):
        console.print(f"{table}: {n:,} rows archived and deleted")
    console.print(f"day buckets dropped: {done.buckets_dropped:,}")
    for path in done.files:
        console.print(f"archive: {path}")
    graph = asyncio.run(bootstrap.retain_disruptions(settings))
    console.print(f"resolved disruptions archived and deleted from the graph: {graph.archived:,}")
    if graph.file is not None:
        console.print(f"archive: {graph.file}")


# -- keys ----------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who holds the key")],
    role: Annotated[str, typer.Option(help="admin, analyst, erp or partner")],
    source: Annotated[str | None, typer.Option(help="erp keys: the event source they may send as")] = None,
    enterprise: Annotated[str | None, typer.Option(help="partner keys: their enterprise id")] = None,
) -> None:
    """Create an API key and print its secret once."""
    from api.keys import create_key
    from schema.tables import Role
    from supplynet import bootstrap

    settings = _settings()
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    try:
        row, token = create_key(
            engine,
            name=name,
            role=Role(role),
            source=source,
            enterprise_id=enterprise,
            admin_sources=settings.stream.admin_sources,
        )
    except ValueError as e:
        raise _fail(str(e)) from None
    err.print(f"created key {row.prefix} ({row.role}) for {row.name}; the secret is shown only now:")
    print(token)


@keys_app.command("list")
def keys_list() -> None:
    from api.keys import list_keys
    from supplynet import bootstrap

    engine = bootstrap.sql_engine(_settings())
    bootstrap.create_sql_tables(engine)
    table = Table("prefix", "name", "role", "source", "enterprise", "created", "revoked")
    for k in list_keys(engine):
        table.add_row(
            k.prefix,
            k.name,
            k.role,
            k.source or "-",
            k.enterprise_id or "-",
            f"{k.created_at:%F %T}",
            f"{k.revoked_at:%F %T}" if k.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(prefix: str) -> None:
    from api.keys import revoke_key
    from supplynet import bootstrap

    if not revoke_key(bootstrap.sql_engine(_settings()), prefix=prefix):
        raise _fail(f"no live key with prefix {prefix!r}")
    console.print(f"revoked {prefix}: the API refuses it from the next request on (keys are checked on each)")


# -- demo ----------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    serve_api: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Keep serving GraphQL and the console after the summary"),
    ] = True,
    size: Annotated[str, typer.Option(help="World size: demo (344 enterprises) or 10k")] = "demo",
    seed: Annotated[int, typer.Option(help="Seed of the generated world")] = 1,
) -> None:
    """Stack up, init, stream the generated Hubei world through HTTP ingest, the Kafka producer and file
    imports with live risk; print the riskiest partners with their reasons, a what-if of the planted
    Yangtze flood, GraphQL queries with an API key and where the time went; then serve until Ctrl-C."""
    from concurrent.futures import ThreadPoolExecutor

    from supplynet.demo import (
        Children,
        DemoError,
        DemoOptions,
        Phases,
        Readiness,
        example_queries,
        run,
        summary,
    )

    phases = Phases()
    settings = _settings()

    def up(server: str, init_server: Callable[[Settings], object]) -> None:
        with phases.span(f"stack up: {server}"):
            StackManager(settings, echo=console.print).up([server])
        with phases.span(f"init: {server}"):
            init_server(settings)

    console.rule("1/2 Kafka and Neo4j start while the world is generated; the history streams in")
    children = Children(settings.state_dir / "logs")
    pool = ThreadPoolExecutor(2)
    kafka = pool.submit(up, "kafka", init_topics)
    neo4j = pool.submit(up, "neo4j", init_graph)
    try:
        console.print(f"the demo's processes log to {children.logs}/{{worker,risk,serve}}.log")
        result = run(
            settings,
            DemoOptions(size=size, seed=seed),
            console,
            children=children,
            phases=phases,
            ready=Readiness(kafka=kafka.result, neo4j=neo4j.result),
        )
        console.rule("2/2 summary")
        wide = console if console.is_terminal else Console(width=max(console.width, 150))
        wide.print(summary(result))
        console.print(example_queries(result), soft_wrap=True, highlight=False)
        wide.print(phases.table())
        if serve_api:
            console.print("Serving GraphQL and the console; worker and live risk keep running. Ctrl-C stops.")
            children.procs["serve"].wait()
    except (DemoError, StackError) as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        pass
    finally:
        children.stop()
        pool.shutdown(wait=True)


PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("bench", context_settings=PASS_THROUGH)
def bench(ctx: typer.Context) -> None:
    """One benchmark report on a generated world: `python -m bench` from the repository (its options:
    --size demo|10k|100k, --events N, --out DIR; --help lists them). Needs the stack up and init run."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "report.py").is_file():
        raise _fail(f"the benchmarks live in the repository's bench/ folder, not found under {root}")
    raise typer.Exit(subprocess.call([sys.executable, "-m", "bench", *ctx.args], cwd=root))


from supplynet.commands import bridge, dlq, generate, ingest  # noqa: E402

for _command in (ingest, bridge, dlq, generate):
    _command.register(app)


from supplynet.commands import api as api_command  # noqa: E402

api_command.register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app()
