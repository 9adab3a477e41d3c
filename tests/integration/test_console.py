"""The web console in a real browser: Debian's chromium, headless, driven by Playwright, against a
`supplynet serve` process on the real Neo4j and Kafka with a small known world loaded here.

Screenshots go to ``$SUPPLYNET_ARTIFACTS/console`` (else a temporary folder); the test output prints
the folder and the page's load timings.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlmodel import Session

from api.console import CONSOLE_DIST
from api.keys import create_key
from connectors.kafka import EventProducer, Record, ensure_topics
from connectors.record_store import RecordStore
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.mutations import to_mutations
from graph.registry import record_rows
from graph.risk.alerts import Alert
from graph.risk.incidents import open_incident
from graph.risk.scoring import Factor, RiskScore
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import CATALOG
from schema.examples import example_event
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.cli import run_init
from supplynet.settings import Settings
from supplynet.stack.manager import StackManager
from tests.integration.changes_support import forget, project_events
from tests.integration.worker_proc import spawn_api, stop
from tests.records_world import event as record_event

pytestmark = pytest.mark.timeout(300)
expect.set_options(timeout=20_000)  # a machine shared with other test runs answers slowly at times

CHROMIUM = os.environ.get("SUPPLYNET_CHROMIUM", "/usr/bin/chromium")
CONSOLE_SRC = CONSOLE_DIST.parent
LATE_REASON = "on-time-in-full 40% against a 95% target"


class ConsoleWorld:
    """M → A → B → C (ore, steel, part) with D → B (bolts); Y → Z (steel) and X → Z (panels) apart. Every
    enterprise is scored; A's breakdown names late deliveries. Each is registered in a real region (D in
    one the console's map does not draw; X in Shiyan with B and C, outside C's network). Design: C owns
    project P1 (product car) with A, B and Y as partners, a revision and change request Q1 on steel (its
    suppliers: A and Y; products part and car); Z owns P2 with Y and change request Q2. Orders (record
    store): A → B one open and late, one confirmed, one delivered, one cancelled; M → A one shipped;
    B → C one placed."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-con-"
        self.p = p
        self.M, self.A, self.B, self.C, self.D, self.Y, self.Z, self.X = (p + x for x in "mabcdyzx")
        self.profile = {  # id: (name, industry, score, region)
            self.M: ("大冶矿业", "non-ferrous", 0.30, "湖北省 黄石市"),
            self.A: ("武汉钢铁", "steel", 0.82, "湖北省 武汉市"),
            self.B: ("东风零部件", "machinery", 0.55, "湖北省 十堰市"),
            self.C: ("东风汽车", "automotive", 0.40, "湖北省 十堰市"),
            self.D: ("苏州紧固件", "machinery", 0.10, "江苏省 苏州市"),
            self.Y: ("外部供应商", "steel", 0.90, "湖南省 岳阳市"),
            self.Z: ("外部整车厂", "automotive", 0.20, "重庆市"),
            self.X: ("十堰外部冲压厂", "machinery", 0.65, "湖北省 十堰市"),
        }
        self.shiyan = "湖北省 十堰市"
        self.names = {k: v[0] for k, v in self.profile.items()}
        self.regions = {k: v[3] for k, v in self.profile.items()}
        self.P1, self.P2 = f"{p}proj-1", f"{p}proj-2"
        self.Q1, self.Q2 = f"{p}ecr-1", f"{p}ecr-2"
        self.R1 = f"{p}proj-1-r1"
        self.steel, self.part, self.car = f"{p}steel", f"{p}part", f"{p}car"
        evs: list[dict[str, Any]] = []

        def add(event_type: str, data: dict[str, Any]) -> None:
            ev = example_event(event_type, event_id=f"{p}{len(evs)}")
            ev["data"] = data
            ev["subject"] = data[CATALOG[event_type].SUBJECT]
            evs.append(ev)

        for eid, (name, industry, _, region) in self.profile.items():
            add(
                "partner.registered",
                {"enterprise_id": eid, "name": name, "industry": industry, "region": region, "country": "CN"},
            )
        for supplier, buyer, sku, share in (
            (self.M, self.A, "ore", 0.8),
            (self.A, self.B, "steel", 1.0),
            (self.B, self.C, "part", 1.0),
            (self.D, self.B, "bolt", 1.0),
            (self.Y, self.Z, "steel", 1.0),
            (self.X, self.Z, "panel", 1.0),
        ):
            add(
                "supply.agreed",
                {
                    "supplier_id": supplier,
                    "buyer_id": buyer,
                    "sku": p + sku,
                    "share": share,
                    "lead_time_days": 14,
                    "valid_from": "2025-01-01",
                    "unit_price": 100.0,
                    "currency": "CNY",
                    "annual_volume": 1000,
                },
            )
        add("bom.defined", {"product_sku": self.part, "components": [{"sku": self.steel, "qty": 2.0}]})
        add("bom.defined", {"product_sku": self.car, "components": [{"sku": self.part, "qty": 4.0}]})
        for project, owner, name in ((self.P1, self.C, "轻量化车身"), (self.P2, self.Z, "外部车型")):
            add(
                "design.project.created",
                {"project_id": project, "name": name, "owner_id": owner, "product_sku": self.car},
            )
        for project, member, role in (
            (self.P1, self.B, "tier1"),
            (self.P1, self.A, "material-supplier"),
            (self.P1, self.Y, "material-supplier"),
            (self.P2, self.Y, "material-supplier"),
        ):
            add("design.partner.joined", {"project_id": project, "enterprise_id": member, "role": role})
        add(
            "design.revision.published",
            {
                "project_id": self.P1,
                "revision_id": self.R1,
                "label": "R1: 高强钢车门",
                "changed_components": [{"sku": self.steel, "change": "modified", "qty": 2.5}],
                "uri": "https://plm.example.com/p1/r1.zip",
                "content_hash": "sha256:" + "ab" * 32,
            },
        )
        for project, change in ((self.P1, self.Q1), (self.P2, self.Q2)):
            add(
                "design.change.requested",
                {
                    "project_id": project,
                    "change_id": change,
                    "affected_skus": [self.steel],
                    "reason": "提高屈服强度",
                    "required_by": "2026-09-01",
                },
            )
        self.events = evs
        self.orders = self._orders()

    def _orders(self) -> list[ValidEvent]:
        """Order events for the record store: (id, supplier, buyer, sku, steps) with open ones as noted."""
        p, out = self.p, []
        at = datetime(2026, 11, 1, 8, tzinfo=UTC)
        self.order_ids = {k: f"{p}po-{k}" for k in ("ab-late", "ab-conf", "ab-done", "ab-cancel", "ma", "bc")}
        self.prices = {"ab-late": 4100.0, "ab-conf": 4200.0, "ab-done": 4300.0, "ab-cancel": 4400.0}
        self.prices |= {"ma": 830.0, "bc": 95.5}
        confirmed = {"confirmed_quantity": 50, "promised_date": "2027-01-15"}
        delivered = {"quantity_ordered": 50, "quantity_delivered": 50, "delivered_on": "2026-11-14"}
        delivered |= {"promised_date": "2026-11-15", "ordered_on": "2026-11-01"}
        shipped = {"shipment_id": f"{p}shp-ma", "quantity": 40, "shipped_on": "2026-11-25"}
        shipped["expected_delivery"] = "2027-01-05"
        Steps = list[tuple[str, dict[str, Any]]]
        plan: list[tuple[str, str, str, str, str, Steps]] = [
            ("ab-late", self.A, self.B, "steel", "2026-11-20", []),  # open past its due date: late
            ("ab-conf", self.A, self.B, "steel", "2027-01-10", [("order.confirmed", confirmed)]),
            ("ab-done", self.A, self.B, "steel", "2026-11-15", [("order.delivered", delivered)]),
            ("ab-cancel", self.A, self.B, "steel", "2027-01-10", [("order.cancelled", {"reason": "x"})]),
            ("ma", self.M, self.A, "ore", "2027-01-01", [("order.shipped", shipped)]),
            ("bc", self.B, self.C, "part", "2027-02-01", []),
        ]
        for n, (key, supplier, buyer, sku, due, steps) in enumerate(plan):
            ref = {"order_id": self.order_ids[key], "buyer_id": buyer, "supplier_id": supplier}
            placed = {**ref, "sku": p + sku, "quantity": 50, "requested_date": due}
            placed |= {"unit_price": self.prices[key], "currency": "CNY"}
            when = at + timedelta(hours=n)
            out.append(record_event("order.placed", f"{ref['order_id']}-p", when, placed))
            for i, (step, data) in enumerate(steps, start=1):
                out.append(
                    record_event(step, f"{ref['order_id']}-{i}", when + timedelta(days=i), {**ref, **data})
                )
        return out

    def scores(self) -> list[RiskScore]:
        out = []
        for eid, (_, _, score, _) in self.profile.items():
            factors = {"performance": Factor(score, (LATE_REASON,) if eid == self.A else ())}
            out.append(RiskScore(enterprise=eid, score=score, factors=factors))
        return out


