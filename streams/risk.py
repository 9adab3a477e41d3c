"""Live risk: rescore what each graph commit changed, recompute everything periodically, alert.

``RiskService`` does the work (read facts, score in memory, write back, alert); the risk process that
drives it (its own consumer group, never the validate/project worker) is ``streams/risk_process.py``.
Alerts go to ``risk.alerts`` (JSON, keyed by enterprise), each with a ``potential`` incident in SQL,
and each alert cause is claimed in SQL first (``graph/risk/coordination.py``) so several risk
processes never send the same one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import msgspec
from sqlalchemy import Engine
from sqlmodel import Session

from connectors.kafka import EventProducer, Record
from graph.registry import REGISTRY
from graph.risk.alerts import (
    THRESHOLD_CAUSE,
    Alert,
    cause_of,
    disruption_alerts,
    disruption_cause,
    threshold_alert,
    threshold_alert_id,
)
from graph.risk.coordination import (
    CauseKey,
    claim_causes,
    next_episodes,
    rearm,
    release,
    sent,
    to_outbox,
    unsent,
)
from graph.risk.engine import RiskEngine
from graph.risk.incidents import open_incidents
from graph.risk.scoring import RiskScore
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from schema import changes
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.validate import decode_event

log = logging.getLogger(__name__)

T = TypeVar("T")

ALERT_CHUNK = 100
"""Most alert causes claimed (one short SQL transaction), sent and recorded at a time: a first full
recompute raises thousands (6,652 on the 11,000-enterprise benchmark graph); one transaction around
all of them and their Kafka send held SQLite's lock until the validate stage's dedup ledger failed
with "database is locked"."""


async def off_loop(fn: Callable[[], T]) -> T:
    """``fn()`` in a daemon thread of its own; the event loop keeps running meanwhile.

    Not ``asyncio.to_thread``: the default executor's threads are joined at exit, so a SIGTERM during
    a minute-long recompute would wait for it. A daemon thread dies with the process; its result is
    dropped if the caller was cancelled."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as e:  # handed to the awaiting task, which decides
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is shutting down
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="risk-compute", daemon=True).start()
    return await done


@dataclass
class Touched:
    """The ids a batch of events names, by kind."""

    enterprises: set[str] = field(default_factory=set)
    facilities: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    disruptions: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.enterprises or self.facilities or self.regions or self.disruptions)

    def update(self, other: Touched) -> None:
        """Add ``other``'s ids."""
        self.enterprises |= other.enterprises
        self.facilities |= other.facilities
        self.regions |= other.regions
        self.disruptions |= other.disruptions

    def slices(self, size: int) -> Iterator[Touched]:
        """The same ids in parts of at most ``size`` enterprises (facilities, regions and disruptions
        go with the first part): each part is one bounded rescoring."""
        ids = sorted(self.enterprises)
        for i in range(0, max(len(ids), 1), size):
            first = i == 0
            yield Touched(
                set(ids[i : i + size]),
                set(self.facilities) if first else set(),
                set(self.regions) if first else set(),
                set(self.disruptions) if first else set(),
            )


def touched_by_changes(values: Iterable[bytes]) -> Touched:
    """The enterprises, facilities, regions and disruptions that ``graph.changes`` records (their JSON
    form) changed: every enterprise a change concerns (``GraphChanges.enterprises``) and the nodes and
    link ends of the other kinds risk rescores from. Undecodable values are skipped and logged.
    Idempotent: the same record twice names the same ids."""
    t = Touched()
    for value in values:
        try:
            record = changes.decode(value)
        except msgspec.MsgspecError as e:
            log.warning("risk: skipped a graph.changes record that does not decode: %s", e)
            continue
        t.enterprises |= record.enterprises()
        for n in record.nodes:
            _add(t, n.label, n.id)
        for lk in record.links:
            _add(t, lk.start_label, lk.start)
            _add(t, lk.end_label, lk.end)
    return t


