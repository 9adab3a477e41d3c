"""``supplynet ingest PATH…``: NDJSON, CSV and GS1 EPCIS 2.0 JSON files into ``events.raw``."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from connectors.epcis import EpcisError, read_epcis
from connectors.files import CountingReader, FileItem, Rejection, file_format, read_csv, read_ndjson
from connectors.kafka import EventProducer, Record
from schema.errors import EventRejected
from schema.validate import decode_event


@dataclass
class FileSummary:
    """What happened to one file's events."""

    path: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0


@dataclass
class Importer:
    """Validates file items, sends the accepted ones to Kafka in acknowledged batches, writes rejects.

    An event is counted accepted only after Kafka acknowledged it. The same id seen again in this run
    with the same bytes is a duplicate (sent once); with other bytes it is rejected.
    """

    producer: EventProducer
    rejects: Callable[[dict[str, Any]], None]
    batch_size: int = 500
    _seen: dict[str, str] = field(default_factory=dict)
    _batch: list[Record] = field(default_factory=list)
    _pending: list[FileSummary] = field(default_factory=list)

    def reject(self, summary: FileSummary, item: FileItem, rej: Rejection) -> None:
        summary.rejected += 1
        self.rejects(
            {
                "file": summary.path,
                "position": item.position,
                "event_id": rej.event_id,
                "field": rej.field,
                "reason": rej.reason,
                "original": item.original,
            }
        )

    def add(self, summary: FileSummary, item: FileItem) -> None:
        summary.read += 1
        if item.rejection is not None:
            self.reject(summary, item, item.rejection)
            return
        assert item.event is not None
        try:
            ev = decode_event(item.event)
        except EventRejected as e:
            self.reject(summary, item, Rejection(e.reason, field=e.field, event_id=e.event_id))
            return
        digest = hashlib.sha256(item.event).hexdigest()
        first = self._seen.get(ev.id)
        if first is not None:
            if first == digest:
                summary.duplicates += 1
            else:
                self.reject(
                    summary,
                    item,
                    Rejection("event id reused with different content in this import", "$.id", ev.id),
                )
            return
        self._seen[ev.id] = digest
        self._batch.append(Record(key=ev.subject.encode(), value=item.event))
        self._pending.append(summary)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send the pending batch and wait for Kafka's acknowledgement (raises if it did not)."""
        if self._batch:
            self.producer.send_many(self._batch)
            for s in self._pending:
                s.accepted += 1
            self._batch, self._pending = [], []


def items_of(path: Path, f: IO[bytes], *, event_type: str | None, source: str) -> Iterator[FileItem]:
    kind = file_format(path)
    if kind == "ndjson":
        yield from read_ndjson(f)
    elif kind == "csv":
        yield from read_csv(f, event_type=event_type, source=source)
    else:
        yield from read_epcis(f, source=source)


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        paths: Annotated[
            list[Path], typer.Argument(help="NDJSON (.ndjson/.jsonl), CSV, EPCIS (.json) files")
        ],
        type_: Annotated[
            str | None, typer.Option("--type", help="Event type of CSV rows without a `type` column")
        ] = None,
        source: Annotated[
            str, typer.Option(help="`source` of CSV rows without one, and of EPCIS events")
        ] = "supplynet-file-import",
        rejects: Annotated[
            Path | None,
            typer.Option(
                help="Reject file (NDJSON); default ingest-rejects-<time>.ndjson, made only if needed"
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option(min=1, help="Events per acknowledged Kafka batch")] = 500,
    ) -> None:
        """Import event files into events.raw; exit 1 if any event was rejected (see the reject file)."""
        from connectors.errors import KafkaUnavailable
        from supplynet import bootstrap
        from supplynet.cli import _settings

        console = Console()
        err = Console(stderr=True)
        for p in paths:
            if not p.is_file():
                err.print(f"[red]error:[/red] {p}: no such file")
                raise typer.Exit(2)
            try:
                file_format(p)
            except ValueError as e:
                err.print(f"[red]error:[/red] {e}")
                raise typer.Exit(2) from None
        settings = _settings()
        reject_path = rejects or Path(f"ingest-rejects-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.ndjson")
        reject_file: IO[bytes] | None = None

        def write_reject(row: dict[str, Any]) -> None:
            nonlocal reject_file
            if reject_file is None:
                reject_file = reject_path.open("ab")
            reject_file.write(msgspec.json.encode(row) + b"\n")

        producer = bootstrap.producer(settings, bootstrap.topic_names(settings).raw)
        importer = Importer(producer, write_reject, batch_size=batch_size)
        summaries: list[FileSummary] = []
        failed = False
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=not os.isatty(2),
            ) as progress:
                for p in paths:
                    summary = FileSummary(str(p))
                    summaries.append(summary)
                    task = progress.add_task(p.name, total=p.stat().st_size)
                    with p.open("rb") as raw:
                        counted = CountingReader(raw)
                        try:
                            for item in items_of(
                                p, io.BufferedReader(counted), event_type=type_, source=source
                            ):
                                importer.add(summary, item)
                                progress.update(task, completed=counted.bytes_read)
                        except EpcisError as e:
                            summary.read += 1
                            importer.reject(summary, FileItem(0, ""), Rejection(str(e)))
                    importer.flush()
                    progress.update(task, completed=p.stat().st_size)
        except KafkaUnavailable as e:
            err.print(f"[red]error:[/red] {e}; events of the last batch were not accepted")
            failed = True
        finally:
            producer.close()
            if reject_file is not None:
                reject_file.close()

        table = Table("file", "read", "accepted", "rejected", "duplicates", title="ingest")
        for s in summaries:
            table.add_row(s.path, str(s.read), str(s.accepted), str(s.rejected), str(s.duplicates))
        console.print(table)
        rejected = sum(s.rejected for s in summaries)
        if rejected:
            err.print(f"{rejected} event(s) rejected: see {reject_path}")
        if rejected or failed:
            raise typer.Exit(1)
