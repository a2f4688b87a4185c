"""What running a scenario produced, as frozen values every backend returns.

A backend takes a :class:`~muxsim.lang.syntax.Scenario` and returns a
:class:`ScenarioResult`: one :class:`StatementResult` per statement, in
order, with the outcome and whether it matched the expectation. Backends
may attach short ``notes`` (for instance that TCP did not settle within its
bound) so that nothing odd stays hidden from the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from muxsim.lang.outcomes import Outcome, same_outcome
from muxsim.lang.syntax import Scenario, Statement


@dataclass(frozen=True, slots=True)
class StatementResult:
    statement: Statement
    outcome: Outcome
    elapsed: float = 0.0  # wall-clock seconds the statement took on this backend
    notes: tuple[str, ...] = ()
    #: The causal chain behind the outcome (the model explains; the kernel does not).
    explain: tuple[str, ...] = ()

    @property
    def matched(self) -> bool | None:
        """True or False against the expectation; None when there is none."""
        if self.statement.expect is None:
            return None
        return same_outcome(self.statement.expect, self.outcome)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    backend: str
    results: tuple[StatementResult, ...]
    elapsed: float = 0.0
    environment: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def mismatches(self) -> tuple[StatementResult, ...]:
        return tuple(r for r in self.results if r.matched is False)

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Knobs every backend understands."""

    watchdog: float = 1.0  # seconds a wait without end may take before it is HUNG
    semantics: str = "linux"  # the model's policy: "linux" or "textbook"
    #: Told (statements done, statements in all) after each statement by a
    #: backend whose runs can be long (the real kernel); not an outcome.
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


class Session(Protocol):
    """One scenario being run a statement at a time (lockstep testing)."""

    def execute(self, statement: Statement) -> StatementResult: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """A way to run scenarios: the real kernel, or the model."""

    name: str

    def run(self, scenario: Scenario, options: RunOptions) -> ScenarioResult: ...

    def open(self, options: RunOptions) -> Session: ...

    def environment(self) -> dict[str, str]: ...
