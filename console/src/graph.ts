// Drawing a supply network with Cytoscape.js: laid out by tier (material flows left to right) unless
// positions are given (by geography, geolayout.ts), enterprises coloured by risk score and sized by their
// dependents in the view, links by share and the supplier's risk. Enterprises cannot be dragged (a
// read-only view). Above LARGE nodes the level of detail drops while panning and zooming (no edges, a
// cached texture, no small labels, straight edges without arrows), so 5,000 nodes stay usable.
import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import { riskColour } from "./risk";

export interface NetNode {
  id: string;
  name: string | null;
  industry: string | null;
  region: string | null;
  riskScore: number | null;
  tier: number;
  /** In a region's view: whether the enterprise is of the region (false: a direct supplier or customer
   * outside it). Absent in a focal enterprise's view. */
  inRegion?: boolean;
}

export interface NetEdge {
  supplierId: string;
  buyerId: string;
  sku: string;
  share: number | null;
  leadTimeDays: number | null;
  redacted?: string[];
}

export interface Highlight {
  /** Drawn with a thick dark ring (e.g. the disrupted set of a what-if). */
  disrupted?: Set<string>;
  /** Drawn with an orange ring; everything else fades (e.g. the affected enterprises). */
  affected?: Set<string>;
}

/** Above this many nodes a view drops detail while moving and answers clicks itself (fastPicking). */
export const LARGE = 1500;
const TIER_GAP = 260;
const ROW_GAP = 46;
const SUB_GAP = 60;

/** Preset positions: one column per signed tier (suppliers left of their buyers), sorted by risk; a
 * crowded tier in several sub-columns. */
export function tierPositions(nodes: NetNode[], direction: "UPSTREAM" | "DOWNSTREAM"): Map<string, { x: number; y: number }> {
  const columns = new Map<number, NetNode[]>();
  for (const n of nodes) {
    const col = direction === "UPSTREAM" ? -n.tier : n.tier;
    const list = columns.get(col) ?? [];
    list.push(n);
    columns.set(col, list);
  }
  const out = new Map<string, { x: number; y: number }>();
  // A crowded tier takes several sub-columns; the next tier starts TIER_GAP after its last one, so
  // tiers never overlap however many enterprises one holds.
  let x = 0;
  for (const col of [...columns.keys()].sort((a, b) => a - b)) {
    const list = columns.get(col) as NetNode[];
    list.sort((a, b) => (b.riskScore ?? -1) - (a.riskScore ?? -1) || a.id.localeCompare(b.id));
    const perColumn = Math.max(1, Math.ceil(Math.sqrt(list.length * 4)));
    list.forEach((n, i) => {
      const sub = Math.floor(i / perColumn);
      const row = i % perColumn;
      const rows = Math.min(list.length, perColumn);
      out.set(n.id, { x: x + sub * SUB_GAP, y: (row - (rows - 1) / 2) * ROW_GAP });
    });
    x += (Math.ceil(list.length / perColumn) - 1) * SUB_GAP + TIER_GAP;
  }
  return out;
}

/** A region's view in material-flow columns (as tiers, drawn left to right): each enterprise of the
 * region one column right of its rightmost supplier in the region (a chain of suppliers in the region
 * gives a chain of columns; enterprises on a supply cycle stay in the column they were reached in), the
 * outside suppliers in the first column and the outside customers after the last (an outside
 * enterprise that is both stands with the suppliers). Deterministic. */
export function regionTiers(nodes: NetNode[], edges: NetEdge[]): NetNode[] {
  const member = new Set(nodes.filter((n) => n.inRegion !== false).map((n) => n.id));
  const buyers = new Map<string, Set<string>>();
  const indegree = new Map<string, number>([...member].map((id) => [id, 0]));
  const outsideSuppliers = new Set<string>();
  for (const e of edges) {
    if (member.has(e.supplierId) && member.has(e.buyerId)) {
      if (e.supplierId === e.buyerId) continue;
      const set = buyers.get(e.supplierId) ?? new Set<string>();
      if (!set.has(e.buyerId)) {
        set.add(e.buyerId);
        indegree.set(e.buyerId, (indegree.get(e.buyerId) ?? 0) + 1);
      }
      buyers.set(e.supplierId, set);
    } else if (member.has(e.buyerId)) outsideSuppliers.add(e.supplierId);
  }
  // Kahn's order: an enterprise's column is settled once all its suppliers in the region are.
  const stage = new Map<string, number>();
  const queue = [...member].filter((id) => indegree.get(id) === 0).sort();
  for (const id of queue) stage.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const b of [...(buyers.get(id) ?? [])].sort()) {
      stage.set(b, Math.max(stage.get(b) ?? 0, (stage.get(id) ?? 0) + 1));
      const left = (indegree.get(b) ?? 0) - 1;
      indegree.set(b, left);
      if (left === 0) queue.push(b);
    }
  }
  for (const id of member) if (!stage.has(id)) stage.set(id, 0); // on a cycle nothing settled
  const last = Math.max(0, ...stage.values());
  return nodes.map((n) => ({
    ...n,
    tier: member.has(n.id) ? 1 + (stage.get(n.id) ?? 0) : outsideSuppliers.has(n.id) ? 0 : last + 2,
  }));
}

