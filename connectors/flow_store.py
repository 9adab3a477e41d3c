"""The flow's aggregates (``schema.aggregates``), kept in the record store's own transactions.

A record batch changes the day buckets by the difference its upserts made to the stored records:
``prepare`` (before the upserts) bumps the revision of every supplier the batch names — which makes
concurrent writers of one supplier's flow wait for each other — and reads the touched order and
incident records as stored; ``finish`` (after the upserts, same transaction) reads them again and
adds (contribution after - contribution before) to the buckets. So the buckets always equal a fresh
aggregation of the stored records: a replayed batch, a duplicate, or a version that loses
last-writer-wins changes no record and therefore no bucket; a newer version replaces the old
contribution. The cost is O(records in the batch), never the history.

``finish`` also advances the stream's event-time clock and returns the KPI rows of every touched
enterprise and its links at that clock (``graph.kpis.bucket_kpis``), each tagged with the
enterprise's revision for the graph write (``graph.writer``). When the clock enters a new day, every
other supplier with deliveries or incidents leaving a window needs its row again: the transaction names
those rows in ``clock_due`` (``due`` reads them at the clock, ``done`` forgets them once the graph has
them), so its own work stays O(batch) while a rollover is O(network). An enterprise's row also
carries its days of cover (``graph.kpis.cover_kpis``), computed from its stored stock records in the
same transaction, so a stock report (a touched enterprise: bumped, recomputed) and a replayed or
older one (no record changes, same figures) need nothing else. A link reads its buyer's cover.

Equipment alarms go the same way: high and critical ones are counted per enterprise site and day
(``alarm_day``, by the same before/after difference of the touched alarm records), and an enterprise's
row carries their count over ``graph.kpis.ALARM_WINDOW_DAYS`` days at the clock, in total and per
facility (``graph.kpis.alarm_kpis``); an enterprise whose alarms leave that window when the clock enters
a new day is recomputed too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from graph import kpis
from graph.kpis import Buckets, Cell, LinkKey, SiteDay
from schema.aggregates import (
    AlarmDay,
    ClockDue,
    LinkDay,
    LinkLeadTime,
    LinkOpen,
    StreamClock,
    SupplierRevision,
)
from schema.records import ALARM, ALL_GROUPS, ORDER_TABLE, QUALITY, STOCK, Group

Row = dict[str, Any]

LINK_DAY: Table = LinkDay.__table__  # type: ignore[attr-defined]
LINK_LEAD: Table = LinkLeadTime.__table__  # type: ignore[attr-defined]
LINK_OPEN: Table = LinkOpen.__table__  # type: ignore[attr-defined]
REVISION: Table = SupplierRevision.__table__  # type: ignore[attr-defined]
CLOCK: Table = StreamClock.__table__  # type: ignore[attr-defined]
ALARM_DAY: Table = AlarmDay.__table__  # type: ignore[attr-defined]
CLOCK_DUE: Table = ClockDue.__table__  # type: ignore[attr-defined]
INCIDENT_TABLE = QUALITY.table
STOCK_TABLE = STOCK.table
ALARM_TABLE = ALARM.table

LONGEST_WINDOW_DAYS = max(kpis.WINDOWS_DAYS)
_CHUNK = 2000
_ORDER_COLUMNS = (
    "supplier_id",
    "buyer_id",
    "sku",
    "placed_t",
    "delivered_t",
    "cancelled_t",
    "delivered_on",
    "due_date",
    "quantity_delivered",
    "delivered_quantity_ordered",
    "delivered_ordered_on",
    "ordered_on",
)
_INCIDENT_COLUMNS = ("supplier_id", "buyer_id", "sku", "report_t")
_ALARM_COLUMNS = ("enterprise_id", "facility_id", "severity", "report_t")


@dataclass(frozen=True, slots=True)
class FlowKpis:
    """KPI rows for the graph: ``links`` {supplier, buyer, sku, rev, props}; ``suppliers`` {id, rev,
    props}."""

    links: list[Row] = field(default_factory=list)
    suppliers: list[Row] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.links or self.suppliers)


@dataclass(slots=True)
class Pending:
    """What ``prepare`` read: the touched records' ids and their contribution before the upserts."""

    order_ids: list[str]
    incident_ids: list[str]
    suppliers: set[str]
    """The enterprises whose KPI row the batch rewrites: suppliers of its orders and incidents, and
    holders of its stock reports (their days of cover)."""
    before: list[dict[Cell, int]]
    newest_t: int | None
    agreed: set[LinkKey] = field(default_factory=set)
    """Supply links the batch agreed: their KPI rows are written even without flow (empty windows)."""
    alarm_ids: list[str] = field(default_factory=list)
    alarms_before: list[dict[SiteDay, int]] = field(default_factory=list)
    """The touched alarm records' counts as stored before the upserts."""


