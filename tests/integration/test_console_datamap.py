"""The console's data map in a real browser (Debian's chromium, headless, Playwright) on a generated
world (``supplynet generate --size demo`` with a prefix) loaded into the real Neo4j: every city of the
world on the map with the counts Neo4j holds, the drill-down to a city's enterprises, a partner's map
covering its network only, the English switch, and a login with a JWT.

Screenshots go to ``$SUPPLYNET_ARTIFACTS/console`` (else a temporary folder; the output prints it).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Page, expect

from api.keys import create_key
from connectors.world.geography import BY_KEY
from graph.maintenance import delete_by_prefix
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration import test_console as views_tests
from tests.integration.generated_world import GeneratedWorld, generate, load
from tests.integration.worker_proc import spawn_api, stop

# The fixtures and helpers of the other views' browser tests (stack, build, browser, screenshots)
stack = views_tests.stack
console_settings = views_tests.console_settings
console_build = views_tests.console_build
artifacts = views_tests.artifacts
browser = views_tests.browser
page = views_tests.page
login = views_tests.login

pytestmark = pytest.mark.timeout(600)
expect.set_options(timeout=30_000)

JWT_ISSUER = "https://idp.example.test/"
JWT_SECRET = "console-datamap-test-secret-of-32-bytes-or-more"
WUHAN = BY_KEY["wuhan"]


@pytest.fixture(scope="module")
def world(console_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedWorld]:
    prefix = f"dm{uuid.uuid4().hex[:6]}-"
    started = time.monotonic()
    events, w = generate(tmp_path_factory.mktemp("world"), prefix=prefix)
    asyncio.run(load(console_settings, events))
    took = time.monotonic() - started
    print(
        f"\n[datamap] world {prefix} ({len(w.enterprises)} enterprises) generated and loaded in {took:.0f} s"
    )
    yield w

    async def unload() -> None:
        driver = bootstrap.async_driver(console_settings)
        try:
            await delete_by_prefix(driver, prefix)
        finally:
            await driver.close()

    asyncio.run(unload())


@pytest.fixture(scope="module")
def api(
    console_settings: Settings,
    world: GeneratedWorld,
    console_build: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """`supplynet serve` on a free port, accepting API keys and HS256 JWTs."""
    log = tmp_path_factory.mktemp("datamap-api") / "api.log"
    proc, url = spawn_api(
        console_settings,
        log,
        ready="/readyz",
        SUPPLYNET_STREAM__TOPIC_PREFIX=console_settings.stream.topic_prefix,
        SUPPLYNET_API__JWT_ISSUER=JWT_ISSUER,
        SUPPLYNET_API__JWT_HS256_SECRET=JWT_SECRET,
    )
    yield url
    stop(proc)


_cypher = views_tests.cypher  # the same read of Neo4j off Playwright's event loop


def _region_counts(settings: Settings, scope: list[str] | None = None) -> dict[str, int]:
    """Enterprises per region as Neo4j holds them (the oracle the page is compared with)."""
    rows = _cypher(
        settings,
        "MATCH (e:Enterprise) WHERE $scope IS NULL OR e.id IN $scope "
        "RETURN coalesce(e.region, '') AS region, count(e) AS n",
        scope=scope,
    )
    return {r["region"]: r["n"] for r in rows}


def _partner_scope(settings: Settings, own: str, tiers: int = 3) -> list[str]:
    """The partner's network as docs/graphql.md defines it: within `tiers` SUPPLIES hops either way."""
    rows = _cypher(
        settings,
        f"MATCH (f:Enterprise {{id: $id}}) "
        f"OPTIONAL MATCH (f)<-[:SUPPLIES*1..{tiers}]-(s:Enterprise) WITH f, collect(DISTINCT s.id) AS up "
        f"OPTIONAL MATCH (f)-[:SUPPLIES*1..{tiers}]->(b:Enterprise) "
        f"WITH f, up, collect(DISTINCT b.id) AS down RETURN [f.id] + up + down AS ids",
        id=own,
    )
    return sorted(set(rows[0]["ids"]))


def _open_data_map(page: Page) -> None:
    page.evaluate("window.location.hash = '#/datamap'")
    expect(page.get_by_test_id("datamap-status")).to_have_attribute("data-ready", "true")


def _map_values(page: Page) -> dict[str, float]:
    """What the choropleth draws: region → value (the chart's own series data)."""
    data = page.evaluate("() => window.supplynetDataMap.chart.getOption().series[0].data")
    return {d["name"]: d["value"] for d in data if "value" in d}


