"""The exported contracts are generated from the models and describe what the validator accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from schema import export
from schema.events import CATALOG
from schema.examples import example_event

ROOT = Path(__file__).resolve().parents[2]


def test_committed_contracts_are_up_to_date() -> None:
    for rel, text in export.files().items():
        committed = ROOT / "docs" / "contracts" / rel
        assert committed.read_text(encoding="utf-8") == text, f"run `supplynet schema export` ({rel})"
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == export.events_markdown() + "\n"


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_each_example_validates_against_its_json_schema(event_type: str) -> None:
    schema = export.event_schema(CATALOG[event_type])
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example_event(event_type), schema, cls=jsonschema.Draft202012Validator)


def test_the_json_schema_refuses_what_the_validator_refuses() -> None:
    schema = export.event_schema(CATALOG["supply.agreed"])
    bad = example_event("supply.agreed")
    bad["data"]["share"] = 1.7
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)


def test_asyncapi_lists_every_event_on_events_raw() -> None:
    doc = json.loads(export.files()["asyncapi.json"])
    assert doc["asyncapi"] == "3.0.0"
    assert len(doc["channels"]["eventsRaw"]["messages"]) == len(CATALOG)


def test_the_catalog_documents_country_as_iso_3166_alpha_2() -> None:
    text = export.events_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| `country` |")]
    assert rows
    assert all("ISO 3166-1 alpha-2" in r and "`^[A-Z]{2}$`" in r for r in rows)