def _insert(conn: Connection, table: Table) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _read_cells(
    conn: Connection, order_ids: Sequence[str], incident_ids: Sequence[str]
) -> list[dict[Cell, int]]:
    out: list[dict[Cell, int]] = []
    o = ORDER_TABLE.c
    for ids in _chunks(order_ids):
        stmt = select(*(o[c] for c in _ORDER_COLUMNS)).where(o.order_id.in_(ids))
        out += [kpis.order_cells(r._mapping) for r in conn.execute(stmt)]
    q = INCIDENT_TABLE.c
    for ids in _chunks(incident_ids):
        stmt = select(*(q[c] for c in _INCIDENT_COLUMNS)).where(q.incident_id.in_(ids))
        out += [kpis.incident_cells(r._mapping) for r in conn.execute(stmt)]
    return out


def _read_alarm_cells(conn: Connection, alarm_ids: Sequence[str]) -> list[dict[SiteDay, int]]:
    a = ALARM_TABLE.c
    out: list[dict[SiteDay, int]] = []
    for ids in _chunks(alarm_ids):
        stmt = select(*(a[c] for c in _ALARM_COLUMNS)).where(a.alarm_id.in_(ids))
        out += [kpis.alarm_cells(r._mapping) for r in conn.execute(stmt)]
    return out


def _bump(conn: Connection, suppliers: Iterable[str]) -> None:
    rows = [{"supplier_id": s, "revision": 1} for s in sorted(suppliers)]
    if not rows:
        return
    stmt = _insert(conn, REVISION)
    stmt = stmt.on_conflict_do_update(
        index_elements=["supplier_id"], set_={"revision": REVISION.c.revision + 1}
    )
    conn.execute(stmt, rows)


def prepare(
    conn: Connection, groups: Mapping[Group, Sequence[Row]], links: Iterable[LinkKey] = ()
) -> Pending:
    """Lock the batch's enterprises (revision bump: suppliers of its orders and incidents, holders of
    its stock, enterprises of its high/critical alarms as sent and as stored, suppliers of the supply
    ``links`` it agreed) and read its order, incident and alarm records as stored."""
    order_ids: set[str] = set()
    incident_ids: set[str] = set()
    alarm_ids: set[str] = set()
    suppliers: set[str] = set()
    newest: int | None = None
    for group, rows in groups.items():
        t = group.version_columns[0]
        for r in rows:
            if r.get(t) is not None:
                newest = r[t] if newest is None else max(newest, r[t])
            if group.table is ORDER_TABLE:
                order_ids.add(r["order_id"])
                suppliers.add(r["supplier_id"])
            elif group.table is INCIDENT_TABLE:
                incident_ids.add(r["incident_id"])
                suppliers.add(r["supplier_id"])
            elif group.table is STOCK_TABLE:
                suppliers.add(r["enterprise_id"])
            elif group.table is ALARM_TABLE:
                alarm_ids.add(r["alarm_id"])
                if r.get("severity") in kpis.ALARM_SEVERITIES:  # a low or medium one counts nowhere
                    suppliers.add(r["enterprise_id"])
    agreed = set(links)
    suppliers |= {link[0] for link in agreed}
    _bump(conn, suppliers)
    oids, qids, aids = sorted(order_ids), sorted(incident_ids), sorted(alarm_ids)
    alarms_before = _read_alarm_cells(conn, aids)
    # A stored high/critical alarm that a newer version lowers or moves to another enterprise leaves
    # the count of the enterprise it was raised at.
    moved_from = {site[0] for part in alarms_before for site in part} - suppliers
    _bump(conn, moved_from)
    suppliers |= moved_from
    return Pending(oids, qids, suppliers, _read_cells(conn, oids, qids), newest, agreed, aids, alarms_before)


