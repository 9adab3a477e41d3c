"""The main job (``supplynet demo``): the generated Hubei world streamed through the real ways in, scored
by live risk, and what a supply-chain manager asks first: which partners are risky, why, and what the
Yangtze flood does downstream.

``run`` is the core the command and the CI test share. It starts the pipeline worker, the live risk
process and the API as subprocesses, streams the world's history split by ERP system (``WAY_OF_ERP``:
HTTP ingest, the Kafka producer, file imports through the ``ingest`` command's importer), waits until
the worker has caught up and a full risk recompute has run over the whole history, and reads the
summary back through GraphQL. The stack must be up and initialised.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import msgspec
import neo4j
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from graph.risk.settings import RiskSettings
from supplynet.settings import Settings


class Way(StrEnum):
    """How an ERP system hands its events in."""

    HTTP = "http ingest"
    KAFKA = "kafka producer"
    FILE = "file import"


WAY_OF_ERP: Mapping[str, Way] = {
    "sap-s4hana": Way.HTTP,
    "oracle-ebs": Way.HTTP,
    "kingdee-cloud": Way.KAFKA,
    "yonyou-u9": Way.KAFKA,
    "inhouse-mes": Way.FILE,
    "world-feed": Way.FILE,
}
"""The ERP family (the part of ``source`` before ``/``) → its way in; any other family uses Kafka."""


def way_of(source: str) -> Way:
    """The way in of an event sent by ``source`` (e.g. ``sap-s4hana/chuheng-steelworks-000041``)."""
    return WAY_OF_ERP.get(source.split("/", 1)[0], Way.KAFKA)


class DemoError(Exception):
    """The demo could not finish: a process died, an event was refused, or a step timed out."""


@dataclass
class Phases:
    """When each phase of the demo began and ended, in seconds since the command started; phases
    overlap (the stack starts while the world is generated, the history streams while Neo4j starts)."""

    started: float = field(default_factory=time.monotonic)
    spans: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def begin(self, name: str) -> None:
        self.spans[name] = (time.monotonic() - self.started, None)

    def end(self, name: str) -> None:
        self.spans[name] = (self.spans[name][0], time.monotonic() - self.started)

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Times the block as phase ``name`` (ended even if the block raises)."""
        self.begin(name)
        try:
            yield
        finally:
            self.end(name)

    def seconds(self, name: str) -> float:
        start, end = self.spans[name]
        return (end if end is not None else time.monotonic() - self.started) - start

    def table(self) -> Table:
        """Phase → seconds, with when each began and ended after the command started."""
        t = Table(title="Where the time went (s after the command; phases overlap)")
        for col in ("phase", "from", "to", "seconds"):
            t.add_column(col, justify="left" if col == "phase" else "right")
        for name, (start, end) in sorted(self.spans.items(), key=lambda kv: kv[1][0]):
            stop = end if end is not None else time.monotonic() - self.started
            t.add_row(name, f"{start:.1f}", f"{stop:.1f}", f"{stop - start:.1f}")
        t.add_row("command → summary", "0.0", f"{time.monotonic() - self.started:.1f}", "", style="bold")
        return t


@dataclass(frozen=True)
class Readiness:
    """Waits for the servers the demo needs, each up and initialised (the caller may still be starting
    them in threads); each raises if its server could not be started. The defaults: already up."""

    kafka: Callable[[], object] = lambda: None
    neo4j: Callable[[], object] = lambda: None


@dataclass(frozen=True)
class DemoOptions:
    """What ``run`` generates and how long it waits."""

    size: str = "demo"
    seed: int = 1
    end: date | None = None
    """The history is the year before this day (default: today)."""
    prefix: str = ""
    """Prefix of every business id: a run apart from other data; live risk is scoped to it."""
    chunk: int = 2_000
    """Events per round: each round's events go out through the three ways at once, acknowledged
    before the next round, so one subject's events never overtake each other by more than a round."""
    flood_days: float = 30.0
    top: int = 10
    full_recompute_seconds: float = 15.0
    """The risk process's full-recompute period in the demo (each re-reads the projection)."""
    timeout_s: float = 900.0
    """Longest wait for the worker to catch up and for risk to score it."""


QUERY_RISKY = """query RiskyNodes($first: Int!) {
  riskyNodes(first: $first) { enterpriseId name score factors }
}"""

