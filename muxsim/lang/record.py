"""Writing outcomes back into a scenario's source text (``muxsim record``).

Only the expectation part of each statement line changes: indentation, the
statement as written, and a trailing comment stay exactly as they were, and
comment-only and blank lines are untouched. ``spawn`` and ``sleep`` lines get
no expectation (their outcome is always ``ok``; a waiter's outcome belongs
on its ``join``).
"""

from __future__ import annotations

from muxsim.lang.outcomes import Outcome
from muxsim.lang.parser import line_body, source_lines, split_line
from muxsim.lang.syntax import Sleep, Spawn, Statement


def wants_expectation(statement: Statement) -> bool:
    return not isinstance(statement.action, Spawn | Sleep)


def fill_expectations(text: str, outcomes: dict[int, Outcome]) -> str:
    """``text`` with each line number in ``outcomes`` given ``=> OUTCOME``.

    Lines are the parser's (:func:`~muxsim.lang.parser.source_lines`): line N
    here is the line the parser called N, whatever other separators it holds.
    """
    lines = source_lines(text)
    for lineno, outcome in outcomes.items():
        raw = lines[lineno - 1]
        body = line_body(raw)
        ending = raw[len(body):]
        parts = split_line(body)
        code = body[: parts.code_end]
        comment = f"  {parts.comment}" if parts.comment else ""
        lines[lineno - 1] = f"{code} => {outcome}{comment}{ending}"
    return "".join(lines)