def _add(conn: Connection, moved: Mapping[Cell, int]) -> None:
    """Add moved cells to the buckets (one additive upsert per table, keys in order: no deadlocks)."""
    days: dict[tuple[LinkKey, date], Row] = {}
    leads: list[Row] = []
    opens: dict[LinkKey, int] = {}
    for cell, n in moved.items():
        kind, link = cell[0], cell[1]
        opens.setdefault(link, 0)  # every link with flow is listed in link_open (see ``links_of``)
        if kind == "day":
            row = days.setdefault((link, cell[2]), dict.fromkeys(kpis.DAY_FIELDS, 0))
            row[cell[3]] += n
        elif kind == "lead":
            leads.append({"link": link, "day": cell[2], "lead_days": cell[3], "deliveries": n})
        else:
            opens[link] += n

    def keyed(link: LinkKey) -> Row:
        return {"supplier_id": link[0], "buyer_id": link[1], "sku": link[2]}

    day_rows = [{**keyed(lk), "day": d, **v} for (lk, d), v in sorted(days.items())]
    lead_rows = [
        {**keyed(r["link"]), "day": r["day"], "lead_days": r["lead_days"], "deliveries": r["deliveries"]}
        for r in sorted(leads, key=lambda r: (r["link"], r["day"], r["lead_days"]))
    ]
    open_rows = [{**keyed(lk), "open_orders": n} for lk, n in sorted(opens.items())]
    link_pk = ["supplier_id", "buyer_id", "sku"]
    for table, rows, pk, fields in (
        (LINK_OPEN, open_rows, link_pk, ("open_orders",)),
        (LINK_DAY, day_rows, [*link_pk, "day"], kpis.DAY_FIELDS),
        (LINK_LEAD, lead_rows, [*link_pk, "day", "lead_days"], ("deliveries",)),
    ):
        if rows:
            stmt = _insert(conn, table)
            stmt = stmt.on_conflict_do_update(
                index_elements=pk, set_={f: table.c[f] + stmt.excluded[f] for f in fields}
            )
            conn.execute(stmt, rows)


def _add_alarms(conn: Connection, moved: Mapping[SiteDay, int]) -> None:
    """Add moved alarm counts to ``alarm_day`` (one additive upsert, keys in order)."""
    rows = [
        {"enterprise_id": e, "facility_id": f, "day": d, "alarms": n}
        for (e, f, d), n in sorted(moved.items())
    ]
    if rows:
        stmt = _insert(conn, ALARM_DAY)
        stmt = stmt.on_conflict_do_update(
            index_elements=["enterprise_id", "facility_id", "day"],
            set_={"alarms": ALARM_DAY.c.alarms + stmt.excluded.alarms},
        )
        conn.execute(stmt, rows)


def _advance_clock(conn: Connection, newest: int | None) -> tuple[int | None, int | None]:
    """Move the clock to ``newest`` if that is later; return (clock before, clock after)."""
    held = conn.execute(select(CLOCK.c.newest_t).where(CLOCK.c.id == 1)).scalar()
    if newest is None or (held is not None and newest <= held):
        return held, held
    stmt = _insert(conn, CLOCK).values(id=1, newest_t=newest)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"newest_t": stmt.excluded.newest_t},
        where=CLOCK.c.newest_t < stmt.excluded.newest_t,
    )
    conn.execute(stmt)
    return held, newest


def clock(conn: Connection) -> int | None:
    """The stream's event-time clock (epoch ms), None before the first record."""
    value = conn.execute(select(CLOCK.c.newest_t).where(CLOCK.c.id == 1)).scalar()
    return int(value) if value is not None else None


def _leaving(conn: Connection, before: int, after: int) -> set[LinkKey]:
    """Links with buckets that a window ending at ``before`` holds and one ending at ``after`` does not."""
    d = LINK_DAY.c
    ranges = [
        and_(d.day >= kpis.window_start(before, n), d.day < kpis.window_start(after, n))
        for n in kpis.WINDOWS_DAYS
    ]
    stmt = select(d.supplier_id, d.buyer_id, d.sku).where(or_(*ranges)).distinct()
    return {(str(r.supplier_id), str(r.buyer_id), str(r.sku)) for r in conn.execute(stmt)}