def _table_counts(page: Page) -> dict[str, int]:
    rows = page.get_by_test_id("datamap-regions").locator("tbody tr")
    out: dict[str, int] = {}
    for region, cells in rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.region, [...r.cells].map(c => c.innerText)])"
    ):
        out[region] = int(cells[1])
    return out


def test_the_data_map_shows_every_city_of_the_world_with_the_counts_neo4j_holds(
    page: Page, api: str, console_settings: Settings, world: GeneratedWorld, artifacts: Path
) -> None:
    key = create_key(
        bootstrap.sql_engine(console_settings), name=f"{world.prefix}official", role=Role.ANALYST
    )[1]
    login(page, api, key)
    started = time.monotonic()
    _open_data_map(page)
    took = 1000 * (time.monotonic() - started)
    print(f"\n[datamap] data map of the whole graph drawn {took:.0f} ms after the route change")
    expected = _region_counts(console_settings)
    world_regions = world.regions()
    assert len(world_regions) >= 20  # the demo world spreads over Hubei and its neighbours

    drawn = _map_values(page)
    for region, ids in world_regions.items():
        assert region in drawn, f"{region} (a city of the world) is not on the map"
        assert drawn[region] == expected[region] >= len(ids), region
    assert drawn == {r: n for r, n in expected.items() if r in drawn}
    assert _table_counts(page) == expected  # every region, on the map or not
    assert sum(len(ids) for ids in world_regions.values()) == world.manifest["counts"]["enterprises"]
    totals = page.get_by_test_id("datamap-totals")
    expect(totals).to_contain_text(f"企业 {sum(expected.values())}")
    links = _cypher(
        console_settings,
        # current links as the data map counts them: started by today, not ended, not an enterprise's
        # own (other tests' data shares this graph)
        "MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise) WHERE s <> b "
        "AND coalesce(x.validFrom, date('0001-01-01')) <= date() "
        "AND (x.validTo IS NULL OR x.validTo >= date()) "
        "RETURN count(x) AS n",
    )[0]["n"]
    expect(totals).to_contain_text(f"供应连接 {links}")
    expect(page.get_by_test_id("datamap-industries")).to_contain_text("钢铁")
    expect(page.get_by_test_id("datamap-materials")).to_contain_text("PHOSPHORIC-ACID")  # planted in Yichang
    page.screenshot(path=str(artifacts / "datamap.png"))

    page.get_by_test_id("datamap-metric").select_option("otif")
    otif = _map_values(page)
    assert all(0.0 <= v <= 1.0 for v in otif.values()) and len(otif) >= len(world_regions) - 2
    page.screenshot(path=str(artifacts / "datamap-otif.png"))


def test_a_click_on_a_city_lists_its_enterprises(
    page: Page, api: str, console_settings: Settings, world: GeneratedWorld, artifacts: Path
) -> None:
    key = create_key(bootstrap.sql_engine(console_settings), name=f"{world.prefix}drill", role=Role.ANALYST)[
        1
    ]
    login(page, api, key)
    _open_data_map(page)
    x, y = page.evaluate(
        """([lon, lat]) => { const chart = window.supplynetDataMap.chart;
             const [px, py] = chart.convertToPixel({seriesIndex: 0}, [lon, lat]);
             const box = chart.getDom().getBoundingClientRect(); return [box.left + px, box.top + py]; }""",
        [WUHAN.longitude, WUHAN.latitude],
    )
    page.mouse.click(x, y)  # a real click where Wuhan's seat is drawn
    drill = page.get_by_test_id("datamap-drill")
    expect(drill).to_have_attribute("data-ready", "true")
    expect(drill.get_by_test_id("drill-region")).to_have_text(WUHAN.region)
    in_wuhan = {
        r["id"]
        for r in _cypher(
            console_settings, "MATCH (e:Enterprise {region: $r}) RETURN e.id AS id", r=WUHAN.region
        )
    }
    listed = set(drill.locator("[data-enterprise]").evaluate_all("els => els.map(e => e.dataset.enterprise)"))
    assert listed == in_wuhan
    assert set(world.regions()[WUHAN.region]) <= listed
    assert "region=" in page.evaluate("() => window.location.hash")
    page.screenshot(path=str(artifacts / "datamap-drill.png"))

    drill.locator("[data-enterprise]").first.click()  # on into the network view around it
    expect(page.get_by_test_id("network-status")).to_have_attribute("data-ready", "true")


def _load_time(page: Page, mark: str) -> float:
    """Milliseconds from the navigation start of a reload to the console's ``mark``."""
    page.reload()
    page.wait_for_function(f"() => performance.getEntriesByName('{mark}').length > 0", timeout=60_000)
    return float(page.evaluate(f"() => performance.getEntriesByName('{mark}')[0].startTime"))


