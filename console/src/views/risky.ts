// View 2, Risky nodes: the ranked list with its reasons, filtered by industry, region and a focal
// enterprise with tiers; each row links into the network view.
// Route: #/risky?min=0.5&industry=steel&region=…&focal=ID&tiers=3&direction=UPSTREAM
import { gql } from "../api";
import { field, h, num, table } from "../dom";
import { t } from "../i18n";
import { FACTORS, riskColour, type Breakdown } from "../risk";
import { enterpriseInput } from "./network";

interface RiskyNode {
  enterpriseId: string;
  name: string | null;
  score: number;
  tier: number | null;
  factors: Breakdown | null;
}

const RISKY = `query($min: Float!, $industry: String, $region: String, $focal: ID, $tiers: Int!, $d: Direction!) {
  riskyNodes(first: 200, minScore: $min, industry: $industry, region: $region, focalId: $focal, tiers: $tiers,
             direction: $d) { enterpriseId name score tier factors } }`;

function reasons(b: Breakdown | null): string {
  if (!b?.reasons) return "";
  return FACTORS.flatMap((f) => b.reasons?.[f] ?? []).join("; ");
}

export function renderRisky(root: HTMLElement, params: URLSearchParams): void {
  const p = (k: string) => params.get(k) ?? "";
  const direction = p("direction") === "DOWNSTREAM" ? "DOWNSTREAM" : "UPSTREAM";
  const form = h(
    "form",
    {
      class: "toolbar",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        for (const k of ["min", "industry", "region", "focal", "tiers", "direction"]) {
          const v = field(form, k);
          if (v) q.set(k, v);
        }
        window.location.hash = `#/risky?${q}`;
      },
    },
    h("label", {}, t("minScore"), h("input", { name: "min", type: "number", step: 0.05, min: 0, max: 1, value: p("min") || "0" })),
    h("label", {}, t("industry"), h("input", { name: "industry", value: p("industry"), "data-testid": "industry" })),
    h("label", {}, t("region"), h("input", { name: "region", value: p("region") })),
    h("label", {}, t("focal"), enterpriseInput("focal", p("focal"))),
    h("label", {}, t("tiers"), h("input", { name: "tiers", type: "number", min: 1, max: 8, value: p("tiers") || "3" })),
    h(
      "label",
      {},
      t("direction"),
      h(
        "select",
        { name: "direction" },
        h("option", { value: "UPSTREAM", selected: direction === "UPSTREAM" }, t("upstream")),
        h("option", { value: "DOWNSTREAM", selected: direction === "DOWNSTREAM" }, t("downstream")),
      ),
    ),
    h("button", { type: "submit", "data-testid": "filter" }, t("filter")),
  );
  form.querySelector<HTMLInputElement>('[name="focal"]')?.removeAttribute("required");
  const out = h("div", { "data-testid": "risky-result" }, t("loading"));
  root.append(form, out);
  const focal = p("focal") || null;
  gql<{ riskyNodes: RiskyNode[] }>(RISKY, {
    min: Number(p("min") || 0),
    industry: p("industry") || null,
    region: p("region") || null,
    focal,
    tiers: Number(p("tiers") || 3),
    d: direction,
  })
    .then((d) => {
      out.replaceChildren(
        table(
          [t("score"), t("name"), t("tier"), t("reasons"), ""],
          d.riskyNodes,
          (r) => [
            h("span", { class: "score", style: `background:${riskColour(r.score)}` }, num(r.score)),
            `${r.name ?? ""} (${r.enterpriseId})`,
            r.tier ?? "—",
            reasons(r.factors),
            h(
              "a",
              { href: `#/network?${new URLSearchParams({ focal: focal ?? r.enterpriseId, direction, tiers: p("tiers") || "3", highlight: r.enterpriseId })}` },
              t("openInNetwork"),
            ),
          ],
          "risky-table",
        ),
      );
    })
    .catch((err: unknown) => out.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`)));
}