@pytest.fixture(scope="module")
def stack(settings: Settings) -> Iterator[Settings]:
    """The console needs Neo4j and Kafka (subscriptions) only; stops what it started unless
    SUPPLYNET_KEEP_STACK is set."""
    manager = StackManager(settings, echo=lambda m: print(f"[stack] {m}"))
    wanted = ["kafka", "neo4j"]
    running = {s.name for s in manager.status(wanted) if s.answers}
    manager.up(wanted)
    run_init(settings)
    yield settings
    started_here = [n for n in wanted if n not in running and manager.managed(n)]
    if started_here and not os.environ.get("SUPPLYNET_KEEP_STACK"):
        manager.down(started_here)


@pytest.fixture(scope="module")
def console_settings(stack: Settings, run_id: str) -> Settings:
    s = stack.model_copy(
        update={"stream": stack.stream.model_copy(update={"topic_prefix": f"console-{run_id}."})}
    )
    ensure_topics(s.kafka.librdkafka(), bootstrap.topic_specs(s))
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    return s


@pytest.fixture(scope="module")
def world(console_settings: Settings, run_id: str) -> Iterator[ConsoleWorld]:
    w = ConsoleWorld(run_id)

    async def load() -> None:
        driver = bootstrap.async_driver(console_settings)
        try:
            await migrate(driver)
            await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in w.events]))
            store = RiskStore(driver, RiskSettings(), database=console_settings.neo4j.database)
            await store.write_scores(w.scores(), computed_at_ms=int(time.time() * 1000))
        finally:
            await driver.close()

    async def unload() -> None:
        driver = bootstrap.async_driver(console_settings)
        try:
            await delete_by_prefix(driver, w.p)
        finally:
            await driver.close()

    asyncio.run(load())
    # As the project stage does: the orders are records (the record store), not graph nodes
    RecordStore(bootstrap.sql_engine(console_settings)).write(record_rows(w.orders))
    yield w
    asyncio.run(unload())


@pytest.fixture(scope="module")
def keys(console_settings: Settings, world: ConsoleWorld, run_id: str) -> dict[str, str]:
    engine = bootstrap.sql_engine(console_settings)
    return {
        "analyst": create_key(engine, name=f"{run_id}-console-analyst", role=Role.ANALYST)[1],
        "partner": create_key(
            engine, name=f"{run_id}-console-partner", role=Role.PARTNER, enterprise_id=world.C
        )[1],
    }


def _console_is_stale() -> bool:
    index = CONSOLE_DIST / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    sources = [
        *CONSOLE_SRC.joinpath("src").rglob("*"),
        CONSOLE_SRC / "index.html",
        CONSOLE_SRC / "package-lock.json",
    ]
    return any(f.stat().st_mtime > built for f in sources if f.is_file())


