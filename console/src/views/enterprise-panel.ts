// The panel a click on an enterprise opens: its risk breakdown in words, KPIs, suppliers, customers
// and open orders (as supplier and as buyer, from the orders record view). The breakdown comes from
// riskyNodes around a neighbour in the view (the focal enterprise of a riskyNodes query is never in its
// own answer). A partner's prices of orders it is not party to come back null (redacted): "hidden".
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

/** Open orders listed per side (the KPI above counts them all). */
const ORDERS_SHOWN = 50;

const OPEN_ORDERS = `query($id: ID!) {
  asSupplier: orders(supplierId: $id, openOnly: true, first: ${ORDERS_SHOWN}) { edges { node { ...Open } } pageInfo { hasNextPage } }
  asBuyer: orders(buyerId: $id, openOnly: true, first: ${ORDERS_SHOWN}) { edges { node { ...Open } } pageInfo { hasNextPage } } }
  fragment Open on Order { orderId supplierId buyerId sku status quantity dueDate late unitPrice currency redacted }`;

interface OpenOrder {
  orderId: string;
  supplierId: string;
  buyerId: string;
  sku: string | null;
  status: "PLACED" | "CONFIRMED" | "SHIPPED";
  quantity: number | null;
  dueDate: string | null;
  late: boolean;
  unitPrice: number | null;
  currency: string | null;
  redacted: string[];
}

interface OrderPage {
  edges: { node: OpenOrder }[];
  pageInfo: { hasNextPage: boolean };
}

/** Late first, then the soonest due, then by id. */
function byUrgency(a: OpenOrder, b: OpenOrder): number {
  return Number(b.late) - Number(a.late) || (a.dueDate ?? "9999").localeCompare(b.dueDate ?? "9999") || a.orderId.localeCompare(b.orderId);
}

function orderTable(page: OrderPage, side: "supplier" | "buyer", names: Map<string, string>): HTMLElement {
  const rows = page.edges.map((e) => e.node).sort(byUrgency);
  if (!rows.length) return h("p", { class: "muted", "data-testid": `orders-${side}` }, t("none"));
  const out = table(
    [t("order"), t("counterparty"), t("sku"), t("quantity"), t("dueDate"), t("status"), t("late"), t("unitPrice")],
    rows,
    (o) => {
      const other = side === "supplier" ? o.buyerId : o.supplierId;
      return [
        h("span", { "data-order": o.orderId }, o.orderId),
        h("a", { href: `#/network?focal=${encodeURIComponent(other)}` }, names.get(other) ?? other),
        o.sku ?? "—",
        o.quantity ?? "—",
        o.dueDate ?? "—",
        t(`orderStatus.${o.status}`),
        o.late ? t("late") : "—",
        o.redacted.includes("unitPrice") ? t("hidden") : o.unitPrice === null ? "—" : `${o.unitPrice} ${o.currency ?? ""}`.trim(),
      ];
    },
    `orders-${side}`,
  );
  out.classList.add("orders");
  rows.forEach((o, i) => {
    const cell = out.querySelectorAll("tbody tr")[i]?.children[6];
    if (o.late) cell?.classList.add("late");
  });
  if (!page.pageInfo.hasNextPage) return out;
  return h("div", {}, out, h("p", { class: "muted" }, `${t("shownFirst")} ${ORDERS_SHOWN}`));
}

/** The enterprise's open orders as supplier and as buyer; the record store's errors in words. */
async function openOrders(id: string, names: Map<string, string>): Promise<HTMLElement[]> {
  try {
    const d = await gql<{ asSupplier: OrderPage; asBuyer: OrderPage }>(OPEN_ORDERS, { id });
    return [
      h("h3", {}, `${t("openOrdersAsSupplier")} (${d.asSupplier.edges.length}${d.asSupplier.pageInfo.hasNextPage ? "+" : ""})`),
      orderTable(d.asSupplier, "supplier", names),
      h("h3", {}, `${t("openOrdersAsBuyer")} (${d.asBuyer.edges.length}${d.asBuyer.pageInfo.hasNextPage ? "+" : ""})`),
      orderTable(d.asBuyer, "buyer", names),
    ];
  } catch (err) {
    return [h("h3", {}, t("openOrders")), h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`)];
  }
}

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
    const names = new Map([...e.suppliers, ...e.customers].map((l) => [l.partner.id, l.partner.name ?? l.partner.id]));
    const orders = h("div", { "data-testid": "open-orders" }, h("p", { class: "muted" }, t("loading")));
    void openOrders(id, names).then((parts) => {
      orders.replaceChildren(...parts);
      orders.dataset.ready = "true";
    });
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
      orders,
    );
  } catch (err) {
    panel.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`));
  }
}
