"""The report's data: every scenario graded on every column, and the run's facts.

Columns: the real kernel, the model with Linux semantics, and the model with
the textbook reading. Grades (one per scenario and column):

* ``pass``: every expectation holds (and, for a model column, every outcome
  equals the real kernel's);
* ``fail``: an expectation does not hold;
* ``diverge``: a model column's outcome differs from the real kernel's;
* ``kernel-dependent``: the scenario says its expectations depend on the
  kernel version (a ``# kernel-dependent:`` line in its claim);
* ``skipped``: the column could not run it (the reason is kept).

This module builds plain data (dataclasses that turn into the documented
``results.json``); the renderers turn it into HTML, Markdown and JUnit.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from muxsim.compare import divergences
from muxsim.lang.outcomes import same_outcome
from muxsim.lang.printer import format_action
from muxsim.lang.results import ScenarioResult
from muxsim.lang.syntax import Poll, Scenario, Select, Spawn, Wait

Grade = Literal["pass", "fail", "diverge", "kernel-dependent", "skipped"]
GRADES: tuple[Grade, ...] = ("pass", "fail", "diverge", "kernel-dependent", "skipped")
COLUMNS = ("real", "sim", "textbook")
COLUMN_TITLES = {"real": "real kernel", "sim": "model (linux)", "textbook": "model (textbook)"}
RESULTS_VERSION = 2


@dataclass
class Row:
    """One statement: what was expected and what each column gave."""

    line: int
    statement: str
    expected: str | None
    outcomes: dict[str, str]
    explain: list[str]
    differs: list[str]  # columns whose outcome differs from the real kernel's


@dataclass
class Entry:
    """One scenario in the matrix."""

    id: str
    path: str
    topic: str
    muxes: list[str]
    claim: str
    source: str
    grades: dict[str, str]
    reasons: dict[str, str]
    rows: list[Row]


@dataclass
class Report:
    run: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    fuzz: dict[str, Any] = field(default_factory=dict)
    compare: dict[str, list[str]] | None = None
    claims: list[dict[str, Any]] = field(default_factory=list)
    costs: dict[str, list[float]] = field(default_factory=dict)
    plot_svg: str = ""

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {c: {g: 0 for g in GRADES} for c in COLUMNS}
        for e in self.entries:
            for c in COLUMNS:
                out[c][e.grades[c]] += 1
        return out

    def groups(self) -> dict[str, list[Entry]]:
        grouped: dict[str, list[Entry]] = {}
        for e in sorted(self.entries, key=lambda e: (e.topic, e.id)):
            grouped.setdefault(e.topic, []).append(e)
        return grouped

    def group_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        for topic, entries in self.groups().items():
            out[topic] = {c: {g: 0 for g in GRADES} for c in COLUMNS}
            for e in entries:
                for c in COLUMNS:
                    out[topic][c][e.grades[c]] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "results_version": RESULTS_VERSION,
            "run": self.run,
            "columns": {c: COLUMN_TITLES[c] for c in COLUMNS},
            "counts": self.counts(),
            "groups": self.group_counts(),
            "scenarios": [asdict(e) for e in self.entries],
            "fuzz": self.fuzz,
            "compare": self.compare,
            "claims": self.claims,
            "costs": {k: [None if v != v else round(v, 3) for v in vs]
                      for k, vs in self.costs.items()},
        }


_PREFIXES = ("adv3", "adv", "x", "y")


def topic_of(path: str) -> str:
    """The scenario's topic, from its file name (``epoll-et-...`` is epoll)."""
    words = os.path.basename(path).removesuffix(".mux").split("-")
    if len(words) > 1 and words[0] in _PREFIXES:
        words = words[1:]
    if words[0] in ("kself", "gvisor", "cpython", "mio", "libuv", "libevent", "go", "jdk",
                    "linux") and len(words) > 1:
        words = words[1:]
    head = words[0]
    if head.startswith("epoll") or head in ("ew",):
        return "epoll"
    if "regressions" in path or head == "fuzz":
        return "regressions"
    return head if head in ("pipe", "poll", "select", "tcp", "unix", "udp", "waiters",
                            "names", "timeouts") else "other"


