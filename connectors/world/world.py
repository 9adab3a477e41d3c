"""The generated world's structure: enterprises, facilities, supply links and the planted risks.

Deterministic for a (size, seed): every choice comes from one seeded ``random.Random`` and nothing
iterates a set. Links are held in compact ``array``s (about 30 bytes a link), so the 1M-link world's
structure takes tens of MB; the event history is never held (see ``connectors.world.history``).
"""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from connectors.world.catalog import (
    BOMS,
    MATERIAL,
    MIN_PER_ROLE,
    ROLES,
    SERVICES,
    Role,
    daily_need,
    inputs_of,
)
from connectors.world.geography import BY_KEY, CITIES, City, distance_km
from connectors.world.names import enterprise_name


@dataclass(frozen=True, slots=True)
class Size:
    """How big a world is and how busy its year."""

    name: str
    enterprises: int
    suppliers: tuple[float, ...]
    """Weights of 1, 2, 3, … suppliers for one (buyer, material)."""
    order_interval_days: int
    """A link's buyer orders about this often (bulk twice as often, chips half as often)."""
    inventory_interval_days: int
    capacity_interval_days: int
    alarms_per_enterprise: float
    """Equipment alarms per producing enterprise per year."""
    disruptions: int
    """Background disruptions during the year (all resolved before its end)."""
    design_projects: int


SIZES: dict[str, Size] = {
    "demo": Size("demo", 300, (0.03, 0.57, 0.40), 42, 30, 30, 2.0, 6, 8),
    "10k": Size("10k", 10_000, (0.02, 0.06, 0.12, 0.2, 0.3, 0.3), 150, 91, 91, 1.0, 60, 80),
    "100k": Size("100k", 100_000, (0.02, 0.06, 0.12, 0.2, 0.3, 0.3), 150, 91, 91, 1.0, 400, 600),
}

FLOOD_CITY = "jingzhou"
"""The Yangtze city the planted flood takes out (the Jingjiang reach, where the 1998 flood peaked)."""
SOLE_SOURCE_SKUS = ("WAFER-200MM", "ECH")
SOLE_SOURCE_BUYERS = 6
CONCENTRATED_SKU = "PHOSPHORIC-ACID"
CONCENTRATED_CITY = "yichang"
OUTAGE_ROLE = "cold-rolling-mill"
COLLAPSE_ROLE = "harness-maker"
CHRONIC_LATE_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class Planted:
    """The risks planted in the world and recorded in the manifest (enterprise indexes)."""

    sole_sources: tuple[tuple[str, int, tuple[int, ...]], ...]
    """(sku, supplier, buyers for whom it is the only supplier of the sku)."""
    concentrated_sku: str
    concentrated_city: str
    concentrated_suppliers: tuple[int, ...]
    flood_city: str
    flooded: tuple[int, ...]
    outage: int
    collapse: int
    chronically_late: tuple[int, ...]


@dataclass
class World:
    """Enterprises (parallel arrays by index), their supply links (parallel arrays, grouped by buyer)."""

    size: Size
    seed: int
    prefix: str
    region_prefix: str = ""
    """Prefix of the world's region names: its id prefix unless regions are shared (``build``)."""
    ids: list[str] = field(default_factory=list)
    role: array[int] = field(default_factory=lambda: array("H"))
    city: array[int] = field(default_factory=lambda: array("H"))
    scale: array[float] = field(default_factory=lambda: array("f"))
    on_time: array[float] = field(default_factory=lambda: array("f"))
    in_full: array[float] = field(default_factory=lambda: array("f"))
    quality: array[float] = field(default_factory=lambda: array("f"))
    link_supplier: array[int] = field(default_factory=lambda: array("i"))
    link_buyer: array[int] = field(default_factory=lambda: array("i"))
    link_sku: array[int] = field(default_factory=lambda: array("H"))
    link_share: array[float] = field(default_factory=lambda: array("f"))
    link_lead: array[int] = field(default_factory=lambda: array("H"))
    buyer_links: array[int] = field(default_factory=lambda: array("i"))
    """Links of buyer ``b`` are ``range(buyer_links[b], buyer_links[b + 1])``."""
    makers: dict[str, list[int]] = field(default_factory=dict)
    planted: Planted | None = None

    @property
    def links(self) -> int:
        return len(self.link_supplier)

    def role_of(self, i: int) -> Role:
        return ROLES[self.role[i]]

    def city_of(self, i: int) -> City:
        return CITIES[self.city[i]]

    def region_of(self, city: City) -> str:
        """The region name the world's events carry for ``city`` (``"湖北省 武汉市"``, prefixed unless
        the world shares its regions)."""
        return f"{self.region_prefix}{city.region}"

    def links_of(self, buyer: int) -> range:
        return range(self.buyer_links[buyer], self.buyer_links[buyer + 1])


