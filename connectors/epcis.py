"""GS1 EPCIS 2.0 JSON(-LD) documents -> supplynet catalog events. Pure: no I/O.

The mapping is documented in ``docs/ingest-files.md``. Event ids come from the document's
``eventID`` when it carries one, else from the CBV 2.0 event hash (``ni:///sha-256;…?ver=CBV2.0``),
so importing the same document twice yields the same ids and the pipeline applies each once.
An EPCIS event that has no supplynet meaning is rejected with the reason, never skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
import msgspec

from connectors.files import FileItem, Rejection
from schema.envelope import SPECVERSION
from schema.events import CATALOG

BIZSTEP = "urn:epcglobal:cbv:bizstep:"
DISP = "urn:epcglobal:cbv:disp:"
BTT = "urn:epcglobal:cbv:btt:"
SDT = "urn:epcglobal:cbv:sdt:"
EXT = "supplynet:"
"""Prefix of the extension fields a document uses for what EPCIS has no field for (see the docs)."""

SHIPPING_STEPS = {"shipping", "departing"}
RECEIVING_STEPS = {"receiving", "accepting", "arriving"}
INVENTORY_STEPS = {"inventory_check", "cycle_counting", "storing"}
COMMISSIONING_STEPS = {"commissioning", "creating_class_instance"}

# Canonical order of the CBV 2.0 event hash pre-hash string (GS1 CBV 2.0, section 8.9).
_HASH_ORDER = (
    "eventType",
    "eventTime",
    "eventTimeZoneOffset",
    "certificationInfo",
    "parentID",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
)
_EXCLUDED = {"eventID", "recordTime", "errorDeclaration", "@context", "type", "isA"}
_ID_PREFIXES = (
    "urn:epc:id:",
    "urn:epc:class:",
    "urn:epc:idpat:",
    "urn:epcglobal:cbv:bt:",
    "https://id.gs1.org/",
)


class EpcisError(ValueError):
    """The document itself is not an EPCIS 2.0 JSON document."""


# -- the event hash ------------------------------------------------------------------------------


def _cbv(value: str, prefix: str) -> str:
    """A bare CBV vocabulary word (``shipping``) as its full URI (the hash uses the URI form)."""
    return value if ":" in value else prefix + value


def _canon_time(value: str) -> str:
    """An EPCIS timestamp in UTC with millisecond precision, e.g. ``2026-05-01T08:00:00.000Z``."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _flatten(key: str, value: Any) -> list[str]:
    """Key=value strings of one field; list elements sorted lexically, as the hash algorithm asks."""
    if isinstance(value, dict):
        inner = [s for k in sorted(value) for s in _flatten(k, value[k])]
        return [key + "".join(inner)]
    if isinstance(value, list):
        parts = sorted(s for v in value for s in _flatten(_item_key(key), v))
        return ["".join([key, *parts])]
    if key in ("bizStep",):
        value = _cbv(str(value), BIZSTEP)
    elif key in ("disposition",):
        value = _cbv(str(value), DISP)
    elif key == "type" and isinstance(value, str):
        value = value if ":" in value else BTT + value
    return [f"{key}={value}"]


def _item_key(list_key: str) -> str:
    return {
        "epcList": "epc",
        "inputEPCList": "epc",
        "outputEPCList": "epc",
        "childEPCs": "epc",
        "quantityList": "quantityElement",
        "inputQuantityList": "quantityElement",
        "outputQuantityList": "quantityElement",
        "childQuantityList": "quantityElement",
        "bizTransactionList": "bizTransaction",
        "sourceList": "source",
        "destinationList": "destination",
        "sensorElementList": "sensorElement",
    }.get(list_key, list_key)


