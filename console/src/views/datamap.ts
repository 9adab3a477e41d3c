// View 5, Data map (for officials): the network by city and by industry — enterprises, supply links,
// delivery performance (OTIF), risk distribution, critical-material concentration — as a choropleth
// and tables; a click on a city (map or table) lists its enterprises.
// Route: #/datamap?metric=enterprises&region=湖北省 武汉市
import { gql } from "../api";
import type { Choropleth } from "../choropleth";
import { h, num, pct, table } from "../dom";
import { industryName, t, type MessageId } from "../i18n";
import { riskColour } from "../risk";

interface Bucket {
  low: number;
  high: number;
  enterprises: number;
}

interface Area {
  key: string;
  enterprises: number;
  links: number;
  linksOut: number;
  linksIn: number;
  deliveries90d: number;
  otifRate90d: number | null;
  meanRiskScore: number | null;
  unscored: number;
  riskHistogram: Bucket[];
}

interface Material {
  sku: string;
  name: string | null;
  category: string | null;
  suppliers: number;
  hhi: number;
  topRegion: string;
  topShare: number;
}

interface Region extends Area {
  criticalMaterials: { sku: string; name: string | null; topShare: number }[];
}

export interface DataMapAnswer {
  asOf: string;
  partnerOf: string | null;
  weighting: string;
  totals: Area;
  regions: Region[];
  industries: Area[];
  criticalMaterials: Material[];
}

interface Drilled {
  totalCount: number;
  edges: { node: { id: string; name: string | null; industry: string | null; riskScore: number | null } }[];
}

const DATA_MAP = `query { dataMap { asOf partnerOf weighting totals { ...K } regions { ...K criticalMaterials { sku name topShare } }
  industries { ...K } criticalMaterials(first: 50) { sku name category suppliers hhi topRegion topShare } } }
  fragment K on AreaKpis { key enterprises links linksOut linksIn deliveries90d otifRate90d meanRiskScore unscored
    riskHistogram { low high enterprises } }`;

/** Enterprises listed in a drill-down (the count above the list says how many there are). */
const DRILL_SHOWN = 500;

const DRILL = `query($r: String!) { enterprises(first: ${DRILL_SHOWN}, region: $r, orderBy: RISK_DESC) {
  totalCount edges { node { id name industry riskScore } } } }`;

/** The scores from which an enterprise counts as high-risk on the map (the top two histogram bins). */
const HIGH_RISK = 0.6;

const METRICS = {
  enterprises: { label: "metric.enterprises", value: (a: Region) => a.enterprises, format: (v: number) => v.toFixed(0), colours: ["#dbeafe", "#1e3a8a"] },
  links: { label: "metric.links", value: (a: Region) => a.links, format: (v: number) => v.toFixed(0), colours: ["#e0f2fe", "#0c4a6e"] },
  otif: { label: "otif90", value: (a: Region) => a.otifRate90d, format: (v: number) => pct(v), colours: ["#dc2626", "#16a34a"] },
  meanRisk: { label: "metric.meanRisk", value: (a: Region) => a.meanRiskScore, format: (v: number) => v.toFixed(2), colours: ["#fef3c7", "#b91c1c"] },
  highRisk: { label: "metric.highRisk", value: highRisk, format: (v: number) => v.toFixed(0), colours: ["#fef3c7", "#b91c1c"] },
  critical: { label: "metric.critical", value: (a: Region) => a.criticalMaterials.length, format: (v: number) => v.toFixed(0), colours: ["#f3e8ff", "#6b21a8"] },
} as const satisfies Record<
  string,
  { label: MessageId; value: (a: Region) => number | null; format: (v: number) => string; colours: [string, string] }
>;

type Metric = keyof typeof METRICS;

function highRisk(a: Area): number {
  return a.riskHistogram.filter((b) => b.low >= HIGH_RISK - 1e-9).reduce((n, b) => n + b.enterprises, 0);
}

