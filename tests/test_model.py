"""The model against the real kernel's recorded expectations, and its own promises.

The catalogue's expectations were recorded on the real kernel (``muxsim
record``) and checked there by ``test_catalogue.py``; here the model must
meet the very same expectations. Nothing in this file was copied from the
model's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muxsim.compare import divergences
from muxsim.lang import parse, parse_file
from muxsim.lang.outcomes import Hung
from muxsim.lang.results import RunOptions, ScenarioResult
from muxsim.lang.trace import trace_records
from muxsim.model import SimKernel
from tests.conftest import catalogue_files, independent_files

#: Held-out scenarios the model does not reproduce yet, each with the reason.
KNOWN_GAPS: dict[str, str] = {}


def run_sim(text: str) -> ScenarioResult:
    return SimKernel().run(parse(text, "model.mux"), RunOptions())


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.stem)
def test_model_meets_the_kernel_recorded_expectations(path: Path) -> None:
    if path.stem in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[path.stem])
    result = SimKernel().run(parse_file(str(path)), RunOptions())
    problems = [f"line {r.statement.where.line}: {r.statement.where.text.strip()}\n"
                f"  expected {r.statement.expect}, model gave {r.outcome}\n  because " +
                "\n  because ".join(r.explain) for r in result.mismatches]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", independent_files(), ids=lambda p: p.stem)
def test_model_on_the_held_out_set(path: Path) -> None:
    if path.stem in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[path.stem])
    result = SimKernel().run(parse_file(str(path)), RunOptions())
    assert result.passed, [(r.statement.where.line, str(r.statement.expect), str(r.outcome))
                           for r in result.mismatches]


@pytest.mark.real_kernel
@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.stem)
def test_model_and_kernel_agree_on_every_statement(path: Path) -> None:
    from realmux import RealKernel

    if path.stem in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[path.stem])
    scenario = parse_file(str(path))
    real = RealKernel().run(scenario, RunOptions())
    sim = SimKernel().run(scenario, RunOptions())
    assert not [(d.line, str(d.left.outcome), str(d.right.outcome))
                for d in divergences(real, sim)]


def test_same_scenario_gives_a_byte_identical_trace() -> None:
    path = next(p for p in catalogue_files() if p.stem == "waiters-exclusive-vs-all")
    scenario = parse_file(str(path))

    def trace() -> str:
        result = SimKernel().run(scenario, RunOptions())
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in trace_records(result))

    first = trace()
    assert all(trace() == first for _ in range(5))
    assert '"explain": ["' in first


def test_a_wait_nothing_can_end_is_hung_at_once() -> None:
    result = run_sim("socketpair a b\nepoll e\nctl e add a IN\nwait e timeout=inf")
    assert isinstance(result.results[-1].outcome, Hung)
    assert result.results[-1].elapsed == 0.0  # no virtual time passed either


def test_timeouts_run_in_virtual_time() -> None:
    result = run_sim("socketpair a b\nepoll e\nctl e add a IN\n"
                     "spawn t wait e timeout=3600\nsleep 3599\nsend b 1\njoin t")
    assert str(result.results[-1].outcome) == "a IN"
    assert sum(r.elapsed for r in result.results) == 3599.0


def test_every_outcome_of_a_harvest_is_explained() -> None:
    result = run_sim("socketpair a b\nepoll e\nctl e add a IN|ET\nsend b 1\nwait e")
    send, wait = result.results[-2:]
    assert any("wake a.wq key IN" in step for step in send.explain)
    assert any("ep_poll_callback a: queued" in step for step in send.explain)
    assert any("harvest e: a polled: IN" in step for step in wait.explain)


TEXTBOOK_DIFFERS = ["epoll-et-pipe-rereport", "epoll-et-partial-read"]
TEXTBOOK_AGREES = ["epoll-lt-rereport", "epoll-oneshot-disarm-rearm", "poll-nval-closed"]


@pytest.mark.parametrize("stem", TEXTBOOK_DIFFERS + TEXTBOOK_AGREES)
def test_textbook_semantics_part_ways_with_linux_only_on_edges(stem: str) -> None:
    """The textbook reading (an edge only on not-ready to ready) fails where Linux
    re-reports an edge-triggered item after a wakeup that changed nothing."""
    path = next(p for p in catalogue_files() if p.stem == stem)
    result = SimKernel().run(parse_file(str(path)), RunOptions(semantics="textbook"))
    assert result.passed == (stem in TEXTBOOK_AGREES)
