// View 3, What-if: take enterprises, facilities or a region out for a number of days; the affected
// tiers, time-to-survive against time-to-recover, shortfall and alternatives as tables, and the
// disrupted and affected enterprises highlighted on the disrupted enterprises' downstream network.
import type { Core } from "cytoscape";
import { gql } from "../api";
import { field, h, num, pct, table } from "../dom";
import { drawNetwork, type NetEdge, type NetNode } from "../graph";
import { t } from "../i18n";
import { showEnterprise } from "./enterprise-panel";
import { loadNetwork } from "./network";

interface Exposure {
  enterprise: { id: string; name: string | null };
  tier: number;
  lostShare: { sku: string; share: number | null }[];
  timeToSurvive: number;
  timeToRecover: number;
  shortfallDays: number;
  stopsSupplying: boolean;
  alternatives: { sku: string; suppliers: { id: string; name: string | null }[] }[];
}

interface WhatIf {
  affectedCount: number;
  truncated: boolean;
  products: string[];
  disrupted: { id: string; name: string | null }[];
  byTier: { tier: number; affected: number; stopSupplying: number; maxShortfallDays: number }[];
  exposures: Exposure[];
}

/** Exposures listed (the summary counts them all): 100 keeps the query under the API's default cost limit
 * (docs/graphql.md#limits); 200 with their alternatives was costed at 88,441 and refused. */
const EXPOSURES_SHOWN = 100;

const WHAT_IF = `query($e: [ID!], $f: [ID!], $r: String, $days: Float!, $tiers: Int!) {
  whatIf(enterprises: $e, facilities: $f, region: $r, days: $days, tiers: $tiers) {
    affectedCount truncated products disrupted { id name }
    byTier { tier affected stopSupplying maxShortfallDays }
    exposures(first: ${EXPOSURES_SHOWN}) { enterprise { id name } tier lostShare { sku share } timeToSurvive timeToRecover
      shortfallDays stopsSupplying alternatives { sku suppliers { id name } } } } }`;

/** How many disrupted enterprises' downstream networks are drawn (the tables list them all). */
const DRAWN_SOURCES = 5;

const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);

export function renderWhatIf(root: HTMLElement, params: URLSearchParams): () => void {
  const p = (k: string) => params.get(k) ?? "";
  let cy: Core | null = null;
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        for (const k of ["enterprises", "facilities", "region", "days", "tiers"]) {
          const v = field(form, k);
          if (v) q.set(k, v);
        }
        window.location.hash = `#/whatif?${q}`;
      },
    },
    h("label", {}, t("enterprises"), h("input", { name: "enterprises", value: p("enterprises"), "data-testid": "whatif-enterprises" })),
    h("label", {}, t("facilities"), h("input", { name: "facilities", value: p("facilities") })),
    h("label", {}, t("region"), h("input", { name: "region", value: p("region") })),
    h("label", {}, t("days"), h("input", { name: "days", type: "number", min: 1, value: p("days") || "30", "data-testid": "whatif-days" })),
    h("label", {}, t("tiers"), h("input", { name: "tiers", type: "number", min: 1, max: 8, value: p("tiers") || "4" })),
    h("button", { type: "submit", "data-testid": "whatif-run" }, t("run")),
  );
  const out = h("div", { "data-testid": "whatif-result" });
  const canvas = h("div", { class: "graph", "data-testid": "whatif-graph" });
  const panel = h("aside", { class: "panel" });
  root.append(form, out, h("div", { class: "split" }, canvas, panel));
  const enterprises = list(p("enterprises"));
  const facilities = list(p("facilities"));
  if (!enterprises.length && !facilities.length && !p("region")) return () => undefined;
  out.textContent = t("loading");
  const tiers = Number(p("tiers") || 4);
  void (async () => {
    try {
      const { whatIf } = await gql<{ whatIf: WhatIf }>(WHAT_IF, {
        e: enterprises.length ? enterprises : null,
        f: facilities.length ? facilities : null,
        r: p("region") || null,
        days: Number(p("days") || 30),
        tiers,
      });
      out.replaceChildren(...summary(whatIf));
      out.dataset.ready = "true";
      const disrupted = new Set(whatIf.disrupted.map((d) => d.id));
      const affected = new Set(whatIf.exposures.map((x) => x.enterprise.id));
      const views = await Promise.all(whatIf.disrupted.slice(0, DRAWN_SOURCES).map((d) => loadNetwork(d.id, "DOWNSTREAM", tiers)));
      const nodes = new Map<string, NetNode>();
      const edges = new Map<string, NetEdge>();
      for (const v of views) {
        for (const n of v?.payload.nodes ?? []) {
          const seen = nodes.get(n.id);
          if (!seen || seen.tier > n.tier) nodes.set(n.id, n);
        }
        for (const e of v?.payload.edges ?? []) edges.set(`${e.supplierId}|${e.buyerId}|${e.sku}`, e);
      }
      const edgeList = [...edges.values()];
      cy = drawNetwork(canvas, [...nodes.values()], edgeList, "DOWNSTREAM", { disrupted, affected });
      cy.on("tap", "node", (ev) => void showEnterprise(panel, ev.target.id() as string, edgeList));
      (window as unknown as { supplynetGraph?: Core }).supplynetGraph = cy;
      canvas.dataset.ready = "true";
    } catch (err) {
      out.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`));
    }
  })();
  return () => cy?.destroy();
}

function summary(w: WhatIf): HTMLElement[] {
  return [
    h(
      "p",
      { "data-testid": "whatif-summary" },
      `${t("disrupted")}: ${w.disrupted.map((d) => d.name ?? d.id).join(", ") || t("none")} · ${t("affected")}: ${w.affectedCount}` +
        (w.truncated ? ` · ${t("truncated")}` : ""),
    ),
    h("p", {}, `${t("products")}: ${w.products.join(", ") || t("none")}`),
    h("h3", {}, t("byTier")),
    table([t("tier"), t("affected"), t("stopSupplying"), t("maxShortfall")], w.byTier, (r) => [
      r.tier,
      r.affected,
      r.stopSupplying,
      num(r.maxShortfallDays, 1),
    ]),
    h("h3", {}, t("affected")),
    table(
      [t("name"), t("tier"), t("lostShare"), t("tts"), t("ttr"), t("shortfall"), t("alternatives")],
      w.exposures,
      (x) => [
        h("span", { class: x.stopsSupplying ? "stops" : "", "data-enterprise": x.enterprise.id }, x.enterprise.name ?? x.enterprise.id),
        x.tier,
        x.lostShare.map((s) => `${s.sku} ${s.share === null ? t("hidden") : pct(s.share)}`).join(", "),
        num(x.timeToSurvive, 1),
        num(x.timeToRecover, 1),
        num(x.shortfallDays, 1),
        x.alternatives.map((a) => `${a.sku}: ${a.suppliers.map((s) => s.name ?? s.id).join(", ") || t("none")}`).join("; "),
      ],
      "exposures",
    ),
  ];
}
