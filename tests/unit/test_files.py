"""CSV and NDJSON readers: rows become catalog events or say why not."""

from __future__ import annotations

import io

import msgspec

from connectors.files import Rejection, file_format, read_csv, read_ndjson, row_to_event
from schema.validate import decode_event

T = "2026-05-01T08:00:00+08:00"


def _csv(text: str, **kw: str) -> list:  # type: ignore[type-arg]
    return list(read_csv(io.BytesIO(text.encode("utf-8")), **kw))


def test_csv_rows_are_typed_by_the_catalog_and_pass_the_validator() -> None:
    items = _csv(
        "\ufefftype,time,supplier_id,buyer_id,sku,share,lead_time_days\n"
        f"supply.agreed,{T},wisco,dongfeng,HRC-Q235,0.7,21\n",
        source="sap-prod",
    )
    assert [i.position for i in items] == [2]
    ev = decode_event(items[0].event)
    assert ev.type == "supply.agreed"
    assert ev.subject == "dongfeng"
    assert ev.data.share == 0.7
    assert ev.data.lead_time_days == 21
    assert ev.source == "sap-prod"


def test_csv_without_source_is_rejected_unless_one_is_given() -> None:
    row = {"type": "material.defined", "time": T, "sku": "S1", "name": "热轧卷", "category": "steel"}
    assert isinstance(row_to_event(row, event_type=None, source=None), Rejection)
    ok = row_to_event(row, event_type=None, source="kingdee")
    assert not isinstance(ok, Rejection)
    assert decode_event(ok[0]).data.name == "热轧卷"


def test_bom_components_are_encoded_as_sku_qty_pairs() -> None:
    items = _csv(
        f"time,product_sku,components\n{T},CAR-1,HRC-Q235:2.5;PP-T30S:0.4\n",
        event_type="bom.defined",
        source="sap",
    )
    ev = decode_event(items[0].event)
    assert [(c.sku, c.qty) for c in ev.data.components] == [("HRC-Q235", 2.5), ("PP-T30S", 0.4)]


def test_list_of_strings_is_split_on_semicolons() -> None:
    items = _csv(
        f"time,enterprise_id,name,industry,capabilities\n{T},wisco,武汉钢铁,steel,热轧;冷轧\n",
        event_type="partner.registered",
        source="sap",
    )
    assert decode_event(items[0].event).data.capabilities == ["热轧", "冷轧"]


def test_derived_ids_are_deterministic_and_depend_on_content() -> None:
    text = f"time,sku,name,category\n{T},S1,a,b\n{T},S2,a,b\n"
    first = [decode_event(i.event).id for i in _csv(text, event_type="material.defined", source="s")]
    again = [decode_event(i.event).id for i in _csv(text, event_type="material.defined", source="s")]
    assert first == again
    assert first[0] != first[1]


def test_bad_cells_name_the_field_and_reason() -> None:
    items = _csv(
        f"time,supplier_id,buyer_id,sku,share,lead_time_days\n{T},a,b,S,lots,21\n{T},a,b,S,1.5,21\n",
        event_type="supply.agreed",
        source="s",
    )
    assert items[0].rejection is not None
    assert items[0].rejection.field == "share"
    assert "float" in items[0].rejection.reason
    assert items[1].rejection is not None
    assert items[1].rejection.field == "share"
    assert "<= 1.0" in items[1].rejection.reason


def test_unknown_type_and_missing_time_are_rejected() -> None:
    items = _csv(f"type,time,x\nno.such,{T},1\nmaterial.defined,,1\n", source="s")
    assert items[0].rejection == Rejection("unknown event type 'no.such'", field="type")
    assert items[1].rejection is not None
    assert items[1].rejection.field == "time"


def test_ndjson_lines_keep_their_bytes_and_line_numbers() -> None:
    lines = [b'{"a": 1}', b"", b"not json", '{"名": 1}'.encode()]
    items = list(read_ndjson(io.BytesIO(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")))
    assert [(i.position, i.event) for i in items] == [(1, lines[0]), (3, lines[2]), (4, lines[3])]


def test_invalid_utf8_in_a_csv_is_a_rejection_not_a_crash() -> None:
    items = list(
        read_csv(io.BytesIO(b"time,sku\n" + b"\xff\xfe,x\n"), event_type="material.defined", source="s")
    )
    assert items[-1].rejection is not None
    assert "UTF-8" in items[-1].rejection.reason


def test_file_kinds_come_from_the_name() -> None:
    from pathlib import Path

    assert file_format(Path("a.NDJSON")) == "ndjson"
    assert file_format(Path("a.csv")) == "csv"
    assert file_format(Path("epcis.json")) == "epcis"
    assert msgspec.json.decode(b"1") == 1
