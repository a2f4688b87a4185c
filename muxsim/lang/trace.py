"""Trace records: typed JSON objects, one per line (JSON Lines).

A trace file is a ``header`` record, then one ``statement`` record per
statement, then a ``scenario`` record with the totals. Every record has a
``"type"``; the schema is ``docs/trace.schema.json`` and a test validates
real traces against it. ``muxsim run --json`` prints the same ``statement``
and ``scenario`` records on standard output.
"""

from __future__ import annotations

from typing import Any

from muxsim.lang.printer import format_action
from muxsim.lang.results import ScenarioResult, StatementResult

TRACE_VERSION = 1


def header_record(result: ScenarioResult) -> dict[str, Any]:
    return {
        "type": "header",
        "trace_version": TRACE_VERSION,
        "scenario": result.scenario.path,
        "claim": result.scenario.claim,
        "backend": result.backend,
        "environment": dict(result.environment),
    }


def statement_record(result: StatementResult, scenario: str, backend: str) -> dict[str, Any]:
    st = result.statement
    return {
        "type": "statement",
        "scenario": scenario,
        "backend": backend,
        "line": st.where.line,
        "statement": format_action(st.action),
        "expected": None if st.expect is None else str(st.expect),
        "outcome": str(result.outcome),
        "matched": result.matched,
        "elapsed": round(result.elapsed, 6),
        "notes": list(result.notes),
        "explain": list(result.explain),
    }


def scenario_record(result: ScenarioResult) -> dict[str, Any]:
    expectations = sum(1 for r in result.results if r.matched is not None)
    return {
        "type": "scenario",
        "scenario": result.scenario.path,
        "backend": result.backend,
        "statements": len(result.results),
        "expectations": expectations,
        "mismatches": len(result.mismatches),
        "passed": result.passed,
        "elapsed": round(result.elapsed, 6),
    }


def trace_records(result: ScenarioResult) -> list[dict[str, Any]]:
    """The whole trace of one scenario run, in file order."""
    path = result.scenario.path
    return [
        header_record(result),
        *(statement_record(r, path, result.backend) for r in result.results),
        scenario_record(result),
    ]
