// Steward pages: the approval queue (explanation, exact counts, approve, sign lists), the
// query ledger and the audit log, each with the result of its hash-chain check.
import { api, el } from "./dom.js";
import { date, num, t } from "./i18n.js";
import { errorBox } from "./app.js";

const head = (...keys) => el("thead", {}, el("tr", {}, keys.map((k) => el("th", { scope: "col" }, t(k)))));

async function runExact(item, box) {
  try {
    let run = await api(`/studies/${item.study_id}/versions/${item.version}/runs`, { method: "POST", json: {} });
    while (run.status === "queued" || run.status === "running") {
      box.replaceChildren(el("p", {}, t("run_status", { id: run.id, status: run.status })));
      await new Promise((r) => setTimeout(r, 400));
      run = await api(`/runs/${run.id}`);
    }
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } catch (exc) { box.replaceChildren(errorBox(exc)); }
}

function queueItem(item) {
  const note = el("input", { id: `note-${item.study_id}-${item.version}`, maxlength: 2000 });
  const box = el("div", { "aria-live": "polite" });
  const exact = item.exact
    ? el("p", {}, `${t("exact")}: base ${num(item.exact.counts.base)} · eligible `, el("strong", {}, num(item.exact.counts.eligible)), ` · possibly eligible ${num(item.exact.counts.possibly_eligible)}`)
    : el("p", {}, t("no_exact"), " ", el("button", { type: "button", class: "secondary", onclick: () => runExact(item, box) }, t("start_run")));
  async function approve(e) {
    e.preventDefault();
    try {
      await api(`/studies/${item.study_id}/versions/${item.version}/approval`, { method: "POST", json: { note: note.value } });
      const lists = el("button", { type: "button", onclick: async () => {
        try {
          const made = await api(`/studies/${item.study_id}/versions/${item.version}/lists`, { method: "POST", json: {} });
          box.replaceChildren(el("p", { class: "ok" }, `${t("lists")}: ${made.map((l) => `${l.practice} (${num(l.eligible)})`).join(", ") || t("none")}`));
        } catch (exc) { box.replaceChildren(errorBox(exc)); }
      } }, t("issue_lists"));
      box.replaceChildren(el("p", { class: "ok", id: "approved" }, `${t("approved")} `, lists));
    } catch (exc) { box.replaceChildren(errorBox(exc)); }
  }
  return el("article", { class: "card" },
    el("h2", {}, `${item.study_name} — v${item.version}`),
    el("pre", { class: "plain" }, item.explanation), exact,
    el("form", { onsubmit: approve }, el("label", { for: note.id }, t("approval_note")), note, " ",
      el("button", { type: "submit", class: "approve" }, t("approve"))), box);
}

async function approvalsPage() {
  const queue = await api("/approvals/queue");
  return [el("h1", {}, t("approvals")), queue.length ? queue.map(queueItem) : el("p", {}, t("queue_empty"))];
}

const chain = (report, rows) => (report.ok
  ? el("p", { class: "ok", id: "chain" }, t("chain_ok", { n: num(rows) }))
  : el("div", { class: "alert", role: "alert", id: "chain" }, t("chain_bad"), el("ul", {}, report.problems.map((p) => el("li", {}, p)))));

async function ledgerPage() {
  const ledger = await api("/ledger?limit=200");
  return [el("h1", {}, t("ledger")), chain(ledger, ledger.queries.length),
    el("table", {}, head("when", "who", "kind", "study"), el("tbody", {}, ledger.queries.map((q) => el("tr", {},
      el("td", {}, date(q.created_at)), el("td", {}, `${q.requester} (${q.role})`), el("td", {}, q.kind), el("td", {}, q.study_id)))))];
}

async function auditPage() {
  const [report, rows] = await Promise.all([api("/audit/verify"), api("/audit?limit=200")]);
  return [el("h1", {}, t("audit")), chain(report, report.rows),
    el("table", {}, head("when", "who", "what", "status"), el("tbody", {}, rows.map((r) => el("tr", {},
      el("td", {}, date(r.at)), el("td", {}, `${r.who} (${r.role}${r.scope ? ", " + r.scope : ""})`),
      el("td", {}, `${r.method} ${r.route} ${r.object && r.object !== "{}" ? r.object : ""}`), el("td", {}, `${r.status} ${r.decision}`)))))];
}

export const stewardRoutes = [
  { pattern: /^#\/approvals$/, roles: ["steward"], page: approvalsPage },
  { pattern: /^#\/ledger$/, roles: ["steward"], page: ledgerPage },
  { pattern: /^#\/audit$/, roles: ["steward"], page: auditPage },
];