@pytest.fixture(scope="module")
def console_build() -> Path:
    """The built console; (re)built here when npm is present and the build is missing or older than
    its sources."""
    if _console_is_stale():
        if shutil.which("npm") is None:
            pytest.fail(
                "console/dist is missing or stale and npm is not installed: "
                "cd console && npm ci && npm run build"
            )
        if not (CONSOLE_SRC / "node_modules").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONSOLE_SRC, check=True)
        subprocess.run(["npm", "run", "build"], cwd=CONSOLE_SRC, check=True)
    return CONSOLE_DIST


@pytest.fixture(scope="module")
def api(
    console_settings: Settings,
    world: ConsoleWorld,
    console_build: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """`supplynet serve` on a free port, on the module's topics and SQL store."""
    log = tmp_path_factory.mktemp("console-api") / "api.log"
    proc, url = spawn_api(
        console_settings,
        log,
        ready="/readyz",
        SUPPLYNET_STREAM__TOPIC_PREFIX=console_settings.stream.topic_prefix,
    )
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = os.environ.get("SUPPLYNET_ARTIFACTS") or tempfile.mkdtemp(prefix="supplynet-artifacts-")
    folder = Path(base) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\n[console] screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(api: str) -> Iterator[Browser]:
    """Headless chromium; set up after the API and its world (Playwright's sync API keeps an event loop
    running in this thread, where the fixtures before it call asyncio.run)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (infra/setup.sh does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 950}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    pg.screenshot(path=str(artifacts / f"{request.node.name}-last.png"), full_page=True)
    context.close()


def login(page: Page, url: str, credential: str) -> None:
    page.goto(f"{url}/console/")
    page.get_by_test_id("credential").fill(credential)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("nav-network")).to_be_visible()


def open_network(page: Page, focal: str, direction: str = "UPSTREAM", tiers: int = 3) -> None:
    page.evaluate(f"window.location.hash = '#/network?focal={focal}&direction={direction}&tiers={tiers}'")


def drawn_ids(page: Page) -> set[str]:
    page.wait_for_function("() => window.supplynetGraph && window.supplynetGraph.nodes().length > 0")
    return set(page.evaluate("() => window.supplynetGraph.nodes().map(n => n.id())"))


def click_node(page: Page, node_id: str) -> None:
    """A real mouse click where the node is drawn."""
    x, y = page.evaluate(
        """(id) => { const cy = window.supplynetGraph; const p = cy.$id(id).renderedPosition();
             const box = cy.container().getBoundingClientRect(); return [box.left + p.x, box.top + p.y]; }""",
        node_id,
    )
    page.mouse.click(x, y)


def gql(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def test_login_draws_the_focal_network_and_a_click_explains_the_risk(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    page.goto(f"{api}/console/")
    page.get_by_test_id("credential").fill("sn_bogus_key")
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("登录失败")

    login(page, api, keys["analyst"])
    open_network(page, world.C)
    assert drawn_ids(page) == {world.C, world.B, world.A, world.M, world.D}
    expect(page.get_by_test_id("network-status")).to_contain_text("5 节点")
    timing = page.evaluate(
        """() => { const nav = performance.getEntriesByType('navigation')[0];
             const drawn = performance.getEntriesByName('supplynet:network-drawn')[0];
             return {domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                     networkDrawn: drawn ? drawn.startTime : null}; }"""
    )
    print(
        f"\n[console] test world (5 nodes), reload: DOMContentLoaded {timing['domContentLoaded']:.0f} ms, "
        f"load {timing['load']:.0f} ms, network drawn {timing['networkDrawn']:.0f} ms after navigation start"
    )
    page.screenshot(path=str(artifacts / "network.png"))

    click_node(page, world.A)
    panel = page.get_by_test_id("panel")
    expect(panel.get_by_test_id("panel-name")).to_have_text(world.names[world.A])
    expect(panel.get_by_test_id("breakdown")).to_be_in_viewport()
    expect(panel.get_by_test_id("breakdown")).to_contain_text(LATE_REASON)
    expect(panel.get_by_test_id("breakdown")).to_contain_text("履约表现")
    expect(panel.get_by_test_id("suppliers")).to_contain_text(world.names[world.M])
    expect(panel.get_by_test_id("customers")).to_contain_text(world.names[world.B])
    page.screenshot(path=str(artifacts / "network-breakdown.png"))

    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("nav-network")).to_have_text("Network")
    expect(page.get_by_test_id("network-status")).to_contain_text("5 nodes")


def test_risky_nodes_are_ranked_with_reasons_and_link_into_the_network(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    login(page, api, keys["analyst"])
    page.evaluate(f"window.location.hash = '#/risky?focal={world.C}&tiers=3&direction=UPSTREAM'")
    rows = page.get_by_test_id("risky-table").locator("tbody tr")
    expect(rows).to_have_count(4)  # B, A, M, D; the focal itself is not listed
    texts = rows.all_inner_texts()
    order = [next(k for k in (world.A, world.B, world.M, world.D) if f"({k})" in t) for t in texts]
    assert order == [world.A, world.B, world.M, world.D]  # highest score first
    assert LATE_REASON in texts[0]
    page.screenshot(path=str(artifacts / "risky.png"))

    page.evaluate(f"window.location.hash = '#/risky?industry=machinery&focal={world.C}&tiers=3'")
    expect(rows).to_have_count(2)
    rows.first.get_by_role("link").click()
    assert drawn_ids(page) == {world.C, world.B, world.A, world.M, world.D}
    assert page.evaluate(f"() => window.supplynetGraph.$id('{world.B}').hasClass('affected')")


def test_a_what_if_highlights_the_affected_enterprises(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    expected = gql(
        api,
        keys["analyst"],
        """query($e: [ID!]) { whatIf(enterprises: $e, days: 30, tiers: 4) {
             exposures { enterprise { id } } } }""",
        {"e": [world.A]},
    )["data"]["whatIf"]["exposures"]
    affected = {x["enterprise"]["id"] for x in expected}
    assert {world.B, world.C} <= affected

    login(page, api, keys["analyst"])
    page.evaluate("window.location.hash = '#/whatif'")
    page.get_by_test_id("whatif-enterprises").fill(world.A)
    page.get_by_test_id("whatif-days").fill("30")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("whatif-graph")).to_have_attribute("data-ready", "true")
    listed = set(
        page.get_by_test_id("exposures")
        .locator("[data-enterprise]")
        .evaluate_all("els => els.map(e => e.dataset.enterprise)")
    )
    assert listed == affected
    highlighted = set(page.evaluate("() => window.supplynetGraph.nodes('.affected').map(n => n.id())"))
    assert highlighted == affected
    assert page.evaluate("() => window.supplynetGraph.nodes('.disrupted').map(n => n.id())") == [world.A]
    assert world.M not in set(page.evaluate("() => window.supplynetGraph.nodes().map(n => n.id())"))
    page.screenshot(path=str(artifacts / "whatif.png"), full_page=True)


def test_alerts_arrive_live_and_an_incident_goes_through_its_workflow(
    page: Page,
    api: str,
    keys: dict[str, str],
    world: ConsoleWorld,
    console_settings: Settings,
    run_id: str,
    artifacts: Path,
) -> None:
    alert = Alert(
        id=f"{run_id}-console-alert",
        severity="high",
        enterprise=world.A,
        score=0.82,
        previous_score=0.3,
        reason="threshold",
        summary="score crossed 0.7",
        factors={},
    )
    with Session(bootstrap.sql_engine(console_settings)) as s:
        incident = open_incident(s, alert=alert).id
    login(page, api, keys["analyst"])
    page.evaluate("window.location.hash = '#/alerts'")
    row = page.get_by_test_id("incident-table").locator("tr", has_text=f"{world.A}: score crossed 0.7")
    expect(row).to_contain_text("potential")

    # The subscriber reads risk.alerts from its end: send until one arrives (it was not yet listening)
    producer = EventProducer(
        console_settings.kafka.librdkafka(), bootstrap.topic_names(console_settings).alerts
    )
    live = page.get_by_test_id("alerts").locator("li[data-alert]")
    for n in range(30):
        live_alert = replace(alert, id=f"{run_id}-live-{n}", enterprise=world.B, summary=f"live alert {n}")
        producer.send_many([Record(key=None, value=live_alert.to_json())])
        page.wait_for_timeout(1000)
        if live.count():
            break
    expect(live.first).to_contain_text("live alert")
    expect(live.first).to_contain_text(world.B)

    page.get_by_test_id(f"incident-confirm-{incident}").click()
    expect(row).to_contain_text("confirmed")
    page.get_by_test_id(f"incident-input-{incident}").fill("li.wei")
    page.get_by_test_id(f"incident-assign-{incident}").click()
    expect(row).to_contain_text("li.wei")
    page.get_by_test_id(f"incident-input-{incident}").fill("called the mill")
    page.get_by_test_id(f"incident-annotate-{incident}").click()
    expect(row).to_contain_text("called the mill")
    page.screenshot(path=str(artifacts / "alerts.png"), full_page=True)
    page.get_by_test_id(f"incident-close-{incident}").click()
    expect(row).to_contain_text("restored")
    expect(row.get_by_role("button")).to_have_count(0)  # a closed incident offers no actions
    stored = gql(api, keys["analyst"], "query { incidents(first: 500) { id state owner notes } }")["data"]
    mine = next(i for i in stored["incidents"] if i["id"] == incident)
    assert mine["state"] == "restored"
    assert mine["owner"] == "li.wei"
    assert "called the mill" in mine["notes"]


def test_a_partner_sees_its_network_and_cannot_reach_beyond_it(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    login(page, api, keys["partner"])
    open_network(page, world.C)
    assert drawn_ids(page) == {world.C, world.B, world.A, world.M, world.D}
    click_node(page, world.A)  # the M → A link is not the partner's: its share is hidden
    suppliers = page.get_by_test_id("panel").get_by_test_id("suppliers")
    expect(suppliers).to_contain_text(world.names[world.M])
    expect(suppliers).to_contain_text("不可见")
    expect(suppliers).not_to_contain_text("80%")

    open_network(page, world.Z)
    status = page.get_by_test_id("network-status")
    expect(status).to_have_attribute("data-ready", "error")
    expect(status).to_contain_text("outside your network")
    expect(page.get_by_test_id("graph").locator("canvas")).to_have_count(0)
    page.screenshot(path=str(artifacts / "partner-refused.png"))

    # Editing the query by hand, with the page's own credential, is refused the same way
    answers = page.evaluate(
        """async (ids) => {
             const token = sessionStorage.getItem('supplynet.credential');
             const ask = async (query) => (await fetch('/graphql', {method: 'POST',
               headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + token},
               body: JSON.stringify({query, variables: {id: ids.z}})})).json();
             return [await ask('query($id: ID!) { enterprise(id: $id) { id name } }'),
                     await ask('query($id: ID!) { upstream(id: $id, tiers: 1) { payload } }'),
                     await ask('query($id: ID!) { whatIf(enterprises: [$id], days: 5) { affectedCount } }')];
           }""",
        {"z": world.Z},
    )
    for answer in answers:
        assert answer["data"] is None or all(v is None for v in answer["data"].values()), answer
        assert "outside your network" in answer["errors"][0]["message"], answer


GEOGRAPHY = CONSOLE_SRC / "src" / "geo" / "hubei-region.json"
DEGREE = 200.0
"""Model pixels per degree of latitude in the geography layout (console/src/geolayout.ts)."""


def _region_at(x: float, y: float) -> str | None:
    """The shipped region whose outline holds the model point (ray casting over every outer ring)."""
    lon, lat = x / (DEGREE * math.cos(math.radians(30))), -y / DEGREE
    for feature in orjson.loads(GEOGRAPHY.read_bytes())["features"]:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        hit = False
        for ring in (p[0] for p in polygons):
            for (x1, y1), (x2, y2) in zip(ring, ring[-1:] + ring[:-1], strict=True):
                if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
                    hit = not hit
        if hit:
            return str(feature["properties"]["name"])
    return None


def _positions(page: Page) -> dict[str, tuple[float, float]]:
    pairs = page.evaluate(
        "() => window.supplynetGraph.nodes().map(n => [n.id(), n.position().x, n.position().y])"
    )
    return {i: (x, y) for i, x, y in pairs}


def test_the_network_is_laid_out_by_geography_and_back_by_tier(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    login(page, api, keys["analyst"])
    page.evaluate(f"window.location.hash = '#/network?focal={world.C}&direction=UPSTREAM&tiers=3&layout=geo'")
    expect(page.get_by_test_id("graph")).to_have_attribute("data-layout", "geo")
    assert drawn_ids(page) == {world.C, world.B, world.A, world.M, world.D}
    where = _positions(page)
    for eid in (world.C, world.B, world.A, world.M):
        assert _region_at(*where[eid]) == world.regions[eid], eid  # inside its own region's outline
    # Jiangsu is not on the map: D stands in a column left of the outlines of the view's regions
    assert _region_at(*where[world.D]) not in set(world.regions.values())
    assert where[world.D][0] < min(x for e, (x, _) in where.items() if e != world.D)
    expect(page.get_by_test_id("geo-underlay")).to_have_count(1)
    page.screenshot(path=str(artifacts / "network-geo.png"))
    click_node(page, world.A)  # a click works the same in this layout
    expect(page.get_by_test_id("panel").get_by_test_id("panel-name")).to_have_text(world.names[world.A])

    page.get_by_test_id("layout-tier").click()
    expect(page.get_by_test_id("graph")).to_have_attribute("data-layout", "tier")
    expect(page.get_by_test_id("geo-underlay")).to_have_count(0)
    assert "layout=tier" in page.evaluate("() => window.location.hash")
    by_tier = _positions(page)
    # material flows left to right: M → A → B → C, one column per tier
    assert by_tier[world.M][0] < by_tier[world.A][0] < by_tier[world.B][0] < by_tier[world.C][0]
    assert by_tier[world.D][0] == by_tier[world.A][0]
    page.get_by_test_id("layout-geo").click()
    expect(page.get_by_test_id("graph")).to_have_attribute("data-layout", "geo")
    assert _positions(page) == where  # the same view always lands in the same places

    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("layout-geo")).to_have_text("By geography")


def _listed(page: Page, test_id: str, attribute: str) -> set[str]:
    return set(
        page.get_by_test_id(test_id)
        .locator(f"[data-{attribute}]")
        .evaluate_all(f"els => els.map(e => e.dataset.{attribute})")
    )


def test_the_design_view_shows_projects_revisions_and_a_change_requests_impact(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    impact = gql(
        api,
        keys["analyst"],
        "query($q: ID!) { changeImpact(changeRequestId: $q) { suppliers { id } downstreamProducts } }",
        {"q": world.Q1},
    )["data"]["changeImpact"]
    assert {s["id"] for s in impact["suppliers"]} == {world.A, world.Y}
    assert set(impact["downstreamProducts"]) == {world.part, world.car}

    login(page, api, keys["analyst"])
    page.get_by_test_id("nav-design").click()
    expect(page.get_by_test_id("design-list")).to_have_attribute("data-ready", "true")
    assert {world.P1, world.P2} <= _listed(page, "design-projects", "project")
    page.locator(f'[data-project="{world.P1}"]').click()
    project = page.get_by_test_id("design-project")
    expect(project).to_contain_text("轻量化车身")
    assert _listed(page, "design-participants", "enterprise") == {world.A, world.B, world.Y}
    expect(project).to_contain_text(f"发起方: {world.names[world.C]}")
    expect(page.get_by_test_id("design-revisions")).to_contain_text("R1: 高强钢车门")
    expect(page.get_by_test_id("design-revisions")).to_contain_text(f"{world.steel} modified ×2.5")
    expect(page.get_by_test_id("design-changes")).to_contain_text("提高屈服强度")
    expect(page.get_by_test_id("design-changes")).to_contain_text("待答复")

    page.locator(f'[data-change="{world.Q1}"]').click()
    box = page.get_by_test_id("design-impact-box")
    expect(box).to_have_attribute("data-ready", "true")
    assert _listed(page, "impact-suppliers", "enterprise") == {world.A, world.Y}
    products = page.get_by_test_id("impact-products")
    expect(products).to_contain_text(world.part)
    expect(products).to_contain_text(world.car)
    page.screenshot(path=str(artifacts / "design.png"), full_page=True)

    page.locator(f'[data-enterprise="{world.A}"]').first.click()  # a supplier opens its network
    assert world.A in drawn_ids(page)

    page.evaluate(f"window.location.hash = '#/design?project={world.P1}&change={world.Q1}'")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("nav-design")).to_have_text("Design")
    expect(page.get_by_test_id("design-impact-box")).to_contain_text("Suppliers affected (2)")
    expect(page.get_by_test_id("design-changes")).to_contain_text("Awaiting answer")


def test_a_partner_sees_only_its_design_projects_and_partners(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    login(page, api, keys["partner"])  # C's partner key: it owns P1; Y (a partner of P1) and Z are outside
    page.evaluate(f"window.location.hash = '#/design?project={world.P1}&change={world.Q1}'")
    expect(page.get_by_test_id("design-list")).to_have_attribute("data-ready", "true")
    listed = _listed(page, "design-projects", "project")
    assert world.P1 in listed and world.P2 not in listed
    expect(page.get_by_test_id("design-detail")).to_have_attribute("data-ready", "true")
    assert _listed(page, "design-participants", "enterprise") == {world.A, world.B}
    expect(page.get_by_test_id("design-impact-box")).to_have_attribute("data-ready", "true")
    assert _listed(page, "impact-suppliers", "enterprise") == {world.A}
    expect(page.get_by_test_id("design-impact-box")).not_to_contain_text(world.names[world.Y])
    page.screenshot(path=str(artifacts / "design-partner.png"), full_page=True)

    page.evaluate(f"window.location.hash = '#/design?project={world.P2}&change={world.Q2}'")
    expect(page.get_by_test_id("design-detail")).to_have_attribute("data-ready", "none")
    expect(page.get_by_test_id("design-detail")).to_contain_text("不存在或您无权查看")
    expect(page.get_by_test_id("design-impact-box")).to_have_attribute("data-ready", "error")
    expect(page.get_by_test_id("design-impact-box")).to_contain_text("is not a member")
    expect(page.locator("[data-testid=design-project]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "design-partner-refused.png"), full_page=True)

    # Editing the queries by hand, with the page's own credential
    answers = page.evaluate(
        """async (v) => {
             const token = sessionStorage.getItem('supplynet.credential');
             const ask = async (query) => (await fetch('/graphql', {method: 'POST',
               headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + token},
               body: JSON.stringify({query, variables: v})})).json();
             return [await ask('query($p2: ID!) { designProjects(id: $p2) { id } }'),
                     await ask('query($q2: ID!) { changeImpact(changeRequestId: $q2) { suppliers { id } } }'),
                     await ask('query($z: ID!) { designProjects(enterpriseId: $z) { id } }'),
                     await ask('query { designProjects(first: 200) { id participants { enterpriseId } } }')];
           }""",
        {"p2": world.P2, "q2": world.Q2, "z": world.Z},
    )
    assert answers[0] == {"data": {"designProjects": []}}, answers[0]
    assert "is not a member" in answers[1]["errors"][0]["message"], answers[1]
    assert "outside your network" in answers[2]["errors"][0]["message"], answers[2]
    everything = answers[3]["data"]["designProjects"]
    assert world.P2 not in {p["id"] for p in everything}
    seen = {x["enterpriseId"] for p in everything for x in p["participants"]}
    assert world.Y not in seen and world.Z not in seen


LARGE_SUPPLIERS = 1600
"""Suppliers of the large view's buyer: above the 1,500 nodes where the console answers clicks itself."""


