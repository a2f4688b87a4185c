"""Comparing two runs of one scenario, statement by statement (``--on both``)."""

from __future__ import annotations

from dataclasses import dataclass

from muxsim.lang.outcomes import same_outcome
from muxsim.lang.printer import format_action
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


def side_by_side(real: ScenarioResult, sim: ScenarioResult, first: Divergence,
                 context: int) -> str:
    """Both traces around the first divergence, with the model's reasons."""
    lo = max(0, first.index - context)
    hi = min(len(real.results), first.index + context + 1)
    rows = [(f"line {r.statement.where.line}", format_action(r.statement.action), str(r.outcome),
             str(s.outcome)) for r, s in zip(real.results[lo:hi], sim.results[lo:hi],
                                            strict=True)]
    w0 = max(len(r[0]) for r in rows)
    w1 = max([len(r[1]) for r in rows] + [len("statement")])
    w2 = max([len(r[2]) for r in rows] + [len("real kernel")])
    out = [f"DIVERGE {real.scenario.path}: first at line {first.line}",
           f"    {'':<{w0}}  {'statement':<{w1}}  {'real kernel':<{w2}}  model"]
    for i, (where, text, a, b) in enumerate(rows, start=lo):
        mark = ">>" if i == first.index else "  "
        out.append(f"  {mark}{where:<{w0}}  {text:<{w1}}  {a:<{w2}}  {b}")
    out.append("  the model's explanation of its outcome:")
    out.extend(f"    {step}" for step in first.right.explain or ("(no wakeups, callbacks or "
                                                                 "harvests were involved)",))
    return "\n".join(out)