QUERY_WHAT_IF = """query FloodWhatIf($region: String, $enterprises: [ID!], $days: Float!) {
  whatIf(region: $region, enterprises: $enterprises, days: $days, tiers: 4) {
    affectedCount products
    disrupted { id name }
    byTier { tier affected stopSupplying maxShortfallDays }
    exposures(first: 8) {
      enterprise { id name } tier timeToSurvive timeToRecover shortfallDays stopsSupplying
    }
  }
}"""


_RISK = RiskSettings()
FACTOR_WEIGHTS: Mapping[str, float] = {
    "performance": _RISK.weight_performance,
    "events": _RISK.weight_events,
    "structure": _RISK.weight_structure,
    "concentration": _RISK.weight_concentration,
    "inherited": _RISK.weight_inherited,
}
"""The risk model's factor weights (its defaults, which the demo's processes use)."""


@dataclass(frozen=True)
class RiskyRow:
    rank: int
    enterprise_id: str
    name: str | None
    score: float
    factors: dict[str, float]
    reasons: dict[str, list[str]]

    def weight(self, factor: str) -> float:
        """What ``factor`` adds to the score on its own: its value times the risk model's weight."""
        return self.factors.get(factor, 0.0) * FACTOR_WEIGHTS.get(factor, 0.0)

    def leading_factor(self) -> str | None:
        """The enterprise's own factor that weighs most in its score (``inherited`` is not its own)."""
        own = [f for f in self.factors if f in FACTOR_WEIGHTS and f != "inherited" and self.factors[f] > 0]
        return max(own, key=self.weight, default=None)

    def main_factors(self, most: int = 2) -> list[str]:
        """The factors that carry the score, weightiest first (those adding at least 0.15; at least the
        weightiest)."""
        ordered = sorted((f for f in self.factors if f in FACTOR_WEIGHTS), key=lambda f: -self.weight(f))
        return [f for f in ordered if self.weight(f) >= 0.15][:most] or ordered[:1]

    def in_words(self, most: int = 3) -> str:
        """The reasons of the main factors, in the words of the risk model."""
        words = [r for f in self.main_factors() for r in self.reasons.get(f, [])]
        return "; ".join(words[:most]) or "no risk signals"


@dataclass
class DemoResult:
    """What the summary shows; ``top`` ranks only the run's own enterprises (``prefix``)."""

    manifest: dict[str, Any]
    sent: Counter[Way]
    rejected: list[str]
    seconds_streaming: float
    seconds_catching_up: float
    seconds_scoring: float
    seconds_to_summary: float
    graph: dict[str, int]
    ranked: list[RiskyRow]
    """Every scored enterprise of the run, riskiest first."""
    top_n: int
    what_if: dict[str, Any]
    flood_days: float
    api_url: str
    token: str
    phases: Phases
    restarted: list[str] = field(default_factory=list)
    """The demo's processes a signal killed and that were started again."""

    @property
    def top(self) -> list[RiskyRow]:
        return self.ranked[: self.top_n]

    def row(self, enterprise_id: str) -> RiskyRow | None:
        return next((r for r in self.ranked if r.enterprise_id == enterprise_id), None)


