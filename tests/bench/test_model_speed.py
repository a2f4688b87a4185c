"""How fast the model is, as ratios against raw SimPy measured in the same run.

``make bench`` runs these with timing (JSON under ``reports/bench/``);
``make test`` runs them once as plain tests (``--benchmark-disable``), where
the ratio bars are not asserted: a shared CI machine is too noisy for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import simpy
from pytest_benchmark.fixture import BenchmarkFixture

from muxsim.lang import parse, parse_file, parse_statement
from muxsim.lang.results import RunOptions
from muxsim.lang.syntax import Scenario
from muxsim.model import SimKernel
from tests.conftest import catalogue_files

#: A model step (one statement) may cost at most this many raw SimPy events.
STEP_BAR_EVENTS = 20.0


def raw_simpy_event_seconds(events: int = 20000, repeats: int = 5) -> float:
    """Seconds per event of a trivial SimPy process (the baseline).

    It builds its timeouts as the model does (``simpy.Timeout``), not through
    ``env.timeout``, whose bound-method detour would make the baseline slower
    by about 8% and so flatter the model.
    """

    def proc(env: simpy.Environment) -> simpy.events.ProcessGenerator:
        for _ in range(events):
            yield simpy.Timeout(env, 1)

    best = float("inf")
    for _ in range(repeats):
        env = simpy.Environment()
        env.process(proc(env))
        began = time.perf_counter()
        env.run()
        best = min(best, (time.perf_counter() - began) / events)
    return best


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


@pytest.fixture(scope="module")
def catalogue() -> list[Scenario]:
    return [parse_file(str(p)) for p in catalogue_files()]


@pytest.mark.benchmark(group="model throughput")
def test_model_step_cost_over_the_catalogue(benchmark: BenchmarkFixture,
                                            catalogue: list[Scenario]) -> None:
    kernel = SimKernel()
    statements = sum(len(s.statements) for s in catalogue)

    def run_all() -> None:
        for scenario in catalogue:
            kernel.run(scenario, RunOptions())

    benchmark(run_all)
    if benchmark.disabled:
        return
    step = best_of(run_all) / statements
    event = raw_simpy_event_seconds()
    ratio = step / event
    benchmark.extra_info.update(statements=statements, step_us=step * 1e6,
                                simpy_event_us=event * 1e6, step_per_simpy_event=ratio)
    print(f"\nmodel step {step * 1e6:.1f} us over {statements} statements; raw SimPy event "
          f"{event * 1e6:.2f} us; ratio {ratio:.1f} (bar {STEP_BAR_EVENTS})")
    assert ratio <= STEP_BAR_EVENTS


@pytest.mark.benchmark(group="model throughput")
def test_raw_simpy_baseline(benchmark: BenchmarkFixture) -> None:
    benchmark(raw_simpy_event_seconds, 2000, 1)


@pytest.mark.benchmark(group="model scaling")
@pytest.mark.parametrize("registered", [10, 2000])
def test_harvest_cost_does_not_grow_with_registered_interests(
        benchmark: BenchmarkFixture, registered: int) -> None:
    """One ready interest among many idle ones: a level-triggered epoll_wait's cost
    follows the ready interests only (the ready list, not the interest set)."""
    from dataclasses import replace

    from muxsim.model.profile import load_profile
    from muxsim.model.runner import _SimRun

    lines = ["epoll e", "socketpair a b", "ctl e add a IN"]
    for i in range(registered // 2):
        lines += [f"pipe r{i} w{i}", f"ctl e add r{i} IN"]
    lines.append("send b 1")
    run = _SimRun(replace(load_profile(), fd_table_size=4 * registered + 16), RunOptions())
    for statement in parse("\n".join(lines), "scale.mux").statements:
        run.execute(statement)
    wait = parse_statement("wait e")
    result = benchmark(run.execute, wait)
    assert str(result.outcome) == "a IN"
