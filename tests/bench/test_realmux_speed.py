"""The real backend's pace where it used to crawl (issue 11, items 8 and 13).

* 300 spawned poll/select waiters, all woken by one send: under 10 s
  (109 s before: waiters past the 250th waited in 0.02 s slices, and every
  statement looked at every waiter twice through freshly opened procfs
  files). Also 1,000, to show the growth: each statement looks at each
  running waiter once, so the run grows with waiters times statements.
* A TCP scenario of sends and receives: seconds per statement, reported.
  A send on a connection whose receiver is past its quick-ACK start waits
  for the delayed ACK (40 ms, net/ipv4/tcp_output.c:tcp_send_delayed_ack):
  that is the kernel's pace, and the bar checks only that the runner adds
  little to it.
"""

from __future__ import annotations

import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from muxsim.lang import parse
from muxsim.lang.results import RunOptions
from realmux import RealKernel
from tests.test_realmux_limits import many_waiters

pytestmark = pytest.mark.real_kernel

WAITERS_BAR = 10.0
#: Seconds per TCP send/recv statement at most: half the 40 ms delayed ACK
#: per pair, plus a little.
TCP_STATEMENT_BAR = 0.030


def timed_run(text: str) -> float:
    scenario = parse(text, "bench.mux")
    began = time.perf_counter()
    result = RealKernel().run(scenario, RunOptions())
    elapsed = time.perf_counter() - began
    assert result.passed, [(r.statement.where.line, str(r.outcome)) for r in result.mismatches]
    return elapsed


@pytest.mark.benchmark(group="realmux")
@pytest.mark.parametrize("count", [300, 1000])
def test_many_spawned_waiters(benchmark: BenchmarkFixture, count: int) -> None:
    if benchmark.disabled and count > 300:
        pytest.skip("the 1,000-waiter run is for make bench")
    elapsed = benchmark.pedantic(timed_run, args=(many_waiters(count),), rounds=1)  # type: ignore[no-untyped-call]
    if benchmark.disabled:
        return
    benchmark.extra_info.update(waiters=count, seconds=elapsed)
    print(f"\n{count} spawned waiters: {elapsed:.2f}s"
          + (f" (bar {WAITERS_BAR:.0f}s)" if count == 300 else ""))
    if count == 300:
        assert elapsed < WAITERS_BAR


def tcp_exchanges(pairs: int) -> str:
    lines = ["tcppair c s"]
    for _ in range(pairs):
        lines += ["send c 1 => 1", "recv s 1 => 1"]
    return "\n".join(lines) + "\n"


@pytest.mark.benchmark(group="realmux")
def test_tcp_statements(benchmark: BenchmarkFixture) -> None:
    pairs = 20 if benchmark.disabled else 500
    elapsed = benchmark.pedantic(timed_run, args=(tcp_exchanges(pairs),), rounds=1)  # type: ignore[no-untyped-call]
    if benchmark.disabled:
        return
    per_statement = elapsed / (2 * pairs + 1)
    benchmark.extra_info.update(statements=2 * pairs + 1, seconds_per_statement=per_statement)
    print(f"\nTCP send/recv: {per_statement * 1000:.1f} ms a statement "
          f"(bar {TCP_STATEMENT_BAR * 1000:.0f} ms; the delayed ACK is 40 ms a send)")
    assert per_statement < TCP_STATEMENT_BAR
