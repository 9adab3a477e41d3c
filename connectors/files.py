"""NDJSON and CSV readers: a file -> event bytes with their positions. Pure (no Kafka), streamed.

Each reader yields ``FileItem``s in file order: either the event's bytes (still to be validated by
``schema.validate.decode_event``) or a ``Rejection`` that says why the row could not even become an
event. Files are read line by line, never loaded whole.

The CSV layout is documented in ``docs/ingest-files.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, get_args, get_origin, get_type_hints

import msgspec

from schema.envelope import SPECVERSION
from schema.events import CATALOG, Payload

ENVELOPE_COLUMNS = ("type", "id", "source", "time", "subject", "sequence", "dataschema")
"""CSV columns that fill the envelope; every other column is a payload field."""
_MISSING = re.compile(r"missing required field `([^`]+)`")
LIST_SEPARATOR = ";"
"""Separates the items of a list field in one CSV cell: ``HRC-Q235:2;PP-T30S:0.5``."""
PART_SEPARATOR = ":"
"""Separates the fields of one structured list item, in the struct's declared order (``sku:qty``)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one row or event of a file was refused, in words an ERP integrator can act on."""

    reason: str
    field: str | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class FileItem:
    """One event read from a file: where it was, and its bytes or the reason it is not an event.

    ``position`` is the 1-based line of an NDJSON/CSV file (the CSV header is line 1) or the 0-based
    index in an EPCIS document's ``eventList``. ``original`` is the source text kept for the reject file.
    """

    position: int
    original: str
    event: bytes | None = None
    rejection: Rejection | None = None


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts the bytes read (for a progress bar)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        self.bytes_read += n
        return n


def read_ndjson(f: IO[bytes]) -> Iterator[FileItem]:
    """One event per line, passed on byte for byte (blank lines skipped, a UTF-8 BOM tolerated)."""
    for lineno, line in enumerate(f, start=1):
        raw = line.rstrip(b"\r\n")
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        yield FileItem(lineno, raw.decode("utf-8", errors="replace"), event=raw)


def derived_id(event_type: str, source: str, time: str, data: dict[str, Any]) -> str:
    """A deterministic event id from the row's content: the same row imported twice gets the same id.

    The file name and line are left out on purpose, so a renamed or re-sorted file stays idempotent.
    """
    canon = msgspec.json.encode(
        {"type": event_type, "source": source, "time": time, "data": data}, order="sorted"
    )
    return f"csv-{hashlib.sha256(canon).hexdigest()[:32]}"


def _list_item_type(payload: type[Payload], field: str) -> Any | None:
    """The item type of a list field of a payload (``None`` if the field is not a list)."""
    hint = get_type_hints(payload, include_extras=True).get(field)
    for t in (hint, *get_args(hint)):
        base = get_args(t)[0] if get_origin(t) is not None and hasattr(t, "__metadata__") else t
        if get_origin(base) is list:
            return get_args(base)[0]
    return None


def _struct_fields(item: Any) -> tuple[str, ...] | None:
    base = get_args(item)[0] if hasattr(item, "__metadata__") else item
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return base.__struct_fields__
    return None


def _cell(payload: type[Payload], field: str, value: str) -> Any:
    """A CSV cell as the payload field wants it; lists are split, scalars are converted later."""
    item = _list_item_type(payload, field)
    if item is None:
        return value
    parts = [p.strip() for p in value.split(LIST_SEPARATOR) if p.strip()]
    names = _struct_fields(item)
    if names is None:
        return parts
    out = []
    for p in parts:
        values = [v.strip() for v in p.split(PART_SEPARATOR)]
        if len(values) > len(names):
            raise ValueError(f"{p!r} has more than the {len(names)} parts {':'.join(names)}")
        out.append({n: v for n, v in zip(names, values, strict=False) if v})
    return out


def row_to_event(
    row: dict[str, str], *, event_type: str | None, source: str | None
) -> tuple[bytes, str] | Rejection:
    """One CSV row -> (event bytes, id), or the reason it cannot be one.

    Payload values are typed by the catalog's struct (``"12"`` -> 12, ``"2026-05-01"`` -> a date);
    an empty cell means the field is absent.
    """
    cells = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
    if None in row:
        return Rejection(f"row has {len(row[None])} more cell(s) than the header")  # type: ignore[index]
    etype = cells.get("type") or event_type
    if not etype:
        return Rejection("no event type: add a `type` column or pass --type", field="type")
    payload = CATALOG.get(etype)
    if payload is None:
        return Rejection(f"unknown event type {etype!r}", field="type")
    src = cells.get("source") or source
    if not src:
        return Rejection("no source: add a `source` column or pass --source", field="source")
    time = cells.get("time")
    if not time:
        return Rejection("`time` is required (RFC 3339 with a UTC offset)", field="time")
    raw_data: dict[str, Any] = {}
    try:
        for k, v in cells.items():
            if k in ENVELOPE_COLUMNS or v == "":
                continue
            raw_data[k] = _cell(payload, k, v)
        data_struct = msgspec.convert(raw_data, payload, strict=False)
    except msgspec.ValidationError as e:
        msg = str(e)
        missing = _MISSING.search(msg)
        field = msg.rsplit("`$.", 1)[-1].rstrip("`") if " - at `$." in msg else None
        field = field or (missing.group(1) if missing else None)
        return Rejection(msg.split(" - at ")[0], field=field, event_id=cells.get("id") or None)
    except ValueError as e:
        return Rejection(str(e), event_id=cells.get("id") or None)
    data = msgspec.to_builtins(data_struct)
    data = {k: v for k, v in data.items() if v is not None}
    subject = cells.get("subject") or str(data.get(payload.SUBJECT, ""))
    eid = cells.get("id") or derived_id(etype, src, time, data)
    event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": eid,
        "source": src,
        "type": etype,
        "time": time,
        "subject": subject,
        "data": data,
    }
    if cells.get("sequence"):
        try:
            event["sequence"] = int(cells["sequence"])
        except ValueError:
            return Rejection("sequence must be a whole number", field="sequence", event_id=eid)
    if cells.get("dataschema"):
        event["dataschema"] = cells["dataschema"]
    return msgspec.json.encode(event), eid


def read_csv(f: IO[bytes], *, event_type: str | None = None, source: str | None = None) -> Iterator[FileItem]:
    """Rows of a CSV file (header row first; UTF-8, a BOM tolerated) as events; streamed."""
    text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        for row in reader:
            lineno = reader.line_num
            original = ",".join(f"{k}={v}" for k, v in row.items() if k is not None and v)
            result = row_to_event(row, event_type=event_type, source=source)
            if isinstance(result, Rejection):
                yield FileItem(lineno, original, rejection=result)
            else:
                yield FileItem(lineno, original, event=result[0])
    except UnicodeDecodeError as e:
        yield FileItem(reader.line_num + 1, "", rejection=Rejection(f"not valid UTF-8: {e.reason}"))
    finally:
        text.detach()


def file_format(path: Path) -> str:
    """``ndjson``, ``csv`` or ``epcis`` from the file name (``.jsonl``/``.ndjson``, ``.csv``, ``.json``)."""
    name = path.name.lower()
    if name.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".json", ".jsonld")):
        return "epcis"
    raise ValueError(f"{path}: unknown file kind (expected .ndjson, .jsonl, .csv, or .json for EPCIS)")
