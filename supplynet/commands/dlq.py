"""``supplynet dlq list | show | replay``: what was rejected, why, and sending it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from streams.dlq import DlqError, fetch_letters, list_letters, parse_address, replay_record


def _since(text: str | None) -> datetime | None:
    """``2026-05-01T08:00:00+08:00``, ``2026-05-01`` or a span back from now: ``30m``, ``2h``, ``7d``."""
    if text is None:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected an ISO time/date or 30m / 2h / 7d") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    dlq_app = typer.Typer(
        help="The dead-letter queue (events.dlq): list, show, replay.", no_args_is_help=True
    )
    app.add_typer(dlq_app, name="dlq")
    console = Console()
    err = Console(stderr=True)

    def conf() -> tuple[dict[str, str | int | float | bool], str]:
        """librdkafka settings and the DLQ topic name of this deployment."""
        from supplynet import bootstrap
        from supplynet.cli import _settings

        settings = _settings()
        return settings.kafka.librdkafka(), bootstrap.topic_names(settings).dlq

    @dlq_app.command("list")
    def list_(
        since: Annotated[str | None, typer.Option(help="ISO time or date, or 30m / 2h / 7d ago")] = None,
        type_: Annotated[str | None, typer.Option("--type", help="Only events of this type")] = None,
        limit: Annotated[int, typer.Option(min=1, help="Newest N dead letters")] = 50,
    ) -> None:
        """The newest dead letters: where, when, which event, which field, why."""
        try:
            kafka, topic = conf()
            letters = list_letters(kafka, since=_since(since), event_type=type_, limit=limit, topic=topic)
        except DlqError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(1) from None
        table = Table("offset", "time", "event id", "type", "field", "reason", title=topic)
        for d in letters:
            table.add_row(
                f"{d.partition}:{d.offset}",
                d.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                d.event_id or "-",
                d.event_type or "-",
                d.field or "-",
                d.reason or "-",
            )
        console.print(table)

    @dlq_app.command("show")
    def show(offset: Annotated[str, typer.Argument(help="OFFSET or PARTITION:OFFSET")]) -> None:
        """One dead letter: its headers and the original bytes (pretty if JSON)."""
        try:
            kafka, topic = conf()
            [d] = fetch_letters(kafka, [parse_address(offset)], topic=topic)
        except (DlqError, ValueError) as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(1) from None
        table = Table("header", "value", title=f"{d.address} at {d.timestamp:%Y-%m-%d %H:%M:%S} UTC")
        table.add_row("key", d.key.decode("utf-8", errors="replace") if d.key else "-")
        for k, v in d.headers:
            table.add_row(k, v.decode("utf-8", errors="replace"))
        console.print(table)
        try:
            pretty = msgspec.json.format(d.value, indent=2).decode("utf-8")
            console.print(Syntax(pretty, "json", word_wrap=True))
        except (msgspec.DecodeError, UnicodeDecodeError):
            console.print(repr(d.value))

    @dlq_app.command("replay")
    def replay(
        offsets: Annotated[list[str] | None, typer.Argument(help="OFFSET or PARTITION:OFFSET …")] = None,
        all_: Annotated[
            bool, typer.Option("--all", help="Every dead letter (with --type: of that type)")
        ] = False,
        type_: Annotated[str | None, typer.Option("--type", help="With --all: only this type")] = None,
        fixed: Annotated[
            Path | None, typer.Option(help="A corrected version of the one dead letter named (same event id)")
        ] = None,
    ) -> None:
        """Send dead letters again to events.raw, with a supplynet.replayed-from header."""
        from supplynet import bootstrap
        from supplynet.cli import _settings

        if bool(offsets) == all_:
            err.print("[red]error:[/red] name OFFSETs or pass --all")
            raise typer.Exit(2)
        if fixed is not None and (all_ or len(offsets or []) != 1):
            err.print("[red]error:[/red] --fixed goes with exactly one OFFSET")
            raise typer.Exit(2)
        settings = _settings()
        try:
            if all_:
                letters = list_letters(
                    settings.kafka.librdkafka(),
                    event_type=type_,
                    limit=10_000_000,
                    topic=bootstrap.topic_names(settings).dlq,
                )
            else:
                letters = fetch_letters(
                    settings.kafka.librdkafka(), [parse_address(o) for o in offsets or []]
                )
            records = [replay_record(d, fixed=fixed.read_bytes() if fixed else None) for d in letters]
        except DlqError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(1) from None
        producer = bootstrap.producer(settings, bootstrap.topic_names(settings).raw)
        try:
            producer.send_many(records)
        finally:
            producer.close()
        for d in letters:
            console.print(f"replayed {d.address} ({d.event_id or 'id unreadable'})")
        console.print(f"{len(records)} dead letter(s) replayed")
