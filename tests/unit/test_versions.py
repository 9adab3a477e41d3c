"""Aspect versions order exactly like (event time ms, sequence, event id), for every envelope accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.mutations import version
from schema.envelope import MAX_SEQUENCE
from schema.errors import EventRejected
from schema.examples import example_event
from schema.validate import decode_event

MAX_TIME_MS = int(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp() * 1000)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

# Few distinct times and ids make ties likely; sequences just below and at every power of ten
# cross each digit-width boundary (where a padded width too narrow reorders).
times = st.sampled_from([0, 1_780_000_000_000, MAX_TIME_MS]) | st.integers(0, MAX_TIME_MS)
boundaries = st.integers(0, 18).flatmap(lambda k: st.sampled_from([10**k - 1, 10**k]))
sequences = boundaries | st.sampled_from([0, MAX_SEQUENCE]) | st.integers(0, MAX_SEQUENCE)
ids = st.sampled_from(["a", "b", "a:b"]) | st.text(min_size=1, max_size=20)
stamps = st.tuples(times, sequences, ids)


@given(stamps, stamps)
def test_version_order_is_the_order_of_time_sequence_and_id(
    a: tuple[int, int, str], b: tuple[int, int, str]
) -> None:
    va, vb = version(*a), version(*b)
    assert (va < vb) == (a < b)
    assert (va == vb) == (a == b)


@given(times, sequences.filter(lambda s: s < MAX_SEQUENCE))
def test_a_higher_sequence_wins_at_equal_time_at_any_width(at: int, seq: int) -> None:
    assert version(at, seq, "z") < version(at, seq + 1, "a")


def test_sequence_ten_billion_is_newer_than_9_999_999_999() -> None:
    assert version(1_000, 9_999_999_999, "b") < version(1_000, 10_000_000_000, "a")


def _with(**changes: object) -> bytes:
    ev = example_event("partner.registered")
    ev.update(changes, time=NOW.isoformat())
    return msgspec.json.encode(ev)


def test_the_envelope_accepts_the_largest_sequence() -> None:
    assert decode_event(_with(sequence=MAX_SEQUENCE), now=NOW).sequence == MAX_SEQUENCE


@pytest.mark.parametrize("sequence", [MAX_SEQUENCE + 1, 2**64, -1])
def test_the_envelope_refuses_a_sequence_out_of_range_naming_the_field(sequence: int) -> None:
    with pytest.raises(EventRejected) as e:
        decode_event(_with(sequence=sequence), now=NOW)
    assert e.value.field == "$.sequence"


def test_the_envelope_refuses_a_time_before_1970_naming_the_field() -> None:
    raw = msgspec.json.decode(_with())
    raw["time"] = "1969-12-31T23:59:59Z"
    with pytest.raises(EventRejected) as e:
        decode_event(msgspec.json.encode(raw), now=NOW)
    assert e.value.field == "$.time"