# -- processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Children:
    """The worker, the risk process and the API, each in a process group of its own."""

    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    launched: dict[str, tuple[list[str], Mapping[str, str]]] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)
    """Processes killed by a signal and started again (each at most once)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        self.launched[name] = (args, env)
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "supplynet", *args],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def check(self, *, restart: Iterable[str] = ()) -> None:
        """Raises ``DemoError`` naming the process and its log if one has exited; a process named in
        ``restart`` that a signal killed is started again instead, once (its offsets are committed
        only after its writes, so a restart loses nothing)."""
        with self.lock:
            for name, proc in list(self.procs.items()):
                if proc.poll() is None:
                    continue
                if proc.returncode < 0 and name in restart and name not in self.restarted:
                    self.restarted.append(name)
                    self.start(name, *self.launched[name])
                    continue
                tail = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-1500:]
                raise DemoError(f"{name} exited with {proc.returncode}; {self.logs / name}.log ends:\n{tail}")

    def stop(self) -> None:
        """SIGTERM every group, SIGKILL what has not exited within 30 s."""
        import signal

        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


WORKER = ("worker",)
"""What the demo restarts, once, if a signal kills it: the pipeline worker (it commits offsets only
after its writes, so a restart loses nothing)."""


def child_env(settings: Settings, opts: DemoOptions, *, risk_port: int) -> dict[str, str]:
    """The environment of the demo's processes: ``settings``' stack, topics, group and ports, live risk
    with a short full-recompute period (scoped to ``opts.prefix`` if given)."""
    env = {
        **os.environ,
        "SUPPLYNET_STATE_DIR": str(settings.state_dir),
        "SUPPLYNET_SQL_URL": settings.database_url(),
        "SUPPLYNET_STREAM__TOPIC_PREFIX": settings.stream.topic_prefix,
        "SUPPLYNET_STREAM__APP_ID": settings.stream.app_id,
        "SUPPLYNET_STREAM__WEB_PORT": str(settings.stream.web_port),
        "SUPPLYNET_API__HOST": settings.api.host,
        "SUPPLYNET_API__PORT": str(settings.api.port),
        "SUPPLYNET_RISK__LIVE": "true",
        "SUPPLYNET_RISK__FULL_RECOMPUTE_SECONDS": str(opts.full_recompute_seconds),
        "SUPPLYNET_RISK__FULL_RELOAD_EVERY": "1",
        "SUPPLYNET_RISK__WEB_PORT": str(risk_port),
        "PYTHONFAULTHANDLER": "1",  # a process that crashes in native code leaves its stack in its log
    }
    if opts.prefix:
        env["SUPPLYNET_RISK__SCOPE"] = opts.prefix
    return env


# -- the ways in -------------------------------------------------------------------------------------


class _Source(msgspec.Struct):
    source: str


class WaysIn:
    """The three ways in, used as an ERP would: ``POST /v1/events``, the Kafka producer, and NDJSON
    export files read by the ``ingest`` command's importer. ``send`` returns after acknowledgement."""

    def __init__(self, settings: Settings, *, api_url: str, token: str, exports: Path) -> None:
        from connectors.kafka import EventProducer
        from connectors.sdk import HttpTransport
        from supplynet import bootstrap
        from supplynet.commands.ingest import Importer

        raw = bootstrap.topic_names(settings).raw
        self.http = HttpTransport(api_url, api_key=token, timeout_s=60)
        # Errors only from librdkafka: a freshly formatted Kafka answers the first idempotent producers
        # "coordinator load in progress" (a warning librdkafka retries by itself), which is noise here.
        quiet = {**settings.kafka.librdkafka(), "log_level": 3}
        self.kafka = EventProducer(quiet, raw)
        self.file_producer = EventProducer(quiet, raw)
        self.rejected: list[str] = []
        self.importer = Importer(self.file_producer, self._file_reject, batch_size=2_000)
        self.exports = exports
        self.files = 0
        exports.mkdir(parents=True, exist_ok=True)

    def _file_reject(self, row: dict[str, Any]) -> None:
        self.rejected.append(f"file {row['file']}: {row['event_id']} {row['field']}: {row['reason']}")

    def send(self, way: Way, events: list[tuple[str, bytes]]) -> None:
        from connectors.http_ingest import Outcome
        from connectors.kafka import Record

        if way is Way.HTTP:
            results = self.http.send([v for _, v in events], [s for s, _ in events])
            self.rejected += [f"http: {r.id} {r.errors}" for r in results if r.status != Outcome.ACCEPTED]
        elif way is Way.KAFKA:
            self.kafka.send_many([Record(key=s.encode(), value=v) for s, v in events])
        else:
            self._import_file(events)

    def _import_file(self, events: list[tuple[str, bytes]]) -> None:
        from supplynet.commands.ingest import FileSummary, items_of

        self.files += 1
        path = self.exports / f"erp-export-{self.files:05d}.ndjson"
        path.write_bytes(b"".join(v + b"\n" for _, v in events))
        summary = FileSummary(str(path))
        with path.open("rb") as f:
            for item in items_of(path, f, event_type=None, source="supplynet-file-import"):
                self.importer.add(summary, item)
        self.importer.flush()
        path.unlink()

    def close(self) -> None:
        self.http.close()
        self.kafka.close()
        self.file_producer.close()


# -- watching the pipeline ---------------------------------------------------------------------------


@dataclass
class Gauges:
    """One look at the pipeline: worker lag (its /metrics), the graph, live risk."""

    lag: dict[str, int] = field(default_factory=dict)
    projected: int = 0
    enterprises: int = 0
    links: int = 0
    scored: int = 0
    risk: dict[str, Any] = field(default_factory=dict)


