// The panel a click on an enterprise opens: its risk breakdown in words, KPIs, suppliers, customers
// and open orders. The breakdown comes from riskyNodes around a neighbour in the view (the focal
// enterprise of a riskyNodes query is never in its own answer).
import { gql } from "../api";
import { h, num, pct, table } from "../dom";
import type { NetEdge } from "../graph";
import { t } from "../i18n";
import { breakdownView, riskColour, type Breakdown } from "../risk";

interface Link {
  sku: string;
  share: number | null;
  leadTimeDays: number | null;
  redacted: string[];
  partner: { id: string; name: string | null };
}

interface EnterpriseDetail {
  id: string;
  name: string | null;
  industry: string | null;
  region: string | null;
  riskScore: number | null;
  suppliers: Link[];
  customers: Link[];
  kpis: {
    otifRate90d: number | null;
    leadTimeMeanDays90d: number | null;
    qualityIncidentRate90d: number | null;
    openOrders: number | null;
    daysOfCover: number | null;
  } | null;
}

const DETAIL = `query($id: ID!) { enterprise(id: $id) { id name industry region riskScore
  suppliers { sku share leadTimeDays redacted partner { id name } }
  customers { sku share leadTimeDays redacted partner { id name } }
  kpis { otifRate90d leadTimeMeanDays90d qualityIncidentRate90d openOrders daysOfCover } } }`;

const AROUND = `query($f: ID!, $d: Direction!) { riskyNodes(focalId: $f, tiers: 1, direction: $d, first: 1000) {
  enterpriseId factors } }`;

async function breakdownOf(id: string, edges: NetEdge[]): Promise<Breakdown | null> {
  const asSupplier = edges.find((e) => e.supplierId === id);
  const asBuyer = edges.find((e) => e.buyerId === id);
  const probe = asSupplier
    ? { f: asSupplier.buyerId, d: "UPSTREAM" }
    : asBuyer
      ? { f: asBuyer.supplierId, d: "DOWNSTREAM" }
      : null;
  if (!probe) return null;
  const rows = await gql<{ riskyNodes: { enterpriseId: string; factors: Breakdown | null }[] }>(AROUND, probe);
  return rows.riskyNodes.find((r) => r.enterpriseId === id)?.factors ?? null;
}

function links(list: Link[], testId: string): HTMLElement {
  if (!list.length) return h("p", { class: "muted" }, t("none"));
  return table(
    [t("name"), t("sku"), t("share"), t("leadTimeDays")],
    list,
    (l) => [
      h("a", { href: `#/network?focal=${encodeURIComponent(l.partner.id)}` }, l.partner.name ?? l.partner.id),
      l.sku,
      l.redacted.includes("share") ? t("hidden") : pct(l.share),
      l.leadTimeDays ?? "—",
    ],
    testId,
  );
}

/** Fills `panel` with the enterprise's details; the errors of the API are shown in words. */
export async function showEnterprise(panel: HTMLElement, id: string, edges: NetEdge[]): Promise<void> {
  panel.replaceChildren(h("p", { class: "muted" }, t("loading")));
  try {
    // The details first; then the breakdown fills its place when its (slower) query answers.
    const detail = await gql<{ enterprise: EnterpriseDetail | null }>(DETAIL, { id });
    const breakdown = h("div", {}, h("p", { class: "muted" }, t("loading")));
    void breakdownOf(id, edges)
      .catch(() => null)
      .then((b) => breakdown.replaceChildren(breakdownView(b)));
    const e = detail.enterprise;
    if (!e) {
      panel.replaceChildren(h("p", { class: "error" }, `${id}: ${t("none")}`));
      return;
    }
    const k = e.kpis;
    panel.replaceChildren(
      h("h2", { "data-testid": "panel-name" }, e.name ?? e.id),
      h(
        "p",
        {},
        `${t("id")}: ${e.id} · ${t("industry")}: ${e.industry ?? "—"} · ${t("region")}: ${e.region ?? "—"}`,
      ),
      h(
        "p",
        {},
        `${t("score")}: `,
        h("span", { class: "score", style: `background:${riskColour(e.riskScore)}` }, num(e.riskScore)),
      ),
      h("h3", {}, t("breakdown")),
      breakdown,
      h("h3", {}, t("kpis")),
      table(
        [t("otif90"), t("leadTime90"), t("quality90"), t("openOrders"), t("daysOfCover")],
        [k],
        (x) => [
          pct(x?.otifRate90d),
          num(x?.leadTimeMeanDays90d, 1),
          pct(x?.qualityIncidentRate90d),
          x?.openOrders ?? "—",
          num(x?.daysOfCover, 1),
        ],
        "kpis",
      ),
      h("h3", {}, t("suppliers")),
      links(e.suppliers, "suppliers"),
      h("h3", {}, t("customers")),
      links(e.customers, "customers"),
    );
  } catch (err) {
    panel.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`));
  }
}
