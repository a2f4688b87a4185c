"""``muxsim fuzz``: the differential property test from the command line.

Hypothesis draws scenarios (:func:`muxsim.strategies.scenarios`), each runs
on the real kernel and on the model, and the first divergence is shrunk to a
minimal scenario. That scenario is written, with every expectation recorded
from the real kernel, into ``models/regressions/`` (or ``--out``), where the
test suite runs it forever after.

``--jobs N`` runs N worker processes, each with its own seed and share of
the examples; processes have their own descriptor tables and ephemeral
ports, so they cannot clash. The parent owns Ctrl-C and the files (see
"workers" below).
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import threading
import time
import traceback
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
from muxsim.sigint import check_interrupted, forget_in_child
from muxsim.strategies import scenarios

PROFILES = {"dev": 200, "ci": 500, "nightly": 20000}
WATCHDOG = 0.05


@dataclass
class FuzzReport:
    examples: int = 0
    statements: int = 0
    divergences: int = 0
    written: list[str] = field(default_factory=list)
    found: list[tuple[str, str]] = field(default_factory=list)  # (file name, text)
    stats: collections.Counter[str] = field(default_factory=collections.Counter)
    elapsed: float = 0.0

    def merge(self, other: FuzzReport) -> None:
        self.examples += other.examples
        self.statements += other.statements
        self.divergences += other.divergences
        self.found += other.found
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


def fuzz_share(examples: int, seed_value: int,
               progress: Callable[[int], None] | None = None) -> FuzzReport:
    """One process's share of the fuzzing; divergences come back as text, unwritten.

    :func:`muxsim.sigint.check_interrupted` runs between examples and
    between shrinking steps: a Ctrl-C that Hypothesis's garbage-collector
    callback swallowed still ends the run within one example.
    """
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
        check_interrupted()
        report.examples += 1
        report.statements += len(scenario.statements)
        real = real_backend.run(scenario, options)
        sim = sim_backend.run(scenario, options)
        _count(real, report.stats)
        if progress is not None:
            progress(report.examples)
        check_interrupted()
        if divergences(real, sim):
            failing.append((scenario, real, sim))
            raise AssertionError("the model and the kernel diverge")

    def diverges(candidate: Scenario) -> bool:
        check_interrupted()
        return bool(divergences(real_backend.run(candidate, options),
                                sim_backend.run(candidate, options)))

    try:
        differential()
    except AssertionError:
        check_interrupted()
        shrunk = minimize(failing[-1][0], diverges)  # Hypothesis replays the minimal last
        scenario = Scenario(shrunk.statements, path="<fuzz>")
        real = real_backend.run(scenario, options)
        sim = sim_backend.run(scenario, options)
        report.divergences += 1
        text = regression_text(scenario, real, sim, seed_value)
        digest = hashlib.sha256(text.split("\n", 3)[-1].encode()).hexdigest()[:10]
        report.found.append((f"fuzz-{digest}.mux", text))
    check_interrupted()
    report.elapsed = time.monotonic() - began
    return report


class UnwrittenDivergence(OSError):
    """A shrunk divergence that could not be written; ``text`` holds it, so it is not lost."""

    def __init__(self, cause: OSError, path: str, text: str) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), path)
        self.text = text


def write_found(report: FuzzReport, out_dir: str) -> None:
    """Write each divergence not yet written into ``out_dir``, each file atomically."""
    for name, text in report.found[len(report.written):]:
        path = os.path.join(out_dir, name)
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise UnwrittenDivergence(exc, path, text) from exc
        report.written.append(path)


def run_fuzz(examples: int, seed_value: int, out_dir: str,
             progress: Callable[[int], None] | None = None) -> FuzzReport:
    """Fuzz in this process and write what diverged into ``out_dir``."""
    report = fuzz_share(examples, seed_value, progress)
    write_found(report, out_dir)
    return report


# -- workers ------------------------------------------------------------------------
#
# The parent owns Ctrl-C. Workers are forked with SIGINT blocked and ignore it
# before unblocking it, so a Ctrl-C to the terminal's process group reaches
# only the parent, as does ``kill -INT`` to the parent alone. The parent then
# terminates every worker (SIGTERM, SIGKILL after a bound) and reaps it
# before it exits 130. Workers never write files: they send their shrunk
# divergences to the parent, which writes each atomically, so a worker killed
# at any moment leaves nothing half-written. No Manager process: progress is
# a shared array of counts.

STOP_GRACE = 5.0  # seconds a terminated worker has before SIGKILL


def _worker_main(examples: int, seed_value: int, index: int, counts: Any,
                 conn: multiprocessing.connection.Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    forget_in_child()

    def progress(done: int) -> None:
        counts[index] = done

    try:
        conn.send(("done", fuzz_share(examples, seed_value, progress)))
    except BaseException as exc:  # the parent reports it as an internal error
        conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


def _stop(workers: list[multiprocessing.process.BaseProcess]) -> None:
    """Terminate and reap every worker, within a bound, whatever signals arrive meanwhile."""
    mask = _block_sigint()
    try:
        for worker in workers:
            if worker.exitcode is None:
                worker.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.exitcode is None:
                worker.kill()
                worker.join()
    finally:
        _restore(mask)


def _block_sigint() -> set[int | signal.Signals] | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _restore(mask: set[int | signal.Signals] | None) -> None:
    if mask is not None:  # the caller's mask as it was; a pending Ctrl-C is raised now
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def fuzz_parallel(examples: int, seed_value: int, jobs: int, out_dir: str,
                  progress: Callable[[int], None] | None = None) -> FuzzReport:
    """Fuzz with ``jobs`` worker processes, each with its own seed (``seed + i``)."""
    if jobs <= 1:
        return run_fuzz(examples, seed_value, out_dir, progress)
    shares = [examples // jobs + (1 if i < examples % jobs else 0) for i in range(jobs)]
    total = FuzzReport()
    began = time.monotonic()
    counts = multiprocessing.RawArray("q", jobs)
    workers: list[multiprocessing.process.BaseProcess] = []
    pending: dict[multiprocessing.connection.Connection,
                  tuple[int, multiprocessing.process.BaseProcess]] = {}  # by reader
    try:
        mask = _block_sigint()  # workers start with it blocked (inherited)
        try:
            for i, n in enumerate(shares):
                if not n:
                    continue
                reader, writer = multiprocessing.Pipe(duplex=False)
                worker = multiprocessing.Process(
                    target=_worker_main, args=(n, seed_value + i, i, counts, writer),
                    name=f"muxsim-fuzz-{i}", daemon=True)
                worker.start()
                workers.append(worker)
                writer.close()  # the worker holds the only write end: EOF if it dies
                pending[reader] = (i, worker)
        finally:
            _restore(mask)
        while pending:
            check_interrupted()
            ready = multiprocessing.connection.wait(list(pending), timeout=0.25)
            for conn in [c for c in pending if c in ready]:
                i, done = pending.pop(conn)
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    done.join(STOP_GRACE)
                    raise RuntimeError(f"fuzz worker {i} ended without a report "
                                       f"(exit code {done.exitcode})") from None
                finally:
                    conn.close()
                if kind == "error":
                    raise RuntimeError(f"fuzz worker {i} failed:\n{payload}")
                share: FuzzReport = payload
                total.merge(share)
                write_found(total, out_dir)
                done.join(STOP_GRACE)
            if progress is not None:
                progress(sum(counts))
    finally:
        _stop(workers)  # at once on Ctrl-C or an error; a no-op once all reported
        for reader in pending:
            reader.close()
    total.elapsed = time.monotonic() - began
    return total


def default_seed() -> int:
    return int.from_bytes(os.urandom(4), "big") if "PYTEST_CURRENT_TEST" not in os.environ \
        else 0


__all__ = ["PROFILES", "FuzzReport", "UnwrittenDivergence", "fuzz_parallel", "fuzz_share",
           "run_fuzz", "write_found"]
