"""``muxsim fuzz``: the differential property test from the command line.

Hypothesis draws scenarios (:func:`muxsim.strategies.scenarios`), each runs
on the real kernel and on the model, and the first divergence is shrunk to a
minimal scenario. That scenario is written, with every expectation recorded
from the real kernel, into ``models/regressions/`` (or ``--out``), where the
test suite runs it forever after.

``--jobs N`` runs N worker processes, each with its own seed and share of
the examples; processes have their own descriptor tables and ephemeral
ports, so they cannot clash.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

from muxsim.compare import divergences
from muxsim.files import write_atomic
from muxsim.lang.outcomes import Errno, Hung, Ready, Selected
from muxsim.lang.printer import format_action
from muxsim.lang.record import fill_expectations, wants_expectation
from muxsim.lang.results import RunOptions, ScenarioResult
from muxsim.lang.syntax import Scenario
from muxsim.strategies import scenarios

PROFILES = {"dev": 200, "ci": 500, "nightly": 20000}
WATCHDOG = 0.05


@dataclass
class FuzzReport:
    examples: int = 0
    statements: int = 0
    divergences: int = 0
    written: list[str] = field(default_factory=list)
    stats: collections.Counter[str] = field(default_factory=collections.Counter)
    elapsed: float = 0.0

    def merge(self, other: FuzzReport) -> None:
        self.examples += other.examples
        self.statements += other.statements
        self.divergences += other.divergences
        self.written += other.written
        self.stats.update(other.stats)


def _count(result: ScenarioResult, stats: collections.Counter[str]) -> None:
    for r in result.results:
        stats[f"statement {type(r.statement.action).__name__.lower()}"] += 1
        outcome = r.outcome
        if isinstance(outcome, Errno):
            stats[f"outcome {outcome.name}"] += 1
        elif isinstance(outcome, Hung):
            stats["outcome HUNG"] += 1
        elif isinstance(outcome, Ready | Selected):
            stats["outcome ready" if str(outcome) != "-" else "outcome nothing ready"] += 1


def regression_text(scenario: Scenario, real: ScenarioResult, sim: ScenarioResult,
                    seed_value: int) -> str:
    """The shrunk scenario as a catalogue-style file, expectations from the kernel."""
    found = divergences(real, sim)
    when = datetime.date.today().isoformat()
    header = [
        f"# Claim: the model reproduces the real kernel on this scenario, found by "
        f"`muxsim fuzz --seed {seed_value}` on {when}.",
        "",
        "# Source: the real kernel (expectations recorded with muxsim record)",
    ]
    if found:
        first = found[0]
        header[1] = (f"# At line {first.index + 1 + len(header)} "
                     f"({format_action(first.left.statement.action)}) the kernel gave "
                     f"{first.left.outcome} and the model {first.right.outcome}.")
    else:
        header[1] = ("# It diverged during fuzzing but not when run again: a timing-dependent "
                     "case (see docs/nondeterminism.md).")
    body = "\n".join(format_action(s.action) for s in scenario.statements) + "\n"
    outcomes = {i: r.outcome for i, r in enumerate(real.results, start=len(header) + 1)
                if wants_expectation(r.statement)}
    return fill_expectations("\n".join(header) + "\n" + body, outcomes)


def minimize(scenario: Scenario, diverges: Callable[[Scenario], bool],
             budget: int = 2000) -> Scenario:
    """Delete statements one at a time while the divergence stays (after Hypothesis).

    Hypothesis shrinks the draws; a deleted draw can change what later draws
    mean (names are numbered), so a last pass over the statements themselves
    removes what is not needed. Candidates that no longer parse (a name used
    before it is made) are skipped.
    """
    from muxsim.lang.errors import ScenarioError
    from muxsim.lang.parser import parse
    from muxsim.lang.printer import format_scenario

    current = scenario
    changed = True
    while changed and budget > 0:
        changed = False
        for i in range(len(current.statements) - 1, -1, -1):
            if budget <= 0:
                break
            kept = current.statements[:i] + current.statements[i + 1:]
            try:
                candidate = parse(format_scenario(Scenario(kept)), "<minimizing>")
            except ScenarioError:
                continue
            budget -= 1
            if diverges(candidate):
                current = candidate
                changed = True
    return current


def run_fuzz(examples: int, seed_value: int, out_dir: str,
             progress: Callable[[int], None] | None = None) -> FuzzReport:
    """One process's share of the fuzzing."""
    from muxsim.backends import get_backend

    report = FuzzReport()
    options = RunOptions(watchdog=WATCHDOG)
    real_backend, sim_backend = get_backend("real"), get_backend("sim")
    failing: list[tuple[Scenario, ScenarioResult, ScenarioResult]] = []
    began = time.monotonic()

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(scenarios())
    def differential(scenario: Scenario) -> None:
        report.examples += 1
        report.statements += len(scenario.statements)
        real = real_backend.run(scenario, options)
        sim = sim_backend.run(scenario, options)
        _count(real, report.stats)
        if progress is not None:
            progress(report.examples)
        if divergences(real, sim):
            failing.append((scenario, real, sim))
            raise AssertionError("the model and the kernel diverge")

    def diverges(candidate: Scenario) -> bool:
        return bool(divergences(real_backend.run(candidate, options),
                                sim_backend.run(candidate, options)))

    try:
        differential()
    except AssertionError:
        shrunk = minimize(failing[-1][0], diverges)  # Hypothesis replays the minimal last
        scenario = Scenario(shrunk.statements, path="<fuzz>")
        real = real_backend.run(scenario, options)
        sim = sim_backend.run(scenario, options)
        report.divergences += 1
        text = regression_text(scenario, real, sim, seed_value)
        digest = hashlib.sha256(text.split("\n", 3)[-1].encode()).hexdigest()[:10]
        path = os.path.join(out_dir, f"fuzz-{digest}.mux")
        write_atomic(path, text)
        report.written.append(path)
    report.elapsed = time.monotonic() - began
    return report


def _worker(args: tuple[int, int, str, Any, int]) -> FuzzReport:
    examples, seed_value, out_dir, counts, index = args

    def progress(done: int) -> None:
        counts[index] = done

    return run_fuzz(examples, seed_value, out_dir, progress)


def fuzz_parallel(examples: int, seed_value: int, jobs: int, out_dir: str,
                  progress: Callable[[int], None] | None = None) -> FuzzReport:
    if jobs <= 1:
        return run_fuzz(examples, seed_value, out_dir, progress)
    shares = [examples // jobs + (1 if i < examples % jobs else 0) for i in range(jobs)]
    total = FuzzReport()
    began = time.monotonic()
    with multiprocessing.Manager() as manager, \
            concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        counts = manager.list([0] * jobs)
        futures = {pool.submit(_worker, (n, seed_value + i, out_dir, counts, i))
                   for i, n in enumerate(shares) if n}
        while futures:
            done, futures = concurrent.futures.wait(futures, timeout=0.5)
            for future in done:
                total.merge(future.result())
            if progress is not None:
                progress(sum(counts))
    total.elapsed = time.monotonic() - began
    return total


def default_seed() -> int:
    return int.from_bytes(os.urandom(4), "big") if "PYTEST_CURRENT_TEST" not in os.environ \
        else 0


__all__ = ["PROFILES", "FuzzReport", "fuzz_parallel", "run_fuzz"]
