"""realmux's own promises: no leaked descriptors, bounded waits, stable numbering."""

from __future__ import annotations

import os
import time

import pytest

from muxsim.lang import parse
from muxsim.lang.outcomes import Hung
from muxsim.lang.results import RunOptions, ScenarioResult
from realmux import RealKernel
from realmux.errnames import errno_name
from realmux.fdspace import RANGE_HIGH, FdSpace

pytestmark = pytest.mark.real_kernel

EVERY_KIND = """
socketpair a b
socketpair c d dgram
tcppair t u
socket x tcp
socket y unix
socket z udp
listen l
connect k l => ok
accept l s => ok
accept l s2 => EAGAIN
pipe r w
epoll e
dup a2 a
ctl e add a IN => ok
ctl e add t IN => ok
spawn waiter wait e timeout=inf
send b 3 => 3
join waiter => a IN
spawn p poll r:IN timeout=inf
send w 1 => 1
join p => r IN
send t 5 => 5
close l
"""


def run(text: str, watchdog: float = 1.0) -> ScenarioResult:
    return RealKernel().run(parse(text, "test.mux"), RunOptions(watchdog=watchdog))


def outcomes(result: ScenarioResult) -> list[str]:
    return [str(r.outcome) for r in result.results]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_no_descriptor_leaks_over_a_thousand_runs() -> None:
    scenario = parse(EVERY_KIND, "every-kind.mux")
    kernel = RealKernel()
    first = kernel.run(scenario, RunOptions())
    assert first.passed, [(r.statement.where.line, str(r.outcome)) for r in first.mismatches]
    before = open_fds()
    for _ in range(1000):
        assert kernel.run(scenario, RunOptions()).passed
    assert open_fds() == before


def test_descriptors_are_closed_even_when_the_run_fails_midway() -> None:
    before = open_fds()
    with pytest.raises(Exception, match="is not a listener"):
        run("socketpair a b\npipe r w\nconnect c a")
    assert open_fds() == before


def test_wait_forever_is_hung_at_once() -> None:
    # Nothing is ready and nobody is left to act: the run knows it at once,
    # however long the watchdog.
    began = time.monotonic()
    result = run("socketpair a b\nepoll e\nctl e add a IN\nwait e timeout=inf", watchdog=30)
    assert isinstance(result.results[-1].outcome, Hung)
    assert time.monotonic() - began < 10.0  # far below the 30 s watchdog


def test_wait_forever_returns_what_is_ready() -> None:
    result = run("socketpair a b\nepoll e\nctl e add a IN\nsend b 1\nwait e timeout=inf")
    assert outcomes(result)[-1] == "a IN"


@pytest.mark.parametrize("call", ["wait e timeout=inf", "poll a:IN timeout=inf",
                                  "select r=a timeout=inf"])
def test_spawned_waiter_that_nobody_wakes_is_hung(call: str) -> None:
    before = open_fds()
    began = time.monotonic()
    result = run(f"socketpair a b\nepoll e\nctl e add a IN\nspawn t {call}\njoin t",
                 watchdog=30)
    assert isinstance(result.results[-1].outcome, Hung)
    assert time.monotonic() - began < 10.0  # far below the 30 s watchdog
    assert open_fds() == before


def test_finite_timeouts_really_pass() -> None:
    began = time.monotonic()
    result = run("socketpair a b\nepoll e\nctl e add a IN\nspawn t wait e timeout=0.3\njoin t")
    assert outcomes(result)[-1] == "-"
    assert time.monotonic() - began >= 0.3


def test_spawned_waiter_left_running_is_stopped_at_the_end() -> None:
    before = open_fds()
    began = time.monotonic()
    run("socketpair a b\nepoll e\nctl e add a IN\nspawn t wait e timeout=inf")
    assert time.monotonic() - began < 10.0
    assert open_fds() == before


def test_spawn_returns_only_when_the_waiter_sleeps_in_the_kernel() -> None:
    # If spawn returned before the waiter was on the queue, the send could
    # happen first and the EXCLUSIVE wakeup would find no sleeper.
    result = run("socketpair a b\nepoll e\nctl e add a IN|ET\n"
                 "spawn t wait e timeout=inf\nsend b 1\njoin t")
    assert outcomes(result)[-1] == "a IN"
    assert not [n for r in result.results for n in r.notes]


def test_numbers_are_reused_lowest_first_like_the_kernel() -> None:
    # a and b take the two lowest numbers; closing a frees the lowest, which
    # the pipe's read end takes: polling the old name a now polls r.
    result = run("socketpair a b\nclose a\npipe r w\nsend w 1\npoll a:IN")
    assert outcomes(result)[-1] == "a IN"


def test_range_exhaustion_is_emfile() -> None:
    lines = ["epoll e0"] + [f"dup e{i} e0" for i in range(1, 130)]
    result = run("\n".join(lines))
    assert outcomes(result)[127] == "ok"
    assert outcomes(result)[128] == "EMFILE"


def test_private_range_is_below_fd_setsize() -> None:
    space = FdSpace()
    try:
        assert space.high <= RANGE_HIGH == 1024
    finally:
        space.release()


def test_errno_names_come_from_one_mapping() -> None:
    assert str(errno_name(BlockingIOError(11, "x"))) == "EAGAIN"
    assert str(errno_name(OSError(9, "x"))) == "EBADF"
    assert str(errno_name(OSError(4095, "x"))) == "E4095"


def test_tcp_settles_without_notes() -> None:
    # Fixed buffer sizes: autotuning (tcp_rcv_space_adjust) is timing-driven.
    text = ("tcppair a b\nset b rcvbuf 65536\nset a sndbuf 65536\nfill a\ndrain b\nfill a\n"
            "close a\ndrain b\npoll b:IN|RDHUP")
    first = run(text)
    assert not [n for r in first.results for n in r.notes]
    assert outcomes(first)[-1] == "b IN|RDHUP"
    assert outcomes(first)[5] == outcomes(first)[7]  # the second fill all arrives
    assert outcomes(run(text)) == outcomes(first)


def test_fill_and_drain_agree_on_tcp() -> None:
    result = run("tcppair a b\nfill a\ndrain b")
    filled, drained = (int(x) for x in outcomes(result)[1:])
    assert filled == drained > 0
