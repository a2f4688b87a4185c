"""realmux.workload on the real kernel: short runs, checked for sense, behaviour and hygiene.

Each run lasts 0.2-0.3 s. They check that every loop serves and measures,
that the real kernel strands bytes under an edge-triggered server that does
not drain (the behaviour the model must match), that the arrival schedule is
the model's, that ``unsupported`` refuses what cannot run, and that no run,
finished or interrupted, leaves a descriptor or a child process behind.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
from typing import Any

import pytest

from realmux.workload import LOOPS, RealLoad, arrivals, run_real, unsupported

pytestmark = pytest.mark.real_kernel

MEASURES = ("requests", "answered", "unanswered", "cpu", "syscalls", "readiness_calls",
            "wakeups", "calls_per_op", "wakeups_per_op", "readiness_cost_us", "latency_p50_us",
            "latency_p90_us", "latency_p99_us", "latency_max_us", "unread_bytes", "duration",
            "server_run_delay", "server_preempted", "client_run_delay", "sent_after_stop")
BASE = RealLoad(loop="epoll-lt", timeout=-1.0, maxevents=64, drain=True, read_size=65536,
                connections=50, active=0.2, rate=100.0, arrivals="poisson", request_size=100,
                response_size=100, transport="unix", duration=0.3, seed=1)


def load(**changes: Any) -> RealLoad:
    return dataclasses.replace(BASE, **changes)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def assert_no_child_left() -> None:
    """No child at all: neither a zombie nor one still running (waitpid says ECHILD)."""
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def in_flight(result: dict[str, Any]) -> int:
    """Requests a run may leave unanswered at its end: a few in flight, and those the
    clients, late on a busy machine, sent only after the server stopped."""
    return 3 + int(result["sent_after_stop"])


def scheduled(run: RealLoad) -> int:
    """How many arrivals the schedule holds within the run (what the model would send)."""
    schedule = arrivals(run.seed, run.arrivals, run.rate, round(run.active * run.connections))
    return sum(1 for _ in itertools.takewhile(lambda arrival: arrival[0] < run.duration, schedule))


def test_an_epoll_lt_run_serves_and_measures_and_leaks_nothing() -> None:
    before, said = open_fds(), list[str]()
    result = run_real(BASE, progress=said.append)
    assert open_fds() == before
    assert_no_child_left()
    assert result["backend"] == "real" and set(MEASURES) <= set(result)
    json.dumps(result, allow_nan=False)
    assert result["requests"] == scheduled(BASE) > 0  # every arrival of the schedule is sent
    assert result["answered"] >= result["requests"] - in_flight(result)
    assert result["unanswered"] == result["requests"] - result["answered"]
    assert 0 < result["latency_p50_us"] <= result["latency_p90_us"] <= result["latency_p99_us"] \
        <= result["latency_max_us"]
    assert 0 < result["cpu"] < 1
    assert result["wakeups"] > 0 and 0 < result["wakeups_per_op"] <= 3
    assert result["readiness_calls"] > 0 and result["readiness_cost_us"] > 0
    assert result["syscalls"] >= result["readiness_calls"] + 2 * result["answered"]
    assert result["unread_bytes"] == 0
    # The loop ends at its deadline, late by a poll's rounding (1 ms) and by any
    # wait for a CPU (on a busy machine): both read from the run itself.
    waited = (result["server_run_delay"] or 0.0) * result["duration"]
    assert 0.3 <= result["duration"] < 0.35 + waited, (result["duration"], waited)
    assert said[0].startswith("setup:") and said[-1].startswith("done:")


@pytest.mark.parametrize(("loop", "transport"), [
    ("select", "unix"), ("poll", "unix"), ("epoll-et", "unix"), ("epoll-oneshot", "unix"),
    ("epoll-lt", "tcp"), ("poll", "tcp")])
def test_every_loop_serves_on_both_transports(loop: str, transport: str) -> None:
    result = run_real(load(loop=loop, transport=transport, duration=0.2))
    assert result["requests"] > 0 and result["answered"] >= result["requests"] - in_flight(result)
    assert result["latency_p50_us"] > 0 and result["unread_bytes"] == 0
    if loop == "epoll-oneshot":  # one EPOLL_CTL_MOD re-arms each report
        assert result["syscalls"] >= 2 * result["readiness_calls"]


def test_a_request_without_response_is_answered_when_read_whole() -> None:
    result = run_real(load(response_size=0, duration=0.2))
    assert result["requests"] > 0 and result["answered"] >= result["requests"] - in_flight(result)
    assert result["latency_p50_us"] > 0


def test_edge_triggered_without_draining_strands_bytes_and_draining_does_not() -> None:
    """One 4 KiB recv per edge, and an edge per 16 KiB request: the rest waits for the next."""
    big = load(loop="epoll-et", read_size=4096, request_size=16384, connections=10, active=1.0,
               rate=20.0)
    stuck = run_real(dataclasses.replace(big, drain=False))
    assert stuck["unread_bytes"] >= 16384
    assert stuck["unanswered"] > stuck["requests"] // 2
    drained = run_real(big)
    late = drained["sent_after_stop"]  # unread whatever the server does
    assert drained["requests"] > 0 and drained["answered"] >= drained["requests"] - 2 - late
    assert drained["unread_bytes"] < 16384 * (1 + late)


def test_a_busy_loop_spends_cpu_and_never_sleeps() -> None:
    result = run_real(load(timeout=0.0, duration=0.2))
    assert result["answered"] >= result["requests"] - in_flight(result)
    # Never asleep, so always running or waiting for a CPU: near 1 whatever the load
    # (CPU alone is near 1 on an idle machine, 0.06 to 0.23 seen beside four busy loops).
    waited = result["server_run_delay"] or 0.0  # None: this kernel keeps no schedstat
    assert result["cpu"] + waited > 0.8, (result["cpu"], waited)
    assert result["wakeups"] <= 5
    assert result["readiness_calls"] > 10 * result["requests"]


def test_the_schedule_is_the_engines_draws_in_the_engines_order() -> None:
    """WorkloadRun._clients: expovariate(rate * k), then randrange(k), per arrival."""
    rng, t, expected = random.Random(7), 0.0, []
    for _ in range(50):
        t += rng.expovariate(3 * 4.0)
        expected.append((t, rng.randrange(3)))
    got = arrivals(7, "poisson", 4.0, 3)
    assert [next(got) for _ in range(50)] == expected
    t, expected = 0.0, []
    for j in range(7):
        t += 1.0 / 6
        expected.append((t, j % 3))
    periodic = arrivals(7, "periodic", 2.0, 3)
    assert [next(periodic) for _ in range(7)] == expected


def test_the_model_sends_the_same_requests_as_the_real_clients() -> None:
    """The twin's schedule is the engine's: same seed, same count (the first test runs it)."""
    from muxsim.workload.engine import run_workload
    from muxsim.workload.spec import Clients, Server, Workload

    model = run_workload(Workload(
        name="twin", duration=BASE.duration, seed=BASE.seed, server=Server(loop="epoll-lt"),
        clients=Clients(connections=BASE.connections, active=BASE.active, rate=BASE.rate,
                        request_size=BASE.request_size, response_size=BASE.response_size)))
    assert model.requests == scheduled(BASE)


def test_unsupported_says_why() -> None:
    assert unsupported(BASE) is None
    assert all(unsupported(load(loop=loop)) is None for loop in LOOPS)
    reason = unsupported(load(loop="select", connections=2000))
    assert reason is not None and "FD_SETSIZE" in reason
    assert unsupported(load(loop="poll", connections=2000)) is None
    assert "duration" in (unsupported(load(duration=100.0)) or "")
    assert "transport" in (unsupported(load(transport="udp")) or "")
    assert "descriptors" in (unsupported(load(connections=10**6)) or "")
    with pytest.raises(ValueError, match="FD_SETSIZE"):
        run_real(load(loop="select", connections=2000))


def test_an_interrupted_run_kills_its_child_and_closes_everything() -> None:
    """KeyboardInterrupt after the fork (from the setup progress call): nothing is left."""
    def interrupt(message: str) -> None:
        raise KeyboardInterrupt

    before = open_fds()
    with pytest.raises(KeyboardInterrupt):
        run_real(load(transport="tcp"), progress=interrupt)
    assert open_fds() == before
    assert_no_child_left()
