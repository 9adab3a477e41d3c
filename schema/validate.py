"""Bytes -> ``ValidEvent`` or ``EventRejected``; pure, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from schema.envelope import SPECVERSION, Envelope, ValidEvent
from schema.errors import EventRejected
from schema.events import CATALOG, schema_uri

MAX_EVENT_BYTES = 256 * 1024
MAX_FUTURE = timedelta(minutes=5)
"""How far ahead of the validating clock an event's ``time`` may be by default (clock skew between
ERP systems; ``stream.max_future_seconds``). A further-dated event would win last-writer-wins
against every correction until its time came; it is refused instead (the DLQ keeps it to replay)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest event time: versions count milliseconds from here (``graph.mutations.version``)."""

_AT = re.compile(r" - at `(\$[^`]*)`$")
_VERSION = re.compile(r"/([a-z.]+)/v(\d+)(?:\.json)?$")
_envelope_decoder = msgspec.json.Decoder(Envelope)
_payload_decoders = {t: msgspec.json.Decoder(p) for t, p in CATALOG.items()}


def _split(err: msgspec.ValidationError, prefix: str) -> tuple[str, str | None]:
    """msgspec says "Expected `int`, got `str` - at `$.share`"; return (reason, "$.data.share")."""
    msg = str(err)
    m = _AT.search(msg)
    if not m:  # the error is about the object itself (e.g. an unknown field)
        return msg, prefix or "$"
    path = m.group(1)
    return msg[: m.start()], prefix + path[1:] if prefix else path


def _version(dataschema: str, event_type: str) -> int | None:
    """The version a ``dataschema`` URI names for ``event_type`` (``…/<type>/v<N>.json``), else None."""
    m = _VERSION.search(dataschema)
    return int(m.group(2)) if m and m.group(1) == event_type else None


def _peek(raw: bytes) -> dict[str, Any]:
    """Best-effort id/type of an event that failed the envelope, so the error can still name it."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return obj if isinstance(obj, dict) else {}


def decode_event(
    raw: bytes, *, now: datetime | None = None, max_future: timedelta | None = MAX_FUTURE
) -> ValidEvent:
    """Validate one event's bytes against the catalog.

    ``time`` may be at most ``max_future`` ahead of ``now`` (default: the clock); ``None`` skips that
    check (the project stage: an event valid when it was validated stays valid).

    Raises ``EventRejected`` naming the event id/type (when readable), the field and the reason.
    """
    if len(raw) > MAX_EVENT_BYTES:
        # Too big to parse for its id: the DLQ record keeps the original bytes and offset instead.
        raise EventRejected(f"event is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}", error_class="size")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EventRejected(f"not valid UTF-8 at byte {e.start}", error_class="encoding") from None
    try:
        env = _envelope_decoder.decode(raw)
    except msgspec.ValidationError as e:
        peek = _peek(raw)
        reason, field = _split(e, "")
        raise EventRejected(
            reason,
            field=field,
            event_id=peek.get("id") if isinstance(peek.get("id"), str) else None,
            event_type=peek.get("type") if isinstance(peek.get("type"), str) else None,
        ) from None
    except msgspec.DecodeError as e:
        raise EventRejected(f"not JSON: {e}", error_class="encoding") from None

    ids = {"event_id": env.id, "event_type": env.type}
    if env.specversion != SPECVERSION:
        raise EventRejected(f"specversion must be {SPECVERSION!r}", field="$.specversion", **ids)
    decoder = _payload_decoders.get(env.type)
    if decoder is None:
        raise EventRejected(
            f"unknown event type; known types: {', '.join(sorted(CATALOG))}", field="$.type", **ids
        )
    payload_cls = CATALOG[env.type]
    if env.dataschema is not None:
        version = _version(env.dataschema, env.type)
        if version != payload_cls.VERSION:
            raise EventRejected(
                f"unknown version {version if version is not None else env.dataschema!r} of {env.type}; "
                f"supported: {schema_uri(env.type, payload_cls.VERSION)}",
                field="$.dataschema",
                error_class="version",
                **ids,
            )
    if env.time.tzinfo is None:
        raise EventRejected("time must carry a UTC offset (RFC 3339)", field="$.time", **ids)
    if env.time < EPOCH:
        raise EventRejected("time must not be before 1970-01-01T00:00:00Z", field="$.time", **ids)
    if max_future is not None:
        ahead = env.time - (now or datetime.now(UTC))
        if ahead > max_future:
            raise EventRejected(
                f"time is {ahead.total_seconds():.0f} s in the future of the validating clock, more than "
                f"the {max_future.total_seconds():.0f} s allowed; send it again (or replay it from the DLQ) "
                "once its time has come",
                field="$.time",
                error_class="future",
                **ids,
            )
    try:
        data = decoder.decode(env.data)
    except msgspec.ValidationError as e:
        reason, field = _split(e, "$.data")
        raise EventRejected(reason, field=field or "$.data", **ids) from None
    key_field = payload_cls.SUBJECT
    if getattr(data, key_field) != env.subject:
        raise EventRejected(
            f"subject {env.subject!r} must equal data.{key_field} {getattr(data, key_field)!r}",
            field="$.subject",
            **ids,
        )
    return ValidEvent(
        id=env.id,
        source=env.source,
        type=env.type,
        time=env.time.astimezone(UTC),
        subject=env.subject,
        sequence=env.sequence,
        data=data,
    )
