"""Web console benchmark: how long the Network view takes to appear, how smoothly it pans and zooms, and
how long a click holds the page's main thread, for the demo world and a 5,000-node view, in Debian's
chromium (headless, Playwright) against `supplynet serve` on the local Neo4j.

Two graphs under run prefixes, deleted at the end: the demo world (``supplynet generate --size demo``,
projected as the browser tests do) and ``bench.api``'s graph (a big component whose 5-tier upstream
view has ~5,400 enterprises, cut at the console's 5,000). Per view and run: a fresh page load
(navigation start → the network drawn, the ``supplynet:network-drawn`` mark), then 2 s of animated
zoom and pan during which the longest gap between animation frames is recorded, then a real click on
an enterprise → its panel filled, during which the longest task on the main thread is recorded
(``PerformanceObserver`` of ``longtask`` entries: what a user feels as a freeze; 0 = none over 50 ms).

    .venv/bin/python -m bench.console --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from api.keys import create_key
from bench.api import BIG_SIZE, build, delete, load
from connectors.world.geography import CITIES
from graph.maintenance import delete_by_prefix
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.generated_world import generate
from tests.integration.generated_world import load as load_world

CHROMIUM = "/usr/bin/chromium"

PAN_ZOOM = """async () => {
  const cy = window.supplynetGraph;
  const gaps = [];
  let last = performance.now();
  let running = true;
  const tick = (t) => { gaps.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const z = cy.zoom();
  for (const [zoom, dx] of [[z * 3, 200], [z, -200], [z * 2, 100], [z, -100]]) {
    await cy.animation({ zoom, panBy: { x: dx, y: dx / 2 }, duration: 500 }).play().promise();
  }
  running = false;
  return Math.max(...gaps);
}"""

FRAMES_START = """() => { const w = window; w.benchGaps = []; w.benchRunning = true;
  let last = performance.now();
  const tick = (t) => {
    w.benchGaps.push(t - last); last = t; if (w.benchRunning) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""
FRAMES_STOP = "() => { window.benchRunning = false; return Math.max(0, ...window.benchGaps); }"
"""The longest gap between animation frames from the click until the panel is filled (a freeze)."""

LONG_TASKS_START = """() => { window.benchLongTasks = [];
  window.benchObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.benchLongTasks.push(e.duration); });
  window.benchObserver.observe({ type: "longtask" }); }"""
LONG_TASKS_STOP = """() => { window.benchObserver.disconnect();
  return Math.max(0, ...window.benchLongTasks); }"""
"""The longest main-thread task (over 50 ms) from the click until the panel is filled and 0.5 s after."""

PANEL_QUERIES = {
    "enterprise": """query($id: ID!) { enterprise(id: $id) { name
        suppliers { sku } customers { sku } kpis { openOrders } } }""",
    "riskyNodes around it": """query($id: ID!) {
        riskyNodes(focalId: $id, tiers: 1, first: 1000) { enterpriseId } }""",
}


def serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SUPPLYNET_SQL_URL": settings.database_url(),
        "SUPPLYNET_API__PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "supplynet", "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"API did not start: {log.read_text()[-1000:]}")


def measure(
    page: Page, url: str, focal: str, tiers: int, layout: str = "tier", shot: Path | None = None
) -> dict[str, float]:
    page.goto(f"{url}/console/#/network?focal={focal}&direction=UPSTREAM&tiers={tiers}&layout={layout}")
    page.reload()
    page.wait_for_function(
        "() => performance.getEntriesByName('supplynet:network-drawn').length > 0", timeout=120_000
    )
    drawn = page.evaluate("() => performance.getEntriesByName('supplynet:network-drawn')[0].startTime")
    nodes = page.evaluate("() => window.supplynetGraph.nodes().length")
    if shot is not None:
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shot))
    worst_frame = page.evaluate(PAN_ZOOM)
    print(f"  {focal}: {nodes} nodes drawn {drawn:.0f} ms, worst frame {worst_frame:.0f} ms", flush=True)
    # Block bodies: an arrow returning ``cy.fit()`` would hand Playwright the whole Cytoscape core to
    # serialise (fit returns it for chaining), which took 60-90 s and ~3 GB of the renderer even for a
    # 4-node view and crashed it at 5,000 nodes; the earlier "click -> panel 12-47 s" was that.
    page.evaluate("() => { window.supplynetGraph.fit(); }")
    x, y = page.evaluate(
        """(id) => { const cy = window.supplynetGraph; const p = cy.$id(id).renderedPosition();
             const box = cy.container().getBoundingClientRect(); return [box.left + p.x, box.top + p.y]; }""",
        focal,
    )
    page.wait_for_timeout(3000)  # the redraw after fit() settles first: only the click's own work counts
    page.evaluate(FRAMES_START)
    page.evaluate(LONG_TASKS_START)
    t0 = time.perf_counter()
    page.mouse.click(x, y)  # a real click on the focal enterprise
    page.get_by_test_id("panel-name").wait_for(timeout=60_000)
    panel = (time.perf_counter() - t0) * 1000
    click_frame = float(page.evaluate(FRAMES_STOP))
    page.wait_for_timeout(500)  # long-task entries are delivered after the task
    long_task = float(page.evaluate(LONG_TASKS_STOP))
    return {
        "nodes": nodes,
        "drawn": drawn,
        "frame": worst_frame,
        "panel": panel,
        "click frame": click_frame,
        "click long task": long_task,
    }


