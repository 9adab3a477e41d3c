"""Record views benchmark: first-page latency of every record list through GraphQL over HTTP, at a large
record store.

The store is filled through ``connectors.record_store.RecordStore`` (the projector's own writer) with a
realistic flow of catalog payloads over ``--enterprises`` enterprises: order lifecycles (placed,
confirmed, shipped with a shipment, one in six delayed, delivered — a fifth late — or cancelled),
stock reports every 8th event, capacity every 40th, quality incidents and equipment alarms. The graph
gets the enterprises, their supply links (for a partner's scope), three certificates each and a few
hundred disruptions. Then ``supplynet serve`` runs against that store and each list's first page
(``first: 50``) is asked ``--requests`` times per filter, for an analyst and for a partner; p50/p95 in
milliseconds, the store's row counts and the indexes its reads use are printed.

    .venv/bin/python -m bench.records_api --events 10000000        # the issue's size
    .venv/bin/python -m bench.records_api --events 1000000 --reuse # measure a store filled before
                                        # (its graph is loaded when the fill stopped before it)
    SUPPLYNET_SQL_URL=$(supplynet stack url) .venv/bin/python -m bench.records_api --sql-url env
    SUPPLYNET_SQL_URL=$(supplynet stack url) .venv/bin/python -m bench.records_api --sql-url env \
        --copy-from sqlite:///$SUPPLYNET_STATE_DIR/bench-records-10000000.db   # PostgreSQL at 10M, copied
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, func, inspect, select
from sqlmodel import SQLModel

from api.keys import create_key
from bench.api import Http, pct
from connectors import record_queries as rq
from connectors.record_store import RecordStore
from connectors.sql import sql_engine
from graph.mutations import to_mutations
from graph.registry import record_rows
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import (
    CapacityReported,
    CertificationGranted,
    DisruptionKind,
    DisruptionReported,
    EquipmentAlarm,
    Industry,
    InventoryReported,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    PartnerRegistered,
    QualityIncident,
    Severity,
    ShipmentDelayed,
    SupplyAgreed,
)
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings

T0 = datetime(2025, 12, 1, tzinfo=UTC)
BATCH = 20_000
PREFIX = "brec-"


def ent(i: int) -> str:
    return f"{PREFIX}e{i:05d}"


def _ev(n: int, at: datetime, subject: str, data: Any) -> ValidEvent:
    return ValidEvent(f"{PREFIX}ev{n}", "bench/records", data.TYPE, at, subject, 0, data)


def suppliers_of(b: int, n_ent: int) -> list[int]:
    """Each enterprise buys from 4 others of the tier above (tiers of n/6 enterprises). Deterministic."""
    tier = max(1, n_ent // 6)
    base = (b // tier - 1) * tier
    if base < 0:
        return []
    return [base + (b * 7 + k * 13) % tier for k in range(4)]


def flow_events(n_events: int, n_ent: int, seed: int = 7) -> Iterator[ValidEvent]:
    """``n_events`` flow events in time order (a year and a bit at this rate). Deterministic."""
    rng = random.Random(seed)  # noqa: S311 (benchmark data)
    made, order = 0, 0
    span = timedelta(days=400) / max(n_events, 1)
    while made < n_events:
        at = T0 + span * made
        b = rng.randrange(n_ent // 6, n_ent)
        s = rng.choice(suppliers_of(b, n_ent))
        sku = f"{PREFIX}sku-{s % 97}"
        oid = f"{PREFIX}po-{order:09d}"
        order += 1
        ref = {"order_id": oid, "buyer_id": ent(b), "supplier_id": ent(s)}
        day = at.date()
        due = day + timedelta(days=14)
        evs: list[ValidEvent] = [
            _ev(
                made,
                at,
                ent(b),
                OrderPlaced(
                    **ref, sku=sku, quantity=100.0, requested_date=due, unit_price=12.5, currency="CNY"
                ),
            )
        ]
        fate = rng.random()
        if fate > 0.05:
            evs.append(
                _ev(made + 1, at, ent(b), OrderConfirmed(**ref, confirmed_quantity=100.0, promised_date=due))
            )
        if fate > 0.1:
            sid = f"{PREFIX}sh-{order:09d}"
            evs.append(
                _ev(
                    made + 2,
                    at,
                    ent(b),
                    OrderShipped(
                        **ref,
                        shipment_id=sid,
                        quantity=100.0,
                        shipped_on=day + timedelta(days=7),
                        expected_delivery=due,
                    ),
                )
            )
            if rng.random() < 1 / 6:
                evs.append(
                    _ev(
                        made + 3,
                        at,
                        ent(b),
                        ShipmentDelayed(
                            **ref,
                            shipment_id=sid,
                            new_expected_delivery=due + timedelta(days=3),
                            delay_days=3,
                        ),
                    )
                )
        if fate > 0.2:
            late = rng.random() < 0.2
            evs.append(
                _ev(
                    made + 4,
                    at,
                    ent(b),
                    OrderDelivered(
                        **ref,
                        quantity_ordered=100.0,
                        quantity_delivered=100.0,
                        promised_date=due,
                        delivered_on=due + timedelta(days=3 if late else -1),
                    ),
                )
            )
        elif fate < 0.02:
            evs.append(_ev(made + 5, at, ent(b), OrderCancelled(**ref, reason="plan")))
        for e in evs:
            yield e
            made += 1
            tick = made
            if tick % 8 == 0:
                k = rng.randrange(n_ent)
                yield _ev(
                    made,
                    at,
                    ent(k),
                    InventoryReported(
                        enterprise_id=ent(k),
                        sku=f"{PREFIX}sku-{k % 97}",
                        on_hand=float(rng.randrange(0, 5000)),
                        daily_usage=float(rng.randrange(1, 200)),
                        facility_id=f"{ent(k)}-site-{made % 3}",
                    ),
                )
                made += 1
            if tick % 40 == 0:
                k = rng.randrange(n_ent)
                yield _ev(
                    made,
                    at,
                    ent(k),
                    CapacityReported(
                        enterprise_id=ent(k),
                        capacity_per_day=float(rng.randrange(100, 10000)),
                        utilization=rng.random(),
                        sku=f"{PREFIX}sku-{k % 97}",
                        facility_id=f"{ent(k)}-site-{made % 3}",
                    ),
                )
                made += 1
            if tick % 150 == 0:
                yield _ev(
                    made,
                    at,
                    ent(s),
                    QualityIncident(
                        incident_id=f"{PREFIX}qi-{made}",
                        supplier_id=ent(s),
                        buyer_id=ent(b),
                        sku=sku,
                        severity=Severity.MEDIUM,
                        defect_ppm=300.0,
                    ),
                )
                made += 1
            if tick % 200 == 0:
                yield _ev(
                    made,
                    at,
                    ent(s),
                    EquipmentAlarm(
                        alarm_id=f"{PREFIX}al-{made}",
                        enterprise_id=ent(s),
                        equipment_id="press-1",
                        signal="vibration",
                        severity=Severity.HIGH,
                        facility_id=f"{ent(s)}-site-0",
                    ),
                )
                made += 1


def graph_events(n_ent: int) -> list[ValidEvent]:
    today = date.today()
    out: list[ValidEvent] = []
    for i in range(n_ent):
        out.append(
            _ev(
                len(out),
                T0,
                ent(i),
                PartnerRegistered(
                    enterprise_id=ent(i), name=ent(i), industry=Industry.STEEL, region=f"{PREFIX}r{i % 17}"
                ),
            )
        )
        for s in suppliers_of(i, n_ent):
            out.append(
                _ev(
                    len(out),
                    T0,
                    ent(i),
                    SupplyAgreed(
                        supplier_id=ent(s),
                        buyer_id=ent(i),
                        sku=f"{PREFIX}sku-{s % 97}",
                        share=0.25,
                        lead_time_days=14,
                    ),
                )
            )
        for c in range(3):
            out.append(
                _ev(
                    len(out),
                    T0,
                    ent(i),
                    CertificationGranted(
                        enterprise_id=ent(i),
                        certificate_id=f"{PREFIX}cert-{i}-{c}",
                        standard="ISO 9001",
                        valid_until=today + timedelta(days=(i * 37 + c * 101) % 1000),
                    ),
                )
            )
        if i % 7 == 0:
            out.append(
                _ev(
                    len(out),
                    T0,
                    f"{PREFIX}dsr-{i}",
                    DisruptionReported(
                        disruption_id=f"{PREFIX}dsr-{i}",
                        kind=DisruptionKind.FLOOD,
                        severity=Severity.HIGH,
                        expected_recovery_days=5,
                        enterprise_id=ent(i),
                    ),
                )
            )
    return out


def fill(engine: Engine, n_events: int, n_ent: int) -> None:
    store = RecordStore(engine)
    batch: list[ValidEvent] = []
    t0, done = time.perf_counter(), 0
    for ev in flow_events(n_events, n_ent):
        batch.append(ev)
        if len(batch) == BATCH:
            store.write(record_rows(batch))
            done += len(batch)
            batch = []
            if done % 500_000 == 0:
                rate = done / (time.perf_counter() - t0)
                print(f"  {done:,} events written ({rate:,.0f} events/s)", flush=True)
    if batch:
        store.write(record_rows(batch))
        done += len(batch)
    secs = time.perf_counter() - t0
    print(f"record store: {done:,} events in {secs:.0f} s ({done / secs:,.0f} events/s)", flush=True)


def copy_store(source_url: str, target: Engine) -> None:
    """Copy every table ``source_url``'s store holds rows of (API keys aside) into ``target``, a
    PostgreSQL store, with ``COPY``, then ``ANALYZE``. Why: filling PostgreSQL through the writer at
    10M events takes hours here (its upserts run at ~40% of SQLite's, docs/record-store.md#figures);
    the reads measured only need the same rows, indexes and statistics."""
    if target.dialect.name != "postgresql":
        raise SystemExit("--copy-from fills a PostgreSQL store (--sql-url env with a postgresql URL)")
    source = sql_engine(source_url)
    held = set(inspect(source).get_table_names())
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name in held and t.name != "api_key"]
    with target.begin() as conn:
        conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables))
    for t in tables:
        t0, n = time.perf_counter(), 0
        columns = ", ".join(f'"{c.name}"' for c in t.columns)
        with source.connect() as src, target.begin() as dst:
            cursor = dst.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{t.name}" ({columns}) FROM STDIN') as copy:
                for row in src.execution_options(yield_per=50_000).execute(select(t)):
                    copy.write_row(tuple(row))
                    n += 1
        if n:
            print(f"  copied {t.name}: {n:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    source.dispose()


async def load_graph(settings: Settings, n_ent: int) -> None:
    driver = bootstrap.async_driver(settings)
    try:
        evs = graph_events(n_ent)
        writer = GraphWriter(driver)
        for i in range(0, len(evs), 5_000):
            await writer.write(to_mutations(evs[i : i + 5_000]))
        print(
            f"graph: {n_ent:,} enterprises, their links, {3 * n_ent:,} certificates, disruptions", flush=True
        )
    finally:
        await driver.close()


def describe(engine: Engine) -> None:
    insp = inspect(engine)
    with engine.connect() as conn:
        for t in (rq.ORDERS, rq.SHIPMENTS, rq.STOCK, rq.CAPACITY, rq.QUALITY, rq.ALARMS):
            n = conn.execute(select(func.count()).select_from(t)).scalar_one()
            idx = ", ".join(
                f"{i['name']}({', '.join(str(c) for c in i['column_names'])})"
                for i in insp.get_indexes(t.name)
            )
            pk = ", ".join(insp.get_pk_constraint(t.name)["constrained_columns"])
            print(f"  {t.name:<24} {n:>12,} rows   primary key ({pk}); indexes: {idx or '-'}")
    if engine.url.database and engine.dialect.name == "sqlite":
        print(f"  file {Path(engine.url.database).stat().st_size / 2**30:.2f} GiB")


def cases() -> list[tuple[str, str]]:
    """(label, query text) per list and filter; ids drawn afresh per request by ``{e}``/``{s}``/``{b}``."""
    page = "edges { cursor node { %s } } pageInfo { hasNextPage endCursor }"
    o = page % "orderId supplierId buyerId status late unitPrice redacted"
    return [
        ("orders", f"{{ orders(first: 50) {{ {o} }} }}"),
        ("orders supplier", f'{{ orders(first: 50, supplierId: "{{s}}") {{ {o} }} }}'),
        ("orders buyer late", f'{{ orders(first: 50, buyerId: "{{b}}", lateOnly: true) {{ {o} }} }}'),
        (
            "orders sku delivered",
            f'{{ orders(first: 50, sku: "{PREFIX}sku-{{k}}", status: DELIVERED) {{ {o} }} }}',
        ),
        ("orders late", f"{{ orders(first: 50, lateOnly: true) {{ {o} }} }}"),
        ("orders one week", f'{{ orders(first: 50, orderedFrom: "{{d0}}", orderedTo: "{{d1}}") {{ {o} }} }}'),
        ("orders cancelled", f"{{ orders(first: 50, status: CANCELLED) {{ {o} }} }}"),
        ("shipments", f"{{ shipments(first: 50) {{ {page % 'shipmentId delayDays'} }} }}"),
        (
            "shipments delayed",
            f"{{ shipments(first: 50, delayedOnly: true) {{ {page % 'shipmentId delayDays'} }} }}",
        ),
        (
            "shipments supplier delayed",
            f'{{ shipments(first: 50, supplierId: "{{s}}", delayedOnly: true) '
            f"{{ {page % 'shipmentId delayDays'} }} }}",
        ),
        (
            "stock enterprise",
            f'{{ stock(first: 50, enterpriseId: "{{e}}") {{ {page % "sku siteId daysOfCover"} }} }}',
        ),
        (
            "stock cover <= 3 days",
            f"{{ stock(first: 50, maxDaysOfCover: 3) {{ {page % 'enterpriseId sku daysOfCover'} }} }}",
        ),
        (
            "capacity spare >= 5000",
            f"{{ capacity(first: 50, minSpareCapacity: 5000) {{ {page % 'enterpriseId spareCapacity'} }} }}",
        ),
        ("quality", f"{{ qualityIncidents(first: 50) {{ {page % 'incidentId severity'} }} }}"),
        ("alarms", f"{{ equipmentAlarms(first: 50) {{ {page % 'alarmId severity'} }} }}"),
        (
            "quality supplier",
            f'{{ qualityIncidents(first: 50, supplierId: "{{s}}") {{ {page % "incidentId severity"} }} }}',
        ),
        (
            "alarms enterprise",
            f'{{ equipmentAlarms(first: 50, enterpriseId: "{{s}}") {{ {page % "alarmId severity"} }} }}',
        ),
        (
            "certificates expiring 30 d",
            f"{{ certificates(first: 50, expiringWithinDays: 30) {{ {page % 'id validUntil'} }} }}",
        ),
        ("disruptions open", f"{{ disruptions(first: 50) {{ {page % 'id enterpriseIds'} }} }}"),
    ]


async def measure(
    port: int, token: str, label: str, text: str, n: int, n_ent: int, partner: int | None
) -> list[float]:
    rng = random.Random(label)  # noqa: S311 (benchmark data)
    http = Http(port, token)
    times: list[float] = []
    try:
        for i in range(n + 3):
            b = rng.randrange(n_ent // 6, n_ent) if partner is None else partner
            s = rng.choice(suppliers_of(b, n_ent))
            d0 = (T0 + timedelta(days=rng.randrange(0, 390))).date()
            q = (
                text.replace("{s}", ent(s))
                .replace("{b}", ent(b))
                .replace("{e}", ent(rng.randrange(n_ent)) if partner is None else ent(b))
                .replace("{k}", str(s % 97))
                .replace("{d0}", d0.isoformat())
                .replace("{d1}", (d0 + timedelta(days=6)).isoformat())
            )
            t = time.perf_counter()
            body = orjson.loads(await http.post({"query": q}))
            dt = time.perf_counter() - t  # seconds (bench.api.pct prints ms)
            if body.get("errors"):
                raise SystemExit(f"{label}: {body['errors'][0]['message']}")
            if i >= 3:
                times.append(dt)
    finally:
        await http.close()
    return times


def store_reads(engine: Engine, n_ent: int, n: int, allowed: frozenset[str] | None) -> dict[str, list[float]]:
    """The same first pages read straight from the store (``connectors.record_queries``), in seconds:
    what the SQL costs, apart from HTTP, GraphQL and the partner's scope read."""
    rng = random.Random(5)  # noqa: S311 (benchmark data)
    today = date.today()
    out: dict[str, list[float]] = {}

    def params() -> dict[str, Any]:
        b = rng.randrange(n_ent // 6, n_ent)
        s = rng.choice(suppliers_of(b, n_ent))
        d0 = (T0 + timedelta(days=rng.randrange(0, 390))).date()
        return {"b": ent(b), "s": ent(s), "e": ent(rng.randrange(n_ent)), "k": s % 97, "d0": d0}

    reads: dict[str, Any] = {
        "orders": lambda p: rq.orders(engine, first=50, as_of=today, allowed=allowed),
        "orders supplier": lambda p: rq.orders(
            engine, first=50, as_of=today, supplier_id=p["s"], allowed=allowed
        ),
        "orders buyer late": lambda p: rq.orders(
            engine, first=50, as_of=today, buyer_id=p["b"], late_only=True, allowed=allowed
        ),
        "orders sku delivered": lambda p: rq.orders(
            engine,
            first=50,
            as_of=today,
            sku=f"{PREFIX}sku-{p['k']}",
            status=rq.OrderStatus.DELIVERED,
            allowed=allowed,
        ),
        "orders late": lambda p: rq.orders(engine, first=50, as_of=today, late_only=True, allowed=allowed),
        "orders one week": lambda p: rq.orders(
            engine,
            first=50,
            as_of=today,
            ordered_from=p["d0"],
            ordered_to=p["d0"] + timedelta(days=6),
            allowed=allowed,
        ),
        "orders cancelled": lambda p: rq.orders(
            engine, first=50, as_of=today, status=rq.OrderStatus.CANCELLED, allowed=allowed
        ),
        "shipments": lambda p: rq.shipments(engine, first=50, allowed=allowed),
        "shipments delayed": lambda p: rq.shipments(engine, first=50, delayed_only=True, allowed=allowed),
        "shipments supplier delayed": lambda p: rq.shipments(
            engine, first=50, supplier_id=p["s"], delayed_only=True, allowed=allowed
        ),
        "stock enterprise": lambda p: rq.stock(engine, first=50, enterprise_id=p["e"], allowed=allowed),
        "stock cover <= 3 days": lambda p: rq.stock(engine, first=50, max_days_of_cover=3, allowed=allowed),
        "capacity spare >= 5000": lambda p: rq.capacity(
            engine, first=50, min_spare_capacity=5000, allowed=allowed
        ),
        "quality": lambda p: rq.quality_incidents(engine, first=50, allowed=allowed),
        "alarms": lambda p: rq.equipment_alarms(engine, first=50, allowed=allowed),
        "quality supplier": lambda p: rq.quality_incidents(
            engine, first=50, supplier_id=p["s"], allowed=allowed
        ),
        "alarms enterprise": lambda p: rq.equipment_alarms(
            engine, first=50, enterprise_id=p["s"], allowed=allowed
        ),
    }
    for label, read in reads.items():
        times = []
        for i in range(n + 3):
            p = params()
            t = time.perf_counter()
            read(p)
            if i >= 3:
                times.append(time.perf_counter() - t)
        out[label] = times
    return out


async def scope_of(settings: Settings, enterprise_id: str) -> frozenset[str]:
    """A partner's network as the API reads it (3 tiers up and down)."""
    from graph.views import NetworkViews

    driver = bootstrap.async_driver(settings)
    try:
        up, down = await NetworkViews(driver).neighbourhood_tiers(
            enterprise_id, tiers=settings.api.partner_tiers
        )
        return frozenset(up) | frozenset(down)
    finally:
        await driver.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="flow events written to the store")
    ap.add_argument("--enterprises", type=int, default=3_000)
    ap.add_argument("--requests", type=int, default=60, help="timed requests per list, filter and role")
    ap.add_argument("--sql-url", default=None, help="'env' for SUPPLYNET_SQL_URL; default an SQLite file")
    ap.add_argument("--reuse", action="store_true", help="measure the store (and graph) filled before")
    ap.add_argument(
        "--copy-from", metavar="URL", help="fill a PostgreSQL store by copying a store filled before (SQLite)"
    )
    args = ap.parse_args()

    settings = Settings()
    if args.sql_url == "env":
        url = settings.database_url()
    else:
        url = args.sql_url or f"sqlite:///{Path(settings.state_dir) / f'bench-records-{args.events}.db'}"
    settings = settings.model_copy(update={"sql_url": url})
    engine = sql_engine(url)
    bootstrap.create_sql_tables(engine)
    for t in (rq.ORDERS, rq.SHIPMENTS, rq.STOCK, rq.CAPACITY, rq.QUALITY, rq.ALARMS):
        for index in t.indexes:  # a store filled before an index was added gets it
            index.create(engine, checkfirst=True)
    partner_id = args.enterprises // 2
    if args.copy_from:
        copy_store(args.copy_from, engine)
    elif not args.reuse:
        fill(engine, args.events, args.enterprises)
    if not (args.reuse or args.copy_from) or not await scope_of(settings, ent(partner_id)):
        await load_graph(settings, args.enterprises)  # also a store whose fill was stopped before it
    print(f"store {engine.url.render_as_string(hide_password=True)}:")
    describe(engine)
    tag = f"{time.time_ns()}"
    analyst = create_key(engine, name=f"{PREFIX}analyst-{tag}", role=Role.ANALYST)[1]
    partner = create_key(engine, name=f"{PREFIX}p-{tag}", role=Role.PARTNER, enterprise_id=ent(partner_id))[1]
    port = 23000 + os.getpid() % 900
    env = {
        **os.environ,
        "SUPPLYNET_API__PORT": str(port),
        "SUPPLYNET_SQL_URL": url,
        "SUPPLYNET_API__WORKERS": "1",
    }
    log = Path(settings.state_dir) / f"bench-records-{port}.log"
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any timing)
        [sys.executable, "-m", "supplynet", "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        for _ in range(300):
            try:
                async with httpx.AsyncClient() as probe:
                    if (await probe.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code == 200:
                        break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        scope = await scope_of(settings, ent(partner_id))
        direct = {
            "analyst": store_reads(engine, args.enterprises, args.requests, None),
            "partner": store_reads(engine, args.enterprises, args.requests, scope),
        }
        print(f"\npartner {ent(partner_id)}: {len(scope):,} enterprises in its network")
        print(f"first page (first: 50), {args.requests} requests each, ms: GraphQL over HTTP, and the same")
        print("page read straight from the store (connectors.record_queries; '-' = a graph read)")
        print(
            f"{'list / filter':<30} {'role':<8} {'http p50':>9} {'http p95':>9} "
            f"{'store p50':>10} {'store p95':>10}"
        )
        worst, worst_store = 0.0, 0.0
        for label, text in cases():
            for role, token, pid in (("analyst", analyst, None), ("partner", partner, partner_id)):
                times = await measure(port, token, label, text, args.requests, args.enterprises, pid)
                p95 = pct(times, 95)
                worst = max(worst, p95)
                st = direct[role].get(label)
                side = f"{pct(st, 50):>10.2f} {pct(st, 95):>10.2f}" if st else f"{'-':>10} {'-':>10}"
                if st:
                    worst_store = max(worst_store, pct(st, 95))
                print(f"{label:<30} {role:<8} {pct(times, 50):>9.1f} {p95:>9.1f} {side}", flush=True)
        print(
            f"\nworst first-page p95: {worst:.1f} ms over HTTP, {worst_store:.2f} ms in the store "
            "(target <= 50 ms)"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
