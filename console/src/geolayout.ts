// The network laid out by geography: every enterprise inside the outline of its region (the API gives an
// enterprise's region, not its facilities' coordinates), spread on a sunflower spiral around the
// region's centre so that none overlap; enterprises of regions the shipped map does not draw (or of
// none) in a column left of the map. The outlines are drawn under the graph on a canvas of their own
// that follows the graph's pan and zoom. The geography (src/geo/hubei-region.json) is the data map's,
// loaded only when this layout is chosen.
import type { Core } from "cytoscape";

type Ring = [number, number][];

interface Feature {
  properties: { name: string };
  geometry: { type: "Polygon"; coordinates: Ring[] } | { type: "MultiPolygon"; coordinates: Ring[][] };
}

export interface Region {
  name: string;
  /** Outer rings in model coordinates (px). */
  rings: Ring[];
  centre: [number, number];
  area: number;
}

export interface Geography {
  regions: Map<string, Region>;
  /** Model-coordinate bounds of every outline: [minX, minY, maxX, maxY]. */
  bounds: [number, number, number, number];
}

/** Model pixels per degree of latitude (longitude is shortened by cos(30° N)): a few neighbouring
 * cities fill the view at zoom ~1, where enterprises are drawn at their usual size. */
const SCALE = 200;
const COS_LAT = Math.cos((30 * Math.PI) / 180);
const GOLDEN_ANGLE = Math.PI * (3 - Math.sqrt(5));
/** The closest two enterprises of a region are placed (model px). */
const MIN_SPACING = 3;
const MAX_SPACING = 40;

export function project(lon: number, lat: number): [number, number] {
  return [lon * SCALE * COS_LAT, -lat * SCALE];
}

function ringArea(r: Ring): number {
  let a = 0;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j][0] + r[i][0]) * (r[j][1] - r[i][1]);
  return Math.abs(a / 2);
}

function ringCentroid(r: Ring): [number, number] {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
    const f = r[j][0] * r[i][1] - r[i][0] * r[j][1];
    a += f;
    cx += (r[j][0] + r[i][0]) * f;
    cy += (r[j][1] + r[i][1]) * f;
  }
  if (a === 0) return r[0];
  return [cx / (3 * a), cy / (3 * a)];
}

export function inside(rings: Ring[], x: number, y: number): boolean {
  let hit = false;
  for (const r of rings) {
    for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
      const [xi, yi] = r[i];
      const [xj, yj] = r[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
  }
  return hit;
}

/** The shipped outlines in model coordinates, by supplynet region name. */
export function geography(collection: { features: Feature[] }): Geography {
  const regions = new Map<string, Region>();
  const bounds: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const f of collection.features) {
    const polygons = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    const rings = polygons.map((p) => p[0].map(([lon, lat]) => project(lon, lat)));
    for (const r of rings) {
      for (const [x, y] of r) {
        bounds[0] = Math.min(bounds[0], x);
        bounds[1] = Math.min(bounds[1], y);
        bounds[2] = Math.max(bounds[2], x);
        bounds[3] = Math.max(bounds[3], y);
      }
    }
    const largest = rings.reduce((a, b) => (ringArea(b) > ringArea(a) ? b : a));
    let centre = ringCentroid(largest);
    if (!inside(rings, centre[0], centre[1])) centre = largest[0];
    regions.set(f.properties.name, { name: f.properties.name, rings, centre, area: rings.reduce((s, r) => s + ringArea(r), 0) });
  }
  return { regions, bounds };
}

/** `count` points inside the region, from its centre outwards on a sunflower spiral; deterministic. */
export function spread(region: Region, count: number): [number, number][] {
  const spacing = Math.max(MIN_SPACING, Math.min(MAX_SPACING, 0.7 * Math.sqrt(region.area / Math.max(1, count))));
  const out: [number, number][] = [];
  const [cx, cy] = region.centre;
  // Points outside the outline are skipped; after many misses the spiral just continues (a long, thin
  // region), so every enterprise gets a place.
  for (let k = 0, tries = 0; out.length < count; k++, tries++) {
    const r = spacing * Math.sqrt(k);
    const x = cx + r * Math.cos(k * GOLDEN_ANGLE);
    const y = cy + r * Math.sin(k * GOLDEN_ANGLE);
    if (inside(region.rings, x, y) || tries > 20 * count + 200) out.push([x, y]);
  }
  return out;
}

