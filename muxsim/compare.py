"""Comparing two runs of one scenario, statement by statement (``--on both``)."""

from __future__ import annotations

from dataclasses import dataclass

from muxsim.lang.outcomes import same_outcome
from muxsim.lang.results import ScenarioResult, StatementResult


@dataclass(frozen=True, slots=True)
class Divergence:
    index: int
    left: StatementResult
    right: StatementResult

    @property
    def line(self) -> int:
        return self.left.statement.where.line


def divergences(left: ScenarioResult, right: ScenarioResult) -> list[Divergence]:
    """Every statement whose outcomes differ between the two runs."""
    return [Divergence(i, a, b) for i, (a, b) in enumerate(zip(left.results, right.results,
                                                               strict=True))
            if not same_outcome(a.outcome, b.outcome)]