def _alarms_leaving(conn: Connection, before: int, after: int) -> set[str]:
    """Enterprises with alarms that the alarm window ending at ``before`` holds and one at ``after`` not."""
    a = ALARM_DAY.c
    n = kpis.ALARM_WINDOW_DAYS
    stmt = (
        select(a.enterprise_id)
        .where(a.day >= kpis.window_start(before, n), a.day < kpis.window_start(after, n), a.alarms != 0)
        .distinct()
    )
    return {str(r.enterprise_id) for r in conn.execute(stmt)}


def finish(conn: Connection, p: Pending) -> FlowKpis:
    """Apply the batch's bucket and alarm deltas, advance the clock, and return the KPI rows of the
    touched enterprises and links. When the clock enters a new day, the rows of enterprises (and links)
    with a bucket or an alarm day leaving a window are recomputed too: with the batch's rows for the
    enterprises it touched, in ``clock_due`` for the others (``due``: written by the project stage in
    bounded transactions; a rollover names O(network) rows)."""
    links: set[LinkKey] = set(p.agreed)
    if p.order_ids or p.incident_ids:
        after = _read_cells(conn, p.order_ids, p.incident_ids)
        links |= {cell[1] for part in (*p.before, *after) for cell in part}
        moved = kpis.delta(p.before, after)
        if moved:
            _add(conn, moved)
    if p.alarm_ids:
        _add_alarms(conn, kpis.delta(p.alarms_before, _read_alarm_cells(conn, p.alarm_ids)))
    before_t, now = _advance_clock(conn, p.newest_t)
    suppliers = set(p.suppliers)
    if before_t is not None and now is not None and kpis.day_of(now) > kpis.day_of(before_t):
        leaving = _leaving(conn, before_t, now)
        links |= {link for link in leaving if link[0] in suppliers}
        extra = ({link[0] for link in leaving} | _alarms_leaving(conn, before_t, now)) - suppliers
        _bump(conn, extra)
        _name_due(conn, extra, {link for link in leaving if link[0] in extra}, now)
    return read_kpis(conn, suppliers, now, links)


def _name_due(conn: Connection, suppliers: Collection[str], links: Collection[LinkKey], at: int) -> None:
    """Name the KPI rows of ``suppliers`` (their own) and of ``links`` as due at clock ``at``."""
    keys = sorted({(s, "", "") for s in suppliers} | set(links))
    if not keys:
        return
    stmt = _insert(conn, CLOCK_DUE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["supplier_id", "buyer_id", "sku"],
        set_={"due_t": func.max(CLOCK_DUE.c.due_t, stmt.excluded.due_t)}
        if conn.dialect.name == "sqlite"
        else {"due_t": func.greatest(CLOCK_DUE.c.due_t, stmt.excluded.due_t)},
    )
    conn.execute(stmt, [{"supplier_id": s, "buyer_id": b, "sku": k, "due_t": at} for s, b, k in keys])


@dataclass(frozen=True, slots=True)
class Due:
    """KPI rows the clock moved (``clock_due``), read for the graph, and the entries they answer."""

    kpis: FlowKpis
    entries: list[Row]
    """``clock_due`` rows as read ({supplier_id, buyer_id, sku, due_t}): ``done`` deletes them."""


def due(conn: Connection, limit: int) -> Due:
    """The KPI rows of at most ``limit`` enterprises with entries in ``clock_due`` (their own row and
    their named links, at the stream clock), with the entries read."""
    c = CLOCK_DUE.c
    ids = [
        str(r[0]) for r in conn.execute(select(c.supplier_id).distinct().order_by(c.supplier_id).limit(limit))
    ]
    if not ids:
        return Due(FlowKpis(), [])
    entries = [
        dict(r._mapping)
        for chunk in _chunks(ids)
        for r in conn.execute(
            select(c.supplier_id, c.buyer_id, c.sku, c.due_t).where(c.supplier_id.in_(chunk))
        )
    ]
    links = {(e["supplier_id"], e["buyer_id"], e["sku"]) for e in entries if e["buyer_id"] or e["sku"]}
    return Due(read_kpis(conn, ids, None, links, at_clock=True), entries)