def muxes_of(scenario: Scenario) -> list[str]:
    found = set()
    for st in scenario.statements:
        action = st.action.call if isinstance(st.action, Spawn) else st.action
        if isinstance(action, Wait):
            found.add("epoll")
        elif isinstance(action, Poll):
            found.add("poll")
        elif isinstance(action, Select):
            found.add("select")
    return sorted(found)


def claim_and_source(scenario: Scenario) -> tuple[str, str, bool]:
    claim_lines: list[str] = []
    source_lines: list[str] = []
    target = claim_lines
    kernel_dependent = False
    for line in scenario.claim.splitlines():
        if line.lower().startswith("kernel-dependent"):
            kernel_dependent = True
        if line.startswith("Source:"):
            target = source_lines
            line = line.removeprefix("Source:").strip()
        elif line.startswith("Claim:"):
            line = line.removeprefix("Claim:").strip()
        target.append(line)
    return " ".join(claim_lines).strip(), " ".join(source_lines).strip(), kernel_dependent


def grade_entry(scenario: Scenario, results: dict[str, ScenarioResult | str]) -> Entry:
    """Grade one scenario: ``results`` maps a column to its run, or to why it was skipped."""
    claim, source, kernel_dependent = claim_and_source(scenario)
    grades: dict[str, str] = {}
    reasons: dict[str, str] = {}
    real = results.get("real")
    for column in COLUMNS:
        result = results.get(column)
        if not isinstance(result, ScenarioResult):
            grades[column] = "skipped"
            reasons[column] = str(result or "not run")
            continue
        if column != "real" and isinstance(real, ScenarioResult) and divergences(real, result):
            grades[column] = "diverge"
        elif not result.passed:
            grades[column] = "kernel-dependent" if kernel_dependent else "fail"
        else:
            grades[column] = "pass"
    rows = []
    for i, st in enumerate(scenario.statements):
        outcomes: dict[str, str] = {}
        explain: list[str] = []
        for column in COLUMNS:
            result = results.get(column)
            if isinstance(result, ScenarioResult):
                outcomes[column] = str(result.results[i].outcome)
                if column == "sim":
                    explain = list(result.results[i].explain)
        differs = [c for c in ("sim", "textbook") if isinstance(real, ScenarioResult)
                   and isinstance(results.get(c), ScenarioResult)
                   and not same_outcome(real.results[i].outcome,
                                        results[c].results[i].outcome)]  # type: ignore[union-attr]
        rows.append(Row(st.where.line, format_action(st.action),
                        None if st.expect is None else str(st.expect), outcomes, explain,
                        differs))
    ident = scenario_id(scenario.path)
    return Entry(ident, scenario.path, topic_of(scenario.path), muxes_of(scenario), claim,
                 source, grades, reasons, rows)


def scenario_id(path: str) -> str:
    """``models/conformance/x`` whatever the working directory the report ran in."""
    full = os.path.abspath(path).replace(os.sep, "/")
    at = full.rfind("/models/")
    ident = full[at + 1:] if at >= 0 else os.path.normpath(path).replace(os.sep, "/")
    return ident.removesuffix(".mux")


def compare_runs(old: dict[str, Any], new: Report) -> dict[str, list[str]]:
    """What improved, regressed, was added or removed since another run's results.json."""
    rank = {"pass": 0, "kernel-dependent": 1, "skipped": 2, "diverge": 3, "fail": 4}
    before = {s["id"]: s["grades"] for s in old.get("scenarios", [])}
    after = {e.id: e.grades for e in new.entries}
    out: dict[str, list[str]] = {"improved": [], "regressed": [], "added": [], "removed": []}
    for ident, grades in sorted(after.items()):
        if ident not in before:
            out["added"].append(ident)
            continue
        for column in COLUMNS:
            was, now = before[ident].get(column, "skipped"), grades[column]
            if rank.get(now, 9) < rank.get(was, 9):
                out["improved"].append(f"{ident} [{column}: {was} -> {now}]")
            elif rank.get(now, 9) > rank.get(was, 9):
                out["regressed"].append(f"{ident} [{column}: {was} -> {now}]")
    out["removed"] = sorted(set(before) - set(after))
    return out
