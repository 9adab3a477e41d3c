"""What several risk processes agree on in the SQL store: one full recompute per period, one alert per
cause (re-armed when a score drops below the threshold), and bounded slices of rescoring work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, create_engine

from graph.risk.alerts import THRESHOLD_CAUSE
from graph.risk.coordination import (
    CauseKey,
    claim_causes,
    claim_period,
    finish_period,
    full_runs,
    rearm,
    release,
)
from streams.risk import Touched


def engine(tmp_path: Path) -> Engine:
    e = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    import schema.tables  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(e)
    return e


def alert_id(key: CauseKey, episode: int) -> str:
    return f"{key[0]}|{key[1]}|{episode}"


def test_only_one_process_claims_a_period_of_a_group(tmp_path: Path) -> None:
    e = engine(tmp_path)
    with Session(e) as a, Session(e) as b:
        assert claim_period(a, group="g-risk", period=7, holder="host/1")
        assert not claim_period(b, group="g-risk", period=7, holder="host/2")
        assert claim_period(b, group="g-risk", period=8, holder="host/2")
        assert claim_period(b, group="other-risk", period=7, holder="host/2")
        finish_period(a, group="g-risk", period=7, scored=10, alerts=1)
    with Session(e) as s:
        runs = full_runs(s, group="g-risk")
    assert [(r.period, r.holder, r.scored) for r in runs] == [(7, "host/1", 10), (8, "host/2", None)]


def test_a_cause_is_claimed_once_until_rearmed_then_again_with_the_next_episode(tmp_path: Path) -> None:
    e = engine(tmp_path)
    mill, fire = ("mill", THRESHOLD_CAUSE), ("mill", "alert:abc")
    with Session(e) as a:
        assert claim_causes(a, [mill, fire], alert_id=alert_id) == {mill: 1, fire: 1}
        a.commit()
    with Session(e) as b:  # another process sees the same crossing: nothing to send
        assert claim_causes(b, [mill, fire], alert_id=alert_id) == {}
        assert rearm(b, below=["mill", "auto1"]) == 1  # only the raised threshold cause
        b.commit()
    with Session(e) as a:
        assert claim_causes(a, [mill, fire], alert_id=alert_id) == {mill: 2}  # a disruption alerts once
        a.commit()


def test_a_score_from_facts_read_before_the_raise_does_not_rearm_it(tmp_path: Path) -> None:
    """Process B's model was read before the fire that process A rescored and alerted on: B's score is
    under the threshold, but it must not re-arm A's raise (the next rescoring would alert again)."""
    e = engine(tmp_path)
    mill = ("mill", THRESHOLD_CAUSE)
    b_read_at = datetime.now(UTC)
    with Session(e) as a:
        assert claim_causes(a, [mill], alert_id=alert_id) == {mill: 1}
        a.commit()
    with Session(e) as b:
        assert rearm(b, below=["mill"], facts_read_at=b_read_at) == 0
        b.commit()
        assert claim_causes(b, [mill], alert_id=alert_id) == {}
    with Session(e) as a:  # facts read after the raise: the drop is real
        assert rearm(a, below=["mill"], facts_read_at=datetime.now(UTC) + timedelta(milliseconds=1)) == 1
        a.commit()
        assert claim_causes(a, [mill], alert_id=alert_id) == {mill: 2}


def test_claims_roll_back_with_their_transaction(tmp_path: Path) -> None:
    e = engine(tmp_path)
    key = ("oem", THRESHOLD_CAUSE)
    with Session(e) as a:
        assert claim_causes(a, [key], alert_id=alert_id) == {key: 1}
        a.rollback()  # the alert could not be sent
    with Session(e) as b:
        assert claim_causes(b, [key], alert_id=alert_id) == {key: 1}


def test_a_released_claim_is_raisable_again_unless_claimed_anew(tmp_path: Path) -> None:
    e = engine(tmp_path)
    key = ("oem", THRESHOLD_CAUSE)
    with Session(e) as s:
        claim_causes(s, [key], alert_id=alert_id)
        s.commit()
        assert release(s, {key: "not-the-claimed-id"}) == 0
        assert release(s, {key: alert_id(key, 1)}) == 1  # the send failed
        s.commit()
    with Session(e) as s:
        assert claim_causes(s, [key], alert_id=alert_id) == {key: 2}


def test_a_concurrent_insert_of_the_same_cause_leaves_it_to_the_first(tmp_path: Path) -> None:
    e = engine(tmp_path)
    first, second = ("a", THRESHOLD_CAUSE), ("b", THRESHOLD_CAUSE)
    with Session(e) as other:
        claim_causes(other, [second], alert_id=alert_id)
        other.commit()
    with Session(e) as s:
        # ``b`` is taken by the other process: only ``a`` is inserted, nothing fails
        claimed = claim_causes(s, [first, second], alert_id=alert_id)
        s.commit()
    assert claimed == {first: 1}


def test_touched_ids_are_rescored_in_bounded_slices() -> None:
    t = Touched({f"e{i:02d}" for i in range(5)}, {"f1"}, {"r1"}, {"d1"})
    t.update(Touched({"e99"}, {"f2"}))
    parts = list(t.slices(2))
    assert [sorted(p.enterprises) for p in parts] == [["e00", "e01"], ["e02", "e03"], ["e04", "e99"]]
    assert (
        parts[0].facilities == {"f1", "f2"} and parts[0].regions == {"r1"} and parts[0].disruptions == {"d1"}
    )
    assert not any(p.facilities or p.regions or p.disruptions for p in parts[1:])
    only_regions = list(Touched(regions={"r"}).slices(2))
    assert [p.regions for p in only_regions] == [{"r"}]