def done(conn: Connection, entries: Sequence[Row]) -> None:
    """Delete ``clock_due`` entries whose rows the graph committed; an entry a later day named again
    (a newer ``due_t``) stays."""
    c = CLOCK_DUE.c
    rows = sorted(entries, key=lambda e: (e["supplier_id"], e["buyer_id"], e["sku"]))
    if rows:
        conn.execute(
            CLOCK_DUE.delete().where(
                c.supplier_id == bindparam("s"),
                c.buyer_id == bindparam("b"),
                c.sku == bindparam("k"),
                c.due_t <= bindparam("t"),
            ),
            [{"s": e["supplier_id"], "b": e["buyer_id"], "k": e["sku"], "t": e["due_t"]} for e in rows],
        )


def _window_starts(at: int) -> list[date]:
    """The first days of the KPI windows ending with ``at``'s day, latest (the shortest window's) first."""
    return sorted({kpis.window_start(at, n) for n in kpis.WINDOWS_DAYS}, reverse=True)


def _window_sums(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    values: Sequence[str],
    at: int,
    *where: ColumnElement[bool],
    by: Sequence[str] = (),
) -> Iterator[tuple[tuple[Any, ...], date, tuple[Any, ...], tuple[int, ...]]]:
    """The bucket rows of ``table`` in the longest window ending at ``at``, added up in SQL per ``keys``,
    ``by`` and *window segment*: (key values, the segment's first day, ``by`` values, sums of ``values``).

    The windows end on the same day, so they are nested; the days between two windows' first days fall
    in exactly the same windows. Folding each such segment into its first day therefore gives
    ``kpis.bucket_kpis`` the same figures *at ``at``* as the day buckets themselves, while a supplier's
    read is one row per link and segment instead of one per link and day (the KPI refresh of every
    touched supplier read each day of its 90-day window in Python: 75% of a record batch's time once
    the window had filled, and the worker's rate fell as it filled)."""
    starts = _window_starts(at)
    c = table.c
    segment = (
        case(*((c.day >= s, i) for i, s in enumerate(starts[:-1])), else_=len(starts) - 1)
        if len(starts) > 1
        else literal(0)
    )
    inner = (
        select(*(c[k] for k in (*keys, *by, *values)), segment.label("segment"))
        .where(c.day >= starts[-1], c.day <= kpis.day_of(at), *where)
        .subquery()
    )
    grouped = [inner.c[k] for k in (*keys, *by)]
    stmt = select(*grouped, inner.c.segment, *(func.sum(inner.c[v]) for v in values)).group_by(
        *grouped, inner.c.segment
    )
    n_keys, n_by = len(keys), len(by)
    for r in conn.execute(stmt):
        yield (
            tuple(r[:n_keys]),
            starts[int(r[n_keys + n_by])],
            tuple(r[n_keys : n_keys + n_by]),
            tuple(int(v or 0) for v in r[n_keys + n_by + 1 :]),
        )


def _add_windows(
    conn: Connection,
    keys: Sequence[str],
    at: int,
    suppliers: Sequence[str] | None,
    out: dict[Any, Buckets],
) -> None:
    """Add the day and lead-time buckets of ``suppliers`` (None: every supplier) in the windows ending
    at ``at``, folded for ``at`` (``_window_sums``), to ``out`` under the tuple of ``keys``' values."""
    days, leads = (
        [t.c.supplier_id.in_(suppliers)] if suppliers is not None else [] for t in (LINK_DAY, LINK_LEAD)
    )
    for key, day, _, sums in _window_sums(conn, LINK_DAY, keys, kpis.DAY_FIELDS, at, *days):
        out.setdefault(key, Buckets.empty()).add_day(day, dict(zip(kpis.DAY_FIELDS, sums, strict=True)))
    for key, day, (lead,), (n,) in _window_sums(
        conn, LINK_LEAD, keys, ("deliveries",), at, *leads, by=("lead_days",)
    ):
        out.setdefault(key, Buckets.empty()).add_lead(day, int(lead), n)


