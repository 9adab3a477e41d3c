"""A year of the world's events, streamed in time order.

Master data first (materials and BOMs, then each enterprise's registration, facilities and
certificates, then each buyer's supply agreements), then a year of operations: order lifecycles per
supply link (placed, confirmed, shipped, sometimes delayed, delivered or cancelled), inventory and
capacity reports, quality incidents, equipment alarms, certificate renewals and lapses, design
projects with revisions and change requests, disruptions. Events of one subject come in the order
its ERP would send them; times never reach the end of the history, so orders still under way at the
end stay open.

Streaming: only what is still to come is held (a heap of pending order stages and scheduled events,
roughly the orders in flight), never the history.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from connectors.world import scheduled
from connectors.world.catalog import (
    BOMS,
    LOGISTICS_FACILITY_CITIES,
    MATERIAL,
    MATERIALS,
    SERVICES,
)
from connectors.world.geography import BY_KEY
from connectors.world.names import enterprise_name
from connectors.world.scheduled import FLOOD_DAYS_BEFORE_END, OUTAGE_DAYS_BEFORE_END
from connectors.world.world import SKUS, World, need_per_day
from schema.envelope import SPECVERSION
from schema.events import (
    CATALOG,
    BomComponent,
    BomDefined,
    CapacityReported,
    CertificationExpired,
    CertificationGranted,
    EquipmentAlarm,
    FacilityKind,
    FacilityRegistered,
    Industry,
    InventoryReported,
    MaterialDefined,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    PartnerRegistered,
    Payload,
    QualityIncident,
    Severity,
    ShipmentDelayed,
    SupplyAgreed,
    schema_uri,
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HISTORY_DAYS = 365
COLLAPSE_DAYS = 120
"""The planted collapse: the supplier's deliveries fall apart this many days before the end."""

ERPS = (("sap-s4hana", 3), ("kingdee-cloud", 3), ("yonyou-u9", 3), ("oracle-ebs", 1), ("inhouse-mes", 1))

CERTIFICATES = (
    ("iso9001", "ISO 9001", 1.0),
    ("iso14001", "ISO 14001", 0.5),
    ("iso45001", "ISO 45001", 0.3),
    ("iatf16949", "IATF 16949", 0.0),
)
AUTOMOTIVE_SUPPLY = {"automotive", "machinery", "electronics"}
ISSUERS = ("CQC", "TÜV Rheinland", "SGS", "BV", "DNV", "CQM")

FACILITY_WORDS = {
    "plant": ("工厂", "Works"),
    "mine": ("矿区", "Mine"),
    "refinery": ("炼厂", "Refinery"),
    "warehouse": ("仓库", "Warehouse"),
    "port": ("港区", "Port Terminal"),
    "distribution-center": ("物流中心", "Logistics Centre"),
    "lab": ("研发中心", "R&D Centre"),
}
SIGNALS = ("vibration", "bearing temperature", "motor current", "hydraulic pressure", "lubricant quality")
DELAY_REASONS = (
    "carrier capacity shortage",
    "loading delayed at the plant",
    "road restrictions on the route",
    "waiting for berth at the port",
    "quality hold before dispatch",
)
COLLAPSE_REASONS = (
    "production backlog after a line changeover",
    "raw material shortage at the supplier",
    "key equipment down, output reduced",
    "quality hold: rework of a failed lot",
)


class _Envelope(msgspec.Struct, kw_only=True):
    specversion: str
    id: str
    source: str
    type: str
    time: datetime
    subject: str
    sequence: int
    dataschema: str
    data: Payload


@dataclass(frozen=True, slots=True)
class Event:
    """One generated event: its Kafka key (the subject) and its wire form (CloudEvents JSON)."""

    subject: str
    value: bytes


@dataclass(slots=True, eq=False)
class _Order:
    """One order's lifecycle, decided when it is placed; ``stage`` is the next event to emit."""

    id: str
    shipment: str
    link: int
    qty: float
    placed_ms: int
    ordered_on: date
    requested: date
    promised: date
    confirm_ms: int
    cancel_ms: int = 0
    delivered_on: date = date.min
    shipped_on: date = date.min
    expected: date = date.min
    ship_ms: int = 0
    deliver_ms: int = 0
    delay_days: int = 0
    delay_ms: int = 0
    qty_delivered: float = 0.0
    stage: int = 0


_ORDER = 0
_READY = 1


_EPOCH = date(1970, 1, 1).toordinal()