function histogram(a: Area): HTMLElement {
  const total = Math.max(1, a.enterprises);
  return h(
    "span",
    { class: "histogram", title: `${t("unscored")}: ${a.unscored}` },
    ...a.riskHistogram.map((b) =>
      h("span", {
        class: "bin",
        title: `${b.low.toFixed(1)}–${b.high.toFixed(1)}: ${b.enterprises}`,
        style: `width:${(80 * b.enterprises) / total}px;background:${riskColour((b.low + b.high) / 2)}`,
      }),
    ),
    h("span", { class: "muted" }, ` ${a.riskHistogram.map((b) => b.enterprises).join("/")}`),
  );
}

function areaCells(a: Area): (Node | string)[] {
  return [
    String(a.enterprises),
    String(a.links),
    String(a.linksOut),
    String(a.linksIn),
    pct(a.otifRate90d),
    num(a.meanRiskScore),
    histogram(a),
  ];
}

function areaHeaders(first: MessageId): string[] {
  return [t(first), t("enterprisesCount"), t("metric.links"), t("linksOut"), t("linksIn"), t("otif90"), t("metric.meanRisk"), t("riskDistribution")];
}

function setParam(key: string, value: string): void {
  const [, query] = window.location.hash.split("?");
  const params = new URLSearchParams(query ?? "");
  params.set(key, value);
  history.replaceState(null, "", `#/datamap?${params}`);
}

