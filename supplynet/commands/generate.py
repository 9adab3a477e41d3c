"""``supplynet generate``: a generated Hubei manufacturing world as catalog events (NDJSON, Kafka or HTTP)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from connectors.world import SIZES, Event, generate


class Target(StrEnum):
    NDJSON = "ndjson"
    KAFKA = "kafka"
    HTTP = "http"


def batches(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    """Consecutive lists of at most ``size`` events (the last may be shorter); streamed."""
    it = iter(events)
    while batch := list(islice(it, size)):
        yield batch


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate_world(
        size: Annotated[str, typer.Option(help=f"World size: {', '.join(SIZES)}")] = "demo",
        seed: Annotated[int, typer.Option(help="Same seed, size, end and prefix: the same events")] = 1,
        out: Annotated[
            Path | None, typer.Option(help="NDJSON file to write ('-': standard output); with --to ndjson")
        ] = None,
        to: Annotated[Target, typer.Option(help="Where the events go")] = Target.NDJSON,
        manifest: Annotated[
            Path | None, typer.Option(help="Write the manifest (counts, planted risks) here as JSON")
        ] = None,
        end: Annotated[
            str | None,
            typer.Option(help="Last day of the year of history is the day before (default: today)"),
        ] = None,
        prefix: Annotated[
            str, typer.Option(help="Prefix of every business id, region name and event id")
        ] = "",
        shared_regions: Annotated[
            bool,
            typer.Option(
                "--shared-regions",
                help="With --prefix: plain region names (a map draws them; worlds on one graph share them)",
            ),
        ] = False,
        url: Annotated[str | None, typer.Option(help="--to http: the API's base URL")] = None,
        api_key: Annotated[
            str | None, typer.Option(help="--to http: an admin API key (default: $SUPPLYNET_API_KEY)")
        ] = None,
        batch_size: Annotated[int, typer.Option(min=1, help="Events per Kafka batch or HTTP request")] = 5000,
    ) -> None:
        """Generate the world and stream a year of its events; print counts and events/s."""
        console = Console(stderr=True)
        if size not in SIZES:
            console.print(f"[red]error:[/red] unknown size {size!r}; one of {', '.join(SIZES)}")
            raise typer.Exit(2)
        if to == Target.NDJSON and out is None:
            console.print("[red]error:[/red] --to ndjson needs --out FILE (or --out - for standard output)")
            raise typer.Exit(2)
        try:
            end_day = date.fromisoformat(end) if end else datetime.now(UTC).date()
        except ValueError:
            console.print(f"[red]error:[/red] --end {end!r} is not a date (YYYY-MM-DD)")
            raise typer.Exit(2) from None
        gen = generate(size, seed, end_day, prefix=prefix, shared_regions=shared_regions)
        console.print(
            f"world {size} seed {seed}: {len(gen.world.ids):,} enterprises, {gen.world.links:,} supply "
            f"links; a year of history up to {end_day} (exclusive)"
        )
        started = time.perf_counter()
        rejected = 0
        if to == Target.NDJSON:
            assert out is not None
            stream = sys.stdout.buffer if str(out) == "-" else out.open("wb", buffering=1 << 20)
            try:
                for batch in batches(gen.events(), batch_size):
                    stream.write(b"".join(e.value + b"\n" for e in batch))
            finally:
                if stream is not sys.stdout.buffer:
                    stream.close()
                else:
                    stream.flush()
            where = str(out)
        elif to == Target.KAFKA:
            where = _to_kafka(gen.events(), batch_size)
        else:
            rejected, where = _to_http(
                gen.events(), batch_size, url, api_key or os.environ.get("SUPPLYNET_API_KEY")
            )
        seconds = time.perf_counter() - started
        m = gen.manifest()
        if manifest is not None:
            manifest.write_bytes(msgspec.json.format(msgspec.json.encode(m), indent=2) + b"\n")
        counts = m["counts"]
        table = Table("what", "count", title=f"generated → {where}")
        for key in ("enterprises", "facilities", "materials", "supply_links", "orders", "design_projects"):
            table.add_row(key.replace("_", " "), f"{counts[key]:,}")
        table.add_row("events", f"{counts['events']:,}")
        table.add_row("seconds", f"{seconds:.1f}")
        table.add_row("events/s", f"{counts['events'] / max(seconds, 1e-9):,.0f}")
        console.print(table)
        if rejected:
            console.print(f"[red]{rejected} event(s) rejected by the HTTP ingest[/red]")
            raise typer.Exit(1)


def _to_kafka(events: Iterable[Event], batch_size: int) -> str:
    """Send to the raw topic in acknowledged batches; returns the topic name."""
    from connectors.kafka import Record
    from supplynet import bootstrap
    from supplynet.settings import Settings

    settings = Settings()
    topic = bootstrap.topic_names(settings).raw
    producer = bootstrap.producer(settings, topic)
    try:
        for batch in batches(events, batch_size):
            producer.send_many([Record(key=e.subject.encode(), value=e.value) for e in batch])
    finally:
        producer.close()
    return f"kafka topic {topic}"


def _to_http(
    events: Iterable[Event], batch_size: int, url: str | None, api_key: str | None
) -> tuple[int, str]:
    """POST to the HTTP ingest in NDJSON batches; returns (events rejected, where)."""
    from connectors.http_ingest import Outcome
    from connectors.sdk import HttpTransport
    from supplynet.settings import Settings

    if not api_key:
        raise typer.BadParameter("--to http needs --api-key (or $SUPPLYNET_API_KEY)")
    if url is None:
        api = Settings().api
        url = f"http://{api.host}:{api.port}"
    transport = HttpTransport(url, api_key=api_key)
    rejected = 0
    try:
        for batch in batches(events, batch_size):
            results = transport.send([e.value for e in batch], [e.subject for e in batch])
            rejected += sum(1 for r in results if r.status != Outcome.ACCEPTED)
    finally:
        transport.close()
    return rejected, f"{url}/v1/events"
