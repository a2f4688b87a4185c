"""``muxsim report``: run the catalogue and write a summary.

For now (the model and the fuzzer come later) the report is the scenario
catalogue on the real kernel: a table on the terminal, ``summary.md`` (fits
a CI job summary) and ``results.json`` in the output directory, each written
atomically so that an interrupted run leaves the previous report intact.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any

from muxsim.files import write_atomic
from muxsim.lang.results import ScenarioResult

RESULTS_VERSION = 1


def scenario_row(result: ScenarioResult) -> dict[str, Any]:
    expectations = sum(1 for r in result.results if r.matched is not None)
    return {
        "scenario": result.scenario.path,
        "claim": result.scenario.claim.splitlines()[0] if result.scenario.claim else "",
        "statements": len(result.results),
        "expectations": expectations,
        "mismatches": [
            {"line": r.statement.where.line, "expected": str(r.statement.expect),
             "outcome": str(r.outcome)}
            for r in result.mismatches
        ],
        "grade": "pass" if result.passed else "fail",
        "elapsed": round(result.elapsed, 6),
    }


def render_table(rows: list[dict[str, Any]]) -> str:
    width = max([len(os.path.basename(r["scenario"])) for r in rows] + [8])
    lines = [f"{'scenario':<{width}}  {'stmts':>5}  {'expect':>6}  {'grade':<5}  {'time':>7}"]
    lines.append("-" * len(lines[0]))
    for r in rows:
        lines.append(f"{os.path.basename(r['scenario']):<{width}}  {r['statements']:>5}  "
                     f"{r['expectations']:>6}  {r['grade']:<5}  {r['elapsed']:>6.3f}s")
    return "\n".join(lines)


def render_markdown(rows: list[dict[str, Any]], environment: dict[str, str],
                    started: str) -> str:
    passed = sum(1 for r in rows if r["grade"] == "pass")
    out = [
        "# muxsim conformance summary",
        "",
        f"Real kernel {environment.get('kernel', '?')} ({environment.get('machine', '?')}), "
        f"Python {environment.get('python', '?')}, muxsim {environment.get('muxsim', '?')}; "
        f"run started {started}.",
        "",
        f"**{passed} of {len(rows)} scenarios pass on the real kernel.**",
        "",
        "| scenario | claim | statements | expectations | real kernel |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        claim = r["claim"].replace("|", "\\|")
        out.append(f"| `{os.path.basename(r['scenario'])}` | {claim} | {r['statements']} | "
                   f"{r['expectations']} | {r['grade']} |")
    failures = [r for r in rows if r["mismatches"]]
    if failures:
        out += ["", "## Mismatches", ""]
        for r in failures:
            for m in r["mismatches"]:
                out.append(f"- `{r['scenario']}` line {m['line']}: expected `{m['expected']}`, "
                           f"got `{m['outcome']}`")
    return "\n".join(out) + "\n"


def write_report(out_dir: str, results: list[ScenarioResult], started: datetime.datetime,
                 ended: datetime.datetime) -> tuple[str, list[dict[str, Any]]]:
    rows = [scenario_row(r) for r in results]
    environment = dict(results[0].environment) if results else {}
    started_text = started.isoformat(timespec="seconds")
    document: dict[str, Any] = {
        "results_version": RESULTS_VERSION,
        "started": started_text,
        "ended": ended.isoformat(timespec="seconds"),
        "environment": environment,
        "scenarios": rows,
        "totals": {
            "scenarios": len(rows),
            "passed": sum(1 for r in rows if r["grade"] == "pass"),
            "failed": sum(1 for r in rows if r["grade"] == "fail"),
        },
    }
    write_atomic(os.path.join(out_dir, "results.json"),
                 json.dumps(document, indent=2, sort_keys=True) + "\n")
    write_atomic(os.path.join(out_dir, "summary.md"),
                 render_markdown(rows, environment, started_text))
    return render_table(rows), rows
