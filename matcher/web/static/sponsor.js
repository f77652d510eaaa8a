// Sponsor pages: studies, the criteria editor, the comparison of two versions.
import { ApiError, api, el } from "./dom.js";
import { date, num, t } from "./i18n.js";
import { createEditor } from "./editor.js";
import { feasibilityPage } from "./feasibility.js";
import { errorBox } from "./app.js";

const TEMPLATE = `study "NEW-STUDY" version 1
title "A new study"
index date 2026-01-01

codes t2d = icd10 E11 and descendants

inclusion
  adult:    age at index >= 18
  diabetes: has diagnosis t2d
`;

export const released = (value) => (typeof value === "number" ? num(value) : value == null ? "—" : String(value));

function lastResult(run) {
  if (!run) return t("none");
  if (run.status !== "done") return `${run.status}`;
  return `${released(run.eligible)} (${date(run.finished_at)})`;
}

async function studiesPage(_, me) {
  const studies = await api("/studies");
  const overviews = await Promise.all(studies.map((s) => api(`/studies/${s.id}/overview`)));
  const rows = studies.map((s, i) => {
    const o = overviews[i];
    const latest = o.versions[o.versions.length - 1];
    return el("tr", {},
      el("td", {}, el("a", { href: `#/studies/${s.id}` }, s.name)),
      el("td", { class: "num" }, num(o.versions.length)),
      el("td", {}, latest ? `v${latest.number}: ${t(latest.status)}` : t("draft"), o.draft ? ` (+ ${t("draft")})` : ""),
      el("td", {}, lastResult(o.last_run)));
  });
  const name = el("input", { id: "study-name", required: true, maxlength: 200 });
  const form = me.role === "sponsor" ? el("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const study = await api("/studies", { method: "POST", json: { name: name.value } });
    location.hash = `#/studies/${study.id}/editor`;
  } }, el("label", { for: "study-name" }, t("name")), name, " ", el("button", { type: "submit" }, t("create"))) : null;
  return [el("h1", {}, t("studies")),
    el("table", {}, el("thead", {}, el("tr", {}, ["name", "versions", "status", "last_result"].map((k) => el("th", { scope: "col" }, t(k))))), el("tbody", {}, rows)),
    form ? [el("h2", {}, t("new_study")), form] : null];
}

async function studyPage([id], me) {
  const [study, o] = await Promise.all([api(`/studies/${id}`), api(`/studies/${id}/overview`)]);
  const options = () => o.versions.map((v) => el("option", { value: v.number }, `v${v.number}`));
  const a = el("select", { id: "diff-a" }, options());
  const b = el("select", { id: "diff-b" }, options());
  if (o.versions.length > 1) b.value = o.versions[o.versions.length - 1].number;
  return [el("h1", {}, study.name),
    me.role === "sponsor" ? el("p", {}, el("a", { class: "button", href: `#/studies/${id}/editor` }, t("edit"))) : null,
    el("table", {}, el("thead", {}, el("tr", {}, ["version", "status", "created", "feasibility"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, o.versions.map((v) => el("tr", {},
        el("td", {}, me.role === "sponsor" ? el("a", { href: `#/studies/${id}/editor/${v.number}` }, `v${v.number}`) : `v${v.number}`,
          el("br"), el("small", {}, v.criteria_hash.slice(0, 19) + "…")),
        el("td", {}, t(v.status)), el("td", {}, date(v.created_at)),
        el("td", {}, el("a", { href: `#/studies/${id}/versions/${v.number}/feasibility` }, t("feasibility"))))))),
    o.versions.length > 1 ? el("form", { class: "card", onsubmit: (e) => { e.preventDefault(); location.hash = `#/studies/${id}/diff/${a.value}/${b.value}`; } },
      el("label", { for: "diff-a" }, t("version")), a, " ", el("label", { for: "diff-b" }, t("version")), b, " ",
      el("button", { type: "submit" }, t("compare"))) : null];
}

const draftKey = (id) => `p4dp.draft.${id}`;

async function editorPage([id, number], me) {
  const [study, o] = await Promise.all([api(`/studies/${id}`), api(`/studies/${id}/overview`)]);
  const status = el("div", { id: "save-status", "aria-live": "polite" });
  let text = localStorage.getItem(draftKey(id));
  let restored = text !== null;
  if (!restored && o.draft && !number) { text = (await api(`/studies/${id}/draft`)).criteria; restored = true; }
  if (text === null) {
    const n = number || (o.versions.length ? o.versions[o.versions.length - 1].number : null);
    text = n ? (await api(`/studies/${id}/versions/${n}`)).source : TEMPLATE;
  }
  if (restored) status.replaceChildren(el("p", { class: "note" }, t("draft_restored")));
  const editor = createEditor({ value: text, label: t("criteria"), onChange: (value) => localStorage.setItem(draftKey(id), value) });
  const explanation = el("div", { id: "explanation", "aria-live": "polite" });

  async function explain() {
    try {
      const out = await api("/explain", { json: { criteria: editor.value() } });
      explanation.replaceChildren(el("h2", {}, t("explain")), el("pre", { class: "plain" }, out.text));
    } catch (exc) {
      explanation.replaceChildren(exc instanceof ApiError && exc.status === 422 ? el("p", { class: "bad" }, t("problems")) : errorBox(exc));
    }
  }

  async function save() {
    const criteria = editor.value();
    try {
      const sub = await api(`/studies/${id}/submissions`, { json: { criteria, filename: "criteria.p4dp" } });
      localStorage.removeItem(draftKey(id));
      await api(`/studies/${id}/draft`, { method: "DELETE" }).catch(() => null);
      status.replaceChildren(el("p", { class: "note" }, t(sub.new_version === false ? "same_version" : "saved", { n: sub.version }), " ",
        el("a", { href: `#/studies/${id}/versions/${sub.version}/feasibility` }, t("feasibility"))));
    } catch (exc) {
      localStorage.setItem(draftKey(id), criteria);
      await api(`/studies/${id}/draft`, { method: "PUT", json: { criteria } }).catch(() => null);
      const why = exc instanceof ApiError && exc.status === 422 && exc.detail && exc.detail.errors !== undefined
        ? `${exc.detail.errors} error(s)` : exc.message;
      status.replaceChildren(el("p", { class: "alert", role: "alert" }, t("save_failed", { why })));
    }
  }

  return [el("h1", {}, `${t("editor")}: ${study.name}`), editor.node,
    el("p", { class: "row" },
      el("button", { type: "button", id: "explain", class: "secondary", onclick: explain }, t("explain")),
      me.role === "sponsor" ? el("button", { type: "button", id: "save", onclick: save }, t("save")) : null),
    status, explanation];
}

/** Lines of `a` and `b` paired for a side-by-side view (longest common subsequence). */
export function lineDiff(a, b) {
  const n = a.length; const m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0; let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push([a[i], b[j], ""]); i++; j++; }
    else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) { out.push([null, b[j], "add"]); j++; }
    else { out.push([a[i], null, "del"]); i++; }
  }
  return out;
}

