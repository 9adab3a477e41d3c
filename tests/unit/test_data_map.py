"""The data map's arithmetic (``graph.data_map.fold``), its cost, and the geography the console ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import parse

from api.limits import FIELD_WORK, check_operation
from api.schema import build_schema
from connectors.world.geography import CITIES
from graph.data_map import fold

GEOGRAPHY = Path(__file__).resolve().parents[2] / "console" / "src" / "geo" / "hubei-region.json"
WUHAN, YICHANG = "湖北省 武汉市", "湖北省 宜昌市"


def test_regions_and_industries_add_up_enterprises_otif_and_the_risk_histogram() -> None:
    figures = fold(
        # region, industry, risk bin (-1: unscored), enterprises, deliveries, OTIF deliveries, risk sum
        [
            [WUHAN, "steel", 0, 2, 100, 90.0, 0.2],
            [WUHAN, "automotive", 4, 1, 0, 0.0, 0.95],
            [YICHANG, "steel", -1, 3, 50, 50.0, 0.0],
        ],
        [],
        [],
        hhi_threshold=0.25,
        share_threshold=0.5,
    )
    wuhan, yichang = figures.regions[WUHAN], figures.regions[YICHANG]
    assert (wuhan.enterprises, yichang.enterprises, figures.totals.enterprises) == (3, 3, 6)
    assert wuhan.otif_rate90d == pytest.approx(0.9)
    assert figures.totals.otif_rate90d == pytest.approx(140 / 150)
    assert wuhan.risk_histogram == [2, 0, 0, 0, 1]
    assert (wuhan.unscored, yichang.unscored) == (0, 3)
    assert wuhan.mean_risk_score == pytest.approx(1.15 / 3)
    assert yichang.mean_risk_score is None
    assert figures.industries["steel"].enterprises == 5
    assert figures.industries["steel"].otif_rate90d == pytest.approx(140 / 150)
    assert figures.industries["automotive"].otif_rate90d is None  # no deliveries
    assert list(figures.regions) == sorted(figures.regions)


def test_a_link_counts_once_for_each_area_it_touches() -> None:
    figures = fold(
        [],
        # supplier region, supplier industry, buyer region, buyer industry, links
        [[WUHAN, "steel", WUHAN, "automotive", 4], [YICHANG, "chemical", WUHAN, "steel", 1]],
        [],
        hhi_threshold=0.25,
        share_threshold=0.5,
    )
    wuhan, yichang = figures.regions[WUHAN], figures.regions[YICHANG]
    assert (wuhan.links, wuhan.links_out, wuhan.links_in) == (5, 4, 5)
    assert (yichang.links, yichang.links_out, yichang.links_in) == (1, 1, 0)
    assert figures.totals.links == 5
    steel = figures.industries["steel"]
    assert (steel.links, steel.links_out, steel.links_in) == (5, 4, 1)


def test_a_material_is_critical_when_one_region_holds_its_supply() -> None:
    figures = fold(
        [],
        [],
        # sku, supplier region, volume, suppliers, name, category
        [
            ["PHOSPHORIC-ACID", YICHANG, 90.0, 2, "磷酸", "chemical"],
            ["PHOSPHORIC-ACID", WUHAN, 10.0, 1, "磷酸", "chemical"],
            ["STEEL", WUHAN, 50.0, 3, None, None],
            ["STEEL", YICHANG, 50.0, 3, None, None],
        ],
        hhi_threshold=0.25,
        share_threshold=0.6,
    )
    assert [m.sku for m in figures.materials] == ["PHOSPHORIC-ACID", "STEEL"]
    acid = figures.critical[0]
    assert [m.sku for m in figures.critical] == ["PHOSPHORIC-ACID"]  # steel's top share 0.5 < 0.6
    assert acid.hhi == pytest.approx(0.82)
    assert (acid.top_region, acid.top_share, acid.suppliers) == (YICHANG, pytest.approx(0.9), 3)
    assert [m.sku for m in figures.regions[YICHANG].critical_materials] == ["PHOSPHORIC-ACID"]
    assert WUHAN not in figures.regions  # no enterprise there, no critical material either


def test_the_data_map_is_costed_for_the_work_it_does() -> None:
    schema = build_schema(production=True)._schema
    query = parse(
        "{ dataMap { totals { key } regions { key riskHistogram { enterprises } criticalMaterials { sku } }"
        " industries { key } criticalMaterials(first: 10) { sku } } }"
    )
    cost, errors = check_operation(schema, query, None, {})
    assert errors == []
    # dataMap 1 + its work; regions 100 x (1 + 5 histogram bins + 20 materials); industries 30; 10 materials
    assert cost == 1 + FIELD_WORK[("Query", "dataMap")] + 1 + 100 * (1 + 5 + 20) + 30 + 10
    too_many = parse("{ dataMap { criticalMaterials(first: 5000) { sku } } }")
    _, refused = check_operation(schema, too_many, None, {})
    assert "between 1 and 1000" in refused[0].message


def _inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_the_shipped_geography_holds_every_city_of_the_generated_world_where_its_seat_is() -> None:
    geo = json.loads(GEOGRAPHY.read_text(encoding="utf-8"))
    shapes = {f["properties"]["name"]: f["geometry"]["coordinates"] for f in geo["features"]}
    assert "BSD-3-Clause" in geo["source"]
    for city in CITIES:
        assert city.region in shapes, city.region
        seat = (city.longitude, city.latitude)
        assert any(_inside(seat, polygon[0]) for polygon in shapes[city.region]), city.region
    hubei = [n for n in shapes if n.startswith("湖北省 ")]
    assert len(hubei) == 17  # 12 cities, Enshi, and the four county-level units under the province


def test_a_material_made_by_suppliers_without_a_region_goes_to_the_row_of_enterprises_without_one() -> None:
    figures = fold(
        [["", "steel", -1, 2, 0, 0.0, 0.0]],
        [],
        [["COKE", "(unknown region)", 100.0, 2, "焦炭", "raw"]],
        hhi_threshold=0.25,
        share_threshold=0.5,
    )
    assert list(figures.regions) == [""]  # not a second row "(unknown region)" with no enterprises
    assert figures.regions[""].enterprises == 2
    assert [m.sku for m in figures.regions[""].critical_materials] == ["COKE"]