def test_page_load_times_of_the_demo_world_are_printed(
    page: Page, api: str, console_settings: Settings, world: GeneratedWorld
) -> None:
    """Figures, not a timed assertion: reload → the data map drawn, and → the biggest maker's 5-tier
    upstream network drawn."""
    key = create_key(bootstrap.sql_engine(console_settings), name=f"{world.prefix}timing", role=Role.ANALYST)[
        1
    ]
    login(page, api, key)
    _open_data_map(page)
    datamap = _load_time(page, "supplynet:datamap-drawn")
    maker = max(
        _cypher(
            console_settings,
            "MATCH (e:Enterprise)<-[:SUPPLIES]-(s) WHERE e.id STARTS WITH $p "
            "RETURN e.id AS id, count(s) AS n",
            p=world.prefix,
        ),
        key=lambda r: (r["n"], r["id"]),
    )["id"]
    page.evaluate(f"window.location.hash = '#/network?focal={maker}&direction=UPSTREAM&tiers=5'")
    expect(page.get_by_test_id("network-status")).to_have_attribute("data-ready", "true")
    network = _load_time(page, "supplynet:network-drawn")
    nodes = page.evaluate("() => window.supplynetGraph.nodes().length")
    assert nodes > 1
    print(
        f"\n[datamap] demo world ({len(world.enterprises)} enterprises), reload → drawn: "
        f"data map {datamap:.0f} ms; network 5 tiers upstream of {maker} ({nodes} nodes) {network:.0f} ms"
    )


def test_a_partner_sees_the_figures_of_its_network_only(
    page: Page, api: str, console_settings: Settings, world: GeneratedWorld, artifacts: Path
) -> None:
    own = world.manifest["planted"]["performance_collapse"]["supplier"]
    scope = _partner_scope(console_settings, own)
    assert 1 < len(scope) < len(world.enterprises)
    key = create_key(
        bootstrap.sql_engine(console_settings),
        name=f"{world.prefix}partner",
        role=Role.PARTNER,
        enterprise_id=own,
    )[1]
    login(page, api, key)
    _open_data_map(page)
    expected = _region_counts(console_settings, scope)
    assert _table_counts(page) == expected
    assert _map_values(page) == {r: n for r, n in expected.items() if r in _map_values(page)}
    totals = page.get_by_test_id("datamap-totals")
    expect(totals).to_contain_text(f"仅含您的网络： {own}")
    expect(totals).to_contain_text(f"企业 {len(scope)}")
    page.screenshot(path=str(artifacts / "datamap-partner.png"))

    # A city's drill-down lists only the partner's enterprises in it
    region = max(expected, key=lambda r: expected[r])
    page.locator(f'[data-pick="{region}"]').click()
    drill = page.get_by_test_id("datamap-drill")
    expect(drill).to_have_attribute("data-ready", "true")
    listed = set(drill.locator("[data-enterprise]").evaluate_all("els => els.map(e => e.dataset.enterprise)"))
    assert listed and listed <= set(scope)
    assert len(listed) == expected[region]


def test_the_data_map_switches_to_english(
    page: Page, api: str, console_settings: Settings, world: GeneratedWorld
) -> None:
    key = create_key(bootstrap.sql_engine(console_settings), name=f"{world.prefix}en", role=Role.ANALYST)[1]
    login(page, api, key)
    _open_data_map(page)
    expect(page.get_by_test_id("nav-datamap")).to_have_text("数据地图")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("nav-datamap")).to_have_text("Data map")
    expect(page.get_by_test_id("datamap-status")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("datamap-totals")).to_contain_text("Enterprises")
    expect(page.get_by_test_id("datamap-industries")).to_contain_text("Steel")
    expect(page.get_by_test_id("datamap-regions").locator("thead")).to_contain_text("Supply links")
    expect(page.locator("main")).not_to_contain_text("企业数")


def test_an_official_logs_in_with_a_jwt(page: Page, api: str, world: GeneratedWorld) -> None:
    claims = {"sub": "official@province", "role": "analyst", "iss": JWT_ISSUER, "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, "another-secret-of-at-least-32-bytes-long", algorithm="HS256")
    page.goto(f"{api}/console/")
    page.get_by_test_id("credential").fill(forged)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("JWT refused")

    login(page, api, jwt.encode(claims, JWT_SECRET, algorithm="HS256"))
    _open_data_map(page)
    expect(page.get_by_test_id("datamap-totals")).to_contain_text("全网")
