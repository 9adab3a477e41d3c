"""Future-dated events: refused when their time is further ahead of the validating clock than the skew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from api.ingest import ServerBuilt
from connectors.http_ingest import Outcome, check_events
from schema.errors import EventRejected
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event
from streams.stages import Incoming, route

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _at(ahead: timedelta, now: datetime = NOW) -> bytes:
    ev = example_event("partner.updated")
    ev["time"] = (now + ahead).isoformat()
    return msgspec.json.encode(ev)


def test_an_event_23_hours_50_minutes_ahead_is_refused_naming_time() -> None:
    with pytest.raises(EventRejected) as e:
        decode_event(_at(timedelta(hours=23, minutes=50)), now=NOW)
    assert e.value.field == "$.time"
    assert e.value.error_class == "future"
    assert "300 s allowed" in e.value.reason


@pytest.mark.parametrize(("ahead_s", "ok"), [(0, True), (299, True), (301, False)])
def test_the_default_skew_is_five_minutes(ahead_s: int, ok: bool) -> None:
    try:
        decode_event(_at(timedelta(seconds=ahead_s)), now=NOW)
    except EventRejected:
        assert not ok
    else:
        assert ok


def test_the_skew_is_configurable_and_none_turns_the_check_off() -> None:
    raw = _at(timedelta(minutes=30))
    with pytest.raises(EventRejected):
        decode_event(raw, now=NOW, max_future=timedelta(minutes=10))
    assert decode_event(raw, now=NOW, max_future=timedelta(hours=1)).id
    assert decode_event(raw, now=NOW, max_future=None).id


def test_the_validate_stage_routes_a_future_event_to_the_dlq_with_the_configured_skew() -> None:
    # the stage reads the clock: ahead of the real now (ahead of NOW stopped being ahead a day later)
    msg = Incoming("events.raw", 0, 7, b"k", _at(timedelta(days=2), datetime.now(UTC)))
    routed = route([msg], max_future=timedelta(days=1))
    [(_, err)] = routed.rejected
    assert err.field == "$.time"
    assert route([msg], max_future=timedelta(days=3)).valid


def test_http_ingest_refuses_a_future_event_per_event() -> None:
    ev = example_event("partner.updated")
    ev["time"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # the ingest reads the clock
    raw = msgspec.json.encode(ev)
    _, report = check_events([raw], ServerBuilt(Role.ADMIN, None), max_future=timedelta(hours=1))
    [result] = report.events
    assert result.status is Outcome.REJECTED
    assert result.errors[0].field == "$.time"