GRAPH_SIZE = """
CALL () { MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN count(e) AS enterprises }
CALL () { MATCH (e:Enterprise) WHERE e.id STARTS WITH $p AND e.riskScore IS NOT NULL
          RETURN count(e) AS scored }
CALL () { MATCH ()-[s:SUPPLIES]->() RETURN count(s) AS links }
RETURN enterprises, scored, links
"""


class Monitor:
    """Reads the gauges (at most once a second) from the worker's /metrics, Neo4j and the risk
    process's /healthz; a server that does not answer yet leaves its gauges as they were."""

    def __init__(self, settings: Settings, *, risk_port: int, prefix: str) -> None:
        from supplynet import bootstrap

        uri, auth = bootstrap.neo4j_auth(settings)
        self.driver = neo4j.GraphDatabase.driver(
            uri,
            auth=auth,
            notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
        )
        self.database = settings.neo4j.database
        self.metrics_url = f"http://127.0.0.1:{settings.stream.web_port}/metrics"
        self.risk_url = f"http://127.0.0.1:{risk_port}/healthz"
        self.prefix = prefix
        self.http = httpx.Client(timeout=5)
        self.gauges = Gauges()
        self._at = 0.0

    def poll(self, *, force: bool = False) -> Gauges:
        now = time.monotonic()
        if not force and now - self._at < 1.0:
            return self.gauges
        self._at = now
        g = self.gauges
        try:
            text = self.http.get(self.metrics_url).text
            lag: Counter[str] = Counter()
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if s.name == "supplynet_consumer_lag":
                        lag[s.labels["stage"]] += int(s.value)
                    elif s.name == "supplynet_events_total" and s.labels.get("stage") == "project":
                        lag["_projected"] += int(s.value)
            g.projected = lag.pop("_projected", 0)
            g.lag = dict(lag)
        except httpx.HTTPError:
            pass
        try:
            records, _, _ = self.driver.execute_query(
                GRAPH_SIZE, p=self.prefix, routing_=neo4j.RoutingControl.READ, database_=self.database
            )
            row = records[0]
            g.enterprises, g.scored, g.links = int(row["enterprises"]), int(row["scored"]), int(row["links"])
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
            pass
        with contextlib.suppress(httpx.HTTPError, ValueError):
            g.risk = self.http.get(self.risk_url).json()
        return g

    def close(self) -> None:
        self.http.close()
        self.driver.close()


def caught_up(g: Gauges) -> bool:
    """The worker has committed everything on both stages (the KPIs commit with the batches)."""
    return {"validate", "project"} <= g.lag.keys() and not any(g.lag.values())


