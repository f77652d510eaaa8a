// The criteria editor: a textarea over its highlighted copy, a gutter of line numbers, live
// diagnostics (debounced POST /validate), "did you mean" in one click, completions from
// GET /terms and the expansion of the code set under the pointer or the caret.
import { api, el } from "./dom.js";
import { lang, t, num } from "./i18n.js";
import { highlightLine, marksByLine } from "./highlight.js";

const LINE = 20; // px, as in app.css
const PAD_X = 8;
const PAD_Y = 6;
export const metrics = (window.p4dpMetrics = window.p4dpMetrics || { markerLatencies: [] });

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** Offset in `text` of 1-based (line, column). */
export function offsetOf(text, line, column) {
  let offset = 0;
  for (let i = 1; i < line; i++) offset = text.indexOf("\n", offset) + 1;
  return offset + column - 1;
}

/** The code sets the file defines: name → expression. */
export function codesets(text) {
  const out = new Map();
  for (const m of text.matchAll(/^\s*codes\s+([A-Za-z_]\w*)\s*=\s*(.+)$/gm)) out.set(m[1], m[2].trim());
  return out;
}

/** The labels of a search hit, the user's language first, each marked with its language;
 * a label the terminology lacks is left out (never translated), the matched label if none. */
export function hitLabels(hit) {
  const both = lang() === "fr" ? [["fr", hit.label_fr], ["en", hit.label_en]] : [["en", hit.label_en], ["fr", hit.label_fr]];
  const present = both.filter(([, text]) => text);
  if (!present.length) return [hit.label];
  return present.flatMap(([code, text], i) => [i ? " · " : "", el("span", { lang: code, class: `label-${code}` }, text)]);
}

