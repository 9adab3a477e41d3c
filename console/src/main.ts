// The console shell: login, language switch, navigation between views (hash routes, e.g.
// #/network?focal=wisco&tiers=3). Each view is one module under views/.
import "./style.css";
import { ApiError, credential, forgetCredential, gql, saveCredential } from "./api";
import { h } from "./dom";
import { lang, setLang, t, type MessageId } from "./i18n";
import { renderAlerts } from "./views/alerts";
import { renderDataMap } from "./views/datamap";
import { renderDesign } from "./views/design";
import { renderNetwork } from "./views/network";
import { renderRisky } from "./views/risky";
import { renderWhatIf } from "./views/whatif";

/** A view draws itself into `root`; it may return what to run when the user leaves it. */
export type View = (root: HTMLElement, params: URLSearchParams) => void | (() => void);

const VIEWS: Record<string, { label: MessageId; render: View }> = {
  network: { label: "nav.network", render: renderNetwork },
  risky: { label: "nav.risky", render: renderRisky },
  whatif: { label: "nav.whatif", render: renderWhatIf },
  alerts: { label: "nav.alerts", render: renderAlerts },
  datamap: { label: "nav.datamap", render: renderDataMap },
  design: { label: "nav.design", render: renderDesign },
};

const app = document.getElementById("app") as HTMLElement;
let leave: (() => void) | void = undefined;

function route(): { name: string; params: URLSearchParams } {
  const [path, query] = window.location.hash.replace(/^#\/?/, "").split("?");
  return { name: path && path in VIEWS ? path : "network", params: new URLSearchParams(query ?? "") };
}

function toggleLanguage(): void {
  setLang(lang() === "zh" ? "en" : "zh");
  draw();
}

function loginView(message?: string): HTMLElement {
  const input = h("textarea", {
    name: "credential",
    rows: 3,
    placeholder: t("credentialHint"),
    "data-testid": "credential",
  }) as HTMLTextAreaElement;
  const status = h("p", { class: "error", "data-testid": "login-error" }, message ?? "");
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void login(input.value, status);
      },
    },
    h("h1", {}, t("title")),
    h("label", {}, t("credential"), input),
    h("button", { type: "submit", "data-testid": "login" }, t("login")),
    h("button", { type: "button", class: "link", onclick: toggleLanguage }, t("language")),
    status,
  );
  return form;
}

async function login(token: string, status: HTMLElement): Promise<void> {
  if (!token.trim()) return;
  saveCredential(token);
  try {
    await gql("query { enterprises(first: 1) { totalCount } }");
    draw();
  } catch (e) {
    forgetCredential();
    status.textContent = `${t("loginFailed")}: ${e instanceof ApiError ? e.message : String(e)}`;
  }
}

function draw(): void {
  if (typeof leave === "function") leave();
  leave = undefined;
  document.title = `supplynet · ${t("title")}`;
  app.replaceChildren();
  if (!credential()) {
    app.append(loginView());
    return;
  }
  const { name, params } = route();
  const nav = h(
    "nav",
    {},
    h("strong", {}, t("title")),
    ...Object.entries(VIEWS).map(([key, v]) =>
      h("a", { href: `#/${key}`, class: key === name ? "active" : undefined, "data-testid": `nav-${key}` }, t(v.label)),
    ),
    h("span", { class: "spacer" }),
    h("button", { class: "link", onclick: toggleLanguage, "data-testid": "lang" }, t("language")),
    h(
      "button",
      {
        class: "link",
        "data-testid": "logout",
        onclick: () => {
          forgetCredential();
          draw();
        },
      },
      t("logout"),
    ),
  );
  const main = h("main", { "data-view": name });
  app.append(nav, main);
  leave = VIEWS[name].render(main, params);
}

setLang(lang());
window.addEventListener("hashchange", draw);
draw();
