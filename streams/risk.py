"""Live risk: rescore what each projected batch touched, recompute everything periodically, alert.

``register`` adds to a faust app one agent on ``events.valid`` (it collects the ids a batch names,
waits until the projector has stored that batch's offsets in Neo4j, then rescores them and what
inherits from them) and one timer (the full recompute: betweenness, cut vertices, HHI). Alerts go
to ``risk.alerts`` (JSON, keyed by enterprise) and each opens a ``potential`` incident in SQL.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import faust
import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from connectors.kafka import EventProducer, Record
from graph.risk.alerts import Alert, disruption_alerts, threshold_alerts
from graph.risk.engine import RiskEngine
from graph.risk.incidents import open_incidents
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore

log = logging.getLogger(__name__)

ENTERPRISE_FIELDS = ("supplier_id", "buyer_id", "enterprise_id", "owner_id", "carrier_id")


@dataclass
class Touched:
    """The ids a batch of events names, by kind."""

    enterprises: set[str] = field(default_factory=set)
    facilities: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    disruptions: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.enterprises or self.facilities or self.regions or self.disruptions)


def touched_by(values: Iterable[bytes]) -> Touched:
    """The enterprises, facilities, regions and disruptions named by valid events (their JSON form).

    The subject (the enterprise an event concerns) counts as an enterprise; undecodable values are
    skipped (they passed validation, so this only happens for foreign producers) and logged.
    """
    t = Touched()
    for value in values:
        try:
            ev = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("risk: skipped an undecodable events.valid record")
            continue
        data = ev.get("data") or {}
        if isinstance(ev.get("subject"), str):
            t.enterprises.add(ev["subject"])
        for f in ENTERPRISE_FIELDS:
            if isinstance(data.get(f), str):
                t.enterprises.add(data[f])
        if isinstance(data.get("facility_id"), str):
            t.facilities.add(data["facility_id"])
        if isinstance(data.get("region"), str):
            t.regions.add(data["region"])
        if isinstance(data.get("disruption_id"), str):
            t.disruptions.add(data["disruption_id"])
    return t


@dataclass(frozen=True)
class Run:
    """What one recompute did."""

    scored: int
    alerts: list[Alert]
    incidents: list[int]
    seconds: float


class RiskService:
    """Scores, writes back and alerts. One per worker; not thread-safe (the agent serialises calls)."""

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
        self._lock = asyncio.Lock()  # the agent and the timer never change the engine at once

    def _downstream(self, eid: str) -> list[str]:
        """An alert's affected enterprises: within ``alert_affected_tiers`` tiers, nearest first. Bounded
        because the whole downstream of a node in a cyclic network is most of it: at 100k enterprises /
        1M links the unbounded search took ~0.35 s per alert (~28 min for a first run's 4,783 alerts),
        three tiers take ~1 ms (``bench/risk_full.py``)."""
        tiers = self.engine.downstream([eid], tiers=self.settings.alert_affected_tiers)
        return sorted(tiers, key=lambda k: (tiers[k], k))

    async def full(self, *, reload: bool | None = None) -> Run:
        """Recompute every score and the global measures, write them, alert.

        The network is re-read from Neo4j on the first run and on every ``full_reload_every``-th
        (``reload`` forces either way); the other runs recompute from the network the worker holds,
        which the incremental path keeps current. Why: at 100k enterprises / 1M links the read is
        24–35 s of an ~83 s run (``bench/risk_full.py``); what it catches beyond the events (KPI
        refreshes, alarm and certificate windows, ended links) can wait for the next reload.
        The computation runs in a worker thread so the event loop (Kafka heartbeats, the projector)
        keeps running; calls are serialised with ``touched``.
        """
        async with self._lock:
            return await self._full(reload=reload)

    async def _full(self, *, reload: bool | None = None) -> Run:
        t0 = time.perf_counter()
        if reload is None:
            reload = not self.loaded or self.full_runs % self.settings.full_reload_every == 0
        self.full_runs += 1
        previous = (
            {k: v.score for k, v in self.engine.scores.items()}
            if self.loaded
            else await self.store.previous_scores(scope=self.scope)
        )
        network = (
            await self.store.network(scope=self.scope) if reload or not self.loaded else self.engine.network
        )
        scores = await asyncio.to_thread(self.engine.full, network)
        # The network and scores live until the next full recompute: move them out of the cyclic
        # GC's generations, or every gen-2 collection rescans ~10^7 objects (seconds at 100k nodes).
        gc.freeze()
        self.loaded = True
        at = self.engine.computed_at_ms
        await self.store.write_scores(scores.values(), computed_at_ms=at)
        await self._write_links_and_facilities(at)
        alerts = threshold_alerts(
            previous, scores, self.settings, downstream=self._downstream, computed_at_ms=at
        )
        incidents = await self._alert(alerts)
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
        changed = await asyncio.to_thread(
            lambda: self.engine.rescore(
                enterprises=enterprises, links=links, touched=ids, facilities=facilities
            )
        )
        at = self.engine.computed_at_ms
        await self.store.write_scores(changed.values(), computed_at_ms=at)
        await self._write_links_and_facilities(at)
        alerts = threshold_alerts(
            self.engine.previous, changed, self.settings, downstream=self._downstream, computed_at_ms=at
        )
        alerted = {a.enterprise for a in alerts}
        alerts += [
            a
            for a in disruption_alerts(
                before,
                enterprises,
                self.engine.scores,
                self.settings,
                downstream=self._downstream,
                computed_at_ms=at,
            )
            if a.enterprise not in alerted
        ]
        incidents = await self._alert(alerts)
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

    async def _alert(self, alerts: list[Alert]) -> list[int]:
        """Send the alerts (acknowledged by Kafka) and then open one incident per alert (idempotent)."""
        if not alerts:
            return []
        records = [
            Record(a.enterprise.encode(), a.to_json(), (("severity", a.severity.encode()),)) for a in alerts
        ]
        await asyncio.to_thread(self.alerts_out.send_many, records)

        def record() -> list[int]:
            with Session(self.sql) as session:
                return [inc.id or 0 for inc in open_incidents(session, alerts=alerts)]

        return await asyncio.to_thread(record)

    def close(self) -> None:
        self.alerts_out.close()


async def wait_for_projection(
    store: RiskStore, group: str, topic: str, last: dict[int, int], *, timeout_s: float = 30.0
) -> bool:
    """Wait until the projector stored offsets past ``last`` (partition -> last offset seen); True if so."""
    ids = {f"{group}/{topic}/{p}": o + 1 for p, o in last.items()}
    deadline = time.monotonic() + timeout_s
    while True:
        stored = await store.projected_offsets(sorted(ids))
        if all(stored.get(k, -1) >= need for k, need in ids.items()):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


def register(
    app: faust.App,
    valid: faust.TopicT,
    service_factory: Callable[[], RiskService],
    *,
    group: str,
    full_seconds: float,
    batch_size: int = 1000,
    batch_seconds: float = 0.5,
) -> None:
    """Add the ``risk`` agent (rescoring after each projected batch) and the ``risk_full`` timer
    (every ``full_seconds``). ``service_factory`` is called once, inside the worker, on first use."""
    state: dict[str, RiskService] = {}

    def service() -> RiskService:
        if "s" not in state:
            state["s"] = service_factory()
        return state["s"]

    async def rescore(stream: faust.StreamT[Any]) -> None:
        from streams.app import _take  # the app module's batching helper

        async for batch in _take(stream, batch_size, within=batch_seconds):
            last: dict[int, int] = {}
            for e in batch:
                last[e.message.partition] = max(last.get(e.message.partition, -1), e.message.offset)
            if not await wait_for_projection(service().store, group, valid.get_topic_name(), last):
                log.warning("risk: projector did not store offsets %s in time; rescoring anyway", last)
            run = await service().touched(touched_by(e.message.value for e in batch if e.message.value))
            log.info("risk: %d scores, %d alerts in %.2f s", run.scored, len(run.alerts), run.seconds)

    async def full() -> None:
        run = await service().full()
        log.info(
            "risk: full recompute, %d scores, %d alerts in %.1f s", run.scored, len(run.alerts), run.seconds
        )

    app.agent(valid, name="risk")(rescore)
    app.timer(full_seconds, name="risk_full")(full)

    async def _close(sender: Any, *args: Any, **kwargs: Any) -> None:
        if "s" in state:
            state["s"].close()

    app.on_before_shutdown.connect(cast(Any, _close))
