"""The generated world: deterministic, valid, ERP-ordered, recognisable, its planted risks in the events."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from typing import Any

import msgspec
import pytest

from connectors.world import generate
from connectors.world.catalog import BOMS, CHAIN_PATHS, MATERIAL, ROLES
from connectors.world.geography import CITIES, HUBEI_BOUNDS
from connectors.world.world import SIZES, role_counts
from schema.validate import decode_event

END = date(2026, 11, 29)
NOW = datetime(2026, 11, 29, tzinfo=UTC)
SEED = 7

REAL_COMPANIES = (
    "武钢",
    "武汉钢铁",
    "宝武",
    "鄂钢",
    "大冶",
    "新冶钢",
    "东风",
    "神龙",
    "中石化",
    "中国石化",
    "中石油",
    "石化",
    "华为",
    "长飞",
    "烽火",
    "上汽",
    "吉利",
    "比亚迪",
    "宁德",
    "三一",
    "中联",
    "徐工",
    "中远",
    "招商",
    "马钢",
    "华菱",
    "江铜",
    "铜陵有色",
    "中铝",
    "紫金",
    "兴发",
    "宜化",
    "汇丰",
    "中车",
    "WISCO",
    "Baowu",
    "Dongfeng",
    "Sinopec",
    "PetroChina",
    "Huawei",
    "Sany",
    "Zoomlion",
    "COSCO",
    "Chalco",
)


@dataclass
class Generated:
    raw: list[bytes]
    events: list[dict[str, Any]]
    manifest: dict[str, Any]
    most_pending: int


@pytest.fixture(scope="module")
def demo() -> Generated:
    gen = generate("demo", SEED, END)
    raw: list[bytes] = []
    most = 0
    for e in gen.events():
        raw.append(e.value)
        most = max(most, len(gen.history.heap))
    return Generated(raw, [msgspec.json.decode(r) for r in raw], gen.manifest(), most)


def digest(size: str, seed: int, end: date, limit: int | None = None) -> str:
    h = hashlib.sha256()
    for e in islice(generate(size, seed, end).events(), limit):
        h.update(e.value)
    return h.hexdigest()


def test_the_same_seed_and_end_give_the_same_events(demo: Generated) -> None:
    h = hashlib.sha256()
    for r in demo.raw:
        h.update(r)
    assert digest("demo", SEED, END) == h.hexdigest()
    assert digest("demo", SEED + 1, END, 5000) != digest("demo", SEED, END, 5000)
    assert digest("demo", SEED, END + timedelta(days=1), 5000) != digest("demo", SEED, END, 5000)


@pytest.mark.timeout(600)
def test_every_event_passes_the_projects_validation(demo: Generated) -> None:
    for raw in demo.raw:
        decode_event(raw, now=NOW)
    assert len({e["id"] for e in demo.events}) == len(demo.events)


def test_events_are_in_time_order_within_the_year_and_counted_in_the_manifest(demo: Generated) -> None:
    times = [datetime.fromisoformat(e["time"]) for e in demo.events]
    assert times == sorted(times)
    assert times[0] >= NOW - timedelta(days=365)
    assert times[-1] < NOW
    counts: dict[str, int] = defaultdict(int)
    for e in demo.events:
        counts[e["type"]] += 1
    assert demo.manifest["counts"]["events_by_type"] == counts
    assert demo.manifest["counts"]["events"] == len(demo.events)
    for kind in ("shipment.delayed", "quality.incident", "inventory.reported", "capacity.reported",
                 "equipment.alarm", "certification.expired", "design.revision.published",
                 "design.change.requested", "disruption.resolved", "order.cancelled"):  # fmt: skip
        assert counts[kind] > 0, kind


def test_each_enterprise_registers_before_its_links_and_links_come_before_orders(demo: Generated) -> None:
    registered: dict[str, int] = {}
    linked: set[tuple[str, str, str]] = set()
    for pos, e in enumerate(demo.events):
        d = e["data"]
        if e["type"] == "partner.registered":
            registered[d["enterprise_id"]] = pos
        elif e["type"] in ("facility.registered", "certification.granted"):
            assert d["enterprise_id"] in registered
        elif e["type"] == "supply.agreed":
            assert d["supplier_id"] in registered and d["buyer_id"] in registered
            linked.add((d["supplier_id"], d["buyer_id"], d["sku"]))
        elif e["type"] == "order.placed":
            assert (d["supplier_id"], d["buyer_id"], d["sku"]) in linked


def test_the_demo_has_a_few_hundred_enterprises_and_bigger_sizes_scale() -> None:
    assert 250 <= sum(role_counts(SIZES["demo"].enterprises)) <= 500
    assert 9_000 <= sum(role_counts(SIZES["10k"].enterprises)) <= 11_000
    assert 99_000 <= sum(role_counts(SIZES["100k"].enterprises)) <= 101_000


def test_each_named_chain_runs_five_tiers_or_more_along_bom_edges() -> None:
    for chain, path in CHAIN_PATHS.items():
        assert len(path) - 1 >= 5, chain  # tiers below the product at the top
        for component, product in pairwise(path):
            assert component in dict(BOMS[product]), (chain, component, product)


def test_bom_events_name_defined_materials_and_have_no_cycles(demo: Generated) -> None:
    defined = {e["data"]["sku"] for e in demo.events if e["type"] == "material.defined"}
    boms = {e["data"]["product_sku"]: [c["sku"] for c in e["data"]["components"]]
            for e in demo.events if e["type"] == "bom.defined"}  # fmt: skip
    assert defined == set(MATERIAL)
    assert boms == {p: [s for s, _ in comps] for p, comps in BOMS.items()}
    assert all(c in defined for comps in boms.values() for c in comps)

    def depth(sku: str, seen: tuple[str, ...] = ()) -> int:
        assert sku not in seen, f"BOM cycle through {sku}"
        return 1 + max((depth(c, (*seen, sku)) for c in boms.get(sku, [])), default=0)

    assert max(depth(p) for p in boms) >= 7


def test_the_supply_network_follows_each_chain_over_five_links_or_more(demo: Generated) -> None:
    links: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in demo.events:
        if e["type"] == "supply.agreed":
            links[e["data"]["sku"]].append((e["data"]["supplier_id"], e["data"]["buyer_id"]))
    for chain, path in CHAIN_PATHS.items():
        reached = {s for s, _ in links[path[0]]}
        for sku in path[:-1]:
            reached = {b for s, b in links[sku] if s in reached}
            assert reached, f"{chain}: no buyer of {sku} is reached from the chain's raw material"
        assert len(path) - 1 >= 5


def test_hubei_facilities_lie_in_hubei_and_industries_sit_where_they_plausibly_do(demo: Generated) -> None:
    south, north, west, east = HUBEI_BOUNDS
    for c in CITIES:
        if c.in_hubei:
            assert south <= c.latitude <= north and west <= c.longitude <= east, c.key
    assert sum(c.in_hubei for c in CITIES) == 13
    hubei = [e["data"] for e in demo.events
             if e["type"] == "facility.registered" and e["data"]["region"].startswith("湖北省")]  # fmt: skip
    assert len(hubei) > 100
    for f in hubei:
        assert south <= f["latitude"] <= north and west <= f["longitude"] <= east, f
    regions: dict[str, set[str]] = defaultdict(set)
    for e in demo.events:
        if e["type"] == "partner.registered":
            regions[e["data"]["enterprise_id"].split("-", 1)[1].rsplit("-", 1)[0]].add(e["data"]["region"])
    river = {
        "湖北省 武汉市",
        "湖北省 鄂州市",
        "湖北省 黄石市",
        "江西省 新余市",
        "安徽省 马鞍山市",
        "湖南省 娄底市",
    }
    river.add("湖南省 湘潭市")
    assert regions["steelworks"] <= river
    assert "湖北省 荆门市" in regions["refinery"] and "湖北省 武汉市" in regions["cracker"]
    assert {"湖北省 十堰市", "湖北省 襄阳市"} <= regions["truck-maker"]


def test_names_are_chinese_with_english_beside_and_name_no_real_company(demo: Generated) -> None:
    names = [e["data"]["name"] for e in demo.events if e["type"] == "partner.registered"]
    assert len(names) == demo.manifest["counts"]["enterprises"]
    assert any(n.startswith("鄂州") for n in names) and any(n.startswith("荆州") for n in names)
    for name in names:
        zh, en = name.split(" (", 1)
        assert "有限公司" in zh and en.endswith("Ltd.)"), name
        assert not any(real in name for real in REAL_COMPANIES), name


def test_history_is_streamed_holding_only_what_is_still_to_come(demo: Generated) -> None:
    assert demo.most_pending < len(demo.events) / 20


def test_planted_sole_sources_are_the_only_supplier_of_their_buyers(demo: Generated) -> None:
    suppliers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in demo.events:
        if e["type"] == "supply.agreed":
            suppliers[(e["data"]["buyer_id"], e["data"]["sku"])].add(e["data"]["supplier_id"])
    sole = demo.manifest["planted"]["sole_sources"]
    assert {s["sku"] for s in sole} == {"WAFER-200MM", "ECH"}
    for s in sole:
        assert len(s["buyers"]) >= 3
        for buyer in s["buyers"]:
            assert suppliers[(buyer, s["sku"])] == {s["supplier"]}


def test_planted_concentration_flood_and_outage_are_in_the_events(demo: Generated) -> None:
    p = demo.manifest["planted"]
    region_of = {e["data"]["enterprise_id"]: e["data"]["region"]
                 for e in demo.events if e["type"] == "partner.registered"}  # fmt: skip
    conc = p["regional_concentration"]
    makers = {e["data"]["supplier_id"] for e in demo.events
              if e["type"] == "supply.agreed" and e["data"]["sku"] == conc["sku"]}  # fmt: skip
    assert makers and makers <= set(conc["suppliers"])
    assert {region_of[s] for s in conc["suppliers"]} == {conc["region"]} == {"湖北省 宜昌市"}

    reported = {
        e["data"]["disruption_id"]: e["data"] for e in demo.events if e["type"] == "disruption.reported"
    }
    resolved = {e["data"]["disruption_id"] for e in demo.events if e["type"] == "disruption.resolved"}
    flood = p["region_flood"]
    assert reported[flood["disruption_id"]]["region"] == flood["region"] == "湖北省 荆州市"
    assert reported[flood["disruption_id"]]["kind"] == "flood"
    assert flood["disruption_id"] not in resolved
    assert sorted(flood["enterprises"]) == sorted(e for e, r in region_of.items() if r == flood["region"])

    outage = p["plant_outage"]
    operator = {e["data"]["facility_id"]: e["data"]["enterprise_id"]
                for e in demo.events if e["type"] == "facility.registered"}  # fmt: skip
    assert reported[outage["disruption_id"]]["facility_id"] == outage["facility"]
    assert operator[outage["facility"]] == outage["enterprise"]
    assert outage["disruption_id"] not in resolved
    alarms = [e for e in demo.events if e["type"] == "equipment.alarm"
              and e["data"]["facility_id"] == outage["facility"]
              and e["data"]["severity"] in ("high", "critical")
              and datetime.fromisoformat(e["time"]) >= NOW - timedelta(days=14)]  # fmt: skip
    assert len(alarms) >= 3
    # background disruptions are all over by the end
    assert set(reported) - resolved == {flood["disruption_id"], outage["disruption_id"]}


def test_the_collapsing_supplier_delivers_on_time_before_and_late_after(demo: Generated) -> None:
    p = demo.manifest["planted"]["performance_collapse"]
    since = date.fromisoformat(p["from"])
    before: list[bool] = []
    after: list[bool] = []
    for e in demo.events:
        d = e["data"]
        if e["type"] == "order.delivered" and d["supplier_id"] == p["supplier"]:
            ok = d["delivered_on"] <= d["promised_date"] and d["quantity_delivered"] >= d["quantity_ordered"]
            (after if date.fromisoformat(d["ordered_on"]) >= since else before).append(ok)
    assert len(before) >= 20 and len(after) >= 8
    assert sum(before) / len(before) >= 0.85
    assert sum(after) / len(after) <= 0.5


def test_chronically_late_suppliers_are_late_all_year(demo: Generated) -> None:
    late = set(demo.manifest["planted"]["chronically_late"])
    assert len(late) >= 2
    on_time: dict[str, list[bool]] = defaultdict(list)
    for e in demo.events:
        d = e["data"]
        if e["type"] == "order.delivered":
            on_time[d["supplier_id"]].append(d["delivered_on"] <= d["promised_date"])
    rate = {s: sum(v) / len(v) for s, v in on_time.items() if len(v) >= 10}
    late_rates = [rate[s] for s in late if s in rate]
    others = sorted(r for s, r in rate.items() if s not in late)
    assert late_rates and max(late_rates) < 0.8
    assert others[len(others) // 2] >= 0.95


def test_roles_cover_every_material_made_and_logistics_with_facilities(demo: Generated) -> None:
    made = {o for r in ROLES for o in r.outputs}
    assert {s for comps in BOMS.values() for s, _ in comps} <= made
    kinds = defaultdict(set)
    for e in demo.events:
        if e["type"] == "facility.registered":
            kinds[e["data"]["enterprise_id"].split("-")[1]].add(e["data"]["kind"])
    assert "port" in {k for v in kinds.values() for k in v}
    carriers = {e["data"]["carrier_id"] for e in demo.events if e["type"] == "order.shipped"}
    assert any("road-haulage" in (c or "") for c in carriers)


def regions_named(gen: Any) -> set[str]:
    """Every region name the world's events carry (registrations, facilities, disruptions)."""
    return {r for e in gen.events() if (r := msgspec.json.decode(e.value)["data"].get("region")) is not None}


def test_two_prefixed_worlds_share_no_region_but_shared_regions_keep_the_real_names() -> None:
    """Two worlds on one graph must not meet in a region: one's flood would reach the other's
    enterprises. ``shared_regions`` keeps the names a map draws."""
    a = generate("demo", SEED, END, prefix="wa-")
    b = generate("demo", SEED, END, prefix="wb-")
    in_a, in_b = regions_named(a), regions_named(b)
    assert in_a and not in_a & in_b
    assert all(r.startswith("wa-") for r in in_a)
    assert a.manifest()["planted"]["region_flood"]["region"] == "wa-湖北省 荆州市"
    assert a.manifest()["planted"]["regional_concentration"]["region"] == "wa-湖北省 宜昌市"
    shared = regions_named(generate("demo", SEED, END, prefix="wc-", shared_regions=True))
    assert shared == {r.removeprefix("wa-") for r in in_a} <= {c.region for c in CITIES}
