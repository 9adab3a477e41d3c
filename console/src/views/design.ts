// View 6, Design collaboration: design projects with their partners, revisions and change requests;
// a change request's impact on suppliers (of its affected skus) and on the products that use them.
// Route: #/design[?project=ID][&change=CHANGE-ID]. The API scopes both reads: a partner sees only the
// projects its enterprise owns or joined, of them only participants inside its network, and the
// impact only of change requests of those projects (an edited query is refused the same way).
import { gql } from "../api";
import { h, num, table } from "../dom";
import { designRoleName, industryName, t, type MessageId } from "../i18n";
import { riskColour } from "../risk";

interface Participant {
  enterpriseId: string;
  name: string | null;
  role: string | null;
}

interface Revision {
  id: string;
  label: string | null;
  publishedAt: number | null;
  uri: string | null;
  contentHash: string | null;
  changes: { sku: string; change: string | null; qty: number | null }[];
}

interface ChangeRequest {
  id: string;
  reason: string | null;
  requiredBy: string | null;
  affectedSkus: string[];
  status: string | null;
  answeredBy: string | null;
  answerNote: string | null;
}

interface DesignProject {
  id: string;
  name: string | null;
  description: string | null;
  productSku: string | null;
  ownerId: string | null;
  participants: Participant[];
  revisions: Revision[];
  changeRequests: ChangeRequest[];
}

interface ChangeImpact {
  changeRequestId: string;
  projectId: string | null;
  affectedSkus: string[];
  suppliers: { id: string; name: string | null; industry: string | null; region: string | null; riskScore: number | null }[];
  downstreamProducts: string[];
}

/** Projects listed; 50 with their nested lists stays well under the API's default cost limit. */
const PROJECTS_SHOWN = 50;

const PROJECT_FIELDS = `id name description productSku ownerId participants { enterpriseId name role }
  revisions { id label publishedAt uri contentHash changes { sku change qty } }
  changeRequests { id reason requiredBy affectedSkus status answeredBy answerNote }`;

const PROJECTS = `query { designProjects(first: ${PROJECTS_SHOWN}) { ${PROJECT_FIELDS} } }`;
const PROJECT = `query($id: ID!) { designProjects(id: $id, first: 1) { ${PROJECT_FIELDS} } }`;
const OWNER = `query($id: ID!) { enterprise(id: $id) { name } }`;
const IMPACT = `query($id: ID!) { changeImpact(changeRequestId: $id) { changeRequestId projectId affectedSkus
  suppliers { id name industry region riskScore } downstreamProducts } }`;

function route(params: Record<string, string>): string {
  return `#/design?${new URLSearchParams(params)}`;
}

function enterpriseLink(id: string | null, name: string | null): Node | string {
  if (!id) return t("hidden");
  return h("a", { href: `#/network?focal=${encodeURIComponent(id)}`, "data-enterprise": id }, name ?? id);
}

function projectList(projects: DesignProject[], current: string): HTMLElement {
  if (!projects.length) return h("p", { class: "muted", "data-testid": "design-projects" }, t("noProjects"));
  return table(
    [t("project"), t("product"), t("projectOwner"), t("partners"), t("revisions"), t("changeRequests")],
    projects,
    (p) => [
      h(
        "a",
        { href: route({ project: p.id }), "data-project": p.id, class: p.id === current ? "current" : undefined },
        p.name ? `${p.name} (${p.id})` : p.id,
      ),
      p.productSku ?? "—",
      p.ownerId ?? t("hidden"),
      p.participants.length,
      p.revisions.length,
      p.changeRequests.length,
    ],
    "design-projects",
  );
}

const DECISIONS: Record<string, MessageId> = {
  accepted: "decision.accepted",
  rejected: "decision.rejected",
  "needs-info": "decision.needsInfo",
};

/** The latest answer in words; a request nobody answered is open. */
function decision(status: string | null): string {
  if (!status) return t("open");
  const id = DECISIONS[status];
  return id ? t(id) : status;
}