def buckets(conn: Connection, suppliers: Iterable[str], at: int | None) -> dict[LinkKey, Buckets]:
    """Every link of ``suppliers`` with its buckets of the windows ending at ``at``, folded for ``at``
    (``_window_sums``: read their KPIs at that instant, not at another)."""
    ids = sorted(set(suppliers))
    out: dict[Any, Buckets] = {}
    link = ("supplier_id", "buyer_id", "sku")
    for chunk in _chunks(ids):
        o = LINK_OPEN.c
        for r in conn.execute(
            select(o.supplier_id, o.buyer_id, o.sku, o.open_orders).where(o.supplier_id.in_(chunk))
        ):
            out[(r.supplier_id, r.buyer_id, r.sku)] = Buckets({}, {}, int(r.open_orders))
        if at is None:
            continue
        _add_windows(conn, link, at, chunk, out)
    return out


def alarm_days(
    conn: Connection, enterprises: Iterable[str], at: int | None
) -> dict[str, dict[tuple[str, date], int]]:
    """The (facility, day) alarm counts of ``enterprises`` in the alarm window ending at ``at``."""
    out: dict[str, dict[tuple[str, date], int]] = {}
    if at is None:
        return out
    lo, hi = kpis.window_start(at, kpis.ALARM_WINDOW_DAYS), kpis.day_of(at)
    a = ALARM_DAY.c
    for chunk in _chunks(sorted(set(enterprises))):
        stmt = select(a.enterprise_id, a.facility_id, a.day, a.alarms).where(
            a.enterprise_id.in_(chunk), a.day >= lo, a.day <= hi
        )
        for r in conn.execute(stmt):
            out.setdefault(str(r.enterprise_id), {})[(str(r.facility_id), r.day)] = int(r.alarms)
    return out


def merged(parts: Iterable[Buckets]) -> Buckets:
    """The buckets of several links added up (a supplier's, a region's, the network's)."""
    total = Buckets.empty()
    for b in parts:
        total.open_orders += b.open_orders
        for day, counts in b.days.items():
            total.add_day(day, counts)
        for (day, lead), n in b.leads.items():
            total.add_lead(day, lead, n)
    return total