@pytest.fixture(scope="module")
def large_world(console_settings: Settings, run_id: str) -> Iterator[tuple[str, list[str]]]:
    """A buyer with 1,600 direct suppliers (its 1-tier upstream view has 1,601 nodes)."""
    p = f"{run_id}-big-"
    buyer = f"{p}buyer"
    suppliers = [f"{p}s{i:04d}" for i in range(LARGE_SUPPLIERS)]
    evs: list[dict[str, Any]] = []

    def add(event_type: str, data: dict[str, Any]) -> None:
        ev = example_event(event_type, event_id=f"{p}{len(evs)}")
        ev["data"] = data
        ev["subject"] = data[CATALOG[event_type].SUBJECT]
        evs.append(ev)

    for eid in [buyer, *suppliers]:
        add(
            "partner.registered",
            {
                "enterprise_id": eid,
                "name": f"企业{eid[-5:]}",
                "industry": "machinery",
                "region": "湖北省 武汉市",
            },
        )
    for eid in suppliers:
        add(
            "supply.agreed",
            {
                "supplier_id": eid,
                "buyer_id": buyer,
                "sku": f"{p}part",
                "share": 1 / LARGE_SUPPLIERS,
                "lead_time_days": 14,
                "valid_from": "2025-01-01",
            },
        )

    async def run(load: bool) -> None:
        driver = bootstrap.async_driver(console_settings)
        try:
            if load:
                await GraphWriter(driver).write(to_mutations([decode_event(orjson.dumps(e)) for e in evs]))
            else:
                await delete_by_prefix(driver, p)
        finally:
            await driver.close()

    # In a thread of its own: the browser fixture may already run Playwright's event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run(load=True)).result()
        yield buyer, suppliers
        pool.submit(asyncio.run, run(load=False)).result()