_KINDS = {"Facility": "facilities", "Region": "regions", "Disruption": "disruptions"}


def _add(t: Touched, label: str, key: str) -> None:
    kind = _KINDS.get(label)
    if kind is not None:
        getattr(t, kind).add(key)


def touched_by(values: Iterable[bytes]) -> Touched:
    """The enterprises, facilities, regions and disruptions named by valid events (their JSON form).

    Decoded once each; undecodable values are skipped (they passed validation, so this only happens
    for foreign producers) and logged. See ``touched_by_events``.
    """
    events: list[ValidEvent] = []
    for value in values:
        try:
            events.append(decode_event(value, max_future=None))
        except EventRejected as e:
            log.warning("risk: skipped an events.valid record that does not decode: %s", e.describe())
    return touched_by_events(events)


def touched_by_events(events: Iterable[ValidEvent]) -> Touched:
    """The ids valid events name, by kind: each type's ``names`` in ``graph.registry``, and the
    subject (the id an event concerns) as an enterprise."""
    t = Touched()
    for ev in events:
        t.enterprises.add(ev.subject)
        n = REGISTRY[type(ev.data)].names(ev.data)
        t.enterprises.update(n.enterprises)
        t.facilities.update(n.facilities)
        t.regions.update(n.regions)
        t.disruptions.update(n.disruptions)
    return t


@dataclass(frozen=True)
class Run:
    """What one recompute did."""

    scored: int
    alerts: list[Alert]
    incidents: list[int]
    seconds: float