export function renderDataMap(root: HTMLElement, params: URLSearchParams): () => void {
  const asked = params.get("metric") ?? "";
  let metric: Metric = asked in METRICS ? (asked as Metric) : "enterprises";
  let map: Choropleth | null = null;
  let answer: DataMapAnswer | null = null;
  let stopped = false;

  const status = h("p", { class: "status", "data-testid": "datamap-status" }, t("loading"));
  const totals = h("p", { "data-testid": "datamap-totals" });
  const select = h(
    "select",
    {
      name: "metric",
      "data-testid": "datamap-metric",
      onchange: (ev: Event) => {
        metric = (ev.target as HTMLSelectElement).value as Metric;
        setParam("metric", metric);
        colour();
      },
    },
    ...Object.entries(METRICS).map(([k, m]) => h("option", { value: k, selected: k === metric }, t(m.label))),
  );
  const canvas = h("div", { class: "graph map", "data-testid": "datamap-map" });
  const drill = h("aside", { class: "panel", "data-testid": "datamap-drill" }, h("p", { class: "muted" }, t("pickRegion")));
  const tables = h("div", {});
  root.append(
    h("form", { class: "toolbar", onsubmit: (ev: Event) => ev.preventDefault() }, h("label", {}, t("metric"), select)),
    status,
    totals,
    h("div", { class: "split" }, canvas, drill),
    tables,
  );

  function colour(): void {
    if (!map || !answer) return;
    const m = METRICS[metric];
    const values = new Map<string, number>();
    for (const r of answer.regions) {
      const v = m.value(r);
      if (v !== null) values.set(r.key, v);
    }
    map.show(values, t(m.label), [...m.colours], m.format);
  }

  async function pick(region: string): Promise<void> {
    setParam("region", region);
    map?.pick(region);
    drill.replaceChildren(h("h2", {}, region || t("unknownRegion")), h("p", { class: "muted" }, t("loading")));
    try {
      const { enterprises } = await gql<{ enterprises: Drilled }>(DRILL, { r: region });
      if (stopped) return;
      drill.replaceChildren(
        h("h2", { "data-testid": "drill-region" }, region || t("unknownRegion")),
        h("p", { "data-testid": "drill-count" }, `${t("enterprisesCount")}: ${enterprises.totalCount}`),
        region
          ? h("p", {}, h("a", { href: `#/network?${new URLSearchParams({ region })}`, "data-testid": "drill-network" }, t("regionNetwork")))
          : "",
        table(
          [t("name"), t("industry"), t("score")],
          enterprises.edges.map((e) => e.node),
          (e) => [
            h("a", { href: `#/network?focal=${encodeURIComponent(e.id)}`, "data-enterprise": e.id }, e.name ?? e.id),
            industryName(e.industry),
            h("span", { class: "score", style: `background:${riskColour(e.riskScore)}` }, num(e.riskScore)),
          ],
          "drill-enterprises",
        ),
      );
      drill.dataset.ready = "true";
    } catch (err) {
      drill.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  function drawTables(a: DataMapAnswer, mapped: ReadonlySet<string>): void {
    const regionLink = (key: string) =>
      h("button", { type: "button", class: "link", onclick: () => void pick(key), "data-pick": key }, key || t("unknownRegion"));
    tables.replaceChildren(
      h("h3", {}, t("byRegion")),
      table(
        [...areaHeaders("region"), t("criticalMaterials")],
        a.regions,
        (r) => [
          h("span", {}, regionLink(r.key), mapped.has(r.key) ? null : h("span", { class: "muted" }, ` (${t("notOnMap")})`)),
          ...areaCells(r),
          r.criticalMaterials.map((m) => `${m.name ?? m.sku} ${pct(m.topShare)}`).join(", ") || "—",
        ],
        "datamap-regions",
      ),
      h("h3", {}, t("byIndustry")),
      table(areaHeaders("industry"), a.industries, (r) => [industryName(r.key), ...areaCells(r)], "datamap-industries"),
      h("h3", {}, t("criticalMaterials")),
      table(
        [t("sku"), t("name"), t("topRegion"), t("share"), "HHI", t("suppliers")],
        a.criticalMaterials,
        (m) => [m.sku, m.name ?? "—", m.topRegion, pct(m.topShare), num(m.hhi), String(m.suppliers)],
        "datamap-materials",
      ),
    );
    for (const row of tables.querySelectorAll<HTMLTableRowElement>('[data-testid="datamap-regions"] tbody tr')) {
      const key = row.querySelector<HTMLElement>("[data-pick]")?.dataset.pick;
      if (key !== undefined) row.dataset.region = key;
    }
  }

  void (async () => {
    try {
      const [{ dataMap }, { choropleth, MAPPED_REGIONS }] = await Promise.all([
        gql<{ dataMap: DataMapAnswer }>(DATA_MAP),
        import("../choropleth"),
      ]);
      if (stopped) return;
      answer = dataMap;
      const tot = dataMap.totals;
      totals.textContent =
        `${dataMap.partnerOf ? `${t("partnerScope")} ${dataMap.partnerOf} · ` : `${t("network")} · `}` +
        `${t("enterprisesCount")} ${tot.enterprises} · ${t("metric.links")} ${tot.links} · ` +
        `${t("otif90")} ${pct(tot.otifRate90d)} · ${t("metric.meanRisk")} ${num(tot.meanRiskScore)} · ` +
        `${t("metric.highRisk")} ${highRisk(tot)} · ${t("criticalMaterials")} ${dataMap.criticalMaterials.length}`;
      map = choropleth(canvas, (region) => void pick(region));
      // "Ready" means drawn: ECharts lays out on setOption but paints, and builds the list a click is
      // hit-tested against, on a later animation frame; a click before that frame finds no region.
      const drawn = new Promise<void>((resolve) => map?.chart.on("finished", () => resolve()));
      colour();
      drawTables(dataMap, MAPPED_REGIONS);
      await drawn;
      if (stopped) return;
      status.textContent = `${t("asOf")} ${dataMap.asOf} · ${dataMap.regions.length} ${t("regionsCount")} · ${dataMap.industries.length} ${t("industriesCount")}`;
      status.dataset.ready = "true";
      (window as unknown as { supplynetDataMap?: unknown }).supplynetDataMap = { chart: map.chart, answer: dataMap };
      performance.mark("supplynet:datamap-drawn");
      const region = params.get("region");
      if (region !== null) void pick(region);
    } catch (err) {
      status.textContent = `${t("error")}: ${err instanceof Error ? err.message : String(err)}`;
      status.classList.add("error");
      status.dataset.ready = "error";
    }
  })();

  return () => {
    stopped = true;
    map?.dispose();
    (window as unknown as { supplynetDataMap?: unknown }).supplynetDataMap = undefined;
  };
}