def _ms(d: date) -> int:
    """Epoch milliseconds of the day's 00:00 UTC."""
    return (d.toordinal() - _EPOCH) * DAY_MS


def _date(ms: int) -> date:
    """The UTC date of an epoch-milliseconds instant."""
    return date.fromordinal(_EPOCH + ms // DAY_MS)


class History:
    """Streams the events of ``world`` for the year ending at ``end`` (exclusive, 00:00 UTC).

    ``counts`` holds how many events of each type were emitted so far; the manifest reads it.
    """

    def __init__(self, world: World, end: date) -> None:
        self.w = world
        self.end = end
        self.end_ms = _ms(end)
        self.start_ms = self.end_ms - HISTORY_DAYS * DAY_MS
        self.rng = random.Random(world.seed * 7919 + 1)  # noqa: S311 (generated test data)
        self.counts: Counter[str] = Counter()
        self.seq = 0
        self.n = 0
        self.heap: list[tuple[int, int, int, Any]] = []
        self.encoder = msgspec.json.Encoder()
        self.schemas = {t: schema_uri(t, p.VERSION) for t, p in CATALOG.items()}
        self.id_base = f"{world.prefix}world-{world.size.name}-s{world.seed}-{end:%Y%m%d}-"
        erp_keys = [k for k, _ in ERPS]
        erp_w = [v for _, v in ERPS]
        self.erp = [self.rng.choices(erp_keys, weights=erp_w)[0] for _ in world.ids]
        self.orders = 0
        self.projects: list[dict[str, Any]] = []
        self.disruptions: list[dict[str, Any]] = []
        self.facilities = 0
        self.main_facility: list[str] = []
        self.alarms = 0
        self.incidents = 0
        planted = world.planted
        assert planted is not None
        self.planted = planted
        self.flooded = frozenset(planted.flooded)
        base = world.size.order_interval_days
        self.interval = [
            0 if sku in SERVICES else _interval(base, MATERIAL[sku].lead_time_days, MATERIAL[sku].category)
            for sku in SKUS
        ]
        """Order interval per sku index (0: services, not ordered)."""
        self.late = frozenset(planted.chronically_late)

    # -- plumbing ------------------------------------------------------------------------------------

    def source(self, i: int) -> str:
        return f"{self.erp[i]}/{self.w.ids[i]}"

    def emit(self, t_ms: int, source: str, payload: Payload) -> Event:
        """The event's wire form; ``time`` is ``t_ms``, ``sequence`` grows with every event."""
        cls = type(payload)
        self.n += 1
        self.counts[cls.TYPE] += 1
        subject = getattr(payload, cls.SUBJECT)
        env = _Envelope(
            specversion=SPECVERSION,
            id=f"{self.id_base}{self.n}",
            source=source,
            type=cls.TYPE,
            time=datetime.fromtimestamp(t_ms / 1000, UTC),
            subject=subject,
            sequence=self.n,
            dataschema=self.schemas[cls.TYPE],
            data=payload,
        )
        return Event(subject, self.encoder.encode(env))

    def push(self, t_ms: int, kind: int, item: Any) -> None:
        if t_ms < self.end_ms:
            self.seq += 1
            heapq.heappush(self.heap, (t_ms, self.seq, kind, item))

    def later(self, t_ms: int, source: str, payload: Payload) -> None:
        """Schedule a ready event (dropped if it falls after the end of the history)."""
        self.push(t_ms, _READY, (source, payload))

    def drain(self, until_ms: int) -> Iterator[Event]:
        """Emit every scheduled event before ``until_ms``, in time order."""
        heap = self.heap
        while heap and heap[0][0] < until_ms:
            t, _, kind, item = heapq.heappop(heap)
            if kind == _READY:
                yield self.emit(t, item[0], item[1])
            else:
                yield self.order_stage(t, item)

    # -- the stream ----------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """Every event of the year, in time order (registration before links before orders)."""
        w = self.w
        t = self.start_ms
        for m in MATERIALS:
            yield self.emit(
                t,
                "world-feed/materials",
                MaterialDefined(sku=m.sku, name=m.name, category=m.category, unit=m.unit),
            )
            t += 1000
        for product, comps in BOMS.items():
            yield self.emit(
                t,
                "world-feed/materials",
                BomDefined(product_sku=product, components=[BomComponent(sku=s, qty=q) for s, q in comps]),
            )
            t += 1000
        n = len(w.ids)
        step = (22 * HOUR_MS) // max(1, n)
        for i in range(n):
            yield from self.register(i, self.start_ms + HOUR_MS + i * step)
        step = (22 * HOUR_MS) // max(1, w.links)
        day1 = self.start_ms + DAY_MS + HOUR_MS
        for b in range(n):
            for li in w.links_of(b):
                yield from self.drain(day1 + li * step)
                yield self.agreement(li, day1 + li * step)
        scheduled.planted(self)
        scheduled.disruptions(self)
        scheduled.projects(self)
        yield from self.drain(self.start_ms + 2 * DAY_MS)
        yield from self.operations()

    def register(self, i: int, t: int) -> Iterator[Event]:
        w = self.w
        role, city = w.role_of(i), w.city_of(i)
        name_rng = random.Random(w.seed * 1_000_003 + i)  # noqa: S311 (same draw as the id's)
        name, _ = enterprise_name(name_rng, role, city)
        src = self.source(i)
        caps = [MATERIAL[s].en.lower() for s in role.outputs] or [role.en.lower()]
        yield self.emit(
            t,
            src,
            PartnerRegistered(
                enterprise_id=w.ids[i],
                name=name,
                industry=Industry(role.industry),
                region=w.region_of(city),
                country="CN",
                capabilities=caps,
            ),
        )
        short = name.split(" (")[0]
        facilities = [(city, FacilityKind(role.facility))]
        if role.industry == "logistics":
            others = [BY_KEY[k] for k in LOGISTICS_FACILITY_CITIES[role.outputs[0]] if k != city.key]
            facilities += [
                (c, FacilityKind(role.facility)) for c in self.rng.sample(others, self.rng.randint(2, 4))
            ]
        elif role.outputs and w.scale[i] > 1.5:
            other = BY_KEY[self.rng.choice([c for c, _ in role.cities])]
            facilities.append((other, FacilityKind.WAREHOUSE))
        for k, (fc, kind) in enumerate(facilities):
            fid = f"{w.ids[i]}-f{k + 1}"
            if k == 0:
                self.main_facility.append(fid)
            zh_word, en_word = FACILITY_WORDS[kind.value]
            self.facilities += 1
            yield self.emit(
                t + 1 + k,
                src,
                FacilityRegistered(
                    facility_id=fid,
                    enterprise_id=w.ids[i],
                    name=f"{short}{fc.zh.removesuffix('市')}{zh_word} ({fc.en} {en_word})",
                    kind=kind,
                    region=w.region_of(fc),
                    latitude=round(fc.latitude + self.rng.uniform(-0.06, 0.06), 5),
                    longitude=round(fc.longitude + self.rng.uniform(-0.06, 0.06), 5),
                ),
            )
        yield from self.certificates(i, t + 10)

    def certificates(self, i: int, t: int) -> Iterator[Event]:
        w = self.w
        role = w.role_of(i)
        src = self.source(i)
        start = _date(self.start_ms)
        for slug, standard, p in CERTIFICATES:
            wanted = p if slug != "iatf16949" else (0.9 if role.industry in AUTOMOTIVE_SUPPLY else 0.0)
            if self.rng.random() >= wanted:
                continue
            cid = f"{w.ids[i]}-{slug}"
            valid_from = start - timedelta(days=self.rng.randint(0, 3 * 365 - 1))
            valid_until = valid_from + timedelta(days=3 * 365)
            issuer = self.rng.choice(ISSUERS)
            yield self.emit(
                t,
                src,
                CertificationGranted(
                    enterprise_id=w.ids[i],
                    certificate_id=cid,
                    standard=standard,
                    valid_until=valid_until,
                    issuer=issuer,
                    valid_from=valid_from,
                ),
            )
            t += 1
            lapse_ms = _ms(valid_until)
            renew_days = self.rng.randint(20, 90)
            if lapse_ms - renew_days * DAY_MS >= self.end_ms:
                continue
            if self.rng.random() < 0.96:  # renewed some weeks before it lapses (after the first days)
                self.later(
                    max(self.start_ms + 2 * DAY_MS, lapse_ms - renew_days * DAY_MS) + 10 * HOUR_MS,
                    src,
                    CertificationGranted(
                        enterprise_id=w.ids[i],
                        certificate_id=cid,
                        standard=standard,
                        valid_until=valid_until + timedelta(days=3 * 365),
                        issuer=issuer,
                        valid_from=valid_until,
                    ),
                )
            else:
                self.later(
                    lapse_ms + 2 * HOUR_MS,
                    src,
                    CertificationExpired(
                        enterprise_id=w.ids[i],
                        certificate_id=cid,
                        reason="surveillance audit not passed in time",
                    ),
                )

    def agreement(self, li: int, t: int) -> Event:
        w = self.w
        s, b, sku = w.link_supplier[li], w.link_buyer[li], SKUS[w.link_sku[li]]
        share = round(float(w.link_share[li]), 2)
        m = MATERIAL[sku]
        return self.emit(
            t,
            self.source(b),
            SupplyAgreed(
                supplier_id=w.ids[s],
                buyer_id=w.ids[b],
                sku=sku,
                share=share,
                lead_time_days=w.link_lead[li],
                valid_from=_date(self.start_ms),
                unit_price=round(m.price_cny * self.rng.uniform(0.92, 1.08), 2),
                currency="CNY",
                annual_volume=round(need_per_day(w, b, sku) * 330 * share, 1),
            ),
        )

    # -- a year of operations ------------------------------------------------------------------------

    def operations(self) -> Iterator[Event]:
        w, size = self.w, self.w.size
        n = len(w.ids)
        buckets: dict[tuple[int, int], list[int]] = {}
        for li in range(w.links):
            interval = self.interval[w.link_sku[li]]
            if interval:
                buckets.setdefault((interval, self.rng.randrange(interval)), []).append(li)
        intervals = sorted({k[0] for k in buckets})
        producing = [i for i in range(n) if w.role_of(i).outputs and w.role_of(i).industry != "logistics"]
        alarm_rate = size.alarms_per_enterprise * len(producing) / HISTORY_DAYS
        for d in range(2, HISTORY_DAYS):
            day_ms = self.start_ms + d * DAY_MS
            for interval in intervals:
                for li in buckets.get((interval, d % interval), ()):
                    self.place(li, day_ms + self.rng.randrange(0, 9 * HOUR_MS))
            for i in producing[d % size.inventory_interval_days :: size.inventory_interval_days]:
                self.inventory(i, day_ms + 13 * HOUR_MS + self.rng.randrange(HOUR_MS))
            for i in producing[d % size.capacity_interval_days :: size.capacity_interval_days]:
                self.capacity(i, day_ms + 14 * HOUR_MS + self.rng.randrange(HOUR_MS), d)
            k = int(alarm_rate) + (self.rng.random() < alarm_rate - int(alarm_rate))
            for _ in range(k):
                self.alarm(self.rng.choice(producing), day_ms + self.rng.randrange(DAY_MS), background=True)
            yield from self.drain(day_ms + DAY_MS)

    def performance(self, supplier: int, t_ms: int) -> tuple[float, float, int]:
        """(on-time probability, in-full probability, typical delay) of ``supplier`` at ``t_ms``."""
        w = self.w
        if supplier == self.planted.collapse and t_ms >= self.end_ms - COLLAPSE_DAYS * DAY_MS:
            return 0.25, 0.7, 14
        return float(w.on_time[supplier]), float(w.in_full[supplier]), 8 if supplier in self.late else 3

    def place(self, li: int, t_ms: int) -> None:
        w, rng = self.w, self.rng
        s, b, sku = w.link_supplier[li], w.link_buyer[li], SKUS[w.link_sku[li]]
        self.orders += 1
        interval = self.interval[w.link_sku[li]]
        qty = need_per_day(w, b, sku) * float(w.link_share[li]) * interval * rng.uniform(0.8, 1.2)
        lead = int(w.link_lead[li])
        ordered_on = _date(t_ms)
        requested = ordered_on + timedelta(days=lead)
        o = _Order(
            id=f"{w.prefix}po-{self.orders:08d}",
            shipment=f"{w.prefix}sh-{self.orders:08d}",
            link=li,
            qty=max(1.0, round(qty, 1) if MATERIAL[sku].unit == "t" else float(round(qty))),
            placed_ms=t_ms,
            ordered_on=ordered_on,
            requested=requested,
            promised=requested + timedelta(days=rng.choice((0, 0, 0, 0, 1, 2))),
            confirm_ms=t_ms + rng.randrange(2 * HOUR_MS, 30 * HOUR_MS),
        )
        on_time, in_full, typical_delay = self.performance(s, t_ms)
        transit = max(1, min(lead - 1, round(lead / 4)))
        if rng.random() < 0.012:
            o.cancel_ms = o.confirm_ms + rng.randrange(DAY_MS, 5 * DAY_MS)
            o.stage = 0
            self.push(t_ms, _ORDER, o)
            return
        o.cancel_ms = 0
        late = rng.random() >= on_time
        delay = 0
        if late:
            delay = max(1, round(rng.expovariate(1 / typical_delay)))
            o.delivered_on = o.promised + timedelta(days=delay)
        else:
            o.delivered_on = o.promised - timedelta(days=rng.choice((0, 0, 0, 1, 2)))
        o.delivered_on = max(o.delivered_on, o.ordered_on + timedelta(days=1))
        o.shipped_on = max(o.ordered_on, o.promised - timedelta(days=transit))
        if late and delay < 3:
            o.shipped_on = max(o.ordered_on, o.delivered_on - timedelta(days=transit))
        o.expected = max(o.shipped_on, o.promised)
        o.ship_ms = max(o.confirm_ms + HOUR_MS, _ms(o.shipped_on) + 6 * HOUR_MS)
        o.deliver_ms = max(o.ship_ms + HOUR_MS, _ms(o.delivered_on) + rng.randrange(HOUR_MS, 9 * HOUR_MS))
        o.delay_days = (o.delivered_on - o.expected).days
        o.delay_ms = o.ship_ms + rng.randrange(6 * HOUR_MS, DAY_MS) if o.delay_days >= 1 and late else 0
        if o.delay_ms >= o.deliver_ms:
            o.delay_ms = 0
        o.qty_delivered = o.qty if rng.random() < in_full else round(o.qty * rng.uniform(0.8, 0.98), 1)
        o.stage = 0
        self.push(t_ms, _ORDER, o)

    def order_stage(self, t: int, o: _Order) -> Event:
        """Emit ``o``'s current stage and schedule the next one."""
        w = self.w
        li = o.link
        s, b, sku = w.link_supplier[li], w.link_buyer[li], SKUS[w.link_sku[li]]
        sid, bid = w.ids[s], w.ids[b]
        stage = o.stage
        o.stage += 1
        if stage == 0:
            self.push(o.confirm_ms, _ORDER, o)
            m = MATERIAL[sku]
            return self.emit(
                t,
                self.source(b),
                OrderPlaced(
                    order_id=o.id,
                    buyer_id=bid,
                    supplier_id=sid,
                    sku=sku,
                    quantity=o.qty,
                    requested_date=o.requested,
                    unit_price=m.price_cny,
                    currency="CNY",
                ),
            )
        if o.cancel_ms:
            if stage == 1:
                self.push(o.cancel_ms, _ORDER, o)
                return self.emit(
                    t,
                    self.source(s),
                    OrderConfirmed(
                        order_id=o.id,
                        buyer_id=bid,
                        supplier_id=sid,
                        confirmed_quantity=o.qty,
                        promised_date=o.promised,
                    ),
                )
            return self.emit(
                t,
                self.source(b),
                OrderCancelled(order_id=o.id, buyer_id=bid, supplier_id=sid, reason="demand plan revised"),
            )
        if stage == 1:
            self.push(o.ship_ms, _ORDER, o)
            return self.emit(
                t,
                self.source(s),
                OrderConfirmed(
                    order_id=o.id,
                    buyer_id=bid,
                    supplier_id=sid,
                    confirmed_quantity=o.qty,
                    promised_date=o.promised,
                ),
            )
        if stage == 2:
            if o.delay_ms:
                self.push(o.delay_ms, _ORDER, o)
            else:
                o.stage += 1
                self.push(o.deliver_ms, _ORDER, o)
            return self.emit(
                t,
                self.source(s),
                OrderShipped(
                    order_id=o.id,
                    buyer_id=bid,
                    supplier_id=sid,
                    shipment_id=o.shipment,
                    quantity=o.qty_delivered,
                    shipped_on=o.shipped_on,
                    expected_delivery=o.expected,
                    carrier_id=self.carrier(b),
                ),
            )
        if stage == 3:
            self.push(o.deliver_ms, _ORDER, o)
            reasons = COLLAPSE_REASONS if s == self.planted.collapse else DELAY_REASONS
            return self.emit(
                t,
                self.source(s),
                ShipmentDelayed(
                    order_id=o.id,
                    buyer_id=bid,
                    supplier_id=sid,
                    shipment_id=o.shipment,
                    new_expected_delivery=o.delivered_on,
                    delay_days=o.delay_days,
                    reason=self.rng.choice(reasons),
                ),
            )
        if self.rng.random() < w.quality[s]:
            self.quality(s, b, sku, t + self.rng.randrange(DAY_MS, 4 * DAY_MS))
        return self.emit(
            t,
            self.source(b),
            OrderDelivered(
                order_id=o.id,
                buyer_id=bid,
                supplier_id=sid,
                quantity_ordered=o.qty,
                quantity_delivered=o.qty_delivered,
                promised_date=o.promised,
                delivered_on=o.delivered_on,
                ordered_on=o.ordered_on,
            ),
        )

    def carrier(self, buyer: int) -> str | None:
        """One of the buyer's contracted road hauliers (its first logistics link), if any."""
        w = self.w
        for li in w.links_of(buyer):
            if SKUS[w.link_sku[li]] == "SVC-ROAD":
                return w.ids[w.link_supplier[li]]
        return None

    def quality(self, s: int, b: int, sku: str, t_ms: int) -> None:
        w, rng = self.w, self.rng
        severity = rng.choices((Severity.LOW, Severity.MEDIUM, Severity.HIGH), weights=(6, 3, 1))[0]
        self.incidents += 1
        self.later(
            t_ms,
            self.source(b),
            QualityIncident(
                incident_id=f"{w.prefix}qi-{self.incidents:08d}",
                supplier_id=w.ids[s],
                sku=sku,
                severity=severity,
                defect_ppm=round(rng.lognormvariate(math.log(800), 1.0), 1),
                buyer_id=w.ids[b],
                description=f"incoming inspection: {MATERIAL[sku].en.lower()} out of specification",
            ),
        )

    def inventory(self, i: int, t_ms: int) -> None:
        w, rng = self.w, self.rng
        seen: set[str] = set()
        for li in w.links_of(i):
            sku = SKUS[w.link_sku[li]]
            if sku in SERVICES or sku in seen:
                continue
            seen.add(sku)
            usage = need_per_day(w, i, sku) * rng.uniform(0.7, 0.95)
            cover = min(60.0, max(1.5, rng.lognormvariate(math.log(12), 0.45)))
            self.later(
                t_ms,
                self.source(i),
                InventoryReported(
                    enterprise_id=w.ids[i],
                    sku=sku,
                    on_hand=round(usage * cover, 1),
                    daily_usage=round(usage, 2),
                    facility_id=self.main_facility[i],
                ),
            )

    def capacity(self, i: int, t_ms: int, day: int) -> None:
        w, rng = self.w, self.rng
        role = w.role_of(i)
        util = rng.uniform(0.68, 0.93)
        if i == self.planted.outage and day >= HISTORY_DAYS - OUTAGE_DAYS_BEFORE_END:
            util = 0.1
        elif i in self.flooded and day >= HISTORY_DAYS - FLOOD_DAYS_BEFORE_END:
            util = 0.35
        self.later(
            t_ms,
            self.source(i),
            CapacityReported(
                enterprise_id=w.ids[i],
                capacity_per_day=round(float(w.scale[i]) * MATERIAL[role.outputs[0]].daily_output, 1),
                utilization=round(util, 3),
            ),
        )

    def alarm(self, i: int, t_ms: int, *, background: bool, severity: Severity | None = None) -> None:
        w, rng = self.w, self.rng
        if severity is None:
            severity = rng.choices(
                (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL), weights=(55, 35, 8, 2)
            )[0]
        fid = self.main_facility[i]
        self.alarms += 1
        self.later(
            t_ms,
            self.source(i),
            EquipmentAlarm(
                alarm_id=f"{w.prefix}al-{self.alarms:08d}",
                enterprise_id=w.ids[i],
                equipment_id=f"{fid}-eq{rng.randint(1, 40):02d}",
                signal=rng.choice(SIGNALS) if background else "vibration",
                severity=severity,
                facility_id=fid,
                predicted_failure_days=rng.randint(3, 60) if background else rng.randint(1, 5),
            ),
        )


def _interval(base: int, lead_time_days: int, category: str) -> int:
    """Order interval of a link: bulk raw materials twice as often, long-lead chips half as often."""
    if category == "raw material":
        return max(7, base // 2)
    if lead_time_days >= 60:
        return base * 2 if base * 2 < HISTORY_DAYS else base
    return base