def event_hash_id(event: dict[str, Any]) -> str:
    """The CBV 2.0 event hash ID of an EPCIS event (``ni:///sha-256;<hex>?ver=CBV2.0``).

    Deterministic: the same event content gives the same id whatever the key order, list order or
    time-zone notation of its JSON. Fields are taken in the algorithm's canonical order, timestamps are
    normalised to UTC milliseconds, CBV words expanded to URIs; user extension fields follow, sorted.
    ``eventID``, ``recordTime`` and ``errorDeclaration`` are excluded, as the algorithm says.
    """
    parts = [f"eventType={event.get('type', '')}"]
    for key in _HASH_ORDER[1:]:
        if key not in event:
            continue
        value = event[key]
        if key == "eventTime":
            parts.append(f"eventTime={_canon_time(str(value))}")
        elif key in ("readPoint", "bizLocation") and isinstance(value, dict):
            parts.append(f"{key}id={value.get('id', '')}")
        else:
            parts.extend(_flatten(key, value))
    known = set(_HASH_ORDER) | _EXCLUDED
    for key in sorted(k for k in event if k not in known):
        parts.extend(_flatten(key, event[key]))
    digest = hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"


# -- identifiers -----------------------------------------------------------------------------------


_LGTIN = re.compile(r"^urn:epc:class:lgtin:([^.]+)\.([^.]+)\..*$")
_SGTIN = re.compile(r"^urn:epc:(?:id|idpat):sgtin:([^.]+)\.([^.]+)\..*$")
_DL_GTIN = re.compile(r"^https://id\.gs1\.org/01/(\d{14})(?:/.*)?$")


def sku_of(epc_or_class: str) -> str:
    """The supplynet sku of an EPC, EPC class or pattern: the trade item without lot or serial.

    ``urn:epc:class:lgtin:4012345.012345.LOT7`` and ``urn:epc:id:sgtin:4012345.012345.400`` both give
    ``gtin:4012345.012345``; a GS1 Digital Link gives ``gtin:<14 digits>``; anything else (e.g. a
    private ``urn:supplynet:sku:HRC-Q235``) gives its last ``:``-separated part.
    """
    for pattern in (_LGTIN, _SGTIN):
        m = pattern.match(epc_or_class)
        if m:
            return f"gtin:{m.group(1)}.{m.group(2)}"
    m = _DL_GTIN.match(epc_or_class)
    if m:
        return f"gtin:{m.group(1)}"
    return epc_or_class.rsplit(":", 1)[-1]


def party_of(value: str) -> str:
    """An enterprise id from a party id: ``urn:epc:id:pgln:0614141.00000`` -> ``pgln:0614141.00000``."""
    for prefix in _ID_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


_LOT_CLASS = re.compile(r"^(?:urn:epc:class:lgtin:[^.]+\.[^.]+\..+|https://id\.gs1\.org/01/\d{14}/10/.+)$")
_SERIAL = re.compile(r"^(?:urn:epc:id:sgtin:[^.]+\.[^.]+\..+|https://id\.gs1\.org/01/\d{14}/21/.+)$")
_UNIT = re.compile(r"^(?:urn:epc:id:sscc:.+|https://id\.gs1\.org/00/\d{18})$")


def lot_of(epc_or_class: str) -> str | None:
    """The lot id of an LGTIN class or an SGTIN instance (a serial is a lot of one), else ``None``.

    ``urn:epc:class:lgtin:4012345.012345.LOT7`` gives ``lgtin:4012345.012345.LOT7``; a GS1 Digital Link
    with a lot (``/10/``) or serial (``/21/``) gives its path after the host (``01/<gtin>/10/<lot>``).
    """
    if _LOT_CLASS.match(epc_or_class) or _SERIAL.match(epc_or_class):
        return party_of(epc_or_class)
    return None


def unit_of(epc: str) -> str | None:
    """The shipping unit id of an SSCC (``urn:epc:id:sscc:…`` -> ``sscc:…``), else ``None``."""
    return party_of(epc) if _UNIT.match(epc) else None


def _bare(value: str, prefix: str) -> str:
    return value[len(prefix) :] if value.startswith(prefix) else value


# -- the mapping ---------------------------------------------------------------------------------