def test_a_click_in_a_large_view_opens_the_panel_without_cytoscapes_redraws(
    large_world: tuple[str, list[str]], page: Page, api: str, keys: dict[str, str], artifacts: Path
) -> None:
    buyer, suppliers = large_world
    login(page, api, keys["analyst"])
    open_network(page, buyer, tiers=1)
    assert drawn_ids(page) == {buyer, *suppliers}
    page.wait_for_function("() => performance.getEntriesByName('supplynet:network-drawn').length > 0")
    target = suppliers[len(suppliers) // 2]
    centre = "(id) => { const cy = window.supplynetGraph; cy.zoom(1.5); cy.center(cy.$id(id)); }"
    page.evaluate(centre, target)
    page.wait_for_timeout(500)
    click_node(page, target)
    expect(page.get_by_test_id("panel").get_by_test_id("panel-name")).to_have_text(f"企业{target[-5:]}")
    # The press never reached Cytoscape: nothing selected or active; the console drew its own ring
    assert page.evaluate("() => window.supplynetGraph.$(':selected, :active').length") == 0
    expect(page.get_by_test_id("graph").locator("canvas.overlay")).to_have_count(1)
    page.screenshot(path=str(artifacts / "network-large-click.png"))


def cypher(settings: Settings, query: str, **params: Any) -> list[dict[str, Any]]:
    """A read of Neo4j from a browser test (the data map tests use it too)."""

    async def run() -> list[dict[str, Any]]:
        driver = bootstrap.async_driver(settings)
        try:
            records, _, _ = await driver.execute_query(query, params)
            return [dict(r) for r in records]
        finally:
            await driver.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's event loop runs in this thread
        return pool.submit(asyncio.run, run()).result()


def _region_oracle(settings: Settings, region: str) -> tuple[set[str], set[str]]:
    """(the region's enterprises, their direct partners elsewhere over current links) as Neo4j holds
    them: what the region's view must draw."""
    members = {
        r["id"] for r in cypher(settings, "MATCH (e:Enterprise {region: $r}) RETURN e.id AS id", r=region)
    }
    outside = {
        r["id"]
        for r in cypher(
            settings,
            "MATCH (e:Enterprise {region: $r})-[x:SUPPLIES]-(o:Enterprise) "
            "WHERE coalesce(o.region, '') <> $r AND coalesce(x.validFrom, date('0001-01-01')) <= date() "
            "AND (x.validTo IS NULL OR x.validTo >= date()) RETURN DISTINCT o.id AS id",
            r=region,
        )
    }
    return members, outside


def test_the_network_of_a_region_draws_its_enterprises_and_their_outside_partners(
    page: Page,
    api: str,
    keys: dict[str, str],
    world: ConsoleWorld,
    console_settings: Settings,
    artifacts: Path,
) -> None:
    w = world
    members, outside = _region_oracle(console_settings, w.shiyan)
    assert {w.B, w.C, w.X} <= members and not {w.A, w.D, w.Z} & members
    assert {w.A, w.D, w.Z} <= outside  # A and D supply B; X supplies Z
    login(page, api, keys["analyst"])
    # From the data map's drill-down of the city
    page.evaluate(f"window.location.hash = '#/datamap?region={w.shiyan}'")
    expect(page.get_by_test_id("datamap-drill")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("drill-network").click()
    expect(page.get_by_test_id("mode-region")).to_have_class("active")
    assert drawn_ids(page) == members
    expect(page.get_by_test_id("network-status")).to_contain_text(f"{len(members)} 家本地区企业")
    assert page.evaluate("() => window.supplynetGraph.nodes('.outside, .focal').length") == 0

    # From the view's own selector, with the direct partners outside the region
    page.get_by_test_id("outside").check()
    page.get_by_test_id("show").click()
    page.wait_for_function("() => window.location.hash.includes('outside=1')")
    page.wait_for_function(
        "(n) => window.supplynetGraph && window.supplynetGraph.nodes().length === n",
        arg=len(members | outside),
    )
    assert drawn_ids(page) == members | outside
    marked = set(page.evaluate("() => window.supplynetGraph.nodes('.outside').map(n => n.id())"))
    assert marked == outside
    at = _positions(page)
    # by tier, material flowing left to right: outside suppliers, then B and X, C, then Z the customer
    assert at[w.A][0] == at[w.D][0] < at[w.B][0] == at[w.X][0] < at[w.C][0] < at[w.Z][0]
    page.screenshot(path=str(artifacts / "network-region.png"))
    click_node(page, w.X)
    expect(page.get_by_test_id("panel").get_by_test_id("panel-name")).to_have_text(w.names[w.X])
    expect(page.get_by_test_id("panel").get_by_test_id("customers")).to_contain_text(w.names[w.Z])

    page.get_by_test_id("layout-geo").click()
    expect(page.get_by_test_id("graph")).to_have_attribute("data-layout", "geo")
    where = _positions(page)
    for eid in (w.B, w.C, w.X, w.A, w.Z):
        assert _region_at(*where[eid]) == w.regions[eid], eid

    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("mode-region")).to_have_text("By region")
    expect(page.get_by_test_id("network-status")).to_contain_text("enterprises of the region")


def test_a_partner_sees_only_the_enterprises_of_a_region_inside_its_network(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    w = world
    login(page, api, keys["partner"])  # C's network: B, A, D, M upstream; X and Z are outside it
    page.evaluate(f"window.location.hash = '#/network?region={w.shiyan}&outside=1'")
    assert drawn_ids(page) == {w.B, w.C, w.A, w.D}
    page.screenshot(path=str(artifacts / "network-region-partner.png"))
    # the same by an edited query: the region's view holds nothing outside C's network, others' terms hidden
    answer = page.evaluate(
        """async (region) => {
             const token = sessionStorage.getItem('supplynet.credential');
             return (await fetch('/graphql', {method: 'POST',
               headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + token},
               body: JSON.stringify({variables: {r: region},
                 query: 'query($r: String!) { regionNetwork(region: $r, outside: true) { ' +
                        'nodes { id } edges { supplierId buyerId share redacted } } }'})})).json();
           }""",
        w.shiyan,
    )
    view = answer["data"]["regionNetwork"]
    assert {n["id"] for n in view["nodes"]} == {w.B, w.C, w.A, w.D}
    links = {(e["supplierId"], e["buyerId"]): e for e in view["edges"]}
    assert set(links) == {(w.A, w.B), (w.D, w.B), (w.B, w.C)}
    assert links[(w.A, w.B)]["share"] is None and "share" in links[(w.A, w.B)]["redacted"]
    assert links[(w.B, w.C)]["share"] == 1.0


def _order_rows(page: Page, side: str) -> dict[str, list[str]]:
    table = page.get_by_test_id("panel").get_by_test_id(f"orders-{side}")
    rows = table.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.children].map(td => td.innerText.trim()))"
    )
    return {r[0]: r for r in rows}


