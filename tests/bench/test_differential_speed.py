"""The differential harness's speed, as ratios measured in one run.

* Examples per second of the differential test (kernel and model) against
  the same Hypothesis settings with an empty test body on schedules of the
  same size: the harness must keep at least half of Hypothesis's own pace.
* ``muxsim check`` on one 10,000-statement scenario: statements per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings
from pytest_benchmark.fixture import BenchmarkFixture

from muxsim.lang.syntax import Scenario
from muxsim.strategies import scenarios
from muxsim.testing import check_scenario

pytestmark = pytest.mark.real_kernel

HARNESS_BAR = 0.5
CHECK_BAR = 20000.0


def examples_per_second(body: Callable[[Scenario], None], examples: int) -> float:
    @seed(5)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(scenarios(max_statements=20))
    def run(scenario: Scenario) -> None:
        body(scenario)

    began = time.perf_counter()
    run()
    return examples / (time.perf_counter() - began)


def _nothing(scenario: Scenario) -> None:
    pass


def _differential(scenario: Scenario) -> None:
    check_scenario(scenario)


@pytest.mark.benchmark(group="differential harness")
def test_harness_keeps_half_of_hypothesis_pace(benchmark: BenchmarkFixture) -> None:
    examples = 20 if benchmark.disabled else 150
    benchmark.pedantic(examples_per_second, args=(_differential, examples), rounds=1)  # type: ignore[no-untyped-call]
    if benchmark.disabled:
        return
    empty = examples_per_second(_nothing, examples)
    full = examples_per_second(_differential, examples)
    ratio = full / empty
    benchmark.extra_info.update(empty_examples_per_s=empty, differential_examples_per_s=full,
                                ratio=ratio)
    print(f"\nempty body {empty:.1f} examples/s, differential {full:.1f} examples/s, "
          f"ratio {ratio:.2f} (bar {HARNESS_BAR})")
    assert ratio >= HARNESS_BAR


def big_scenario(statements: int) -> str:
    lines = ["socketpair a b", "pipe r w", "epoll e", "ctl e add a IN|ET", "ctl e add r IN"]
    block = ["send b 10", "wait e", "recv a 100", "send w 5", "poll r:IN a:OUT", "recv r 10",
             "select r=a,r w=b", "wait e max=1"]
    while len(lines) < statements:
        lines.extend(block)
    return "\n".join(lines[:statements]) + "\n"


@pytest.mark.benchmark(group="differential harness")
def test_check_throughput_on_a_long_scenario(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    from muxsim.cli import main

    count = 1000 if benchmark.disabled else 10000
    path = tmp_path / "long.mux"
    path.write_text(big_scenario(count))

    def check() -> float:
        began = time.perf_counter()
        result = CliRunner().invoke(main, ["check", str(path)])
        assert result.exit_code == 0, result.output
        return count / (time.perf_counter() - began)

    rate = benchmark.pedantic(check, rounds=1 if benchmark.disabled else 3)  # type: ignore[no-untyped-call]
    if benchmark.disabled:
        return
    best = max(rate, check(), check())
    benchmark.extra_info.update(statements=count, statements_per_s=best)
    print(f"\nmuxsim check: {best:.0f} statements/s on {count} statements (bar {CHECK_BAR:.0f})")
    assert best >= CHECK_BAR
