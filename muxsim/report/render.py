"""Renderers: the report as self-contained HTML, Markdown, and JUnit XML.

The HTML page needs no network and no JavaScript: inline CSS, one matrix
(scenario x column, grouped by topic), and one section per scenario with
each statement's expected, real and model outcomes side by side, the
differences highlighted and the model's explanation under each outcome.
Every piece of text that comes from a scenario file is escaped.
"""

from __future__ import annotations

import html
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from muxsim.report.model import COLUMN_TITLES, COLUMNS, GRADES, Entry, Report

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.g-pass{background:#dff5df}.g-fail{background:#ffd6d6}.g-diverge{background:#ffe7b3}
.g-kernel-dependent{background:#e2e2ff}.g-skipped{background:#eee;color:#777}
.differs{background:#ffe7b3;font-weight:bold}.mismatch{background:#ffd6d6}
code,pre{font-family:ui-monospace,monospace;font-size:12.5px}
.explain{color:#555;font-size:12px;margin:0;padding-left:1em}
.claim{margin:.3em 0}.source{color:#555}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(entry: Entry) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in entry.id)


def render_html(report: Report) -> str:
    run = report.run
    counts = report.counts()
    out: list[str] = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<title>muxsim conformance report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>muxsim conformance report</h1>", "<h2 id='run'>Run</h2>", "<table>"]
    for key, value in run.items():
        out.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
    out.append("</table>")
    out.append("<h2 id='totals'>Totals</h2><table><tr><th>column</th>" +
               "".join(f"<th>{_e(g)}</th>" for g in GRADES) + "</tr>")
    for c in COLUMNS:
        out.append(f"<tr><th>{_e(COLUMN_TITLES[c])}</th>" +
                   "".join(f"<td class='g-{g}'>{counts[c][g]}</td>" for g in GRADES) + "</tr>")
    out.append("</table>")
    out.append("<h2 id='matrix'>Matrix</h2>")
    for topic, entries in report.groups().items():
        gc = report.group_counts()[topic]
        summary = "; ".join(f"{COLUMN_TITLES[c]}: {gc[c]['pass']}/{len(entries)} pass"
                            for c in COLUMNS)
        out.append(f"<h3>{_e(topic)} <small>({_e(summary)})</small></h3>")
        out.append("<table><tr><th>scenario</th><th>muxes</th>" +
                   "".join(f"<th>{_e(COLUMN_TITLES[c])}</th>" for c in COLUMNS) + "</tr>")
        for e in entries:
            cells = "".join(f"<td class='g-{_e(e.grades[c])}'>{_e(e.grades[c])}</td>"
                            for c in COLUMNS)
            out.append(f"<tr><td><a href='#{_anchor(e)}'>{_e(e.id)}</a></td>"
                       f"<td>{_e(', '.join(e.muxes) or '-')}</td>{cells}</tr>")
        out.append("</table>")
    if report.claims:
        ids = {e.id for e in report.entries}
        out.append("<h2 id='claims'>Classic claims, checked in this run</h2>")
        out.append("<table><tr><th>#</th><th>claim</th><th>verdict</th><th>evidence</th></tr>")
        for claim in report.claims:
            link = ""
            scenario = claim.get("scenario")
            if scenario:
                target = next((e for e in report.entries if e.id == scenario), None)
                link = (f" <a href='#{_anchor(target)}'>{_e(scenario)}</a>" if target is not None
                        and scenario in ids else f" {_e(scenario)}")
            verdict = _e(claim["verdict"])
            css = "g-pass" if claim["verdict"] == "true" else (
                "g-fail" if claim["verdict"] == "false" else "g-kernel-dependent")
            out.append(f"<tr><td>{claim['number']}</td><td>{_e(claim['text'])}</td>"
                       f"<td class='{css}'>{verdict}</td><td>{_e(claim['evidence'])}{link}</td>"
                       "</tr>")
        out.append("</table>")
    if report.plot_svg:
        out.append("<h2 id='plot'>Cost per call, measured on the real kernel</h2>")
        out.append(report.plot_svg)
        if report.costs:
            out.append("<table><tr><th>descriptors</th><th>select (µs)</th><th>poll (µs)</th>"
                       "<th>epoll_wait (µs)</th></tr>")
            for i, n in enumerate(report.costs.get("n", [])):
                vals = [report.costs[m][i] for m in ("select", "poll", "epoll")]
                cells = "".join(f"<td>{'n/a' if v != v else f'{v:.2f}'}</td>" for v in vals)
                out.append(f"<tr><td>{int(n)}</td>{cells}</tr>")
            out.append("</table><p>select above 1,023 is n/a: Python's select refuses "
                       "descriptors at or above FD_SETSIZE (claim 1).</p>")
    if report.fuzz:
        out.append("<h2 id='fuzz'>Fuzzing</h2><table>")
        for key, value in report.fuzz.items():
            if key != "statistics":
                out.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("</table>")
        stats = report.fuzz.get("statistics") or {}
        if stats:
            out.append("<table><tr><th>covered</th><th>count</th></tr>")
            for key, value in sorted(stats.items(), key=lambda kv: -kv[1]):
                out.append(f"<tr><td>{_e(key)}</td><td>{_e(value)}</td></tr>")
            out.append("</table>")
    if report.compare is not None:
        out.append("<h2 id='compare'>Since the previous run</h2>")
        for key, items in report.compare.items():
            out.append(f"<h3>{_e(key)} ({len(items)})</h3><ul>" +
                       "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")
    out.append("<h2 id='scenarios'>Scenarios</h2>")
    for e in sorted(report.entries, key=lambda e: e.id):
        out.append(f"<section id='{_anchor(e)}'><h3>{_e(e.id)}</h3>")
        out.append(f"<p class='claim'>{_e(e.claim)}</p>")
        if e.source:
            out.append(f"<p class='source'>Source: {_e(e.source)}</p>")
        grades = ", ".join(f"{COLUMN_TITLES[c]}: {e.grades[c]}" +
                           (f" ({e.reasons[c]})" if c in e.reasons else "") for c in COLUMNS)
        out.append(f"<p>{_e(grades)}</p>")
        out.append("<table><tr><th>line</th><th>statement</th><th>expected</th>" +
                   "".join(f"<th>{_e(COLUMN_TITLES[c])}</th>" for c in COLUMNS) + "</tr>")
        for row in e.rows:
            tds: list[str] = []
            for c in COLUMNS:
                value = row.outcomes.get(c, "")
                css = " class='differs'" if c in row.differs else ""
                if c == "real" and row.expected is not None and value and value != row.expected:
                    css = " class='mismatch'"
                extra = ""
                if c == "sim" and row.explain:
                    extra = "<ul class='explain'>" + "".join(
                        f"<li>{_e(step)}</li>" for step in row.explain) + "</ul>"
                tds.append(f"<td{css}><code>{_e(value)}</code>{extra}</td>")
            expected = "" if row.expected is None else f"<code>{_e(row.expected)}</code>"
            out.append(f"<tr><td>{row.line}</td><td><code>{_e(row.statement)}</code></td>"
                       f"<td>{expected}</td>{''.join(tds)}</tr>")
        out.append("</table></section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_markdown(report: Report) -> str:
    run = report.run
    counts = report.counts()
    total = len(report.entries)
    lines = ["# muxsim conformance summary", "",
             f"Kernel {run.get('kernel', '?')}, Python {run.get('python', '?')}, SimPy "
             f"{run.get('simpy', '?')}, Hypothesis {run.get('hypothesis', '?')}, commit "
             f"`{run.get('commit', '?')}`, started {run.get('started', '?')}.", "",
             "| column | " + " | ".join(GRADES) + " |",
             "| --- | " + " | ".join("---:" for _ in GRADES) + " |"]
    for c in COLUMNS:
        lines.append(f"| {COLUMN_TITLES[c]} | " + " | ".join(str(counts[c][g]) for g in GRADES)
                     + " |")
    lines += ["", f"{total} scenarios.", "", "| topic | scenarios | " +
              " | ".join(f"{COLUMN_TITLES[c]} pass" for c in COLUMNS) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " |"]
    for topic, gc in report.group_counts().items():
        n = sum(gc["real"].values())
        lines.append(f"| {topic} | {n} | " + " | ".join(str(gc[c]["pass"]) for c in COLUMNS)
                     + " |")
    bad = [e for e in report.entries if e.grades["real"] == "fail" or e.grades["sim"] != "pass"]
    if bad:
        lines += ["", "## Needs attention", ""]
        for e in bad:
            lines.append(f"- `{e.id}`: real {e.grades['real']}, model {e.grades['sim']}")
    if report.claims:
        lines += ["", "## Classic claims", "", "| # | claim | verdict |", "| ---: | --- | --- |"]
        for claim in report.claims:
            text = str(claim["text"]).replace("|", "\\|")
            lines.append(f"| {claim['number']} | {text} | {claim['verdict']} |")
    if report.fuzz:
        lines += ["", f"Fuzzing: {report.fuzz.get('examples', 0)} examples, "
                      f"{report.fuzz.get('divergences', 0)} divergences."]
    return "\n".join(lines) + "\n"


def render_junit(report: Report) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites name=\"muxsim\">"]
    for c in COLUMNS:
        entries = sorted(report.entries, key=lambda e: e.id)
        failures = sum(1 for e in entries if e.grades[c] in ("fail", "diverge"))
        skipped = sum(1 for e in entries if e.grades[c] == "skipped")
        out.append(f"  <testsuite name={quoteattr(COLUMN_TITLES[c])} tests=\"{len(entries)}\" "
                   f"failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">")
        for e in entries:
            grade = e.grades[c]
            out.append(f"    <testcase classname={quoteattr(e.topic)} name={quoteattr(e.id)}>")
            if grade in ("fail", "diverge"):
                detail = "; ".join(
                    f"line {r.line} {r.statement}: expected {r.expected}, got "
                    f"{r.outcomes.get(c)}" for r in e.rows
                    if (c in r.differs) or (r.expected is not None and
                                            r.outcomes.get(c) not in (None, r.expected)))
                out.append(f"      <failure message={quoteattr(grade)}>"
                           f"{xml_escape(detail)}</failure>")
            elif grade == "skipped":
                out.append(f"      <skipped message={quoteattr(e.reasons.get(c, ''))}/>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"