def test_the_panel_lists_the_open_orders_and_a_partner_sees_no_price_of_others_orders(
    page: Page, api: str, keys: dict[str, str], world: ConsoleWorld, artifacts: Path
) -> None:
    w = world
    ids = w.order_ids
    login(page, api, keys["analyst"])
    open_network(page, w.C)
    drawn_ids(page)
    click_node(page, w.A)
    expect(page.get_by_test_id("panel").get_by_test_id("open-orders")).to_have_attribute("data-ready", "true")
    sold = _order_rows(page, "supplier")
    assert set(sold) == {ids["ab-late"], ids["ab-conf"]}  # not the delivered, not the cancelled one
    assert list(sold) == [ids["ab-late"], ids["ab-conf"]]  # late first
    late = sold[ids["ab-late"]]
    assert late[1] == w.names[w.B] and late[2] == f"{w.p}steel" and late[3] == "50"
    assert late[4] == "2026-11-20" and late[5] == "已下单" and late[6] == "逾期" and late[7] == "4100 CNY"
    confirmed = sold[ids["ab-conf"]]
    assert confirmed[4] == "2027-01-15" and confirmed[5] == "已确认" and confirmed[6] == "—"
    bought = _order_rows(page, "buyer")
    assert set(bought) == {ids["ma"]}
    assert bought[ids["ma"]][1] == w.names[w.M] and bought[ids["ma"]][5] == "已发运"
    assert bought[ids["ma"]][7] == "830 CNY"
    page.get_by_test_id("panel").get_by_test_id("open-orders").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "network-orders.png"))

    page.get_by_test_id("logout").click()
    login(page, api, keys["partner"])  # C: party to B → C only
    open_network(page, w.C)
    drawn_ids(page)
    click_node(page, w.A)
    expect(page.get_by_test_id("panel").get_by_test_id("open-orders")).to_have_attribute("data-ready", "true")
    sold = _order_rows(page, "supplier")
    assert set(sold) == {ids["ab-late"], ids["ab-conf"]}
    assert {r[7] for r in sold.values()} == {"不可见"}
    assert _order_rows(page, "buyer")[ids["ma"]][7] == "不可见"
    panel_text = page.get_by_test_id("panel").inner_text()
    assert not any(f"{w.prices[k]:g}" in panel_text for k in ("ab-late", "ab-conf", "ma"))
    page.get_by_test_id("panel").get_by_test_id("open-orders").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "network-orders-partner.png"))
    click_node(page, w.B)
    expect(page.get_by_test_id("panel").get_by_test_id("panel-name")).to_have_text(w.names[w.B])
    expect(page.get_by_test_id("panel").get_by_test_id("open-orders")).to_have_attribute("data-ready", "true")
    assert _order_rows(page, "supplier")[ids["bc"]][7] == "95.5 CNY"  # its own order: its price
    assert {r[7] for r in _order_rows(page, "buyer").values()} == {"不可见"}