export function createEditor({ value, label, onChange }) {
  const gutter = el("pre", { class: "gutter", "aria-hidden": "true" });
  const overlay = el("pre", { "aria-hidden": "true" });
  const list = el("ul", { class: "completions", id: "completions", role: "listbox", "aria-label": t("completions"), hidden: true });
  const area = el("textarea", {
    id: "criteria", spellcheck: "false", autocomplete: "off", wrap: "off",
    "aria-autocomplete": "list", "aria-controls": "completions", "aria-describedby": "diagnostics",
  });
  const code = el("div", { class: "code" }, overlay, area, list);
  const box = el("div", { class: "editor" }, gutter, code);
  const diagList = el("ul", { class: "diags", id: "diagnostics", "aria-live": "polite" });
  const codesetPanel = el("div", { class: "card", id: "codeset", "aria-live": "polite" });
  let diagnostics = [];
  let seq = 0;
  let pendingSince = null;
  let charWidth = 8.4;

  const node = el("div", {},
    el("label", { for: "criteria" }, label), box,
    el("div", { class: "row" },
      el("section", { class: "grow" }, el("h2", {}, t("problems")), diagList),
      el("section", { class: "grow" }, el("h2", {}, t("codeset")), codesetPanel)));

  function paint() {
    const lines = area.value.split("\n");
    const marks = marksByLine(diagnostics);
    overlay.innerHTML = lines.map((line, i) => highlightLine(line, marks.get(i) || [])).join("\n");
    const sev = new Map();
    for (const d of diagnostics) if (sev.get(d.line) !== "e") sev.set(d.line, d.severity === "error" ? "e" : "w");
    gutter.innerHTML = lines.map((_, i) => (sev.has(i + 1) ? `<span class="${sev.get(i + 1)}">${i + 1}</span>` : `${i + 1}`)).join("\n");
  }

  function renderDiagnostics() {
    if (!diagnostics.length) { diagList.replaceChildren(el("li", { class: "ok" }, t("no_problems"))); return; }
    diagList.replaceChildren(...diagnostics.map((d) => {
      const fix = suggestionOf(d);
      return el("li", { "data-line": d.line, "data-column": d.column },
        el("span", { class: `sev-${d.severity}` }, d.severity), " ",
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); goTo(d.line, d.column); } }, t("line_col", d)),
        `: ${d.message}`, d.suggestion ? `; ${d.suggestion}` : "",
        fix ? [" ", el("button", { type: "button", class: "secondary apply", onclick: () => apply(d, fix) }, `${t("apply")} « ${fix} »`)] : null);
    }));
  }

  function suggestionOf(d) {
    const m = /did you mean '([^']+)'/.exec(d.suggestion || "");
    return m ? m[1] : null;
  }

  function goTo(line, column) {
    const at = offsetOf(area.value, line, column);
    area.focus();
    area.setSelectionRange(at, at);
  }

  function replaceRange(from, to, text) {
    area.focus();
    area.setSelectionRange(from, to);
    // execCommand keeps the browser's undo history; setRangeText where it is not available
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      area.setRangeText(text, from, to, "end");
      area.dispatchEvent(new Event("input"));
    }
  }

  function apply(d, fix) {
    const from = offsetOf(area.value, d.line, d.column);
    const [endLine, endColumn] = d.end || [d.line, d.column + 1];
    replaceRange(from, offsetOf(area.value, endLine, endColumn), fix);
  }

  const validate = debounce(async () => {
    const mine = ++seq;
    const since = pendingSince;
    try {
      const report = await api("/validate", { json: { criteria: area.value, filename: "criteria.p4dp" } });
      if (mine !== seq) return;
      diagnostics = report.diagnostics;
    } catch (exc) {
      if (mine !== seq) return;
      diagnostics = [];
      diagList.replaceChildren(el("li", { class: "bad", role: "alert" }, exc.message));
      return;
    }
    paint();
    renderDiagnostics();
    if (since !== null) {
      requestAnimationFrame(() => metrics.markerLatencies.push(performance.now() - since));
      pendingSince = null;
    }
    node.dataset.validated = String(mine);
  }, 200);

  // --- completions from the terminology search -------------------------------------------
  let options = [];
  let active = -1;
  function closeList() { list.hidden = true; active = -1; area.removeAttribute("aria-activedescendant"); }
  function wordBefore() {
    const before = area.value.slice(0, area.selectionStart);
    const lineStart = before.lastIndexOf("\n") + 1;
    const line = before.slice(lineStart);
    const m = /([\wÀ-ÿ.*-]+)$/.exec(line);
    return { line, lineStart, word: m ? m[1] : "", at: area.selectionStart - (m ? m[1].length : 0) };
  }
  const complete = debounce(async (force) => {
    const { line, word, at, lineStart } = wordBefore();
    if (word.length < 3 || !(force || /^\s*codes\s+\w+\s*=/.test(line))) { closeList(); return; }
    let hits;
    try { hits = await api(`/terms?q=${encodeURIComponent(word)}&limit=8`); } catch { closeList(); return; }
    if (!hits.length || wordBefore().word !== word) { closeList(); return; }
    options = hits;
    list.replaceChildren(...hits.map((h, i) => el("li", {
      id: `completion-${i}`, role: "option", "aria-selected": "false",
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, `${h.system} ${h.code} — `, ...hitLabels(h), ` (${h.version})`)));
    const row = area.value.slice(0, lineStart).split("\n").length;
    list.style.top = `${PAD_Y + row * LINE}px`;
    list.style.left = `${PAD_X + (at - lineStart) * charWidth}px`;
    list.hidden = false;
    select(0);
  }, 150);
  function select(i) {
    active = (i + options.length) % options.length;
    [...list.children].forEach((li, j) => li.setAttribute("aria-selected", String(j === active)));
    area.setAttribute("aria-activedescendant", `completion-${active}`);
    list.children[active].scrollIntoView({ block: "nearest" });
  }
  function choose(i) {
    const hit = options[i];
    const { line, at } = wordBefore();
    const previous = /(\w+)\s+$/.exec(line.slice(0, line.length - (area.selectionStart - at)));
    const text = previous && previous[1].toLowerCase() === hit.system ? hit.code : `${hit.system} ${hit.code}`;
    closeList();
    replaceRange(at, area.selectionStart, text);
  }

  // --- the code set under the pointer or the caret -----------------------------------------
  const expansions = new Map();
  let shown = null;
  const showCodeset = debounce(async (name) => {
    const expr = codesets(area.value).get(name);
    if (!expr || `${name}=${expr}` === shown) return;
    shown = `${name}=${expr}`;
    try {
      if (!expansions.has(expr)) expansions.set(expr, await api(`/codesets/expand?expr=${encodeURIComponent(expr)}`));
    } catch (exc) { codesetPanel.replaceChildren(el("p", { class: "bad" }, `${name}: ${exc.message}`)); return; }
    const out = expansions.get(expr);
    codesetPanel.replaceChildren(el("p", {}, el("strong", {}, name), ` = ${expr} — `, t("codes_n", { n: num(out.count) })),
      el("ul", {}, out.codes.slice(0, 30).map((c) => el("li", {}, `${c.system} ${c.code} (${c.version})`))));
    if (out.count > 30) codesetPanel.append(el("p", {}, "…"));
  }, 200);
  function wordAt(offset) {
    const text = area.value;
    let a = offset; let b = offset;
    while (a > 0 && /\w/.test(text[a - 1])) a--;
    while (b < text.length && /\w/.test(text[b])) b++;
    return text.slice(a, b);
  }
  area.addEventListener("mousemove", (e) => {
    const line = Math.floor((e.offsetY - PAD_Y) / LINE) + 1;
    const column = Math.floor((e.offsetX - PAD_X) / charWidth) + 1;
    const lines = area.value.split("\n");
    if (line < 1 || line > lines.length || column < 1 || column > lines[line - 1].length) return;
    const name = wordAt(offsetOf(area.value, line, column));
    if (codesets(area.value).has(name)) showCodeset(name);
  });
  const caretMoved = () => { const name = wordAt(area.selectionStart); if (codesets(area.value).has(name)) showCodeset(name); };
  area.addEventListener("keyup", caretMoved);
  area.addEventListener("click", caretMoved);

  area.addEventListener("keydown", (e) => {
    if (e.key === " " && e.ctrlKey) { e.preventDefault(); complete(true); return; }
    if (list.hidden) return;
    if (e.key === "ArrowDown") { e.preventDefault(); select(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); select(active - 1); }
    else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(active); }
    else if (e.key === "Escape") { e.preventDefault(); closeList(); }
  });
  area.addEventListener("input", () => {
    if (pendingSince === null) pendingSince = performance.now();
    pendingSince = performance.now();
    paint();
    validate();
    complete(false);
    onChange && onChange(area.value);
  });
  area.addEventListener("blur", () => setTimeout(closeList, 100));

  area.value = value;
  requestAnimationFrame(() => {
    const probe = el("span", {}, "x".repeat(100));
    probe.style.visibility = "hidden";
    probe.style.position = "absolute";
    code.append(probe); charWidth = probe.getBoundingClientRect().width / 100 || charWidth; probe.remove();
  });
  paint();
  validate();
  return { node, area, value: () => area.value, diagnostics: () => diagnostics };
}