function revisionTime(ms: number | null): string {
  return ms === null ? "—" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

function projectDetail(p: DesignProject, change: string, ownerName: string | null): HTMLElement {
  return h(
    "section",
    { "data-testid": "design-project", "data-project": p.id },
    h("h2", {}, p.name ?? p.id),
    h(
      "p",
      {},
      `${t("id")}: ${p.id} · ${t("product")}: ${p.productSku ?? "—"} · ${t("projectOwner")}: `,
      enterpriseLink(p.ownerId, ownerName),
    ),
    p.description ? h("p", { class: "muted" }, p.description) : null,
    h("h3", {}, t("partners")),
    table(
      [t("name"), t("role")],
      p.participants,
      (x) => [enterpriseLink(x.enterpriseId, x.name), designRoleName(x.role)],
      "design-participants",
    ),
    h("h3", {}, t("revisions")),
    p.revisions.length
      ? table(
          [t("revision"), t("published"), t("componentChanges"), t("files")],
          p.revisions,
          (r) => [
            r.label ? `${r.label} (${r.id})` : r.id,
            revisionTime(r.publishedAt),
            r.changes.map((c) => `${c.sku} ${c.change ?? ""}${c.qty === null ? "" : ` ×${c.qty}`}`).join(", ") || "—",
            h("span", { class: "muted" }, `${r.uri ?? "—"} · ${r.contentHash ?? "—"}`),
          ],
          "design-revisions",
        )
      : h("p", { class: "muted" }, t("none")),
    h("h3", {}, t("changeRequests")),
    p.changeRequests.length
      ? table(
          [t("changeRequest"), t("reason"), t("requiredBy"), t("affectedSkus"), t("status"), ""],
          p.changeRequests,
          (c) => [
            c.id,
            c.reason ?? "—",
            c.requiredBy ?? "—",
            c.affectedSkus.join(", "),
            decision(c.status) +
              (c.answerNote ? ` — ${c.answerNote}` : ""),
            h(
              "a",
              { href: route({ project: p.id, change: c.id }), "data-change": c.id, class: c.id === change ? "current" : undefined },
              t("impact"),
            ),
          ],
          "design-changes",
        )
      : h("p", { class: "muted" }, t("none")),
  );
}

function impactView(impact: ChangeImpact): HTMLElement {
  return h(
    "section",
    { "data-testid": "design-impact", "data-change": impact.changeRequestId },
    h("h3", {}, `${t("impactOf")} ${impact.changeRequestId}`),
    h("p", {}, `${t("affectedSkus")}: ${impact.affectedSkus.join(", ") || t("none")}`),
    h("h3", {}, `${t("affectedSuppliers")} (${impact.suppliers.length})`),
    impact.suppliers.length
      ? table(
          [t("name"), t("industry"), t("region"), t("score")],
          impact.suppliers,
          (s) => [
            enterpriseLink(s.id, s.name),
            industryName(s.industry),
            s.region ?? "—",
            h("span", { class: "score", style: `background:${riskColour(s.riskScore)}` }, num(s.riskScore)),
          ],
          "impact-suppliers",
        )
      : h("p", { class: "muted" }, t("none")),
    h("h3", {}, `${t("affectedProducts")} (${impact.downstreamProducts.length})`),
    h("p", { "data-testid": "impact-products" }, impact.downstreamProducts.join(", ") || t("none")),
  );
}

function failure(err: unknown): HTMLElement {
  return h("p", { class: "error" }, `${t("error")}: ${err instanceof Error ? err.message : String(err)}`);
}

export function renderDesign(root: HTMLElement, params: URLSearchParams): void {
  const project = params.get("project") ?? "";
  const change = params.get("change") ?? "";
  const list = h("div", { "data-testid": "design-list" }, t("loading"));
  const detail = h("div", { "data-testid": "design-detail" });
  const impact = h("div", { "data-testid": "design-impact-box" });
  root.append(h("p", { class: "muted" }, t("designScope")), list, detail, impact);

  void gql<{ designProjects: DesignProject[] }>(PROJECTS)
    .then((d) => {
      list.replaceChildren(projectList(d.designProjects, project));
      list.dataset.ready = "true";
    })
    .catch((err: unknown) => {
      list.replaceChildren(failure(err));
      list.dataset.ready = "error";
    });
  if (project) {
    detail.textContent = t("loading");
    void gql<{ designProjects: DesignProject[] }>(PROJECT, { id: project })
      .then(async (d) => {
        const p = d.designProjects[0];
        if (!p) {
          detail.replaceChildren(h("p", { class: "error" }, `${project}: ${t("notVisible")}`));
          detail.dataset.ready = "none";
          return;
        }
        // The owner is not among the partners (it owns the project); its name is one more read.
        const owner = p.ownerId
          ? await gql<{ enterprise: { name: string | null } | null }>(OWNER, { id: p.ownerId }).catch(() => null)
          : null;
        detail.replaceChildren(projectDetail(p, change, owner?.enterprise?.name ?? null));
        detail.dataset.ready = "true";
      })
      .catch((err: unknown) => {
        detail.replaceChildren(failure(err));
        detail.dataset.ready = "error";
      });
  }
  if (change) {
    impact.textContent = t("loading");
    void gql<{ changeImpact: ChangeImpact | null }>(IMPACT, { id: change })
      .then((d) => {
        impact.replaceChildren(d.changeImpact ? impactView(d.changeImpact) : h("p", { class: "error" }, `${change}: ${t("notVisible")}`));
        impact.dataset.ready = d.changeImpact ? "true" : "none";
      })
      .catch((err: unknown) => {
        impact.replaceChildren(failure(err));
        impact.dataset.ready = "error";
      });
  }
}
