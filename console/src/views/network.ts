// View 1, Network: a focal enterprise's upstream or downstream to N tiers, or the enterprises of a region
// with the current links among them (optionally with their direct suppliers and customers outside it);
// laid out by tier or by geography (a toggle that re-lays out the drawn view in place); a click on an
// enterprise opens its panel. The drawn view follows the graph live (graphChanges): a change touching
// an enterprise or link in view redraws it, at most once every 2 s.
// Routes: #/network?focal=ID&direction=UPSTREAM&tiers=3[&layout=tier|geo][&highlight=a,b]
//         #/network?region=湖北省 武汉市[&outside=1][&layout=tier|geo][&highlight=a,b]
import type { Core } from "cytoscape";
import { gql, subscribe } from "../api";
import { field, h } from "../dom";
import type { Geography } from "../geolayout";
import { drawNetwork, fastPicking, LARGE, regionTiers, tierPositions, type NetEdge, type NetNode } from "../graph";
import { t } from "../i18n";
import { showEnterprise } from "./enterprise-panel";

export type Layout = "tier" | "geo";
type Mode = "focal" | "region";
type Direction = "UPSTREAM" | "DOWNSTREAM";

let geographyLoaded: Promise<{ geo: Geography; module: typeof import("../geolayout") }> | null = null;

/** The shipped outlines (a chunk of their own, shared with the data map), loaded once when first needed. */
function loadGeography(): Promise<{ geo: Geography; module: typeof import("../geolayout") }> {
  geographyLoaded ??= Promise.all([import("../geolayout"), import("../geo/hubei-region.json")]).then(([module, json]) => ({
    geo: module.geography(json.default as unknown as Parameters<typeof module.geography>[0]),
    module,
  }));
  return geographyLoaded;
}

/** Lays the drawn network out by tier or by geography (outlines underneath); resolves when done. */
export async function applyLayout(cy: Core, nodes: NetNode[], direction: Direction, layout: Layout): Promise<(() => void) | null> {
  const container = cy.container() as HTMLElement;
  let positions: Map<string, { x: number; y: number }>;
  let underlay: (() => void) | null = null;
  if (layout === "geo") {
    const { geo, module } = await loadGeography();
    const placed = module.geoPositions(nodes, geo);
    positions = placed.positions;
    const unmapped = placed.unmappedAt ? { label: t("noRegionColumn"), at: placed.unmappedAt } : null;
    underlay = module.drawUnderlay(cy, geo, placed.used, unmapped);
  } else {
    positions = tierPositions(nodes, direction);
  }
  cy.layout({ name: "preset", positions: Object.fromEntries(positions), fit: true, padding: 30 }).run();
  container.dataset.layout = layout;
  return underlay;
}

interface SupplyNetwork {
  nodeCount: number;
  edgeCount: number;
  truncated: boolean;
  payload: { nodes: NetNode[]; edges: NetEdge[] };
}

interface RegionNetwork extends SupplyNetwork {
  memberCount: number;
}

const MAX_NODES = 5000;

/** The lean JSON form of a tiered view (one round trip, no per-field resolution). */
export async function loadNetwork(focal: string, direction: Direction, tiers: number): Promise<SupplyNetwork | null> {
  const field = direction === "UPSTREAM" ? "upstream" : "downstream";
  const q = `query($id: ID!, $tiers: Int!, $max: Int!) { view: ${field}(id: $id, tiers: $tiers, maxNodes: $max) {
    nodeCount edgeCount truncated payload } }`;
  const data = await gql<{ view: SupplyNetwork | null }>(q, { id: focal, tiers, max: MAX_NODES });
  return data.view;
}

const REGION_VIEW = `query($r: String!, $outside: Boolean!, $max: Int!) {
  view: regionNetwork(region: $r, outside: $outside, maxNodes: $max) { nodeCount edgeCount memberCount truncated payload } }`;