/** Distinct buyers of each enterprise within the view. */
export function dependents(edges: NetEdge[]): Map<string, number> {
  const buyers = new Map<string, Set<string>>();
  for (const e of edges) {
    const set = buyers.get(e.supplierId) ?? new Set<string>();
    set.add(e.buyerId);
    buyers.set(e.supplierId, set);
  }
  return new Map([...buyers].map(([k, v]) => [k, v.size]));
}

/** Draws the network; laid out by tier unless `positions` (e.g. by geography) are given. */
export function drawNetwork(
  container: HTMLElement,
  nodes: NetNode[],
  edges: NetEdge[],
  direction: "UPSTREAM" | "DOWNSTREAM",
  highlight: Highlight = {},
  positions: Map<string, { x: number; y: number }> = tierPositions(nodes, direction),
): Core {
  const deps = dependents(edges);
  const risk = new Map(nodes.map((n) => [n.id, n.riskScore]));
  const large = nodes.length > LARGE;
  const elements: ElementDefinition[] = nodes.map((n) => ({
    group: "nodes",
    data: {
      id: n.id,
      label: n.name ?? n.id,
      colour: riskColour(n.riskScore),
      size: 18 + Math.min(42, 8 * Math.sqrt(deps.get(n.id) ?? 0)),
      tier: n.tier,
    },
    position: positions.get(n.id),
    classes: [
      n.tier === 0 && n.inRegion === undefined ? "focal" : "",
      n.inRegion === false ? "outside" : "",
      highlight.disrupted?.has(n.id) ? "disrupted" : "",
      highlight.affected?.has(n.id) ? "affected" : "",
      (highlight.affected || highlight.disrupted) && !highlight.affected?.has(n.id) && !highlight.disrupted?.has(n.id)
        ? "faded"
        : "",
    ]
      .filter(Boolean)
      .join(" "),
  }));
  edges.forEach((e, i) => {
    const supplierRisk = risk.get(e.supplierId) ?? null;
    elements.push({
      group: "edges",
      data: {
        id: `e${i}`,
        source: e.supplierId,
        target: e.buyerId,
        width: e.share === null ? 1 : 1 + 5 * e.share,
        colour: riskColour(supplierRisk === null ? null : supplierRisk * (e.share ?? 0.5)),
      },
      classes: e.share === null ? "redacted" : "",
    });
  });
  return cytoscape({
    container,
    elements,
    layout: { name: "preset", fit: true, padding: 30 },
    minZoom: 0.02,
    maxZoom: 4,
    wheelSensitivity: 0.3,
    autoungrabify: true,
    hideEdgesOnViewport: large,
    textureOnViewport: large,
    pixelRatio: large ? 1 : "auto",
    style: [
      {
        selector: "node",
        style: {
          "background-color": "data(colour)",
          width: "data(size)",
          height: "data(size)",
          label: "data(label)",
          "font-size": 11,
          "min-zoomed-font-size": large ? 10 : 6,
          "text-valign": "bottom",
          "text-margin-y": 3,
          color: "#1f2933",
        },
      },
      { selector: "node.focal", style: { shape: "round-rectangle", "border-width": 3, "border-color": "#1f2933" } },
      {
        selector: "node.outside",
        style: { "border-width": 2, "border-style": "dashed", "border-color": "#52606d", "background-opacity": 0.6 },
      },
      { selector: "node.fresh", style: { "border-width": 4, "border-color": "#2563eb", "border-style": "double" } },
      { selector: "node.disrupted", style: { "border-width": 5, "border-color": "#111", shape: "diamond" } },
      { selector: "node.affected", style: { "border-width": 4, "border-color": "#ff8c00" } },
      { selector: "node.faded", style: { opacity: 0.3 } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#2563eb" } },
      {
        selector: "edge",
        style: {
          width: "data(width)",
          "line-color": "data(colour)",
          "target-arrow-color": "data(colour)",
          "target-arrow-shape": large ? "none" : "triangle",
          "curve-style": large ? "haystack" : "bezier",
          opacity: 0.7,
        },
      },
      { selector: "edge.redacted", style: { "line-style": "dashed" } },
    ],
  });
}

/** Picks in a large view without Cytoscape's own click handling: a press on an enterprise is answered
 * here (its nearest node within its drawn radius, from a grid of the fixed positions) and never reaches
 * Cytoscape, which would redraw the whole graph up to three times (the node made active, released,
 * selected) — hundreds of ms of main thread at 5,000 nodes. The picked enterprise gets a ring on a
 * canvas of its own above the graph. A press elsewhere pans and zooms as usual. Returns the function
 * that removes it. */
export function fastPicking(cy: Core, onPick: (id: string) => void): () => void {
  const container = cy.container() as HTMLElement;
  const CELL = 80;
  const grid = new Map<string, { id: string; x: number; y: number; r: number }[]>();
  const index = () => {
    grid.clear();
    cy.nodes().forEach((n) => {
      const p = n.position();
      const key = `${Math.floor(p.x / CELL)},${Math.floor(p.y / CELL)}`;
      const list = grid.get(key) ?? [];
      list.push({ id: n.id(), x: p.x, y: p.y, r: Number(n.data("size")) / 2 });
      grid.set(key, list);
    });
  };
  index();
  const ring = document.createElement("canvas");
  ring.className = "overlay";
  container.append(ring);
  const ctx = ring.getContext("2d") as CanvasRenderingContext2D;
  let picked: { x: number; y: number; r: number } | null = null;
  const paint = () => {
    const ratio = window.devicePixelRatio || 1;
    ring.width = Math.round(container.clientWidth * ratio);
    ring.height = Math.round(container.clientHeight * ratio);
    if (!picked) return;
    const zoom = cy.zoom();
    const pan = cy.pan();
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.beginPath();
    ctx.arc(picked.x * zoom + pan.x, picked.y * zoom + pan.y, Math.max(6, picked.r * zoom + 3), 0, 2 * Math.PI);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#2563eb";
    ctx.stroke();
  };
  cy.on("viewport resize", paint);
  const relaid = () => {
    picked = null;
    index();
    paint();
  };
  cy.on("layoutstop", relaid);
  let swallowUp = false;
  const down = (ev: MouseEvent) => {
    if (ev.button !== 0) return;
    const box = container.getBoundingClientRect();
    const zoom = cy.zoom();
    const pan = cy.pan();
    const x = (ev.clientX - box.left - pan.x) / zoom;
    const y = (ev.clientY - box.top - pan.y) / zoom;
    let best: { id: string; x: number; y: number; r: number } | null = null;
    let bestDistance = Infinity;
    const cx = Math.floor(x / CELL);
    const cyCell = Math.floor(y / CELL);
    for (let i = cx - 1; i <= cx + 1; i++) {
      for (let j = cyCell - 1; j <= cyCell + 1; j++) {
        for (const n of grid.get(`${i},${j}`) ?? []) {
          const d = Math.hypot(n.x - x, n.y - y);
          if (d <= Math.max(n.r, 4 / zoom) && d < bestDistance) {
            best = n;
            bestDistance = d;
          }
        }
      }
    }
    if (!best) return;
    ev.stopPropagation();
    ev.preventDefault();
    swallowUp = true;
    picked = best;
    paint();
    onPick(best.id);
  };
  const up = (ev: MouseEvent) => {
    if (!swallowUp) return;
    swallowUp = false;
    ev.stopPropagation();
  };
  container.addEventListener("mousedown", down, true);
  window.addEventListener("mouseup", up, true);
  return () => {
    container.removeEventListener("mousedown", down, true);
    window.removeEventListener("mouseup", up, true);
    cy.off("viewport resize", paint);
    cy.off("layoutstop", relaid);
    ring.remove();
  };
}
