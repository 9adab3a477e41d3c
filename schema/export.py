"""Machine-readable contracts generated from the models, never hand-maintained.

- one JSON Schema (2020-12) per event type: the CloudEvents envelope with its typed ``data``;
- the JSON Schema of a ``graph.changes`` record (``schema.changes``);
- an AsyncAPI 3.0 document of the Kafka topics and the messages on them;
- ``docs/events.md``: every event with its fields and an example.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec

from schema import changes
from schema.envelope import MAX_SEQUENCE
from schema.events import CATALOG, PAYLOADS, Payload, schema_uri
from schema.examples import example_event

ENVELOPE_FIELDS: dict[str, Any] = {
    "specversion": {"const": "1.0"},
    "id": {"type": "string", "minLength": 1, "maxLength": 256, "description": "Idempotency key"},
    "source": {"type": "string", "minLength": 1, "maxLength": 256, "description": "The sending system"},
    "time": {
        "type": "string",
        "format": "date-time",
        "description": "When it happened (RFC 3339, with offset); from 1970, at most "
        "stream.max_future_seconds (default 5 minutes) ahead of the validating clock",
    },
    "subject": {"type": "string", "minLength": 1, "maxLength": 256, "description": "The business key"},
    "sequence": {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_SEQUENCE,
        "description": "Orders events of one subject at one time (below 2^63)",
    },
    "dataschema": {"type": "string", "description": "This schema's $id"},
    "datacontenttype": {"const": "application/json"},
}


def event_schema(cls: type[Payload]) -> dict[str, Any]:
    """The JSON Schema of one event type, envelope included."""
    payload = msgspec.json.schema(cls)
    defs = payload.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_uri(cls.TYPE, cls.VERSION),
        "title": cls.TYPE,
        "description": inspect.getdoc(cls) or "",
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "subject", "data"],
        "additionalProperties": False,
        "properties": {
            **ENVELOPE_FIELDS,
            "type": {"const": cls.TYPE},
            "data": payload,
        },
        "$defs": defs,
        "examples": [example_event(cls.TYPE)],
    }


CHANGES_SCHEMA = f"jsonschema/{changes.TYPE}.v{changes.VERSION}.json"


def changes_schema() -> dict[str, Any]:
    """The JSON Schema of a ``graph.changes`` record."""
    schema = msgspec.json.schema(changes.GraphChanges)
    defs = schema.pop("$defs", {})
    for name, body in defs.items():
        body["description"] = inspect.getdoc(getattr(changes, name)) or ""
        for prop in ("time", "committed_at"):
            if prop in body.get("properties", {}):
                body["properties"][prop]["format"] = "date-time"
    body = defs.pop("GraphChanges")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_uri(changes.TYPE, changes.VERSION),
        **body,
        "title": changes.TYPE,
        "$defs": defs,
    }


def _message_name(event_type: str) -> str:
    return event_type.replace(".", "_")


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document of supplynet's Kafka topics."""
    messages = {
        _message_name(t): {
            "name": t,
            "title": t,
            "summary": (inspect.getdoc(cls) or "").split("\n")[0],
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"./jsonschema/{t}.v{cls.VERSION}.json"},
        }
        for t, cls in CATALOG.items()
    }
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    dlq = {
        "name": "dead-letter",
        "title": "dead letter",
        "summary": "The original bytes of a rejected event; headers say why",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "properties": {
                h: {"type": "string"}
                for h in (
                    "__connect.errors.topic",
                    "__connect.errors.partition",
                    "__connect.errors.offset",
                    "__connect.errors.exception.class.name",
                    "__connect.errors.exception.message",
                    "supplynet.stage",
                    "supplynet.reason",
                    "supplynet.field",
                    "supplynet.event.id",
                    "supplynet.event.type",
                )
            },
        },
        "payload": {"type": "string", "format": "binary"},
    }
    graph_changes = {
        "name": changes.TYPE,
        "title": "graph changes",
        "summary": "What one committed graph batch applied for one key",
        "contentType": "application/json",
        "payload": {"$ref": f"./{CHANGES_SCHEMA}"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "supplynet events",
            "version": "1.0.0",
            "description": "Supply-chain events of networked manufacturing, as CloudEvents 1.0 JSON, "
            "keyed by their subject.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": {
            "eventsRaw": {
                "address": "events.raw",
                "description": "Everything any connector accepted, as sent.",
                "messages": refs,
            },
            "eventsValid": {
                "address": "events.valid",
                "description": "Events that passed their contract.",
                "messages": refs,
            },
            "eventsTelemetry": {
                "address": "events.telemetry",
                "description": "The service job's input, written by the validate stage: readings "
                "(equipment.telemetry, which never go to events.valid) and a copy of each installation, "
                "alarm and completed maintenance, in their order on events.raw. See docs/service.md.",
                "messages": {k: v for k, v in refs.items() if k in {_message_name(t) for t in SERVICE_INPUT}},
            },
            "eventsDlq": {
                "address": "events.dlq",
                "description": "Rejected events with the reason.",
                "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
            },
            "graphChanges": {
                "address": "graph.changes",
                "description": "What each graph commit applied, keyed by the subject of the events that "
                "caused it; published after the commit, at least once (a record may come twice, with "
                "the same id). See docs/graph-changes.md.",
                "messages": {"graphChanges": {"$ref": "#/components/messages/graphChanges"}},
            },
        },
        "operations": {
            "publishEvent": {
                "action": "send",
                "channel": {"$ref": "#/channels/eventsRaw"},
                "summary": "An ERP publishes an event",
            },
            "consumeValidEvents": {
                "action": "receive",
                "channel": {"$ref": "#/channels/eventsValid"},
                "summary": "Projectors read validated events",
            },
            "consumeServiceInput": {
                "action": "receive",
                "channel": {"$ref": "#/channels/eventsTelemetry"},
                "summary": "The predictive-maintenance job folds readings, alarms, installations and "
                "completed maintenance into equipment health",
            },
            "inspectDeadLetters": {
                "action": "receive",
                "channel": {"$ref": "#/channels/eventsDlq"},
                "summary": "Operators and integrators read what was rejected and why",
            },
            "consumeGraphChanges": {
                "action": "receive",
                "channel": {"$ref": "#/channels/graphChanges"},
                "summary": "Live risk and the graphChanges subscription read what the graph committed",
            },
        },
        "components": {"messages": {**messages, "deadLetter": dlq, "graphChanges": graph_changes}},
    }


SERVICE_INPUT = ("equipment.installed", "equipment.telemetry", "equipment.alarm", "maintenance.completed")
"""The event types on ``events.telemetry`` (``streams.routing.SERVICE_TYPES``)."""


def _type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        target = defs.get(name, {})
        if "enum" in target:
            return " \\| ".join(f"`{v}`" for v in target["enum"])
        return name
    if "anyOf" in prop:
        return " or ".join(_type_text(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    t = prop.get("type", "any")
    if t == "array":
        return f"list of {_type_text(prop.get('items', {}), defs)}"
    fmt = prop.get("format")
    if t == "string" and "description" in prop:  # a coded value (country, currency): say which code
        pattern = f" `{prop['pattern']}`" if "pattern" in prop else ""
        return f"string: {prop['description']}{pattern}"
    limits = [f"{k} {prop[k]}" for k in ("minimum", "exclusiveMinimum", "maximum") if k in prop]
    return f"{fmt or t}" + (f" ({', '.join(limits)})" if limits else "")


def events_markdown() -> str:
    """The event catalog as Markdown (``docs/events.md``)."""
    out = [
        "# Event catalog",
        "",
        "Generated by `supplynet schema export` from `schema/events.py`; do not edit by hand.",
        "",
        "Every event is a CloudEvents 1.0 JSON envelope: `specversion` (`1.0`), `id` (the idempotency key),",
        "`source` (the sending system), `type`, `time` (RFC 3339 with offset), `subject` (the business key,",
        "used as the Kafka key), optional `sequence` (orders events of one subject that share a `time`) and",
        "`dataschema` (the versioned schema URI), and `data`. Unknown fields are rejected, in the envelope",
        "and in `data`.",
        "",
        "Refused with the field named (to `events.dlq`, or per event by the HTTP ingest):",
        "",
        "- `$.sequence` outside 0 … 2^63 − 1 (9,223,372,036,854,775,807), a signed 64-bit integer;",
        "- `$.time` before 1970-01-01T00:00:00Z, or more than `stream.max_future_seconds` (default 300 s)",
        "  ahead of the validating clock (`error_class` `future`): such an event would win last-writer-wins",
        "  against every correction until its time came. The DLQ keeps its original bytes;",
        "  `supplynet dlq replay` sends it again once its time has come;",
        "- `$.source`, in the project stage (`error_class` `ownership`): a change of **master data** —",
        "  `partner.registered` / `partner.updated` (the enterprise), `facility.registered` (the facility),",
        "  `material.defined` / `bom.defined` (the material) — from another source than the one that",
        "  registered it (its owner), unless the source is one of `stream.admin_sources`",
        "  (default `supplynet-admin`). The reason names the owner. See",
        "  [graph-model.md](graph-model.md#master-data-owners).",
        "",
        "JSON Schemas: `docs/contracts/jsonschema/`; AsyncAPI 3.0: `docs/contracts/asyncapi.json`.",
        "",
        "Downstream of the graph, `graph.changes` carries what each graph commit applied (nodes and links",
        "created, changed or ended, aggregates that moved, and the events that caused them), never an event",
        "the graph ignored or refused: contract `docs/contracts/" + CHANGES_SCHEMA + "`, described in",
        "[graph-changes.md](graph-changes.md).",
        "",
        "The validate stage forwards `equipment.telemetry` to `events.telemetry` only, never to",
        "`events.valid`, and copies the other types the predictive-maintenance job folds there",
        "(`equipment.installed`, `equipment.alarm`, `maintenance.completed`): that job's one input,",
        "described in [service.md](service.md#the-telemetry-path-eventstelemetry).",
        "",
    ]
    groups: dict[str, list[type[Payload]]] = {}
    for cls in PAYLOADS:
        groups.setdefault(cls.GROUP, []).append(cls)
    out.append("| group | event | subject (Kafka key) |")
    out.append("| --- | --- | --- |")
    for group, classes in groups.items():
        for cls in classes:
            out.append(f"| {group} | [`{cls.TYPE}`](#{cls.TYPE.replace('.', '')}) | `data.{cls.SUBJECT}` |")
    out.append("")
    for group, classes in groups.items():
        out += [f"## {group.capitalize()}", ""]
        for cls in classes:
            schema = msgspec.json.schema(cls)
            defs = schema.get("$defs", {})
            body = defs[cls.__name__] if "$ref" in schema else schema
            required = set(body.get("required", []))
            out += [f"### {cls.TYPE}", "", inspect.getdoc(cls) or "", ""]
            out += [f"Version {cls.VERSION} — `dataschema`: `{schema_uri(cls.TYPE, cls.VERSION)}`", ""]
            out += ["| field | type | required |", "| --- | --- | --- |"]
            for name, prop in body.get("properties", {}).items():
                out.append(f"| `{name}` | {_type_text(prop, defs)} | {'yes' if name in required else ''} |")
            example = json.dumps(example_event(cls.TYPE), ensure_ascii=False, indent=2)
            out += ["", "```json", example, "```", ""]
    return "\n".join(out)


def files() -> dict[str, str]:
    """Every generated contract file, by path relative to the export folder."""
    result = {
        f"jsonschema/{cls.TYPE}.v{cls.VERSION}.json": json.dumps(
            event_schema(cls), ensure_ascii=False, indent=2
        )
        + "\n"
        for cls in PAYLOADS
    }
    result[CHANGES_SCHEMA] = json.dumps(changes_schema(), ensure_ascii=False, indent=2) + "\n"
    result["asyncapi.json"] = json.dumps(asyncapi(), ensure_ascii=False, indent=2) + "\n"
    return result