class RiskService:
    """Scores, writes back and alerts. One per risk process; calls are serialised (a lock)."""

    def __init__(
        self,
        *,
        store: RiskStore,
        settings: RiskSettings,
        alerts_out: EventProducer,
        sql: Engine,
        scope: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.alerts_out = alerts_out
        self.sql = sql
        self.scope = scope
        self.engine = RiskEngine(settings)
        self.loaded = False
        self.full_runs = 0
        """Full recomputes so far; every ``full_reload_every``-th re-reads the projection."""
        self._lock = asyncio.Lock()  # rescoring, recomputes and loads never change the engine at once
        self._written: dict[str, int] = {}
        """Enterprise -> hash of the score JSON this process last wrote (unchanged ones are skipped)."""
        self.partial = False
        """True while this process follows only some partitions of the changes (other risk processes
        follow the rest): the model it holds then misses their changes until it re-reads the projection."""
        self._model_read_at = datetime.now(UTC)
        """When the projection the held model was computed from was read (``load`` or a reloading
        ``full``): the facts of an enterprise no rescoring re-read are at least that old."""

    def _downstream(self, eid: str) -> list[str]:
        """An alert's affected enterprises: within ``alert_affected_tiers`` tiers, nearest first. Bounded
        because the whole downstream of a node in a cyclic network is most of it: at 100k enterprises /
        1M links the unbounded search took ~0.35 s per alert (~28 min for a first run's 4,783 alerts),
        three tiers take ~1 ms (``bench/risk_full.py``)."""
        tiers = self.engine.downstream([eid], tiers=self.settings.alert_affected_tiers)
        return sorted(tiers, key=lambda k: (tiers[k], k))

    async def full(self, *, reload: bool | None = None) -> Run:
        """Recompute every score and the global measures, write them, alert.

        The network is re-read from Neo4j on the first run and when ``reload`` (default: every
        ``full_reload_every``-th run); the other runs recompute from the network this process holds,
        which the incremental path keeps current. Why: at 100k enterprises / 1M links the read is
        24–35 s of an ~83 s run (``bench/risk_full.py``); what it catches beyond the events (KPI
        refreshes, certificate windows, ended links) can wait for the next reload.
        The computation runs in a thread of its own (``off_loop``); calls are serialised with
        ``touched`` and ``load``.
        """
        async with self._lock:
            return await self._full(reload=reload)

    async def load(self) -> Run:
        """Read the projection and compute the model in memory, writing and alerting nothing: what a
        risk process that does not hold this period's full recompute needs to rescore its partitions
        (the downstream of its enterprises crosses every partition)."""
        async with self._lock:
            t0 = time.perf_counter()
            read_at = datetime.now(UTC)
            network = await self.store.network(scope=self.scope)
            self._model_read_at = read_at
            scores = await off_loop(lambda: self.engine.full(network))
            self.engine.changed_links, self.engine.changed_facilities = [], []
            gc.freeze()
            self.loaded = True
            return Run(len(scores), [], [], time.perf_counter() - t0)

    async def _full(self, *, reload: bool | None = None) -> Run:
        t0 = time.perf_counter()
        if reload is None:
            reload = self.full_runs % self.settings.full_reload_every == 0
        self.full_runs += 1
        previous = (
            {k: v.score for k, v in self.engine.scores.items()}
            if self.loaded
            else await self.store.previous_scores(scope=self.scope)
        )
        if reload or not self.loaded:
            read_at = datetime.now(UTC)
            network = await self.store.network(scope=self.scope)
            self._model_read_at = read_at
        else:
            network = self.engine.network
        scores = await off_loop(lambda: self.engine.full(network))
        # The network and scores live until the next full recompute: move them out of the cyclic
        # GC's generations, or every gen-2 collection rescans ~10^7 objects (seconds at 100k nodes).
        gc.freeze()
        self.loaded = True
        at = self.engine.computed_at_ms
        await self.store.write_scores(scores.values(), computed_at_ms=at, written=self._written)
        await self._write_links_and_facilities(at)
        await self.store.mark_run(at, scope=self.scope)
        alerts, incidents = await self._alert(
            scores, previous, [], computed_at_ms=at, facts_read_at=lambda _e: self._model_read_at
        )
        await self.resend()
        return Run(len(scores), alerts, incidents, time.perf_counter() - t0)

    async def touched(self, touched: Touched) -> Run:
        """Rescore the touched enterprises (and those operating the facilities, in the regions, or hit
        by the disruptions) and everything downstream whose inherited risk moves; write, alert."""
        async with self._lock:
            if not self.loaded:
                return await self._full()
            return await self._touched(touched)

    async def _touched(self, touched: Touched) -> Run:
        t0 = time.perf_counter()
        targets = await self.store.disruption_targets(sorted(touched.disruptions))
        ids = set(touched.enterprises) | targets["enterprise"]
        ids |= await self.store.enterprises_in(
            regions=sorted(touched.regions | targets["region"]),
            facilities=sorted(touched.facilities | targets["facility"]),
        )
        if self.scope is not None:
            ids = {i for i in ids if i.startswith(self.scope)}
        if not ids:
            return Run(0, [], [], time.perf_counter() - t0)
        read_at = datetime.now(UTC)
        enterprises, links = await self.store.facts_of(sorted(ids))
        if self.scope is not None:
            links = [
                lk for lk in links if lk.supplier.startswith(self.scope) and lk.buyer.startswith(self.scope)
            ]
        facilities = await self.store.facilities_of(
            sorted(ids),
            sorted(touched.facilities | targets["facility"]),
            regions=sorted(touched.regions | targets["region"]),
        )
        if self.scope is not None:
            facilities = [f for f in facilities if f.id.startswith(self.scope)]
        before = {e.id: self.engine.enterprises[e.id] for e in enterprises if e.id in self.engine.enterprises}
        changed = await off_loop(
            lambda: self.engine.rescore(
                enterprises=enterprises, links=links, touched=ids, facilities=facilities
            )
        )
        at = self.engine.computed_at_ms
        await self.store.write_scores(changed.values(), computed_at_ms=at, written=self._written)
        await self._write_links_and_facilities(at)
        disruptions = disruption_alerts(
            before,
            enterprises,
            self.engine.scores,
            self.settings,
            downstream=self._downstream,
            computed_at_ms=at,
        )
        held_at = self._model_read_at if self.partial else read_at

        def facts_read_at(eid: str) -> datetime:
            return read_at if eid in ids else held_at

        alerts, incidents = await self._alert(
            changed, self.engine.previous, disruptions, computed_at_ms=at, facts_read_at=facts_read_at
        )
        return Run(len(changed), alerts, incidents, time.perf_counter() - t0)

    async def _write_links_and_facilities(self, at: int) -> None:
        """Write the link and facility scores the last engine run changed (unchanged ones are skipped)."""
        links, facilities = self.engine.changed_links, self.engine.changed_facilities
        self.engine.changed_links, self.engine.changed_facilities = [], []
        try:
            await self.store.write_link_scores(links, computed_at_ms=at)
            await self.store.write_facility_scores(facilities, computed_at_ms=at)
        except BaseException:
            self.engine.forget_written(links, facilities)
            raise

    async def _alert(
        self,
        scores: Mapping[str, RiskScore],
        previous: Mapping[str, float],
        disruptions: list[Alert],
        *,
        computed_at_ms: int,
        facts_read_at: Callable[[str], datetime],
    ) -> tuple[list[Alert], list[int]]:
        """Raise what is not raised yet: a threshold alert for each score at or above ``alert_threshold``
        whose cause is not raised (re-armed when a score drops below, computed from facts read after the
        cause was raised: ``facts_read_at``), and the disruption alerts not
        raised before. A cause claimed by another risk process is not sent again. ``ALERT_CHUNK``
        causes at a time: their claims commit (milliseconds), then the alerts go to Kafka
        (acknowledged), then their incidents are recorded; a failed send releases its claims (they are
        raised on a later rescoring). No SQL transaction stays open across the Kafka send or the
        alerts' downstream search: on SQLite a write transaction locks the whole file, and the
        validate stage's dedup ledger writes there too. A threshold alert names the enterprise's open
        disruptions and claims their causes with its own: no disruption alert follows it, in this call
        or from another risk process whose model saw the disruption later."""
        s = self.settings
        above = sorted(e for e, sc in scores.items() if sc.score >= s.alert_threshold)
        below = [e for e, sc in scores.items() if sc.score < s.alert_threshold]
        by_cause = {(a.enterprise, cause_of(a)): a for a in disruptions}
        if not above and not below and not by_cause:
            return [], []

        def alert_id(key: CauseKey, episode: int) -> str:
            if key in by_cause:
                return by_cause[key].id
            return threshold_alert_id(key[0], f"episode-{episode}")

        def named(alert: Alert) -> list[CauseKey]:
            # The disruption causes a threshold alert names: the open disruptions behind its score.
            e = self.engine.enterprises.get(alert.enterprise)
            return (
                [(alert.enterprise, disruption_cause(alert.enterprise, d.id)) for d in e.disruptions]
                if e
                else []
            )

        def claim_and_send(
            keys: list[CauseKey],
            build: Callable[[CauseKey, int], Alert],
            covers: Callable[[Alert], list[CauseKey]] | None = None,
        ) -> list[Alert]:
            # The alerts are built (a downstream search each) before the claim's transaction, for the
            # episode each cause would get; the claims and the alerts' outbox rows then commit together,
            # so a process killed before Kafka acknowledged leaves its alerts to be sent (``resend``).
            # ``covers``: causes an alert speaks for, claimed in the same transaction and never sent on
            # their own (a threshold alert names the disruptions behind it: another process that sees
            # the same disruption later, from an older model, must not alert it a second time).
            with Session(self.sql) as session:
                planned = next_episodes(session, keys)
            built = {k: build(k, episode) for k, episode in planned.items()}
            with Session(self.sql) as session:
                claimed = claim_causes(session, keys, alert_id=alert_id)
                mine = {
                    k: built[k] if planned.get(k) == episode else build(k, episode)
                    for k, episode in claimed.items()
                }
                covered = {c: a.id for a in mine.values() for c in (covers(a) if covers else [])}
                covered = {
                    k: covered[k]
                    for k in claim_causes(session, list(covered), alert_id=lambda k, _: covered[k])
                }
                to_outbox(session, mine)
                session.commit()
            alerts = [mine[k] for k in keys if k in mine]
            if not alerts:
                return []
            try:
                self._send(alerts, release_on_failure=True)
            except BaseException:
                with Session(self.sql) as session:  # raisable again, with the alert that named them
                    release(session, covered)
                    session.commit()
                raise
            with Session(self.sql) as session:
                incidents.extend(inc.id or 0 for inc in open_incidents(session, alerts=alerts))
            return alerts

        incidents: list[int] = []

        def raise_() -> tuple[list[Alert], list[int]]:
            by_read: dict[datetime, list[str]] = {}
            for e in below:
                by_read.setdefault(facts_read_at(e), []).append(e)
            with Session(self.sql) as session:
                for read_at, ids in by_read.items():
                    rearm(session, below=ids, facts_read_at=read_at)
                session.commit()
            alerts: list[Alert] = []
            for i in range(0, len(above), ALERT_CHUNK):
                alerts += claim_and_send(
                    [(e, THRESHOLD_CAUSE) for e in above[i : i + ALERT_CHUNK]],
                    lambda k, episode: self._threshold(k[0], scores, previous, episode, computed_at_ms),
                    covers=named,
                )
            alerted = {a.enterprise for a in alerts}
            rest = [k for k in by_cause if k[0] not in alerted]
            for i in range(0, len(rest), ALERT_CHUNK):
                alerts += claim_and_send(rest[i : i + ALERT_CHUNK], lambda k, _episode: by_cause[k])
            return alerts, incidents

        return await asyncio.to_thread(raise_)

    def _send(self, alerts: list[Alert], *, release_on_failure: bool) -> None:
        """Send to Kafka (acknowledged), then take the alerts out of the outbox. A failed send releases
        the claims and outbox rows (``release_on_failure``: raised again on a later rescoring)."""
        try:
            self.alerts_out.send_many(
                Record(a.enterprise.encode(), a.to_json(), (("severity", a.severity.encode()),))
                for a in alerts
            )
        except BaseException:
            if release_on_failure:
                with Session(self.sql) as session:
                    release(session, {(a.enterprise, cause_of(a)): a.id for a in alerts})
                    sent(session, [a.id for a in alerts])
                    session.commit()
            raise
        with Session(self.sql) as session:
            sent(session, [a.id for a in alerts])
            session.commit()

    async def resend(self) -> list[Alert]:
        """Send the alerts a risk process claimed and never got acknowledged (it died in between), older
        than ``alert_resend_after_seconds``; open their incidents. Run by the period's full recompute, so
        one process of the group does it."""
        claimed_before = datetime.now(UTC) - timedelta(seconds=self.settings.alert_resend_after_seconds)

        def run() -> list[Alert]:
            with Session(self.sql) as session:
                alerts = [Alert.from_json(r.payload) for r in unsent(session, claimed_before=claimed_before)]
            for i in range(0, len(alerts), ALERT_CHUNK):
                chunk = alerts[i : i + ALERT_CHUNK]
                self._send(chunk, release_on_failure=False)
                with Session(self.sql) as session:
                    open_incidents(session, alerts=chunk)
            if alerts:
                log.warning("risk: sent %d alert(s) a risk process had claimed but not sent", len(alerts))
            return alerts

        return await asyncio.to_thread(run)

    def _threshold(
        self,
        eid: str,
        scores: Mapping[str, RiskScore],
        previous: Mapping[str, float],
        episode: int,
        computed_at_ms: int,
    ) -> Alert:
        return threshold_alert(
            scores[eid],
            previous.get(eid),
            self.settings,
            downstream=self._downstream,
            marker=f"episode-{episode}",
            computed_at_ms=computed_at_ms,
        )

    def close(self) -> None:
        self.alerts_out.close()
