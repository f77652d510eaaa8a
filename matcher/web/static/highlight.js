// Syntax colouring of a criteria file, one line at a time, with the diagnostics' ranges
// underlined. Returns HTML in which every character of the source is escaped.
const KEYWORDS = new Set(("study version title index date terminology param codes inclusion exclusion " +
  "has diagnosis diagnoses prescription prescriptions lab latest earliest encounter encounters age at " +
  "least most within before after of and or not months month years year days day weeks week unknown as " +
  "eligible ineligible descendants count sex is between").split(" "));
const SYSTEMS = new Set("icd10 icd10cm icpc2 atc loinc snomed ciscode cip13".split(" "));
const TOKEN = /(#.*$)|("(?:[^"\\]|\\.)*"?)|(\$[A-Za-z_]\w*)|(\b\d[\w.\-*/{}]*)|([A-Za-z_][\w.*-]*)|(\s+)|(.)/g;

const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function classes(line) {
  const out = new Array(line.length).fill("");
  for (const m of line.matchAll(TOKEN)) {
    let cls = "";
    if (m[1]) cls = "c"; else if (m[2]) cls = "s"; else if (m[3]) cls = "v"; else if (m[4]) cls = "n";
    else if (m[5]) cls = SYSTEMS.has(m[5].toLowerCase()) ? "sys" : KEYWORDS.has(m[5].toLowerCase()) ? "k" : "";
    out.fill(cls, m.index, m.index + m[0].length);
  }
  return out;
}

/** HTML of `line` (0-based `index`), with `marks` = [{from, to, sev}] (0-based columns). */
export function highlightLine(line, marks) {
  const cls = classes(line);
  const mark = new Array(line.length + 1).fill("");
  for (const { from, to, sev } of marks) {
    const end = Math.max(from + 1, Math.min(to, line.length + 1));
    for (let i = from; i < end; i++) if (mark[i] !== "e") mark[i] = sev;
  }
  let html = "";
  let i = 0;
  const text = line + " "; // a trailing cell so an error at the end of a line is visible
  cls.push("");
  while (i < text.length) {
    let j = i + 1;
    while (j < text.length && cls[j] === cls[i] && mark[j] === mark[i]) j++;
    let piece = escape(text.slice(i, j));
    if (cls[i]) piece = `<span class="${cls[i]}">${piece}</span>`;
    if (mark[i]) piece = `<mark class="${mark[i]}">${piece}</mark>`;
    html += piece;
    i = j;
  }
  return html;
}

/** Marks per 0-based line from the API's diagnostics (1-based, end exclusive). */
export function marksByLine(diagnostics) {
  const out = new Map();
  for (const d of diagnostics) {
    const sev = d.severity === "error" ? "e" : "w";
    const [endLine, endColumn] = d.end || [d.line, d.column + 1];
    for (let line = d.line; line <= Math.max(d.line, endLine); line++) {
      const from = line === d.line ? d.column - 1 : 0;
      const to = line === endLine ? endColumn - 1 : 10000;
      if (!out.has(line - 1)) out.set(line - 1, []);
      out.get(line - 1).push({ from, to, sev });
    }
  }
  return out;
}
