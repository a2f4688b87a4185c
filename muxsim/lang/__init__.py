"""The scenario language: syntax, parser, printer, outcomes and traces.

These modules are the contract shared by the model (``muxsim.model``) and
the real-kernel runner (``realmux``). They import only the standard library:
never SimPy, never a backend.
"""

from muxsim.lang.errors import InvariantError, ScenarioError
from muxsim.lang.masks import Mask, format_mask, parse_mask
from muxsim.lang.outcomes import Errno, Hung, Number, Ok, Outcome, Ready, Selected, parse_outcome
from muxsim.lang.parser import parse, parse_file, parse_statement
from muxsim.lang.printer import format_action, format_scenario, format_statement
from muxsim.lang.syntax import Scenario, Statement

__all__ = [
    "Errno",
    "Hung",
    "InvariantError",
    "Mask",
    "Number",
    "Ok",
    "Outcome",
    "Ready",
    "Scenario",
    "ScenarioError",
    "Selected",
    "Statement",
    "format_action",
    "format_mask",
    "format_scenario",
    "format_statement",
    "parse",
    "parse_file",
    "parse_mask",
    "parse_outcome",
    "parse_statement",
]
