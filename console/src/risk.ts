// Risk presentation: the colour of a score and the factor breakdown in words.
import { h } from "./dom";
import { t, type MessageId } from "./i18n";

export const FACTORS = ["performance", "events", "structure", "concentration", "inherited"] as const;

/** The risk engine's breakdown (`RiskyNode.factors`): factor values and plain-words reasons. */
export interface Breakdown {
  score?: number;
  factors?: Partial<Record<string, number>>;
  reasons?: Partial<Record<string, string[]>>;
}

/** Green (0) through amber to red (1); grey when not scored. */
export function riskColour(score: number | null | undefined): string {
  if (score === null || score === undefined) return "#9aa5b1";
  const s = Math.max(0, Math.min(1, score));
  const hue = 120 * (1 - s);
  return `hsl(${hue.toFixed(0)}, 70%, 45%)`;
}

export function breakdownView(b: Breakdown | null | undefined): HTMLElement {
  if (!b || !b.factors) return h("p", { class: "muted", "data-testid": "breakdown" }, t("noBreakdown"));
  const items = FACTORS.filter((f) => b.factors?.[f] !== undefined).map((f) => {
    const value = b.factors?.[f] ?? 0;
    const reasons = b.reasons?.[f] ?? [];
    return h(
      "li",
      {},
      h("span", { class: "factor" }, t(`factor.${f}` as MessageId)),
      h("span", { class: "bar", style: `width:${Math.round(value * 100)}px;background:${riskColour(value)}` }),
      h("span", { class: "value" }, value.toFixed(2)),
      reasons.length ? h("div", { class: "reasons" }, reasons.join("; ")) : null,
    );
  });
  return h("ul", { class: "breakdown", "data-testid": "breakdown" }, ...items);
}
