"""realmux.costs on the real kernel: one quick measurement, checked for shape and physics.

The quick run (3 batches, few sizes) takes a few seconds; most checks read
that one result. The others guard select's FD_SETSIZE refusal and that a
measurement interrupted by KeyboardInterrupt leaks no descriptor or child.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from realmux import costs as costs_module
from realmux.costs import FD_SETSIZE, measure_costs, measure_readiness_call, raise_nofile

pytestmark = pytest.mark.real_kernel

CURVES = ("select_scan", "select_wait", "poll_scan", "poll_wait", "epoll_wait",
          "epoll_wait_idle", "recv_unix", "send_unix", "recv_tcp", "send_tcp", "sleep_cpu",
          "sleep_latency", "slept_select", "slept_poll", "slept_epoll")
FLOATS = ("select_per_ready", "poll_per_ready", "epoll_ctl_add", "epoll_ctl_mod",
          "epoll_ctl_del", "accept_tcp", "close", "wakeup", "wakeup_latency")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def quick() -> tuple[dict[str, Any], int, int]:
    """The quick measurement, with the number of open descriptors before and after it."""
    before = open_fds()
    costs = measure_costs(quick=True)
    return costs, before, open_fds()


def cost(curve: list[list[float]], x: int) -> float:
    return dict((int(k), v) for k, v in curve)[x]


def test_every_key_is_there_and_the_result_is_json(
        quick: tuple[dict[str, Any], int, int]) -> None:
    costs = quick[0]
    assert set(costs) == {*CURVES, *FLOATS, "meta"}
    json.dumps(costs, allow_nan=False)


@pytest.mark.parametrize("key", CURVES)
def test_curves_are_sorted_and_positive(quick: tuple[dict[str, Any], int, int],
                                        key: str) -> None:
    curve = quick[0][key]
    assert len(curve) >= 2, curve
    xs = [x for x, _ in curve]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert all(seconds > 0 for _, seconds in curve), curve


@pytest.mark.parametrize("key", FLOATS)
def test_single_costs_are_floats(quick: tuple[dict[str, Any], int, int], key: str) -> None:
    value = quick[0][key]
    assert isinstance(value, float) and value >= 0
    if key not in ("select_per_ready", "poll_per_ready"):  # clamped differences may be 0
        assert value > 0


def test_poll_grows_with_descriptors_watched(quick: tuple[dict[str, Any], int, int]) -> None:
    curve = quick[0]["poll_scan"]
    assert curve[-1][1] > 3 * cost(curve, 10), curve


def test_epoll_wait_does_not_grow_with_idle_interests(
        quick: tuple[dict[str, Any], int, int]) -> None:
    curve = quick[0]["epoll_wait_idle"]
    assert curve[-1][1] < 3 * cost(curve, 100), curve


def test_waiting_select_registers_on_every_descriptor(
        quick: tuple[dict[str, Any], int, int]) -> None:
    scan, wait = quick[0]["select_scan"], quick[0]["select_wait"]
    largest = max(set(int(x) for x, _ in scan) & set(int(x) for x, _ in wait))
    assert cost(wait, largest) > 0.9 * cost(scan, largest), (scan, wait)


def test_a_wakeup_costs_something(quick: tuple[dict[str, Any], int, int]) -> None:
    assert quick[0]["wakeup"] > 0
    assert 0 < quick[0]["wakeup_latency"] < 0.1


def test_meta(quick: tuple[dict[str, Any], int, int]) -> None:
    meta = quick[0]["meta"]
    assert {"kernel", "machine", "python", "method", "seconds", "skipped"} <= set(meta)
    assert meta["kernel"] == os.uname().release
    assert isinstance(meta["method"], str) and meta["method"]
    assert 0 < meta["seconds"] < 120  # a bound against a hang; speed is make bench's
    assert isinstance(meta["skipped"], list)


def test_measuring_leaks_no_descriptor(quick: tuple[dict[str, Any], int, int]) -> None:
    _, before, after = quick
    assert after == before


def test_select_refuses_more_descriptors_than_fd_setsize() -> None:
    before = open_fds()
    with pytest.raises(ValueError, match="FD_SETSIZE"):
        measure_readiness_call("select", 2000, 1)
    assert open_fds() == before


def test_select_refuses_descriptor_numbers_beyond_fd_setsize() -> None:
    """Few descriptors, but numbered above 1024: the check reads the numbers themselves."""
    if raise_nofile(FD_SETSIZE + 256) < FD_SETSIZE + 256:
        pytest.skip("RLIMIT_NOFILE too low to occupy every number below FD_SETSIZE")
    held: list[int] = []
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        held.append(null)
        while (fd := os.dup(null)) < FD_SETSIZE:
            held.append(fd)
        os.close(fd)  # the first number at or above FD_SETSIZE is free again
        before = open_fds()
        with pytest.raises(ValueError, match=r"descriptor \d+.*FD_SETSIZE"):
            measure_readiness_call("select", 10, 1, batches=1)
        assert open_fds() == before
    finally:
        for fd in held:
            with contextlib.suppress(OSError):
                os.close(fd)


def test_readiness_call_measures_each_multiplexer() -> None:
    for mux in ("select", "poll", "epoll"):
        assert measure_readiness_call(mux, 20, 2, waiting=True, batches=1) > 0


INTERRUPTIBLE: dict[str, Callable[[], object]] = {
    "select": lambda: measure_readiness_call("select", 50, 1, waiting=True),
    "poll": lambda: measure_readiness_call("poll", 50, 1),
    "epoll": lambda: measure_readiness_call("epoll", 50, 1),
    "send_tcp": lambda: costs_module._measure_stream("tcp", "send", 100, 3),
    "recv_unix": lambda: costs_module._measure_stream("unix", "recv", 100, 3),
    "accept": lambda: costs_module._measure_accept(3),
    "close": lambda: costs_module._measure_close(3),
    "epoll_ctl": lambda: costs_module._measure_epoll_ctl("add", 3),
}


@pytest.mark.parametrize("name", INTERRUPTIBLE)
def test_an_interrupted_measurement_leaks_no_descriptor(
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def one_batch_then_interrupt(batch: costs_module.Batch, batches: int,
                                 warm_ns: int = 0) -> float:
        batch(2)
        raise KeyboardInterrupt

    monkeypatch.setattr(costs_module, "_min_per_call", one_batch_then_interrupt)
    before = open_fds()
    with pytest.raises(KeyboardInterrupt):
        INTERRUPTIBLE[name]()
    assert open_fds() == before


def test_an_interrupted_wakeup_leaks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted mid-ping-pong: descriptors closed, the child reaped, affinity restored."""
    affinity = os.sched_getaffinity(0)
    children: list[subprocess.Popen[bytes]] = []
    real_reap = costs_module._reap

    def reap(proc: subprocess.Popen[bytes]) -> None:
        children.append(proc)
        real_reap(proc)

    def interrupt(who: int) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(costs_module, "_reap", reap)
    monkeypatch.setattr(resource, "getrusage", interrupt)
    before = open_fds()
    with pytest.raises(KeyboardInterrupt):
        costs_module._measure_wakeup(20)
    assert open_fds() == before
    assert [child.returncode for child in children] == [0]
    assert os.sched_getaffinity(0) == affinity


def test_a_sleep_costs_more_the_longer_it_lasts(quick: tuple[dict[str, Any], int, int]) -> None:
    """Served requests after sleeps: the curve spans the ping-pong to the longest gap,
    and a long sleep costs at least what the hot ping-pong does (caches go cold)."""
    cpu, latency = quick[0]["sleep_cpu"], quick[0]["sleep_latency"]
    assert len(cpu) == len(latency) >= 3
    assert [x for x, _ in cpu] == sorted(x for x, _ in cpu)
    assert cpu[-1][1] >= cpu[0][1] > 0
    assert all(v > 0 for _, v in latency)


def test_a_sleeping_poll_costs_more_the_more_it_watches(
        quick: tuple[dict[str, Any], int, int]) -> None:
    poll = quick[0]["slept_poll"]
    assert poll[-1][0] > poll[0][0] and poll[-1][1] > 3 * poll[0][1]
    assert quick[0]["slept_epoll"] and quick[0]["slept_select"]
