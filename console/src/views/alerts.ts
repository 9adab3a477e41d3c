// View 4, Alerts and incidents: risk alerts as they arrive (the riskAlerts subscription) and the
// incident workflow for analysts — confirm, assign, annotate, close.
import { gql, subscribe } from "../api";
import { h, num, table } from "../dom";
import { t } from "../i18n";
import { riskColour } from "../risk";

interface Alert {
  id: string;
  enterpriseId: string;
  severity: string;
  score: number;
  summary: string;
}

interface Incident {
  id: number;
  enterpriseId: string;
  severity: string;
  score: number;
  summary: string;
  state: string;
  owner: string | null;
  notes: string;
}

const FIELDS = "id enterpriseId severity score summary state owner notes";
const INCIDENTS = `query { incidents(first: 100) { ${FIELDS} } }`;
const ALERTS = "subscription { riskAlerts { id enterpriseId severity score summary } }";
const MAX_ALERTS = 200;

const ACTIONS = {
  confirm: `mutation($id: Int!, $v: String) { r: confirmIncident(id: $id, note: $v) { ${FIELDS} } }`,
  assign: `mutation($id: Int!, $v: String!) { r: assignIncident(id: $id, owner: $v) { ${FIELDS} } }`,
  annotate: `mutation($id: Int!, $v: String!) { r: annotateIncident(id: $id, note: $v) { ${FIELDS} } }`,
  close: `mutation($id: Int!, $o: String!, $v: String) { r: closeIncident(id: $id, outcome: $o, note: $v) { ${FIELDS} } }`,
} as const;

export function renderAlerts(root: HTMLElement): () => void {
  const live = h("ul", { class: "alerts", "data-testid": "alerts" }, h("li", { class: "muted" }, t("waitingAlerts")));
  const incidents = h("div", { "data-testid": "incidents" }, t("loading"));
  const status = h("p", { class: "error" });
  root.append(h("h2", {}, t("liveAlerts")), status, live, h("h2", {}, t("incidents")), incidents);

  let received = 0;
  const stop = subscribe<{ riskAlerts: Alert }>(
    ALERTS,
    {},
    ({ riskAlerts: a }) => {
      if (received++ === 0) live.replaceChildren();
      live.prepend(
        h(
          "li",
          { "data-alert": a.id },
          h("span", { class: "score", style: `background:${riskColour(a.score)}` }, num(a.score)),
          ` ${a.severity} · ${a.enterpriseId} · ${a.summary}`,
        ),
      );
      while (live.children.length > MAX_ALERTS) live.lastElementChild?.remove();
    },
    (message) => {
      status.textContent = `${t("error")}: ${message}`;
    },
  );

  const draw = (rows: Incident[]) =>
    incidents.replaceChildren(
      table(
        [t("id"), t("severity"), t("score"), t("summary"), t("state"), t("owner"), t("notes"), t("actions")],
        rows,
        (r) => [r.id, r.severity, num(r.score), `${r.enterpriseId}: ${r.summary}`, r.state, r.owner ?? "—", r.notes, actions(r)],
        "incident-table",
      ),
    );

  const load = () =>
    gql<{ incidents: Incident[] }>(INCIDENTS)
      .then((d) => draw(d.incidents))
      .catch((err: unknown) => incidents.replaceChildren(h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`)));

  function actions(r: Incident): HTMLElement {
    const input = h("input", { placeholder: `${t("ownerPrompt")} / ${t("notePrompt")}`, "data-testid": `incident-input-${r.id}` }) as HTMLInputElement;
    const run = (kind: keyof typeof ACTIONS) => async () => {
      const v = input.value.trim() || null;
      const vars: Record<string, unknown> = { id: r.id, v };
      if (kind === "close") vars.o = r.state === "potential" ? "no_impact" : "restored";
      if ((kind === "assign" || kind === "annotate") && !v) return;
      try {
        await gql(ACTIONS[kind], vars);
        await load();
      } catch (err) {
        status.textContent = `${t("error")}: ${err instanceof Error ? err.message : String(err)}`;
      }
    };
    const button = (kind: keyof typeof ACTIONS) =>
      h("button", { type: "button", onclick: run(kind), "data-testid": `incident-${kind}-${r.id}` }, t(kind));
    if (r.state !== "potential" && r.state !== "confirmed") return h("span", { class: "muted" }, "—");
    return h(
      "span",
      { class: "actions" },
      input,
      r.state === "potential" ? button("confirm") : null,
      button("assign"),
      button("annotate"),
      button("close"),
    );
  }

  void load();
  return stop;
}
