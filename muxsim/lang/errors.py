"""The exceptions of the language layer.

Three kinds of failure are kept apart, because users must be able to tell
them apart from the exit code alone:

* :class:`ScenarioError`: the scenario file is wrong (syntax, an undefined
  name, a bad number). It carries ``FILE:LINE:COL`` and a hint, and the
  command line turns it into exit code 2, never a traceback.
* ``OSError``: a system call failed. That is an *outcome*, not an error;
  each backend turns it into an errno name in exactly one function.
* :class:`InvariantError`: a backend broke one of its own rules (a bug in
  this toolkit). It is loud on purpose: exit code 3.
* :class:`EnvironmentLimit`: the machine cannot run the scenario as written
  (a descriptor limit below what the real backend needs, descriptors the
  caller left open where the backend keeps its own). Exit code 3 too, since
  no outcome was recorded, but the message says what to change, and it is
  not a bug in muxsim.
"""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario file that cannot be parsed or run as written."""

    def __init__(self, path: str, line: int, col: int, message: str, hint: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """``FILE:LINE:COL: message`` followed by the hint on its own line."""
        return f"{self.path}:{self.line}:{self.col}: {self.message}\n  hint: {self.hint}"


class InvariantError(RuntimeError):
    """A backend broke one of its own rules: a bug in muxsim, not in the scenario."""


class EnvironmentLimit(RuntimeError):
    """The process or machine cannot run the scenario as written; says what to change."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