/** A region's enterprises and the current links among them (and to their outside partners). */
export async function loadRegionNetwork(region: string, outside: boolean): Promise<RegionNetwork> {
  const data = await gql<{ view: RegionNetwork }>(REGION_VIEW, { r: region, outside, max: MAX_NODES });
  return data.view;
}

const REGIONS = "query { dataMap { regions { key enterprises } } }";
let regionsLoaded: Promise<string[]> | null = null;

/** The regions with enterprises the credential may see (the data map's; a partner's: of its network). */
function knownRegions(): Promise<string[]> {
  regionsLoaded ??= gql<{ dataMap: { regions: { key: string; enterprises: number }[] } }>(REGIONS)
    .then((d) => d.dataMap.regions.filter((r) => r.key && r.enterprises > 0).map((r) => r.key).sort())
    .catch(() => {
      regionsLoaded = null;
      return [];
    });
  return regionsLoaded;
}

/** An input that suggests enterprises by name, pinyin or id as one types. */
export function enterpriseInput(name: string, value: string): HTMLElement {
  const listId = `${name}-options`;
  const list = h("datalist", { id: listId });
  let pending = 0;
  const input = h("input", {
    name,
    value,
    list: listId,
    required: true,
    autocomplete: "off",
    "data-testid": name,
    oninput: (ev: Event) => {
      const text = (ev.target as HTMLInputElement).value.trim();
      const mine = ++pending;
      if (text.length < 2) return;
      void gql<{ enterprises: { edges: { node: { id: string; name: string | null } }[] } }>(
        "query($n: String) { enterprises(first: 10, name: $n) { edges { node { id name } } } }",
        { n: text },
      )
        .then((d) => {
          if (mine !== pending) return;
          list.replaceChildren(...d.enterprises.edges.map((e) => h("option", { value: e.node.id }, e.node.name ?? e.node.id)));
        })
        .catch(() => undefined);
    },
  });
  return h("span", {}, input, list);
}

/** An input that offers the regions (loaded when it is first focused). */
function regionInput(value: string): HTMLElement {
  const list = h("datalist", { id: "region-options" });
  const fill = () =>
    void knownRegions().then((regions) => {
      if (!list.childElementCount) list.replaceChildren(...regions.map((r) => h("option", { value: r })));
    });
  const input = h("input", {
    name: "region",
    value,
    list: "region-options",
    autocomplete: "off",
    placeholder: t("regionHint"),
    size: 24,
    "data-testid": "region",
    onfocus: fill,
  });
  return h("span", {}, input, list);
}

interface GraphChange {
  eventId: string;
  nodes: { label: string; key: string }[];
  relationships: { type: string; start: string; end: string }[];
}

const CHANGES_OF_FOCAL = `subscription($id: ID!, $tiers: Int!) { graphChanges(enterpriseId: $id, tiers: $tiers) {
  eventId nodes { label key } relationships { type start end } } }`;
const CHANGES_OF_REGION = `subscription($r: String!) { graphChanges(region: $r, tiers: 1) {
  eventId nodes { label key } relationships { type start end } } }`;

/** Whether a change touches what is drawn: an enterprise in view, a link with an end in view (a new
 * supplier of one brings a node), or, in a region's view, an enterprise moving into the region. */
export function touches(change: GraphChange, drawn: Set<string>, region: string | null): boolean {
  if (change.nodes.some((n) => n.label === "Enterprise" && drawn.has(n.key))) return true;
  return change.relationships.some(
    (r) => drawn.has(r.start) || drawn.has(r.end) || (region !== null && r.type === "LOCATED_IN" && r.end === region),
  );
}

/** Redraws come at most this often (ms), however fast changes arrive. */
const REFRESH_EVERY = 2000;