def skip_risk_backlog(settings: Settings) -> None:
    """Commit live risk's consumer group at the end of its input: the demo starts it once the worker
    has caught up, so its first full recompute reads the whole history and the events before it need
    no incremental rescoring (which would only rescore every enterprise a second time)."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.risk_process import risk_group
    from supplynet import bootstrap

    topic = bootstrap.topic_names(settings).risk_input
    consumer = Consumer(
        {
            **settings.kafka.librdkafka(),
            "group.id": risk_group(settings.stream.app_id),
            "enable.auto.commit": False,
            "log_level": 4,  # warnings and worse only: the demo's output stays quiet
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1])
            for p in sorted(partitions)
        ]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def scored(g: Gauges) -> bool:
    """The risk process has finished a full recompute and nothing touched since waits for rescoring.
    The demo starts it once the worker has caught up, so its first full recompute reads the whole
    history."""
    return (
        bool(g.risk.get("fullPeriods"))
        and not g.risk.get("fullRunning")
        and g.risk.get("pendingEnterprises", 1) == 0
    )


def progress_view(phase: str, sent: Counter[Way], started: float, g: Gauges) -> Table:
    seconds = max(time.monotonic() - started, 1e-9)
    total = sum(sent.values())
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("phase", phase)
    t.add_row(
        "events sent",
        f"{total:,} ({', '.join(f'{w.value} {sent[w]:,}' for w in Way)}) · {total / seconds:,.0f} events/s",
    )
    lag = " · ".join(f"{k} {v:,}" for k, v in sorted(g.lag.items())) or "…"
    t.add_row("worker", f"projected {g.projected:,} · lag {lag}")
    t.add_row("graph", f"{g.enterprises:,} enterprises · {g.links:,} supply links · {g.scored:,} risk-scored")
    running = "full recompute running" if g.risk.get("fullRunning") else "incremental"
    pending = g.risk.get("pendingEnterprises", "…")
    runs = len(g.risk.get("fullPeriods") or [])
    t.add_row("risk", f"{running} · {pending} enterprises waiting · full recomputes done {runs}")
    return t


def progress_line(phase: str, sent: Counter[Way], started: float, g: Gauges) -> str:
    """One line of progress, for output that is not a terminal (a log, a pipe)."""
    lag = ", ".join(f"{k} {v:,}" for k, v in sorted(g.lag.items())) or "-"
    return (
        f"[{time.monotonic() - started:5.0f} s] {phase}: {sum(sent.values()):,} sent, "
        f"{g.projected:,} projected, lag {lag}, "
        f"{g.enterprises:,} enterprises / {g.links:,} links, {g.scored:,} scored"
    )


# -- the run -----------------------------------------------------------------------------------------


def graphql(url: str, token: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """One GraphQL request; raises ``DemoError`` with the API's errors."""
    r = httpx.post(
        url,
        json={"query": query, "variables": dict(variables)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    body: dict[str, Any] = r.json()
    if r.status_code != 200 or body.get("errors"):
        raise DemoError(f"GraphQL answered {r.status_code}: {body.get('errors')}")
    data: dict[str, Any] = body["data"]
    return data


def await_api(url: str, *, timeout_s: float, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise DemoError(f"the API at {url} did not answer within {timeout_s:.0f}s")


def risky_rows(url: str, token: str, prefix: str) -> list[RiskyRow]:
    """Every scored enterprise of the run (ids starting with ``prefix``), riskiest first, ranked."""
    data = graphql(url, token, QUERY_RISKY, {"first": 1000})
    rows = [r for r in data["riskyNodes"] if str(r["enterpriseId"]).startswith(prefix)]
    out = []
    for i, r in enumerate(rows, start=1):
        f = r.get("factors") or {}
        out.append(
            RiskyRow(
                rank=i,
                enterprise_id=str(r["enterpriseId"]),
                name=r.get("name"),
                score=float(r["score"]),
                factors={k: float(v) for k, v in (f.get("factors") or {}).items()},
                reasons={k: list(v) for k, v in (f.get("reasons") or {}).items()},
            )
        )
    return out


def stream_history(
    events: Iterable[Any], ways: WaysIn, opts: DemoOptions, sent: Counter[Way], on_round: Callable[[], None]
) -> None:
    """Send every event by its ERP's way, a round of ``opts.chunk`` at a time, the three ways at once;
    ``sent`` counts what each way has had acknowledged."""
    from supplynet.commands.generate import batches

    decode = msgspec.json.Decoder(_Source).decode
    with ThreadPoolExecutor(len(Way)) as pool:
        for batch in batches(events, opts.chunk):
            split: dict[Way, list[tuple[str, bytes]]] = {w: [] for w in Way}
            for e in batch:
                split[way_of(decode(e.value).source)].append((e.subject, e.value))
            futures = [pool.submit(ways.send, w, evs) for w, evs in split.items() if evs]
            for fut in futures:
                fut.result()
            for w, evs in split.items():
                sent[w] += len(evs)
            on_round()


def run(
    settings: Settings,
    opts: DemoOptions,
    console: Console,
    *,
    children: Children,
    phases: Phases | None = None,
    ready: Readiness | None = None,
) -> DemoResult:
    """Run the demo; the processes stay in ``children`` (the caller stops them).

    The phases overlap where they can: the world is generated while the servers start (``ready``
    waits for each), the API starts as soon as Kafka is up and the history streams in while Neo4j is
    still starting, the worker starts once Neo4j is up, and live risk starts once the worker has caught
    up (its first full recompute then reads the whole history: nothing scored mid-stream is wasted).
    Raises ``DemoError`` if a process exits, an event is refused or the pipeline does not catch up
    within ``opts.timeout_s``.
    """
    from connectors.world import generate

    phases = phases or Phases()
    ready = ready or Readiness()
    end = opts.end or datetime.now(UTC).date()
    with phases.span("generate the world"):
        gen = generate(opts.size, opts.seed, end, prefix=opts.prefix)
        history: Iterable[Any] = list(gen.events()) if opts.size == "demo" else gen.events()

    from api.keys import create_key
    from schema.tables import Role
    from supplynet import bootstrap

    console.print(
        f"world {opts.size} (seed {opts.seed}): {len(gen.world.ids):,} enterprises, "
        f"{gen.world.links:,} supply links, a year of history up to {end}; "
        "SAP and Oracle ERPs send over HTTP, Kingdee and Yonyou through the Kafka producer, "
        "in-house MES and the materials/disruption feeds as export files"
    )
    ready.kafka()
    risk_port = free_port()
    env = child_env(settings, opts, risk_port=risk_port)
    base = f"http://{settings.api.host}:{settings.api.port}"
    with phases.span("API up"):
        children.start("serve", ["serve"], env)
        engine = bootstrap.sql_engine(settings)
        bootstrap.create_sql_tables(engine)
        _, admin = create_key(engine, name="demo ERP gateway", role=Role.ADMIN)
        _, analyst = create_key(engine, name="demo analyst", role=Role.ANALYST)
        await_api(base, timeout_s=120, alive=children.check)

    monitor = Monitor(settings, risk_port=risk_port, prefix=opts.prefix)
    ways = WaysIn(settings, api_url=base, token=admin, exports=settings.state_dir / "demo-exports")
    t0 = time.monotonic()
    sent: Counter[Way] = Counter()
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live, ThreadPoolExecutor(1) as bg:
            last_line = [0.0]

            def show(phase: str) -> None:
                g = monitor.poll()
                live.update(progress_view(phase, sent, t0, g), refresh=True)
                if not console.is_terminal and time.monotonic() - last_line[0] >= 15:
                    last_line[0] = time.monotonic()
                    console.print(progress_line(phase, sent, t0, g), highlight=False)

            def stream() -> None:
                with phases.span("stream the history"):
                    stream_history(history, ways, opts, sent, lambda: children.check(restart=WORKER))

            streaming = bg.submit(stream)
            ready.neo4j()
            with phases.span("worker up and caught up (projection)"):
                children.start("worker", ["worker", "--loglevel", "warning"], env)
                while not streaming.done():
                    children.check(restart=WORKER)
                    show("streaming the history")
                    time.sleep(0.5)
                streaming.result()
                streaming_s = phases.seconds("stream the history")
                if ways.rejected:
                    raise DemoError(f"{len(ways.rejected)} event(s) refused, e.g. {ways.rejected[:3]}")
                deadline = time.monotonic() + opts.timeout_s
                while not caught_up(monitor.poll()):
                    children.check(restart=WORKER)
                    if time.monotonic() > deadline:
                        raise DemoError(f"the worker did not catch up within {opts.timeout_s:.0f}s")
                    show("the worker is catching up")
                    time.sleep(0.5)
            catching_up_s = phases.seconds("worker up and caught up (projection)")
            with phases.span("live risk: first full recompute"):
                skip_risk_backlog(settings)
                children.start("risk", ["worker", "--role", "risk", "--loglevel", "warning"], env)
                while not scored(monitor.poll(force=True)):
                    children.check()
                    if time.monotonic() > deadline:
                        raise DemoError(f"live risk did not score the history within {opts.timeout_s:.0f}s")
                    show("live risk is scoring the whole network")
                    time.sleep(0.5)
            show("the history is in and scored")
            scoring_s = phases.seconds("live risk: first full recompute")
        console.print()
        graph_size = {"enterprises": monitor.gauges.enterprises, "supply_links": monitor.gauges.links}
    finally:
        ways.close()
        monitor.close()

    with phases.span("summary (GraphQL)"):
        url = f"{base}/graphql"
        manifest = gen.manifest()
        rows = risky_rows(url, analyst, opts.prefix)
        variables = {"region": manifest["planted"]["region_flood"]["region"], "days": opts.flood_days}
        what_if = graphql(url, analyst, QUERY_WHAT_IF, variables)["whatIf"]
    return DemoResult(
        manifest=manifest,
        sent=sent,
        rejected=ways.rejected,
        seconds_streaming=streaming_s,
        seconds_catching_up=catching_up_s,
        seconds_scoring=scoring_s,
        seconds_to_summary=time.monotonic() - phases.started,
        graph=graph_size,
        ranked=rows,
        top_n=opts.top,
        what_if=what_if,
        flood_days=opts.flood_days,
        api_url=url,
        token=analyst,
        phases=phases,
        restarted=list(children.restarted),
    )


# -- the summary -------------------------------------------------------------------------------------


def planted_labels(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Enterprise id → what the generator planted there (for the summary's last column)."""
    p = manifest["planted"]
    out: dict[str, str] = {}
    for e in p["region_flood"]["enterprises"]:
        out[e] = "flooded region"
    for e in p["regional_concentration"]["suppliers"]:
        out[e] = f"{p['regional_concentration']['sku']} made only in one city"
    for s in p["sole_sources"]:
        out[s["supplier"]] = f"sole source of {s['sku']}"
    out[p["plant_outage"]["enterprise"]] = "plant outage"
    out[p["performance_collapse"]["supplier"]] = "delivery performance collapse"
    for e in p["chronically_late"]:
        out.setdefault(e, "chronically late")
    return out


def summary(result: DemoResult) -> Group:
    """The tables the demo prints: top risky nodes with reasons, the flood what-if, example queries."""
    m = result.manifest
    labels = planted_labels(m)
    top = Table(title="The riskiest partners, and why (live risk over the streamed history)")
    for col in ("#", "enterprise", "score", "factors", "reasons", "planted"):
        top.add_column(col, overflow="fold")
    for r in result.top:
        top.add_row(
            str(r.rank),
            f"{r.name or ''}\n{r.enterprise_id}",
            f"{r.score:.2f}",
            ", ".join(f"{f} {r.factors[f]:.2f}" for f in r.main_factors()),
            r.in_words(),
            labels.get(r.enterprise_id, ""),
        )
    w = result.what_if
    flood = m["planted"]["region_flood"]
    tiers = Table(
        title=f"What if the Yangtze flood in {flood['region']} lasts {result.flood_days:.0f} days: "
        f"{len(w['disrupted'])} enterprises out, {w['affectedCount']} affected downstream"
    )
    for col in ("tier", "affected", "run dry before it ends", "worst shortfall (days)"):
        tiers.add_column(col, justify="right")
    for t in w["byTier"]:
        tiers.add_row(
            str(t["tier"]), str(t["affected"]), str(t["stopSupplying"]), f"{t['maxShortfallDays']:.1f}"
        )
    exposed = Table(title="Most exposed: time to survive (days of cover) vs time to recover")
    for col in ("enterprise", "tier", "time to survive", "time to recover", "shortfall"):
        exposed.add_column(col)
    for e in w["exposures"]:
        exposed.add_row(
            f"{e['enterprise']['name'] or ''} ({e['enterprise']['id']})",
            str(e["tier"]),
            f"{e['timeToSurvive']:.1f} d",
            f"{e['timeToRecover']:.1f} d",
            f"{e['shortfallDays']:.1f} d" + (" — runs dry" if e["stopsSupplying"] else ""),
        )
    total = sum(result.sent.values())
    facts = (
        f"{total:,} events streamed in {result.seconds_streaming:.0f} s "
        f"({', '.join(f'{w.value} {n:,}' for w, n in result.sent.items())}); the worker, started once "
        f"Neo4j was up, had projected it all {result.seconds_catching_up:.0f} s later, and live risk had "
        f"scored it all {result.seconds_scoring:.0f} s after that; "
        f"graph: {result.graph['enterprises']:,} enterprises, "
        f"{result.graph['supply_links']:,} supply links; {result.seconds_to_summary:.0f} s from command "
        "to summary"
        + "".join(f"; the {name} was killed by a signal and restarted once" for name in result.restarted)
    )
    return Group(facts, "", top, "", tiers, exposed)


def example_queries(result: DemoResult) -> str:
    """curl lines for the summary's two GraphQL queries, with the demo's analyst key."""
    flood = result.manifest["planted"]["region_flood"]
    lines = [
        f"GraphQL at {result.api_url} (GraphiQL in a browser; the console at "
        f"{result.api_url.removesuffix('/graphql')}/console/), API key: {result.token}",
        "",
    ]
    for query, variables in (
        (QUERY_RISKY, {"first": 10}),
        (QUERY_WHAT_IF, {"region": flood["region"], "days": result.flood_days}),
    ):
        body = msgspec.json.encode({"query": " ".join(query.split()), "variables": variables}).decode()
        lines.append(
            f"curl -s {result.api_url} -H 'Authorization: Bearer {result.token}' "
            f"-H 'Content-Type: application/json' \\\n  -d '{body}'\n"
        )
    return "\n".join(lines)