async function diffPage([id, a, b]) {
  const [va, vb, changes] = await Promise.all([api(`/studies/${id}/versions/${a}`), api(`/studies/${id}/versions/${b}`), api(`/studies/${id}/versions/${a}/diff/${b}`)]);
  const pairs = lineDiff(va.source.split("\n"), vb.source.split("\n"));
  const side = (k, cls) => el("pre", { "aria-label": `v${k === 0 ? a : b}` }, pairs.map((p) => el("div", { class: p[k] === null ? "" : p[2] === cls ? cls : "" }, p[k] === null ? " " : p[k] || " ")));
  const items = [
    ...Object.entries(changes.header).map(([k, v]) => el("li", {}, `${k}: ${JSON.stringify(v.before)} → ${JSON.stringify(v.after)}`)),
    ...changes.rules.map((r) => el("li", {}, `${t("rule")} ${r.rule}: ${t(r.change)}`)),
    ...changes.codesets.map((c) => el("li", {}, `${t("codeset")} ${c.codeset}: ${t(c.change)} (+${c.added.length} −${c.removed.length})`, c.added.length ? ` + ${c.added.slice(0, 10).join(", ")}` : "", c.removed.length ? ` − ${c.removed.slice(0, 10).join(", ")}` : "")),
  ];
  return [el("h1", {}, `${t("diff")}: v${a} ↔ v${b}`), el("h2", {}, t("changes")), el("ul", {}, items.length ? items : el("li", {}, t("none"))),
    el("div", { class: "diff" }, el("h2", {}, `v${a}`), el("h2", {}, `v${b}`), side(0, "del"), side(1, "add"))];
}

export const sponsorRoutes = [
  { pattern: /^#\/studies$/, roles: ["sponsor", "steward"], page: studiesPage },
  { pattern: /^#\/studies\/(\d+)$/, roles: ["sponsor", "steward"], page: studyPage },
  { pattern: /^#\/studies\/(\d+)\/editor(?:\/(\d+))?$/, roles: ["sponsor"], page: editorPage },
  { pattern: /^#\/studies\/(\d+)\/diff\/(\d+)\/(\d+)$/, roles: ["sponsor", "steward"], page: diffPage },
  { pattern: /^#\/studies\/(\d+)\/versions\/(\d+)\/feasibility$/, roles: ["sponsor", "steward"], page: feasibilityPage },
];
