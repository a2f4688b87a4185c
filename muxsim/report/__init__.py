"""``muxsim report``: the catalogue on the kernel, the model and the textbook, fuzzing, run facts.

Outputs, replaced together as one set (:func:`muxsim.files.write_set`: an
interrupted run or a full disk leaves the whole previous report, never new
files beside old ones): ``index.html`` (self-contained), ``summary.md``
(fits a CI job summary), ``results.json`` (schema:
``docs/results.schema.json``) and ``junit.xml``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from typing import Any

from muxsim.files import write_set
from muxsim.lang.inputs import InputFileError, read_input
from muxsim.lang.results import RunOptions
from muxsim.lang.syntax import Scenario
from muxsim.report.model import (
    COLUMN_TITLES,
    COLUMNS,
    GRADES,
    Report,
    compare_runs,
    grade_entry,
)
from muxsim.report.render import render_html, render_junit, render_markdown

__all__ = ["PreviousResultsError", "Report", "build_report", "load_previous", "terminal_table",
           "write_report"]

PREVIOUS_LIMIT = 64 * 1024 * 1024  # bytes: 50 times the catalogue's; refuses endless input


class PreviousResultsError(ValueError):
    """A ``--compare`` file that is not the results.json of an earlier report."""


def load_previous(path: str) -> dict[str, Any]:
    """An earlier run's results.json, checked in full before any work is done.

    Everything :func:`compare_runs` reads is checked here (each scenario an
    object with a string ``id`` and an object of string ``grades``), so a
    wrong file is refused in a second, not after the whole catalogue ran.
    """
    def bad(why: str) -> PreviousResultsError:
        return PreviousResultsError(f"{path}: not a results.json of an earlier report ({why})")

    try:
        # Bounded, and a FIFO or a device is refused unread.
        raw = read_input(path, PREVIOUS_LIMIT)
    except InputFileError as exc:
        raise bad(exc.message) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise bad("no list of scenarios")
    for i, entry in enumerate(data["scenarios"]):
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), str)
                and isinstance(entry.get("grades"), dict)
                and all(isinstance(k, str) and isinstance(v, str)
                        for k, v in entry["grades"].items())):
            raise bad(f"scenario {i} is not an object with a string id and string grades")
    return data


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def run_info(started: datetime.datetime, ended: datetime.datetime, seed: int,
             profile: str) -> dict[str, Any]:
    return {
        "kernel": platform.release(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "simpy": _version("simpy"),
        "hypothesis": _version("hypothesis"),
        "muxsim": _version("muxsim"),
        "commit": git_commit(),
        "seed": seed,
        "profile": profile,
        "started": started.isoformat(timespec="seconds"),
        "ended": ended.isoformat(timespec="seconds"),
    }


def build_report(scenarios: list[Scenario], options: RunOptions, *, examples: int, seed: int,
                 fuzz_out: str, progress: Callable[[str], None] | None = None,
                 measure: bool = True) -> Report:
    from muxsim.backends import get_backend
    from muxsim.fuzz import run_fuzz

    started = datetime.datetime.now(datetime.UTC)
    real, sim = get_backend("real"), get_backend("sim")
    textbook = RunOptions(watchdog=options.watchdog, semantics="textbook")
    report = Report(run={})
    for i, scenario in enumerate(scenarios, start=1):
        if progress is not None:
            progress(f"[{i}/{len(scenarios)}] {scenario.path}")
        results: dict[str, Any] = {}
        try:
            results["real"] = real.run(scenario, options)
        except OSError as exc:  # pragma: no cover - a machine that cannot run it
            results["real"] = f"the real kernel could not run it: {exc}"
        results["sim"] = sim.run(scenario, options)
        results["textbook"] = sim.run(scenario, textbook)
        report.entries.append(grade_entry(scenario, results))
    if measure:
        from dataclasses import asdict

        from muxsim.report.claims import check_claims, measure_costs, render_plot

        if progress is not None:
            progress("measuring select, poll and epoll_wait on the real kernel")
        report.costs = measure_costs()
        report.claims = [asdict(c) for c in check_claims(report.costs)]
        report.plot_svg = render_plot(report.costs)
    if examples > 0:
        if progress is not None:
            progress(f"fuzzing: {examples} examples")
        fuzz = run_fuzz(examples, seed, fuzz_out)
        report.fuzz = {"examples": fuzz.examples, "statements": fuzz.statements,
                       "divergences": fuzz.divergences, "written": fuzz.written,
                       "seconds": round(fuzz.elapsed, 2), "statistics": dict(fuzz.stats)}
    ended = datetime.datetime.now(datetime.UTC)
    report.run = run_info(started, ended, seed, f"{examples} fuzz examples")
    return report


def write_report(report: Report, out_dir: str,
                 previous: dict[str, Any] | None = None) -> list[str]:
    """Render everything first, then replace the outputs together; the paths.

    ``previous`` is an earlier run's results (:func:`load_previous`): the
    report then lists what improved, regressed, was added or removed.
    """
    if previous is not None:
        report.compare = compare_runs(previous, report)
    outputs = {
        "results.json": json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n",
        "summary.md": render_markdown(report),
        "junit.xml": render_junit(report),
        "index.html": render_html(report),
    }
    return write_set(out_dir, outputs)


def terminal_table(report: Report) -> str:
    counts = report.counts()
    width = max(len(t) for t in COLUMN_TITLES.values())
    lines = [f"{'column':<{width}}  " + "  ".join(f"{g:>16}" for g in GRADES)]
    for c in COLUMNS:
        lines.append(f"{COLUMN_TITLES[c]:<{width}}  " +
                     "  ".join(f"{counts[c][g]:>16}" for g in GRADES))
    lines.append("")
    lines.append(f"{'topic':<14} {'scenarios':>9}  " + "  ".join(
        f"{COLUMN_TITLES[c] + ' pass':>22}" for c in COLUMNS))
    for topic, gc in report.group_counts().items():
        n = sum(gc["real"].values())
        lines.append(f"{topic:<14} {n:>9}  " + "  ".join(f"{gc[c]['pass']:>22}" for c in COLUMNS))
    return "\n".join(lines)