SKUS: tuple[str, ...] = tuple(MATERIAL)
SKU_INDEX = {s: i for i, s in enumerate(SKUS)}
CITY_INDEX = {c.key: i for i, c in enumerate(CITIES)}


def role_counts(n: int) -> list[int]:
    """Enterprises per role for a world of about ``n`` enterprises (each role at least ``MIN_PER_ROLE``)."""
    total = sum(r.weight for r in ROLES)
    return [max(MIN_PER_ROLE, round(r.weight * n / total)) for r in ROLES]


def _spread(rng: random.Random, role: Role, count: int) -> list[str]:
    """Cities of ``count`` enterprises of ``role``: each of its cities once (heaviest first, shuffled
    among equals), then the rest drawn by the cities' weights, so no city holds a role by chance."""
    keys = [c for c, _ in role.cities]
    weights = [w for _, w in role.cities]
    first = sorted(keys, key=lambda k: (-dict(role.cities)[k], rng.random()))
    out = first[:count]
    out += rng.choices(keys, weights=weights, k=max(0, count - len(out)))
    rng.shuffle(out)
    return out


def _lateness(rng: random.Random) -> float:
    """A supplier's usual on-time probability: 0.975-0.998, most above 0.99."""
    return 0.975 + rng.betavariate(5, 2) * 0.023


