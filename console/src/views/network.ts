// View 1, Network: a focal enterprise's upstream or downstream to N tiers, laid out by tier or by
// geography (a toggle that re-lays out the drawn view in place); a click on an enterprise opens its
// panel. Route: #/network?focal=ID&direction=UPSTREAM&tiers=3[&layout=tier|geo][&highlight=a,b]
import type { Core } from "cytoscape";
import { gql } from "../api";
import { field, h } from "../dom";
import type { Geography } from "../geolayout";
import { drawNetwork, fastPicking, LARGE, tierPositions, type NetEdge, type NetNode } from "../graph";
import { t } from "../i18n";
import { showEnterprise } from "./enterprise-panel";

export type Layout = "tier" | "geo";

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
export async function applyLayout(
  cy: Core,
  nodes: NetNode[],
  direction: "UPSTREAM" | "DOWNSTREAM",
  layout: Layout,
): Promise<(() => void) | null> {
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

const MAX_NODES = 5000;

/** The lean JSON form of a tiered view (one round trip, no per-field resolution). */
export async function loadNetwork(focal: string, direction: "UPSTREAM" | "DOWNSTREAM", tiers: number): Promise<SupplyNetwork | null> {
  const field = direction === "UPSTREAM" ? "upstream" : "downstream";
  const q = `query($id: ID!, $tiers: Int!, $max: Int!) { view: ${field}(id: $id, tiers: $tiers, maxNodes: $max) {
    nodeCount edgeCount truncated payload } }`;
  const data = await gql<{ view: SupplyNetwork | null }>(q, { id: focal, tiers, max: MAX_NODES });
  return data.view;
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

export function renderNetwork(root: HTMLElement, params: URLSearchParams): () => void {
  const focal = params.get("focal") ?? "";
  const direction = params.get("direction") === "DOWNSTREAM" ? "DOWNSTREAM" : "UPSTREAM";
  const tiers = Math.max(1, Math.min(8, Number(params.get("tiers") ?? 3) || 3));
  const highlight = new Set((params.get("highlight") ?? "").split(",").filter(Boolean));
  let layout: Layout = params.get("layout") === "geo" ? "geo" : "tier";
  let cy: Core | null = null;
  let nodes: NetNode[] = [];
  let removeUnderlay: (() => void) | null = null;
  let removePicking: (() => void) | null = null;

  const relayout = async (next: Layout): Promise<void> => {
    layout = next;
    for (const b of toggle.querySelectorAll("button")) b.classList.toggle("active", b.dataset.layout === next);
    const q = new URLSearchParams(params);
    q.set("layout", next);
    history.replaceState(null, "", `#/network?${q}`);
    if (!cy) return;
    removeUnderlay?.();
    removeUnderlay = await applyLayout(cy, nodes, direction, next);
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

  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const q = new URLSearchParams({
          focal: field(form, "focal"),
          direction: field(form, "direction"),
          tiers: field(form, "tiers"),
          layout,
        });
        window.location.hash = `#/network?${q}`;
      },
    },
    h("label", {}, t("focal"), enterpriseInput("focal", focal)),
    h(
      "label",
      {},
      t("direction"),
      h(
        "select",
        { name: "direction", "data-testid": "direction" },
        h("option", { value: "UPSTREAM", selected: direction === "UPSTREAM" }, t("upstream")),
        h("option", { value: "DOWNSTREAM", selected: direction === "DOWNSTREAM" }, t("downstream")),
      ),
    ),
    h("label", {}, t("tiers"), h("input", { name: "tiers", type: "number", min: 1, max: 8, value: tiers, "data-testid": "tiers" })),
    h("button", { type: "submit", "data-testid": "show" }, t("show")),
    h("label", {}, t("layout"), toggle),
  );
  const status = h("p", { class: "status", "data-testid": "network-status" });
  const canvas = h("div", { class: "graph", "data-testid": "graph" });
  const panel = h("aside", { class: "panel", "data-testid": "panel" });
  root.append(form, h("p", { class: "muted" }, t("legendRisk")), status, h("div", { class: "split" }, canvas, panel));

  if (focal) {
    status.textContent = t("loading");
    loadNetwork(focal, direction, tiers)
      .then((view) => {
        if (!view) {
          status.textContent = `${focal}: ${t("none")}`;
          return;
        }
        nodes = view.payload.nodes;
        const edges = view.payload.edges;
        status.textContent = `${view.nodeCount} ${t("nodes")} · ${view.edgeCount} ${t("edges")}${view.truncated ? ` · ${t("truncated")}` : ""}`;
        status.dataset.ready = "true";
        const drawn = drawNetwork(canvas, nodes, edges, direction, highlight.size ? { affected: highlight } : {});
        cy = drawn;
        const pick = (id: string) => void showEnterprise(panel, id, edges);
        if (nodes.length > LARGE) removePicking = fastPicking(drawn, pick);
        else drawn.on("tap", "node", (ev) => pick(ev.target.id() as string));
        (window as unknown as { supplynetGraph?: Core }).supplynetGraph = drawn;
        const placed = layout === "geo" ? applyLayout(drawn, nodes, direction, "geo") : Promise.resolve(null);
        if (layout === "tier") canvas.dataset.layout = "tier";
        return placed.then((underlay) => {
          removeUnderlay = underlay;
          // Cytoscape draws in its own animation frame (its WebGL mode emits no "render" event): the mark
          // goes after the frame that follows the first one drawn.
          requestAnimationFrame(() =>
            requestAnimationFrame(() => performance.mark("supplynet:network-drawn", { detail: { nodes: nodes.length } })),
          );
        });
      })
      .catch((err: unknown) => {
        status.textContent = `${t("error")}: ${err instanceof Error ? err.message : String(err)}`;
        status.classList.add("error");
        status.dataset.ready = "error";
      });
  }
  return () => {
    removePicking?.();
    removeUnderlay?.();
    cy?.destroy();
    (window as unknown as { supplynetGraph?: Core }).supplynetGraph = undefined;
  };
}