class _Unmappable(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _ext(event: dict[str, Any], name: str, *, required_for: str | None = None) -> Any:
    value = event.get(EXT + name)
    if value is None and required_for:
        raise _Unmappable(
            f"{required_for} needs `{EXT}{name}`, which EPCIS has no field for: add it as an extension field",
            field=EXT + name,
        )
    return value


def _parties(event: dict[str, Any], list_key: str, item_key: str) -> str | None:
    for entry in event.get(list_key) or []:
        kind = _bare(str(entry.get("type", "")), SDT)
        if kind in ("owning_party", "possessing_party"):
            return party_of(str(entry.get(item_key, "")))
    return None


def _order_ref(event: dict[str, Any], what: str) -> dict[str, str]:
    orders = [b for b in event.get("bizTransactionList") or [] if _bare(str(b.get("type", "")), BTT) == "po"]
    if len(orders) != 1:
        raise _Unmappable(f"{what} needs exactly one bizTransaction of type `po`", field="bizTransactionList")
    supplier = _parties(event, "sourceList", "source")
    buyer = _parties(event, "destinationList", "destination")
    if not supplier:
        raise _Unmappable(f"{what} needs the supplier as a sourceList `owning_party`", field="sourceList")
    if not buyer:
        raise _Unmappable(
            f"{what} needs the buyer as a destinationList `owning_party`", field="destinationList"
        )
    return {
        "order_id": party_of(str(orders[0]["bizTransaction"])),
        "buyer_id": buyer,
        "supplier_id": supplier,
    }


def _quantities(event: dict[str, Any], key: str = "quantityList", epcs: str = "epcList") -> dict[str, float]:
    """Quantity per sku: quantity elements plus one per instance-level EPC."""
    out: dict[str, float] = {}
    for q in event.get(key) or []:
        sku = sku_of(str(q.get("epcClass", "")))
        out[sku] = out.get(sku, 0.0) + float(q.get("quantity", 0))
    for epc in event.get(epcs) or []:
        sku = sku_of(str(epc))
        out[sku] = out.get(sku, 0.0) + 1.0
    return out


def _lots(event: dict[str, Any], key: str, epcs: str) -> dict[str, tuple[str, float]]:
    """Lot id -> (sku, quantity) of an event's lot-level identifiers (LGTIN quantities, SGTIN serials)."""
    out: dict[str, tuple[str, float]] = {}
    items = [(str(q.get("epcClass", "")), float(q.get("quantity", 0))) for q in event.get(key) or []]
    items += [(str(epc), 1.0) for epc in event.get(epcs) or []]
    for ident, qty in items:
        lot = lot_of(ident)
        if lot is not None:
            held = out.get(lot, (sku_of(ident), 0.0))
            out[lot] = (held[0], held[1] + qty)
    return out


def _units(event: dict[str, Any], epcs: str = "epcList") -> list[str]:
    return sorted({u for u in (unit_of(str(e)) for e in event.get(epcs) or []) if u is not None})


def _facility(event: dict[str, Any]) -> str | None:
    loc = (event.get("bizLocation") or {}).get("id")
    return party_of(str(loc)) if loc else None


def _lot_list(lots: dict[str, tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"lot_id": lot, "quantity": qty} for lot, (_, qty) in sorted(lots.items())]


def _movement(event: dict[str, Any], etype: str, shipment: str) -> list[tuple[str, dict[str, Any]]]:
    """``lot.shipped`` / ``lot.received`` of an event's lots and shipping units (none if it names none)."""
    lots, units = _lots(event, "quantityList", "epcList"), _units(event)
    if not lots and not units:
        return []
    supplier = _parties(event, "sourceList", "source")
    buyer = _parties(event, "destinationList", "destination")
    if not supplier:
        raise _Unmappable(f"{etype} needs the supplier as a sourceList `owning_party`", field="sourceList")
    if not buyer:
        raise _Unmappable(
            f"{etype} needs the buyer as a destinationList `owning_party`", field="destinationList"
        )
    orders = [b for b in event.get("bizTransactionList") or [] if _bare(str(b.get("type", "")), BTT) == "po"]
    payload: dict[str, Any] = {
        "shipment_id": shipment,
        "supplier_id": supplier,
        "buyer_id": buyer,
        "lots": _lot_list(lots),
        "units": units,
        "order_id": party_of(str(orders[0]["bizTransaction"])) if len(orders) == 1 else None,
    }
    if etype == "lot.received":
        payload["facility_id"] = _facility(event)
    return [(etype, payload)]


def _shipment_id(event: dict[str, Any]) -> str:
    docs = {
        _bare(str(b.get("type", "")), BTT): party_of(str(b["bizTransaction"]))
        for b in event.get("bizTransactionList") or []
    }
    return docs.get("desadv") or docs.get("bol") or docs.get("inv") or "epcis-" + event_hash_id(event)[14:46]


def _produced(
    event: dict[str, Any], outputs: dict[str, tuple[str, float]], inputs: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    enterprise = _ext(event, "enterpriseId", required_for="lot.produced")
    return [
        (
            "lot.produced",
            {
                "lot_id": lot,
                "sku": sku,
                "quantity": qty,
                "enterprise_id": enterprise,
                "facility_id": _facility(event),
                "inputs": inputs,
                "production_id": party_of(str(event["transformationID"]))
                if event.get("transformationID")
                else None,
            },
        )
        for lot, (sku, qty) in sorted(outputs.items())
    ]


def _local_date(event: dict[str, Any]) -> date:
    """The calendar day of ``eventTime`` where it happened (its own time-zone offset)."""
    return datetime.fromisoformat(str(event["eventTime"]).replace("Z", "+00:00")).date()


Mapped = list[tuple[str, dict[str, Any]]]


def map_event(event: dict[str, Any]) -> tuple[Mapped, Mapped]:
    """One EPCIS event -> (its order/stock/BOM events, its lot events), or raises ``_Unmappable``."""
    etype = event.get("type")
    action = event.get("action")
    step = _bare(str(event.get("bizStep", "")), BIZSTEP)
    if etype == "ObjectEvent" and step in SHIPPING_STEPS:
        shipment = _shipment_id(event)
        lots = _movement(event, "lot.shipped", shipment)
        if lots and not _has_order(event):
            return [], lots
        ref = _order_ref(event, "a shipping ObjectEvent (order.shipped)")
        qty = sum(_quantities(event).values())
        shipped = {
            **ref,
            "shipment_id": shipment,
            "quantity": qty,
            "shipped_on": _local_date(event).isoformat(),
            "expected_delivery": _ext(event, "expectedDeliveryDate", required_for="order.shipped"),
        }
        return [("order.shipped", shipped)], lots
    if etype == "ObjectEvent" and step in RECEIVING_STEPS:
        lots = _movement(event, "lot.received", _shipment_id(event))
        if lots and not _has_order(event):
            return [], lots
        ref = _order_ref(event, "a receiving ObjectEvent (order.delivered)")
        qty = sum(_quantities(event).values())
        delivered = {
            **ref,
            "quantity_ordered": _ext(event, "quantityOrdered") or qty,
            "quantity_delivered": qty,
            "promised_date": _ext(event, "promisedDate", required_for="order.delivered"),
            "delivered_on": _local_date(event).isoformat(),
        }
        return [("order.delivered", delivered)], lots
    if etype == "ObjectEvent" and action == "ADD" and step in COMMISSIONING_STEPS:
        made = _lots(event, "quantityList", "epcList")
        if not made:
            raise _Unmappable(
                "a commissioning ObjectEvent becomes lot.produced: it needs LGTIN lots or SGTIN serials",
                field="quantityList",
            )
        return [], _produced(event, made, [])
    if etype == "ObjectEvent" and step in INVENTORY_STEPS:
        enterprise = _ext(event, "enterpriseId", required_for="inventory.reported")
        usage = _ext(event, "dailyUsage", required_for="inventory.reported")
        per_sku = _quantities(event)
        if not per_sku:
            raise _Unmappable(
                "an inventory ObjectEvent needs a quantityList or epcList", field="quantityList"
            )
        usage_of = usage if isinstance(usage, dict) else dict.fromkeys(per_sku, usage)
        facility = _facility(event)
        out = []
        for sku, on_hand in per_sku.items():
            if sku not in usage_of:
                raise _Unmappable(f"no {EXT}dailyUsage for sku {sku!r}", field=EXT + "dailyUsage")
            payload: dict[str, Any] = {
                "enterprise_id": enterprise,
                "sku": sku,
                "on_hand": on_hand,
                "daily_usage": usage_of[sku],
            }
            if facility:
                payload["facility_id"] = facility
            out.append(("inventory.reported", payload))
        return out, []
    if etype == "TransactionEvent" and action in ("ADD", "DELETE"):
        ref = _order_ref(event, f"a TransactionEvent {action}")
        if action == "DELETE":
            return [("order.cancelled", {**ref, "reason": _ext(event, "reason")})], []
        per_sku = _quantities(event)
        if len(per_sku) != 1:
            raise _Unmappable(
                f"order.placed is for one sku; the event lists {len(per_sku)}", field="quantityList"
            )
        [(sku, qty)] = per_sku.items()
        placed = {
            **ref,
            "sku": sku,
            "quantity": qty,
            "requested_date": _ext(event, "requestedDate", required_for="order.placed"),
        }
        return [("order.placed", placed)], []
    if etype == "TransformationEvent":
        return _transformation(event)
    if etype == "AggregationEvent" and action in ("ADD", "DELETE"):
        return [], _aggregation(event, action)
    raise _Unmappable(
        f"{etype or 'event'} with action {action!r} and bizStep {step or None!r} has no supplynet event type "
        "(mapped: ObjectEvent shipping/departing, receiving/accepting/arriving, inventory_check/"
        "cycle_counting/storing, ADD commissioning/creating_class_instance; TransactionEvent ADD/DELETE of a "
        "po; TransformationEvent; AggregationEvent ADD/DELETE)",
        field="type",
    )


def _has_order(event: dict[str, Any]) -> bool:
    return any(_bare(str(b.get("type", "")), BTT) == "po" for b in event.get("bizTransactionList") or [])


def _transformation(event: dict[str, Any]) -> tuple[Mapped, Mapped]:
    """Class level: ``bom.defined`` for one output product; lot level: ``lot.produced`` per output lot."""
    out_lots = _lots(event, "outputQuantityList", "outputEPCList")
    in_lots = _lots(event, "inputQuantityList", "inputEPCList")
    lots = _produced(event, out_lots, _lot_list(in_lots)) if out_lots else []
    outputs = _quantities(event, "outputQuantityList", "outputEPCList")
    inputs = _quantities(event, "inputQuantityList", "inputEPCList")
    if len(outputs) != 1:
        if lots:
            return [], lots
        raise _Unmappable(
            f"bom.defined needs exactly one output product; the event has {len(outputs)}",
            field="outputQuantityList",
        )
    if not inputs:
        if lots:
            return [], lots
        raise _Unmappable("bom.defined needs input materials", field="inputQuantityList")
    [(product, made)] = outputs.items()
    if made <= 0:
        raise _Unmappable("the output quantity must be positive", field="outputQuantityList")
    components = [{"sku": sku, "qty": q / made} for sku, q in inputs.items() if sku != product]
    if not components:
        return [], lots
    return [("bom.defined", {"product_sku": product, "components": components})], lots


def _aggregation(event: dict[str, Any], action: str) -> Mapped:
    """Pack (ADD) or unpack (DELETE) lots and serials into or out of an SSCC shipping unit."""
    parent = str(event.get("parentID") or "")
    unit = unit_of(parent) or (party_of(parent) if parent else None)
    if not unit:
        raise _Unmappable("an AggregationEvent needs the shipping unit as `parentID`", field="parentID")
    enterprise = _ext(event, "enterpriseId", required_for="lot.packed / lot.unpacked")
    contents = _lots(event, "childQuantityList", "childEPCs")
    if not contents:
        raise _Unmappable(
            "an AggregationEvent needs its children (LGTIN lots in childQuantityList or SGTIN serials in "
            "childEPCs): the graph cannot tell which lots a unit held",
            field="childEPCs",
        )
    base = {"unit_id": unit, "enterprise_id": enterprise, "facility_id": _facility(event)}
    if action == "ADD":
        return [("lot.packed", {**base, "contents": _lot_list(contents)})]
    return [("lot.unpacked", {**base, "lot_ids": sorted(contents)})]


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


_EVENT_LISTS = ("epcisBody.eventList", "epcisBody.queryResults.resultsBody.eventList")
_DOC_TYPES = ("EPCISDocument", "EPCISQueryDocument")


def stream_event_list(f: IO[bytes]) -> Iterator[Any]:
    """The events of an EPCIS document's ``eventList``, one at a time, without loading the file.

    Raises ``EpcisError`` if the document is not JSON, if its ``type`` (which must come before
    ``epcisBody``, as in every EPCIS document) is not an EPCIS document, or if it has no event list.
    """
    doc_type: str | None = None
    found = False
    items = {f"{p}.item" for p in _EVENT_LISTS}
    builder: Any = None
    depth = 0
    try:
        for prefix, event, value in ijson.parse(f, use_float=True):
            if builder is not None:
                builder.event(event, value)
                if event in ("start_map", "start_array"):
                    depth += 1
                elif event in ("end_map", "end_array"):
                    depth -= 1
                if depth == 0:
                    yield builder.value
                    builder = None
                continue
            if prefix == "type" and event == "string":
                doc_type = value
            elif prefix == "epcisBody" and event == "start_map" and doc_type not in _DOC_TYPES:
                raise EpcisError("not an EPCIS 2.0 JSON document (expected `type: EPCISDocument` first)")
            elif prefix in _EVENT_LISTS and event == "start_array":
                found = True
            elif prefix in items:
                if event in ("start_map", "start_array"):
                    builder, depth = ijson.ObjectBuilder(), 1
                    builder.event(event, value)
                else:
                    yield value
    except ijson.JSONError as e:
        raise EpcisError(f"not JSON: {e}") from None
    if doc_type not in _DOC_TYPES:
        raise EpcisError("not an EPCIS 2.0 JSON document (expected `type: EPCISDocument`)")
    if not found:
        raise EpcisError("the document has no `epcisBody.eventList`")


def map_events(events: Iterable[Any], *, source: str) -> Iterator[FileItem]:
    """Catalog events of EPCIS events, one ``FileItem`` per EPCIS event (or per sku).

    ``position`` is the index in ``eventList``; an event that cannot be mapped becomes a rejected item
    with its reason.
    """
    for index, event in enumerate(events):
        original = msgspec.json.encode(event).decode()
        if not isinstance(event, dict):
            yield FileItem(index, original, rejection=Rejection("an EPCIS event must be a JSON object"))
            continue
        try:
            base_id = str(event.get("eventID") or event_hash_id(event))
            primary, lots = map_event(event)
        except _Unmappable as e:
            yield FileItem(index, original, rejection=Rejection(e.reason, field=e.field))
            continue
        except (KeyError, TypeError, ValueError) as e:
            yield FileItem(index, original, rejection=Rejection(f"malformed EPCIS event: {e!r}"))
            continue
        for eid, (etype, payload) in _with_ids(base_id, primary, lots):
            data = _drop_none(payload)
            envelope = {
                "specversion": SPECVERSION,
                "id": eid,
                "source": source,
                "type": etype,
                "time": str(event.get("eventTime", "")),
                "subject": str(data.get(CATALOG[etype].SUBJECT, "")),
                "data": data,
            }
            yield FileItem(index, original, event=msgspec.json.encode(envelope))


def _with_ids(
    base_id: str, primary: Mapped, lots: Mapped
) -> Iterator[tuple[str, tuple[str, dict[str, Any]]]]:
    """Ids of an EPCIS event's catalog events: the event's id for the only one, ``#<n>`` for several;
    lot events beside an order, stock or BOM event get ``#lot<n>`` (the other ids stay as they were)."""
    first, rest = (primary, lots) if primary else (lots, [])
    for n, item in enumerate(first):
        yield (base_id if len(first) == 1 else f"{base_id}#{n}"), item
    for n, item in enumerate(rest):
        yield f"{base_id}#lot{n}", item


def read_epcis(f: IO[bytes], *, source: str) -> Iterator[FileItem]:
    """The catalog events of an EPCIS document file, streamed (see ``stream_event_list``)."""
    return map_events(stream_event_list(f), source=source)


def document_events(doc: Any, *, source: str) -> Iterator[FileItem]:
    """The catalog events of an already parsed EPCISDocument; raises ``EpcisError`` if it is not one."""
    if not isinstance(doc, dict) or doc.get("type") not in _DOC_TYPES:
        raise EpcisError("not an EPCIS 2.0 JSON document (expected `type: EPCISDocument`)")
    body = doc.get("epcisBody") or {}
    events = body.get("eventList")
    if events is None:
        events = ((body.get("queryResults") or {}).get("resultsBody") or {}).get("eventList")
    if not isinstance(events, list):
        raise EpcisError("the document has no `epcisBody.eventList`")
    return map_events(events, source=source)