def biggest_maker(settings: Settings, prefix: str) -> str:
    """The demo world's enterprise with the most direct suppliers (its 5-tier upstream is the demo's
    biggest network view)."""

    async def ask() -> str:
        driver = bootstrap.async_driver(settings)
        try:
            records, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise)<-[:SUPPLIES]-(s) WHERE e.id STARTS WITH $p "
                "RETURN e.id AS id, count(s) AS n ORDER BY n DESC, id LIMIT 1",
                p=prefix,
            )
            return str(records[0]["id"])
        finally:
            await driver.close()

    return asyncio.run(ask())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the benchmark graphs")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo world (~1-2 min to load)")
    ap.add_argument("--reuse", metavar="RUN", help="measure the graphs a run with --keep left (its run id)")
    ap.add_argument("--screenshots", type=Path, help="save each view's first drawing in this folder")
    args = ap.parse_args()
    settings = Settings()
    run = args.reuse or uuid.uuid4().hex[:6]
    prefix = f"bench-console-{run}-"
    demo_prefix = f"bcd{run}-"
    ents, links, focal = build(4 * BIG_SIZE, 30_000, prefix)
    for e in ents:  # bench.api's regions are placeholders: spread them over the cities of the map
        e["region"] = CITIES[int(e["region"].removeprefix("region-")) % len(CITIES)].region

    async def load_graph() -> float:
        driver = bootstrap.async_driver(settings)
        try:
            return await load(driver, ents, links)
        finally:
            await driver.close()

    async def delete_graphs() -> None:
        driver = bootstrap.async_driver(settings)
        try:
            await delete(driver, prefix)
            await delete_by_prefix(driver, demo_prefix)
        finally:
            await driver.close()

    print(f"run {run}")
    if not args.reuse:
        print(f"loading {len(ents):,} enterprises / {len(links):,} links under {prefix} ...")
        print(f"loaded in {asyncio.run(load_graph()):.1f} s")
    views: list[tuple[str, str, int, str]] = [
        ("small, by tier", focal["small"], 3, "tier"),
        ("5,000, by tier", focal["big"], 5, "tier"),
        ("5,000, by geo", focal["big"], 5, "geo"),
    ]
    if not args.no_demo:
        if not args.reuse:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                events, world = generate(Path(folder), prefix=demo_prefix)
                asyncio.run(load_world(settings, events))
            took = time.perf_counter() - t0
            print(f"demo world: {len(world.enterprises)} enterprises loaded in {took:.1f} s")
        maker = biggest_maker(settings, demo_prefix)
        views[:0] = [("demo, by tier", maker, 5, "tier"), ("demo, by geo", maker, 5, "geo")]
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    token = create_key(engine, name=f"{prefix}analyst", role=Role.ANALYST)[1]
    port = free_port()
    proc = serve(settings, port, Path(settings.state_dir) / f"{prefix}api.log")
    url = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict[str, float]]] = {view: [] for view, *_ in views}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.on("crash", lambda _: print("  the page's renderer crashed", flush=True))
            page.goto(f"{url}/console/")
            page.get_by_test_id("credential").fill(token)
            page.get_by_test_id("login").click()
            page.get_by_test_id("nav-network").wait_for()
            for what, query in PANEL_QUERIES.items():
                t0 = time.perf_counter()
                answer = httpx.post(
                    f"{url}/graphql",
                    json={"query": query, "variables": {"id": focal["small"]}},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=300,
                )
                print(
                    f"  panel query {what}: {(time.perf_counter() - t0) * 1000:.0f} ms ({answer.status_code})"
                )
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
            for n in range(args.runs):
                for view, focal_id, tiers, layout in views:
                    shot = None
                    if args.screenshots and n == 0:
                        shot = args.screenshots / f"{view.replace(',', '').replace(' ', '-')}.png"
                    results[view].append(measure(page, url, focal_id, tiers, layout, shot))
                    print(view, {k: round(v) for k, v in results[view][-1].items()}, flush=True)
                page.goto(f"{url}/console/#/datamap")
                page.reload()
                mark = "performance.getEntriesByName('supplynet:datamap-drawn')"
                page.wait_for_function(f"() => {mark}.length > 0", timeout=120_000)
                drawn = page.evaluate(f"() => {mark}[0].startTime")
                print(f"  data map of the whole graph drawn {drawn:.0f} ms after navigation start")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
        if not args.keep:
            asyncio.run(delete_graphs())
    print(f"\n{args.runs} runs each; median (min-max); ms")
    print(
        f"{'view':<15} {'nodes':>6} {'load → drawn':>20} {'worst frame, pan/zoom':>22} {'click → panel':>18}"
        f" {'worst frame, click':>20} {'longest task, click':>20}"
    )
    for view, rows in results.items():

        def cell(key: str, rows: list[dict[str, Any]] = rows) -> str:
            xs = [r[key] for r in rows]
            return f"{statistics.median(xs):.0f} ({min(xs):.0f}-{max(xs):.0f})"

        nodes = int(rows[0]["nodes"])
        print(
            f"{view:<15} {nodes:>6} {cell('drawn'):>20} {cell('frame'):>22} {cell('panel'):>18}"
            f" {cell('click frame'):>20} {cell('click long task'):>20}"
        )


if __name__ == "__main__":
    main()