def _revisions(conn: Connection, suppliers: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(suppliers):
        stmt = select(REVISION.c.supplier_id, REVISION.c.revision).where(REVISION.c.supplier_id.in_(chunk))
        out.update({str(r.supplier_id): int(r.revision) for r in conn.execute(stmt)})
    return out


def read_kpis(
    conn: Connection,
    suppliers: Iterable[str],
    at: int | None,
    links: Collection[LinkKey] | None = None,
    *,
    at_clock: bool = False,
) -> FlowKpis:
    """KPI rows of ``suppliers`` (flow KPIs, days of cover: ``kpis.cover_kpis`` of their stored stock,
    and recent alarms: ``kpis.alarm_kpis``) and of their named links at ``at`` (the stream clock when
    ``at_clock``; only the links in ``links`` when given, with empty windows for one without flow),
    tagged with the suppliers' revisions.

    The revisions are read before the clock and the buckets: outside a batch's transaction each read
    is a statement of its own while batches commit, and a row must never carry a newer revision than
    the figures it shows (the graph applies a row whose revision is not older than the stored one, so
    old figures under a new revision would replace a batch's newer row for good). Figures newer than
    their revision are harmless: that revision's own row, or a newer one, follows."""
    per_id = set(suppliers)
    ids = sorted(per_id)
    if not ids:
        return FlowKpis()
    revs = _revisions(conn, ids)
    if at_clock:
        at = clock(conn)
    by_link = buckets(conn, ids, at)
    for link in links or ():  # a named link without flow (a new agreement): empty windows
        if link[0] in per_id:
            by_link.setdefault(link, Buckets.empty())
    per_supplier: dict[str, list[Buckets]] = {s: [] for s in ids}
    rows_of_links: list[Row] = []
    for (s, b, sku), bk in sorted(by_link.items()):
        per_supplier[s].append(bk)
        if b and sku and (links is None or (s, b, sku) in links):
            props = kpis.bucket_kpis(bk, at)
            rows_of_links.append(
                {"supplier": s, "buyer": b, "sku": sku, "rev": revs.get(s, 0), "props": props}
            )
    stock = stocks(conn, ids)
    alarms = alarm_days(conn, ids, at)
    rows = [
        {
            "id": s,
            "rev": revs.get(s, 0),
            "props": {
                **kpis.bucket_kpis(merged(parts), at),
                **kpis.cover_kpis(stock.get(s, ())),
                **kpis.alarm_kpis(alarms.get(s, {}), at),
            },
        }
        for s, parts in per_supplier.items()
    ]
    return FlowKpis(links=rows_of_links, suppliers=rows)


def stocks(conn: Connection, enterprises: Sequence[str]) -> dict[str, list[kpis.Stock]]:
    """The stored stock of ``enterprises`` (every sku and site with an on-hand figure)."""
    out: dict[str, list[kpis.Stock]] = {}
    c = STOCK_TABLE.c
    for chunk in _chunks(enterprises):
        stmt = (
            select(c.enterprise_id, c.sku, c.on_hand, c.daily_usage)
            .where(c.enterprise_id.in_(chunk), c.on_hand.is_not(None))
            .order_by(c.enterprise_id, c.sku, c.facility_id)
        )
        for r in conn.execute(stmt):
            out.setdefault(str(r.enterprise_id), []).append(
                kpis.Stock(sku=str(r.sku), on_hand=float(r.on_hand), daily_usage=float(r.daily_usage or 0.0))
            )
    return out


def rebuild(engine: Engine) -> None:
    """Recompute every aggregate and the clock from the stored records (one transaction).

    For a store whose records predate the aggregates; O(records), so a one-off maintenance step.
    """
    with engine.begin() as conn:
        for table in (LINK_DAY, LINK_LEAD, LINK_OPEN, CLOCK):
            conn.execute(table.delete())
        rebuild_alarms(conn)
        o, q = ORDER_TABLE.c, INCIDENT_TABLE.c
        total: dict[Cell, int] = {}
        for stmt, cells in (
            (select(*(o[c] for c in _ORDER_COLUMNS)), kpis.order_cells),
            (select(*(q[c] for c in _INCIDENT_COLUMNS)), kpis.incident_cells),
        ):
            for r in conn.execute(stmt):
                for cell, n in cells(r._mapping).items():
                    total[cell] = total.get(cell, 0) + n
        if total:
            _add(conn, total)
        newest = [
            conn.execute(select(func.max(g.table.c[g.version_columns[0]]))).scalar() for g in ALL_GROUPS
        ]
        known = [int(t) for t in newest if t is not None]
        _advance_clock(conn, max(known) if known else None)


def rebuild_alarms(conn: Connection) -> None:
    """Recount ``alarm_day`` from the stored alarm records (for a store whose alarms predate it)."""
    conn.execute(ALARM_DAY.delete())
    total: dict[SiteDay, int] = {}
    a = ALARM_TABLE.c
    for r in conn.execute(select(*(a[c] for c in _ALARM_COLUMNS))):
        for site, n in kpis.alarm_cells(r._mapping).items():
            total[site] = total.get(site, 0) + n
    _add_alarms(conn, total)


def alarmed(conn: Connection) -> list[str]:
    """The enterprises with high/critical alarms in the alarm window at the stream clock."""
    now = clock(conn)
    if now is None:
        return []
    a = ALARM_DAY.c
    lo = kpis.window_start(now, kpis.ALARM_WINDOW_DAYS)
    stmt = select(a.enterprise_id).where(a.day >= lo, a.alarms != 0).distinct()
    return sorted(str(r.enterprise_id) for r in conn.execute(stmt))


def supplier_buckets(conn: Connection, at: int) -> dict[str, Buckets]:
    """Every supplier's buckets (all its links added up) of the windows ending at ``at``, folded for
    ``at`` (``_window_sums``)."""
    out: dict[Any, Buckets] = {}
    o = LINK_OPEN.c
    for r in conn.execute(select(o.supplier_id, func.sum(o.open_orders)).group_by(o.supplier_id)):
        out[(str(r[0]),)] = Buckets({}, {}, int(r[1] or 0))
    _add_windows(conn, ("supplier_id",), at, None, out)
    return {str(s): b for (s,), b in out.items()}
