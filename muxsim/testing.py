"""Differential testing of the model against the real kernel, as functions users call.

* :func:`check_scenario` runs one scenario on both and raises
  :class:`DivergenceError` (an ``AssertionError``) at the first statement
  whose outcomes differ, with both traces side by side and the model's
  explanation. Inside a Hypothesis test it also records what the scenario
  covered (``event``) and steers toward interesting states (``target``).
* :class:`KernelStateMachine` is a Hypothesis ``RuleBasedStateMachine`` that
  draws one statement per step, applies it to a real-kernel session and a
  model session in lockstep, and compares after every step.

Both use the generator of :mod:`muxsim.strategies`, so what they draw is
valid by construction.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, target
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from muxsim.backends import get_backend
from muxsim.compare import divergences, side_by_side
from muxsim.lang.outcomes import Errno, Hung, Number, Outcome, Ready, Selected, same_outcome
from muxsim.lang.printer import format_action
from muxsim.lang.results import RunOptions, ScenarioResult, Session
from muxsim.lang.syntax import Fill, Scenario, Statement
from muxsim.strategies import GenState, Limits, closing_joins, next_action

#: A watchdog for generated scenarios: a waiter nobody wakes is HUNG on both
#: sides; on the real kernel it costs one watchdog, so keep it short.
FUZZ_WATCHDOG = 0.05


class DivergenceError(AssertionError):
    """The model and the real kernel gave different outcomes."""


def _in_hypothesis() -> bool:
    try:
        current_build_context()
    except InvalidArgument:
        return False
    return True


def describe(result: ScenarioResult) -> None:
    """Hypothesis ``event`` labels and ``target`` scores for one run."""
    if not _in_hypothesis():
        return
    ready_entries = 0
    full = 0
    for r in result.results:
        event(f"statement: {type(r.statement.action).__name__.lower()}")
        event(f"outcome: {_outcome_kind(r.outcome)}")
        if isinstance(r.outcome, Ready):
            ready_entries = max(ready_entries, len(r.outcome.entries))
            for _, mask in r.outcome.entries:
                for bit in mask:
                    event(f"reported bit: {bit.name}")
        if isinstance(r.statement.action, Fill) and isinstance(r.outcome, Number) and \
                r.outcome.value > 0:
            full += 1
    waiters = sum(1 for s in result.scenario.statements
                  if type(s.action).__name__ == "Spawn")
    target(float(ready_entries), label="most entries in one ready list")
    target(float(full), label="buffers filled")
    target(float(waiters), label="waiters spawned")


def _outcome_kind(outcome: Outcome) -> str:
    if isinstance(outcome, Errno):
        return outcome.name
    if isinstance(outcome, Ready):
        return "ready list" if outcome.entries else "nothing ready"
    if isinstance(outcome, Selected):
        return "select sets" if str(outcome) != "-" else "nothing selected"
    if isinstance(outcome, Hung):
        return "HUNG"
    return type(outcome).__name__.lower()


def check_scenario(scenario: Scenario, options: RunOptions | None = None) -> ScenarioResult:
    """Run ``scenario`` on the real kernel and the model; raise at a divergence."""
    opts = options or RunOptions(watchdog=FUZZ_WATCHDOG)
    real = get_backend("real").run(scenario, opts)
    sim = get_backend("sim").run(scenario, opts)
    describe(real)
    found = divergences(real, sim)
    if found:
        raise DivergenceError("\n" + side_by_side(real, sim, found[0], context=3))
    return real


class KernelStateMachine(RuleBasedStateMachine):
    """One scenario grown a statement at a time on both sides, compared after each.

    Subclass it to restrict what is drawn (``limits``) or to add invariants;
    run it with ``TestKernel = KernelStateMachine.TestCase``.
    """

    limits = Limits(max_statements=40)
    options = RunOptions(watchdog=FUZZ_WATCHDOG)

    def __init__(self) -> None:
        super().__init__()
        self.state = GenState(self.limits)
        self.real: Session | None = None
        self.sim: Session | None = None
        self.steps: list[str] = []

    @initialize()
    def open_sessions(self) -> None:
        self.real = get_backend("real").open(self.options)
        self.sim = get_backend("sim").open(self.options)

    def apply(self, statement: Statement) -> None:
        assert self.real is not None and self.sim is not None
        a = self.real.execute(statement)
        b = self.sim.execute(statement)
        self.steps.append(f"{format_action(statement.action)} => {a.outcome}")
        if not same_outcome(a.outcome, b.outcome):
            history = "\n".join(f"  {line}" for line in self.steps)
            because = "\n".join(f"    {step}" for step in b.explain) or "    (nothing)"
            raise DivergenceError(
                f"\n{history}\nlast statement: real kernel {a.outcome}, model {b.outcome}\n"
                f"  the model's explanation:\n{because}")

    @precondition(lambda self: len(self.steps) < self.limits.max_statements)
    @rule(data=st.data())
    def step(self, data: Any) -> None:
        self.apply(Statement(next_action(data.draw, self.state)))

    def teardown(self) -> None:
        try:
            if self.real is not None and self.sim is not None:
                for statement in closing_joins(self.state):
                    self.apply(statement)
        finally:
            if self.real is not None:
                self.real.close()
            if self.sim is not None:
                self.sim.close()