def _project(settings: Settings, events: list[dict[str, Any]], group: str) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's event loop runs in this thread
        pool.submit(asyncio.run, project_events(settings, events, group=group)).result()


def _registered(eid: str, region: str) -> dict[str, Any]:
    data = {"enterprise_id": eid, "name": f"新企业{eid[-2:]}", "industry": "machinery", "region": region}
    ev = example_event("partner.registered", event_id=f"{eid}-reg")
    ev["data"], ev["subject"] = data, eid
    return ev


def _agreed(supplier: str, buyer: str, sku: str) -> dict[str, Any]:
    data = {"supplier_id": supplier, "buyer_id": buyer, "sku": sku, "share": 0.2, "lead_time_days": 10}
    data["valid_from"] = "2025-01-01"
    ev = example_event("supply.agreed", event_id=f"{supplier}-{sku}")
    ev["data"], ev["subject"] = data, buyer
    return ev


def _appears(page: Page, eid: str, seconds: float) -> bool:
    try:
        page.wait_for_function(
            "(id) => window.supplynetGraph && window.supplynetGraph.$id(id).length === 1",
            arg=eid,
            timeout=seconds * 1000,
        )
        return True
    except PlaywrightTimeout:
        return False


def test_a_change_ingested_while_the_page_is_open_is_drawn_without_a_reload(
    page: Page,
    api: str,
    keys: dict[str, str],
    world: ConsoleWorld,
    console_settings: Settings,
    artifacts: Path,
) -> None:
    w = world
    made: list[str] = []
    try:
        login(page, api, keys["analyst"])
        open_network(page, w.C)
        assert drawn_ids(page) == {w.C, w.B, w.A, w.M, w.D}
        live = page.get_by_test_id("live")
        expect(live).to_have_attribute("data-state", "live")
        page.evaluate("() => { window.supplynetSameDocument = true; }")
        # The subscriber reads graph.changes from its end once it is set up: a new supplier of B is sent
        # until one arrives (the first may come before the server's consumer is listening)
        arrived = None
        for n in range(4):
            new = f"{w.p}n{n}"
            made.append(new)
            _project(
                console_settings,
                [_registered(new, w.shiyan), _agreed(new, w.B, f"{w.p}nut")],
                group=f"{w.p}live{n}",
            )
            if _appears(page, new, 12):
                arrived = new
                break
        assert arrived is not None, "no change reached the drawn network"
        assert page.evaluate("() => window.supplynetSameDocument === true")  # no reload
        assert page.evaluate("(id) => window.supplynetGraph.$id(id).hasClass('fresh')", arrived)  # ringed
        assert int(live.get_attribute("data-updates") or 0) >= 1
        expect(live).to_contain_text("已更新")
        edge = page.evaluate(f"() => window.supplynetGraph.edges('[source = \"{arrived}\"]').length")
        assert edge == 1
        page.screenshot(path=str(artifacts / "network-live.png"))

        # A region's view: an enterprise that registers in the region joins the drawn view
        page.evaluate(f"window.location.hash = '#/network?region={w.shiyan}'")
        expect(page.get_by_test_id("mode-region")).to_have_class("active")
        expect(live).to_have_attribute("data-state", "live")
        before = drawn_ids(page)
        assert arrived in before
        joined = None
        for n in range(4):
            new = f"{w.p}r{n}"
            made.append(new)
            _project(console_settings, [_registered(new, w.shiyan)], group=f"{w.p}liver{n}")
            if _appears(page, new, 12):
                joined = new
                break
        assert joined is not None, "a new enterprise of the region was not drawn"
        assert page.evaluate("() => window.supplynetSameDocument === true")
    finally:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, forget(console_settings, ids=made, skus=[f"{w.p}nut"])).result()
