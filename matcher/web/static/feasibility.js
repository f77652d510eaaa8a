// Feasibility: start a run, follow its progress, draw the attrition funnel (masked values
// drawn as masked, never as zero), the breakdowns, and the what-if toggles.
import { api, el } from "./dom.js";
import { date, num, t } from "./i18n.js";
import { refreshMe } from "./app.js";

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs, ...children) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
};
const shown = (v) => (typeof v === "number" ? num(v) : String(v));

/** The funnel as an SVG bar chart: the base, then what remains after each rule. */
export function funnelChart(result) {
  const threshold = result.disclosure ? result.disclosure.threshold : 10;
  const rows = [["base", result.counts.base], ...result.attrition.map((s) => [s.rule, s.remaining])];
  const top = Math.max(threshold, ...rows.map(([, v]) => (typeof v === "number" ? v : threshold)));
  const width = 640; const label = 150; const bar = 22; const gap = 8;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * (bar + gap) + 10}`, role: "img", "aria-labelledby": "funnel-title", width: "100%" });
  chart.append(svg("title", { id: "funnel-title" }, t("funnel")));
  const defs = svg("defs", {}, svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
    svg("rect", { width: 6, height: 6, fill: "#e9e4f7" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#5b4a99", "stroke-width": 2 })));
  chart.append(defs);
  rows.forEach(([name, value], i) => {
    const y = 5 + i * (bar + gap);
    const masked = typeof value !== "number";
    const length = ((masked ? threshold : value) / top) * (width - label - 170);
    chart.append(svg("text", { x: label - 6, y: y + bar * 0.7, "text-anchor": "end" }, name));
    chart.append(svg("rect", { x: label, y, width: Math.max(2, length), height: bar, fill: masked ? "url(#hatch)" : "#0b5cad", stroke: masked ? "#5b4a99" : "none", "data-rule": name, "data-masked": String(masked) }));
    chart.append(svg("text", { x: label + Math.max(2, length) + 6, y: y + bar * 0.7, class: masked ? "masked" : "" },
      masked ? t("masked", { t: threshold }) : shown(value)));
  });
  return el("figure", { class: "funnel" }, chart);
}

function resultView(result) {
  const r = Array.isArray(result) ? result[0] : result;
  const masked = (v) => (typeof v === "number" ? el("td", { class: "num" }, num(v)) : el("td", { class: "num masked" }, shown(v)));
  const steps = el("table", { id: "attrition" }, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("rule")), el("th", { scope: "col", class: "num" }, t("remaining")), el("th", { scope: "col", class: "num" }, "excluded"))),
    el("tbody", {}, r.attrition.map((s) => el("tr", {}, el("td", {}, `${s.rule} (${s.section})`), masked(s.remaining), masked(s.excluded)))));
  const breakdowns = Object.entries(r.breakdown || {}).map(([dim, cells]) => el("table", {},
    el("caption", {}, dim), el("tbody", {}, Object.entries(cells).map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), masked(v))))));
  return el("section", { id: "result" },
    el("h2", {}, t("counts")),
    el("p", {}, `base ${shown(r.counts.base)} · eligible `, el("strong", { id: "eligible" }, shown(r.counts.eligible)), ` · possibly eligible ${shown(r.counts.possibly_eligible)}`),
    el("h2", {}, t("funnel")), funnelChart(r), steps,
    breakdowns.length ? [el("h2", {}, t("breakdowns")), breakdowns] : null);
}

/** The what-if toggles of a finished run: switch rules off, reorder, and recompute from the
 * run's stored result (POST /runs/{id}/what-if: no new scan, but a new release in the budget).
 * `show(result)` redraws the counts and the funnel in place; `budget()` refreshes the budget. */
function whatIf(run, show, budget) {
  const r = Array.isArray(run.result) ? run.result[0] : run.result;
  let order = r.attrition.map((s) => s.rule);
  const off = new Set(r.what_if ? r.what_if.without : []);
  order = [...order, ...off];
  const list = el("ol", { id: "whatif" });
  const status = el("p", { id: "whatif-status", "aria-live": "polite" });
  const draw = () => list.replaceChildren(...order.map((rule, i) => el("li", {},
    el("label", {}, el("input", { type: "checkbox", checked: off.has(rule), onchange: (e) => { e.target.checked ? off.add(rule) : off.delete(rule); } }), ` ${rule} ${t("rule_off")}`), " ",
    el("button", { type: "button", class: "secondary", "aria-label": `${t("up")}: ${rule}`, disabled: i === 0, onclick: () => { [order[i - 1], order[i]] = [order[i], order[i - 1]]; draw(); } }, "↑"),
    el("button", { type: "button", class: "secondary", "aria-label": `${t("down")}: ${rule}`, disabled: i === order.length - 1, onclick: () => { [order[i + 1], order[i]] = [order[i], order[i + 1]]; draw(); } }, "↓"))));
  draw();
  const button = el("button", { type: "button", id: "recompute" }, t("recompute"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.replaceChildren(t("recomputing"));
    try {
      const answer = await api(`/runs/${run.id}/what-if`, { json: { order: order.filter((x) => !off.has(x)), without: order.filter((x) => off.has(x)) } });
      show(answer);
      status.replaceChildren(el("span", { class: "note" }, t("whatif_from", { id: run.id, s: answer.data_snapshot })));
    } catch (exc) {
      status.replaceChildren(el("span", { class: "alert", role: "alert" }, exc.message));
    } finally {
      button.disabled = false;
      await budget();
    }
  });
  return el("section", { class: "card" }, el("h2", {}, t("whatif")), el("p", {}, t("whatif_note")), list, button, status);
}

export async function feasibilityPage([id, number], me) {
  const [study, o] = await Promise.all([api(`/studies/${id}`), api(`/studies/${id}/overview`)]);
  const version = o.versions.find((v) => String(v.number) === number);
  const budget = el("p", { id: "budget" });
  const showBudget = (m) => budget.replaceChildren(m.role !== "sponsor" ? "" : m.budget_left == null ? t("budget_unknown") : t("budget_left", { n: num(m.budget_left) }));
  showBudget(me);
  const progress = el("div", { id: "progress", "aria-live": "polite" });
  const output = el("div", {});
  const by = el("select", { id: "by" }, el("option", { value: "" }, t("by_none")), ["sex", "age_band", "centre"].map((d) => el("option", { value: d }, d)));

  async function follow(run) {
    const bar = el("progress", { max: 1, value: 0, "aria-label": "progress" });
    while (run.status === "queued" || run.status === "running") {
      progress.replaceChildren(el("p", {}, t("run_status", { id: run.id, status: `${run.status}${run.phase ? " · " + run.phase : ""}` }), " ", bar));
      bar.value = run.progress || 0;
      await new Promise((r) => setTimeout(r, 400));
      run = await api(`/runs/${run.id}`);
    }
    progress.replaceChildren(el("p", { id: "run-status" }, t("run_status", { id: run.id, status: run.status }), ` — ${date(run.finished_at)}`));
    if (run.status === "failed") { output.replaceChildren(el("p", { class: "alert", role: "alert" }, run.error)); return; }
    const shownResult = el("div", { id: "shown-result" }, resultView(run.result));
    const show = (result) => shownResult.replaceChildren(resultView(result));
    output.replaceChildren(shownResult, whatIf(run, show, async () => showBudget(await refreshMe())));
  }

  async function start() {
    const options = {};
    if (by.value) options.by = [by.value];
    try {
      const run = await api(`/studies/${id}/versions/${number}/runs`, { method: "POST", json: options });
      showBudget(await refreshMe());
      await follow(run);
    } catch (exc) {
      progress.replaceChildren(el("p", { class: "alert", role: "alert" }, exc.message));
    }
  }

  if (o.last_run && version && o.last_run.version_id === version.id && o.last_run.status === "done") {
    follow(await api(`/runs/${o.last_run.id}`));
  }
  return [el("h1", {}, `${t("feasibility")}: ${study.name} v${number}`), budget,
    el("form", { class: "card", onsubmit: (e) => { e.preventDefault(); start(); } },
      el("label", { for: "by" }, t("by")), by, " ", el("button", { type: "submit", id: "start-run" }, t("start_run"))),
    progress, output];
}