export function renderNetwork(root: HTMLElement, params: URLSearchParams): () => void {
  const focal = params.get("focal") ?? "";
  const region = focal ? null : params.get("region");
  let mode: Mode = region !== null ? "region" : "focal";
  const outside = params.get("outside") === "1";
  const direction: Direction = region !== null ? "DOWNSTREAM" : params.get("direction") === "DOWNSTREAM" ? "DOWNSTREAM" : "UPSTREAM";
  const tiers = Math.max(1, Math.min(8, Number(params.get("tiers") ?? 3) || 3));
  const highlight = new Set((params.get("highlight") ?? "").split(",").filter(Boolean));
  let layout: Layout = params.get("layout") === "geo" ? "geo" : "tier";
  let cy: Core | null = null;
  let nodes: NetNode[] = [];
  let edges: NetEdge[] = [];
  let removeUnderlay: (() => void) | null = null;
  let removePicking: (() => void) | null = null;
  let stopLive: (() => void) | null = null;
  let stopped = false;
  let shown: string | null = null;
  /** The viewport the last layout fitted: a different one at a redraw means the user moved. */
  let fitted: { zoom: number; x: number; y: number } | null = null;

  const relayout = async (next: Layout): Promise<void> => {
    layout = next;
    for (const b of toggle.querySelectorAll("button")) b.classList.toggle("active", b.dataset.layout === next);
    const q = new URLSearchParams(params);
    q.set("layout", next);
    history.replaceState(null, "", `#/network?${q}`);
    if (!cy) return;
    removeUnderlay?.();
    removeUnderlay = await applyLayout(cy, nodes, direction, next);
    fitted = viewport(cy);
  };
  const toggle = h(
    "span",
    { class: "toggle", role: "group", "aria-label": t("layout") },
    ...(["tier", "geo"] as const).map((kind) =>
      h(
        "button",
        {
          type: "button",
          "data-layout": kind,
          "data-testid": `layout-${kind}`,
          class: kind === layout ? "active" : undefined,
          onclick: () => void relayout(kind),
        },
        t(kind === "tier" ? "layout.tier" : "layout.geo"),
      ),
    ),
  );

  const focalFields = h(
    "span",
    { class: "fields", "data-mode": "focal" },
    h("label", {}, t("focal"), enterpriseInput("focal", focal)),
    h(
      "label",
      {},
      t("direction"),
      h(
        "select",
        { name: "direction", "data-testid": "direction" },
        h("option", { value: "UPSTREAM", selected: direction === "UPSTREAM" }, t("upstream")),
        h("option", { value: "DOWNSTREAM", selected: direction === "DOWNSTREAM" && region === null }, t("downstream")),
      ),
    ),
    h("label", {}, t("tiers"), h("input", { name: "tiers", type: "number", min: 1, max: 8, value: tiers, "data-testid": "tiers" })),
  );
  const regionFields = h(
    "span",
    { class: "fields", "data-mode": "region" },
    h("label", {}, t("region"), regionInput(region ?? "")),
    h(
      "label",
      { class: "check" },
      h("input", { type: "checkbox", name: "outside", checked: outside, "data-testid": "outside" }),
      t("withOutside"),
    ),
  );
  const modeToggle = h(
    "span",
    { class: "toggle", role: "group", "aria-label": t("mode.region") },
    ...(["focal", "region"] as const).map((kind) =>
      h(
        "button",
        {
          type: "button",
          "data-mode": kind,
          "data-testid": `mode-${kind}`,
          class: kind === mode ? "active" : undefined,
          onclick: () => showMode(kind),
        },
        t(kind === "focal" ? "mode.focal" : "mode.region"),
      ),
    ),
  );
  const showMode = (next: Mode) => {
    mode = next;
    for (const b of modeToggle.querySelectorAll("button")) b.classList.toggle("active", b.dataset.mode === next);
    focalFields.hidden = next !== "focal";
    regionFields.hidden = next !== "region";
    for (const [name, needed] of [
      ["focal", next === "focal"],
      ["region", next === "region"],
    ] as const) {
      const input = form.querySelector<HTMLInputElement>(`input[name="${name}"]`);
      if (input) input.required = needed;
    }
  };

  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const q =
          mode === "region"
            ? new URLSearchParams({ region: field(form, "region"), ...(outsideBox().checked ? { outside: "1" } : {}), layout })
            : new URLSearchParams({
                focal: field(form, "focal"),
                direction: field(form, "direction"),
                tiers: field(form, "tiers"),
                layout,
              });
        window.location.hash = `#/network?${q}`;
      },
    },
    modeToggle,
    focalFields,
    regionFields,
    h("button", { type: "submit", "data-testid": "show" }, t("show")),
    h("label", {}, t("layout"), toggle),
  );
  const outsideBox = () => form.querySelector<HTMLInputElement>('input[name="outside"]') as HTMLInputElement;
  showMode(mode);

  const status = h("p", { class: "status", "data-testid": "network-status" });
  const live = h("span", { class: "live", "data-testid": "live", "data-state": "off", "data-updates": 0 });
  const canvas = h("div", { class: "graph", "data-testid": "graph" });
  const panel = h("aside", { class: "panel", "data-testid": "panel" });
  const legend = h("p", { class: "muted" }, t("legendRisk"), region !== null && outside ? ` · ${t("legendOutside")}` : "");
  root.append(form, legend, h("div", { class: "statusline" }, status, live), h("div", { class: "split" }, canvas, panel));

  const pick = (id: string) => {
    shown = id;
    void showEnterprise(panel, id, edges);
  };

  /** Reads the view; its words for the status line. */
  const load = async (): Promise<{ nodes: NetNode[]; edges: NetEdge[]; words: string } | null> => {
    if (region !== null) {
      const view = await loadRegionNetwork(region, outside);
      const found = regionTiers(view.payload.nodes, view.payload.edges);
      const others = view.nodeCount - view.memberCount;
      const words =
        `${region} · ${view.nodeCount} ${t("nodes")} (${view.memberCount} ${t("membersCount")}` +
        `${outside ? ` · ${others} ${t("outsideCount")}` : ""}) · ${view.edgeCount} ${t("edges")}` +
        `${view.truncated ? ` · ${t("truncated")}` : ""}${view.memberCount ? "" : ` · ${t("regionEmpty")}`}`;
      return { nodes: found, edges: view.payload.edges, words };
    }
    const view = await loadNetwork(focal, direction, tiers);
    if (!view) return null;
    const words = `${view.nodeCount} ${t("nodes")} · ${view.edgeCount} ${t("edges")}${view.truncated ? ` · ${t("truncated")}` : ""}`;
    return { nodes: view.payload.nodes, edges: view.payload.edges, words };
  };

  /** Draws (or redraws in place) what `load` read; a redraw keeps a viewport the user moved to. */
  const draw = async (found: { nodes: NetNode[]; edges: NetEdge[]; words: string }, redraw: boolean): Promise<void> => {
    const moved = redraw && cy && fitted && !sameViewport(viewport(cy), fitted) ? viewport(cy) : null;
    removePicking?.();
    removePicking = null;
    removeUnderlay?.();
    removeUnderlay = null;
    cy?.destroy();
    nodes = found.nodes;
    edges = found.edges;
    status.textContent = found.words;
    status.dataset.ready = "true";
    const drawn = drawNetwork(canvas, nodes, edges, direction, highlight.size ? { affected: highlight } : {});
    cy = drawn;
    if (nodes.length > LARGE) removePicking = fastPicking(drawn, pick);
    else drawn.on("tap", "node", (ev) => pick(ev.target.id() as string));
    (window as unknown as { supplynetGraph?: Core }).supplynetGraph = drawn;
    if (layout === "geo") removeUnderlay = await applyLayout(drawn, nodes, direction, "geo");
    else canvas.dataset.layout = "tier";
    if (stopped || cy !== drawn) return;
    fitted = viewport(drawn);
    if (moved) {
      drawn.viewport({ zoom: moved.zoom, pan: { x: moved.x, y: moved.y } });
    }
  };

  const fail = (err: unknown) => {
    status.textContent = `${t("error")}: ${err instanceof Error ? err.message : String(err)}`;
    status.classList.add("error");
    status.dataset.ready = "error";
  };

  // Live: a change touching the view schedules one redraw, no sooner than REFRESH_EVERY after the last.
  let lastLoad = 0;
  let timer: number | null = null;
  let updates = 0;
  let touchedShown = false;
  const refresh = async () => {
    timer = null;
    lastLoad = Date.now();
    try {
      const found = await load();
      if (stopped || !found) return;
      const before = new Set(nodes.map((n) => n.id));
      await draw(found, true);
      // What the change brought is ringed until the next redraw or for a while
      const now = cy;
      if (now) {
        const fresh = now.nodes().filter((n) => !before.has(n.id())).addClass("fresh");
        window.setTimeout(() => {
          if (!now.destroyed()) fresh.removeClass("fresh");
        }, 15_000);
      }
      updates += 1;
      live.dataset.updates = String(updates);
      live.textContent = `● ${t("live.on")} · ${t("live.updated")} ${new Date().toLocaleTimeString()}`;
      if (shown && touchedShown && nodes.some((n) => n.id === shown)) void showEnterprise(panel, shown, edges);
      touchedShown = false;
    } catch (err) {
      if (!stopped) fail(err);
    }
  };
  const schedule = () => {
    if (timer !== null || stopped) return;
    timer = window.setTimeout(() => void refresh(), Math.max(0, lastLoad + REFRESH_EVERY - Date.now()));
  };
  const goLive = () => {
    live.dataset.state = "connecting";
    live.textContent = `○ ${t("live.connecting")}`;
    const onChange = ({ graphChanges: change }: { graphChanges: GraphChange }) => {
      const drawnIds = new Set(nodes.map((n) => n.id));
      if (!touches(change, drawnIds, region)) return;
      if (shown && touches(change, new Set([shown]), null)) touchedShown = true;
      schedule();
    };
    const onError = (message: string) => {
      live.dataset.state = "error";
      live.textContent = `○ ${t("live.off")}: ${message}`;
    };
    const onConnected = () => {
      if (stopped) return;
      live.dataset.state = "live";
      if (!updates) live.textContent = `● ${t("live.on")}`;
    };
    stopLive =
      region !== null
        ? subscribe(CHANGES_OF_REGION, { r: region }, onChange, onError, onConnected)
        : subscribe(CHANGES_OF_FOCAL, { id: focal, tiers }, onChange, onError, onConnected);
  };

  if (focal || region) {
    status.textContent = t("loading");
    lastLoad = Date.now();
    load()
      .then(async (found) => {
        if (stopped) return;
        if (!found) {
          status.textContent = `${focal}: ${t("none")}`;
          return;
        }
        await draw(found, false);
        if (stopped) return;
        // Cytoscape draws in its own animation frame (its WebGL mode emits no "render" event): the mark
        // goes after the frame that follows the first one drawn.
        requestAnimationFrame(() =>
          requestAnimationFrame(() => performance.mark("supplynet:network-drawn", { detail: { nodes: nodes.length } })),
        );
        goLive();
      })
      .catch(fail);
  }
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    stopLive?.();
    removePicking?.();
    removeUnderlay?.();
    cy?.destroy();
    (window as unknown as { supplynetGraph?: Core }).supplynetGraph = undefined;
  };
}

function viewport(cy: Core): { zoom: number; x: number; y: number } {
  const pan = cy.pan();
  return { zoom: cy.zoom(), x: pan.x, y: pan.y };
}

function sameViewport(a: { zoom: number; x: number; y: number }, b: { zoom: number; x: number; y: number }): boolean {
  return Math.abs(a.zoom - b.zoom) < 1e-6 && Math.abs(a.x - b.x) < 0.5 && Math.abs(a.y - b.y) < 0.5;
}