/** Positions by region; enterprises of unmapped regions in a grid left of the map. Sorted by id
 * within a region, so the same view always draws the same way. */
export function geoPositions(
  nodes: { id: string; region: string | null }[],
  geo: Geography,
): { positions: Map<string, { x: number; y: number }>; unmappedAt: { x: number; y: number } | null; used: Set<string> } {
  const byRegion = new Map<string, string[]>();
  const unmapped: string[] = [];
  for (const n of nodes) {
    if (n.region && geo.regions.has(n.region)) {
      const list = byRegion.get(n.region) ?? [];
      list.push(n.id);
      byRegion.set(n.region, list);
    } else unmapped.push(n.id);
  }
  const positions = new Map<string, { x: number; y: number }>();
  for (const [name, ids] of byRegion) {
    ids.sort();
    spread(geo.regions.get(name) as Region, ids.length).forEach(([x, y], i) => positions.set(ids[i], { x, y }));
  }
  // The column starts left of the outlines of the regions in the view (of the whole map when none are).
  let [minX, minY] = geo.bounds;
  if (byRegion.size) {
    const points = [...byRegion.keys()].flatMap((name) => (geo.regions.get(name) as Region).rings.flat());
    minX = Math.min(...points.map((p) => p[0])) - 60;
    minY = Math.min(...points.map((p) => p[1]));
  }
  unmapped.sort();
  const perColumn = Math.max(1, Math.ceil(Math.sqrt(unmapped.length * 3)));
  unmapped.forEach((id, i) => {
    const col = Math.floor(i / perColumn);
    positions.set(id, { x: minX - col * 30, y: minY + 30 + (i % perColumn) * 30 });
  });
  const unmappedAt = unmapped.length ? { x: minX, y: minY } : null;
  return { positions, unmappedAt, used: new Set(byRegion.keys()) };
}

/** A canvas under the graph with the outlines (regions in the view filled) and their names; it follows
 * the graph's pan and zoom. Returns the function that removes it. */
export function drawUnderlay(
  cy: Core,
  geo: Geography,
  used: Set<string>,
  unmapped: { label: string; at: { x: number; y: number } } | null,
): () => void {
  const container = cy.container() as HTMLElement;
  const canvas = document.createElement("canvas");
  canvas.className = "underlay";
  canvas.dataset.testid = "geo-underlay";
  container.prepend(canvas);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  let frame = 0;
  const paint = () => {
    frame = 0;
    const ratio = window.devicePixelRatio || 1;
    const w = container.clientWidth;
    const hgt = container.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(hgt * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(hgt * ratio);
    }
    const zoom = cy.zoom();
    const pan = cy.pan();
    ctx.setTransform(ratio * zoom, 0, 0, ratio * zoom, ratio * pan.x, ratio * pan.y);
    ctx.clearRect(-pan.x / zoom, -pan.y / zoom, w / zoom, hgt / zoom);
    ctx.lineWidth = 1 / zoom;
    for (const region of geo.regions.values()) {
      ctx.beginPath();
      for (const ring of region.rings) {
        ring.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.closePath();
      }
      ctx.fillStyle = used.has(region.name) ? "#eef2f7" : "#fafbfc";
      ctx.fill();
      ctx.strokeStyle = region.name.startsWith("湖北省") ? "#7b8794" : "#cbd2d9";
      ctx.stroke();
    }
    ctx.fillStyle = "#52606d";
    ctx.textAlign = "center";
    ctx.font = `${12 / zoom}px system-ui, sans-serif`;
    for (const name of used) {
      const region = geo.regions.get(name) as Region;
      const [x, y] = region.centre;
      ctx.fillText(name.split(" ").pop() ?? name, x, y - 14 / zoom);
    }
    if (unmapped) {
      ctx.textAlign = "left";
      ctx.fillText(unmapped.label, unmapped.at.x - 12, unmapped.at.y);
    }
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(paint);
  };
  cy.on("viewport resize", schedule);
  paint();
  return () => {
    if (frame) cancelAnimationFrame(frame);
    cy.off("viewport resize", schedule);
    canvas.remove();
  };
}