def build(size: Size, seed: int, *, prefix: str = "", shared_regions: bool = False) -> World:
    """Build the world's structure and plant its risks. Deterministic for (size, seed, prefix).

    With a ``prefix``, region names carry it too, so two worlds on one graph never share a region (one
    world's flood never reaches the other's enterprises); ``shared_regions`` keeps the plain names
    (a map of the real geography draws them; worlds on one graph then share them)."""
    rng = random.Random(seed)  # noqa: S311 (generated test data, not secrets)
    w = World(size, seed, prefix, "" if shared_regions else prefix)
    counts = role_counts(size.enterprises)
    for ri, (role, count) in enumerate(zip(ROLES, counts, strict=True)):
        cities = (
            [CONCENTRATED_CITY] * count if role.outputs == (CONCENTRATED_SKU,) else _spread(rng, role, count)
        )
        for ck in cities:
            i = len(w.ids)
            _, trade = enterprise_name(random.Random(seed * 1_000_003 + i), role, BY_KEY[ck])  # noqa: S311
            w.ids.append(f"{prefix}{trade}-{role.key}-{i:06d}")
            w.role.append(ri)
            w.city.append(CITY_INDEX[ck])
            w.scale.append(math.exp(rng.uniform(math.log(0.3), math.log(3.0))))
            w.on_time.append(_lateness(rng))
            w.in_full.append(0.995 + rng.random() * 0.004)
            w.quality.append(
                min(0.001, rng.expovariate(1 / 0.0003)) if rng.random() < 0.97 else rng.uniform(0.002, 0.004)
            )
            for sku in role.outputs:
                w.makers.setdefault(sku, []).append(i)
    n = len(w.ids)

    # -- planted: deep sole sources, chosen before the links so the chosen buyers get only them ---------
    flood_city = CITY_INDEX[FLOOD_CITY]
    sole: dict[tuple[int, str], int] = {}
    sole_rows: list[tuple[str, int, tuple[int, ...]]] = []
    for sku in SOLE_SOURCE_SKUS:
        supplier = rng.choice([m for m in w.makers[sku] if w.city[m] != flood_city])
        buyers = [b for b in range(n) if sku in inputs_of(ROLES[w.role[b]])]
        chosen = sorted(rng.sample(buyers, min(SOLE_SOURCE_BUYERS, len(buyers))))
        for b in chosen:
            sole[(b, sku)] = supplier
        sole_rows.append((sku, supplier, tuple(chosen)))

    # -- supply links, grouped by buyer --------------------------------------------------------------
    pick = _SupplierPicker(w, rng)
    how_many = tuple(range(1, len(size.suppliers) + 1))
    yangtze = [c.on_yangtze for c in CITIES]
    for b in range(n):
        w.buyer_links.append(len(w.link_supplier))
        role = ROLES[w.role[b]]
        if not role.outputs or role.industry == "logistics":
            continue
        for sku in inputs_of(role):
            if (b, sku) in sole:
                suppliers = [sole[(b, sku)]]
            else:
                k = rng.choices(how_many, weights=size.suppliers)[0]
                suppliers = pick.suppliers(sku, b, k)
            shares = _shares(rng, len(suppliers))
            for s, share in zip(suppliers, shares, strict=True):
                _add_link(w, rng, s, b, sku, share)
        services = ["SVC-ROAD"]
        if role.bulk:
            services.append("SVC-RAIL")
            if yangtze[w.city[b]]:
                services.append("SVC-BARGE")
        for sku in services:
            k = 1 if sku != "SVC-ROAD" else rng.choice((1, 2, 3))
            suppliers = pick.suppliers(sku, b, k)
            for s, share in zip(suppliers, _shares(rng, len(suppliers)), strict=True):
                _add_link(w, rng, s, b, sku, share)
    w.buyer_links.append(len(w.link_supplier))

    # -- planted: concentration, flood, outage, collapse, chronic lateness ----------------------------
    out_degree = [0] * n
    for s in w.link_supplier:
        out_degree[s] += 1
    taken = {s for _, s, _ in sole_rows}
    outage = _pick_planted(w, rng, OUTAGE_ROLE, out_degree, taken)
    taken.add(outage)
    collapse = _pick_planted(w, rng, COLLAPSE_ROLE, out_degree, taken)
    taken.add(collapse)
    w.on_time[collapse] = 0.97
    w.in_full[collapse] = 0.99
    concentrated = tuple(w.makers[CONCENTRATED_SKU])
    flooded = tuple(i for i in range(n) if w.city[i] == flood_city)
    candidates = [
        i
        for i in range(n)
        if out_degree[i] >= 2 and i not in taken and w.city[i] != flood_city and i not in concentrated
    ]
    late = sorted(rng.sample(candidates, max(2, round(CHRONIC_LATE_SHARE * len(candidates)))))
    for i in late:
        w.on_time[i] = rng.uniform(0.6, 0.72)
    w.planted = Planted(
        sole_sources=tuple(sole_rows),
        concentrated_sku=CONCENTRATED_SKU,
        concentrated_city=CONCENTRATED_CITY,
        concentrated_suppliers=concentrated,
        flood_city=FLOOD_CITY,
        flooded=flooded,
        outage=outage,
        collapse=collapse,
        chronically_late=tuple(late),
    )
    return w


def _pick_planted(w: World, rng: random.Random, role_key: str, out_degree: list[int], taken: set[int]) -> int:
    """The best-connected enterprise of ``role_key`` outside the flooded city (ties broken by the rng)."""
    flood_city = CITY_INDEX[FLOOD_CITY]
    ri = next(k for k, r in enumerate(ROLES) if r.key == role_key)
    pool = [i for i in range(len(w.ids)) if w.role[i] == ri and w.city[i] != flood_city and i not in taken]
    return max(pool, key=lambda i: (out_degree[i], rng.random()))


