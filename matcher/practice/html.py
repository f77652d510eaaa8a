"""A self-contained printable HTML page of a re-identified candidate list.

One file, no external asset (styles inline, no script, no font or image to fetch), every text
escaped. It is printed or kept at the practice: it holds names and must not leave it.

>>> page_escape('<b>"x"</b>')
'&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
"""

from __future__ import annotations

import html

from matcher.practice.reidentify import STATUS_TEXT, Reidentified, summary_lines

_STYLE = """
body { font-family: sans-serif; font-size: 11pt; margin: 1.5cm; color: #000; }
h1 { font-size: 15pt; margin-bottom: 0.2em; }
p.note { border: 1px solid #888; padding: 0.5em; background: #f4f4f4; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { border: 1px solid #666; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #e8e8e8; }
td.status-possibly_eligible { font-style: italic; }
ul { margin: 0; padding-left: 1.1em; }
dl dt { font-weight: bold; }
@media print {
  body { margin: 0.8cm; } tr { page-break-inside: avoid; } p.note { background: none; }
}
"""


def page_escape(text: object) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(text), quote=True)


def _rules(rules: tuple) -> str:
    if not rules:
        return "—"
    items = "".join(
        f"<li><b>{page_escape(r.name)}</b>: "
        + ("<i>must be absent:</i> " if r.kind == "exclusion" else "")
        + f"{page_escape(r.description)}</li>"
        for r in rules
    )
    return f"<ul>{items}</ul>"


def render_html(result: Reidentified) -> str:
    """The whole page as one string."""
    lst = result.candidate_list
    title = f"Candidates for study {lst.study_id}"
    rows = "".join(
        f"<tr><td>{m.row}</td><td>{page_escape(m.local_id)}</td><td>{page_escape(m.name)}</td>"
        f"<td>{page_escape(m.birth_date)}</td>"
        f'<td class="status-{page_escape(m.status)}">{page_escape(STATUS_TEXT[m.status])}</td>'
        f"<td>{_rules(m.met)}</td><td>{_rules(m.to_verify)}</td></tr>"
        for m in result.matches
    )
    summary = "".join(f"<p>{page_escape(line)}</p>" for line in summary_lines(result))
    rules = "".join(
        f"<dt>{page_escape(r.name)} ({page_escape(r.kind)})</dt>"
        f"<dd>{page_escape(r.description)}</dd>"
        for r in lst.rules
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<title>{page_escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{page_escape(title)}</h1>
{summary}
<p class="note">Confidential: names of patients of this practice. Keep at the practice.
The platform checked the rules on coded data only: before contacting a patient, check each
rule in the record (especially those to verify), and use your own judgement.</p>
<table>
<thead><tr><th>row</th><th>local id</th><th>name</th><th>born</th><th>status</th>
<th>rules met</th><th>rules to verify</th></tr></thead>
<tbody>{rows}</tbody>
</table>
<h2>The study's rules</h2>
<dl>{rules}</dl>
</body>
</html>
"""
