// Referent physician pages: the practice's lists, the download of a signed list for the
// practice kit (with how to use it) and the feedback form (counts only).
import { api, el } from "./dom.js";
import { date, num, t } from "./i18n.js";

const OUTCOMES = ["not_contacted", "contacted", "declined", "not_eligible", "enrolled"];

async function documents(lists) {
  return Promise.all(lists.map((l) => api(`/lists/${l.id}`)));
}

function download(list, doc) {
  return el("button", { type: "button", class: "download", onclick: async () => {
    const text = await api(`/lists/${list.id}`, { raw: true }); // the signed bytes, unchanged
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const a = el("a", { href: url, download: `${doc.study_id}-${list.practice}-${list.list_id}.json` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } }, t("download"));
}

async function listsPage(_, me) {
  const lists = await api(`/practices/${encodeURIComponent(me.practice)}/lists`);
  if (!lists.length) return [el("h1", {}, t("lists")), el("p", {}, t("no_lists"))];
  const docs = await documents(lists);
  return [el("h1", {}, `${t("lists")} — ${me.practice}`),
    el("table", {}, el("thead", {}, el("tr", {}, ["study", "issued", "expires", "candidates", "download", "feedback"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, lists.map((l, i) => el("tr", {},
        el("td", {}, `${docs[i].study_id} v${docs[i].study_version}`), el("td", {}, date(l.issued)), el("td", {}, date(l.expires)),
        el("td", { class: "num" }, num(docs[i].candidates.length)), el("td", {}, download(l, docs[i])),
        el("td", {}, el("a", { href: `#/lists/${l.id}/feedback` }, t("feedback"))))))),
    el("section", { class: "note" }, el("h2", {}, t("howto")), el("p", {}, t("howto_text")))];
}

async function feedbackPage([id], me) {
  const doc = await api(`/lists/${id}`);
  const number = (name, label) => el("p", {}, el("label", { for: name }, label), el("input", { id: name, type: "number", min: 0, value: 0, required: true }));
  const status = el("div", { "aria-live": "polite" });
  const form = el("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const value = (name) => Number(form.querySelector(`#${name}`).value || 0);
    const feedback = {
      format: "p4dp-feedback", version: 1, list_id: doc.list_id, study_id: doc.study_id,
      study_version: doc.study_version, practice_id: doc.practice_id, created: new Date().toISOString(),
      candidates: doc.candidates.length,
      outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, value(`outcome-${o}`)])),
      failed_rules: Object.fromEntries(doc.rules.map((r) => [r.name, value(`rule-${r.name}`)]).filter(([, n]) => n > 0)),
    };
    try {
      await api(`/lists/${id}/feedback`, { method: "POST", json: feedback });
      status.replaceChildren(el("p", { class: "ok", id: "feedback-ok" }, t("feedback_sent")));
    } catch (exc) { status.replaceChildren(el("p", { class: "alert", role: "alert" }, exc.message)); }
  } },
  el("fieldset", {}, el("legend", {}, t("outcomes")), OUTCOMES.map((o) => number(`outcome-${o}`, t(`outcome_${o}`)))),
  el("fieldset", {}, el("legend", {}, t("failed_rules")), doc.rules.map((r) => number(`rule-${r.name}`, r.name))),
  el("button", { type: "submit", id: "send-feedback" }, t("send")));
  return [el("h1", {}, `${t("feedback")}: ${doc.study_id} — ${me.practice}`), el("p", {}, `${t("candidates")}: ${num(doc.candidates.length)}`), form, status];
}

export const physicianRoutes = [
  { pattern: /^#\/lists$/, roles: ["physician"], page: listsPage },
  { pattern: /^#\/lists\/(\d+)\/feedback$/, roles: ["physician"], page: feedbackPage },
];