def _shares(rng: random.Random, k: int) -> list[float]:
    """A buyer's split of one material over ``k`` suppliers: a main supplier and smaller ones, sum 1."""
    if k == 1:
        return [1.0]
    raw = sorted((rng.uniform(0.5, 1.0) for _ in range(k)), reverse=True)
    raw[0] *= 1.6
    total = sum(raw)
    shares = [round(x / total, 2) for x in raw]
    shares[0] = round(1.0 - sum(shares[1:]), 2)
    return shares


def _add_link(w: World, rng: random.Random, s: int, b: int, sku: str, share: float) -> None:
    m = MATERIAL[sku]
    km = distance_km(CITIES[w.city[s]], CITIES[w.city[b]])
    lead = max(1, round(m.lead_time_days * rng.uniform(0.8, 1.25) + km / 400))
    w.link_supplier.append(s)
    w.link_buyer.append(b)
    w.link_sku.append(SKU_INDEX[sku])
    w.link_share.append(share)
    w.link_lead.append(lead)


class _SupplierPicker:
    """Chooses suppliers of a material for a buyer: nearer cities are likelier (weight e^(-km/350)),
    within a city bigger makers are likelier. Cumulative weights are cached per (sku, buyer city)."""

    def __init__(self, w: World, rng: random.Random) -> None:
        self.w = w
        self.rng = rng
        self.by_city: dict[str, dict[int, tuple[list[int], list[float]]]] = {}
        self.cum: dict[tuple[str, int], tuple[list[int], list[float]]] = {}
        for sku, makers in w.makers.items():
            groups: dict[int, list[int]] = {}
            for m in makers:
                groups.setdefault(w.city[m], []).append(m)
            self.by_city[sku] = {
                c: (ms, list(accumulate(float(w.scale[m]) for m in ms))) for c, ms in groups.items()
            }

    def suppliers(self, sku: str, buyer: int, k: int) -> list[int]:
        """Up to ``k`` distinct suppliers of ``sku`` for ``buyer`` (never the buyer itself)."""
        key = (sku, self.w.city[buyer])
        if key not in self.cum:
            here = CITIES[self.w.city[buyer]]
            cities = list(self.by_city[sku])
            weights = [
                self.by_city[sku][c][1][-1] * math.exp(-distance_km(here, CITIES[c]) / 350.0) for c in cities
            ]
            self.cum[key] = (cities, list(accumulate(weights)))
        cities, cum = self.cum[key]
        total = len(self.w.makers[sku]) - (1 if buyer in self.w.makers[sku] else 0)
        want = min(k, total)
        out: list[int] = []
        tries = 0
        while len(out) < want and tries < 50 * want:
            tries += 1
            c = cities[bisect_right(cum, self.rng.random() * cum[-1])]
            makers, mcum = self.by_city[sku][c]
            m = makers[bisect_right(mcum, self.rng.random() * mcum[-1])]
            if m != buyer and m not in out:
                out.append(m)
        return out


def bom_depth(sku: str, *, _memo: dict[str, int] | None = None) -> int:
    """Materials on the longest BOM path ending at ``sku`` (a raw material is 1)."""
    memo = {} if _memo is None else _memo
    if sku not in memo:
        memo[sku] = 1 + max((bom_depth(c, _memo=memo) for c, _ in BOMS.get(sku, ())), default=0)
    return memo[sku]


def need_per_day(w: World, buyer: int, sku: str) -> float:
    """What ``buyer`` uses of ``sku`` per day at full output (services: tonne-km of its freight)."""
    key = (w.role[buyer], sku)
    need = _NEED.get(key)
    if need is None:
        need = _NEED[key] = 20_000.0 if sku in SERVICES else daily_need(ROLES[key[0]], sku)
    return float(w.scale[buyer]) * need


_NEED: dict[tuple[int, str], float] = {}
