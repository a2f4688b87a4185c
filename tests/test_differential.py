"""Generated scenarios behave the same on the model and the real kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muxsim.compare import divergences
from muxsim.lang import parse, parse_file
from muxsim.lang.printer import format_scenario
from muxsim.lang.results import Backend, RunOptions
from muxsim.lang.syntax import Scenario
from muxsim.strategies import scenarios
from muxsim.testing import FUZZ_WATCHDOG, KernelStateMachine, check_scenario

REGRESSIONS = sorted((Path(__file__).parent.parent / "models" / "regressions").glob("*.mux"))


@settings(max_examples=300, deadline=None)
@given(scenarios(max_statements=40))
def test_generated_scenarios_parse_back(scenario: Scenario) -> None:
    """Valid by construction: the printed scenario parses, names and all."""
    again = parse(format_scenario(scenario), "generated.mux")
    assert again.statements == scenario.statements


@given(scenarios(kinds={"pipe", "epoll"}, max_statements=8, waiters=False))
def test_limits_restrict_what_is_drawn(scenario: Scenario) -> None:
    kinds = {type(s.action).__name__ for s in scenario.statements}
    assert not kinds & {"SocketPair", "TcpPair", "Listen", "Connect", "Spawn", "Join"}


@given(st.from_type(Scenario))
@settings(max_examples=20)
def test_from_type_draws_scenarios(scenario: Scenario) -> None:
    assert isinstance(scenario, Scenario) and scenario.statements


@pytest.mark.real_kernel
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_model_and_kernel_agree_on_generated_scenarios(scenario: Scenario) -> None:
    check_scenario(scenario)


TestLockstep = pytest.mark.real_kernel(KernelStateMachine.TestCase)
TestLockstep.settings = settings(max_examples=15, stateful_step_count=25, deadline=None,
                                 suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.real_kernel
@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.stem)
def test_regressions_stay_fixed(path: Path, real_kernel: Backend, sim_kernel: Backend) -> None:
    scenario = parse_file(str(path))
    options = RunOptions(watchdog=FUZZ_WATCHDOG)
    real = real_kernel.run(scenario, options)
    assert real.passed, "the kernel no longer matches the recorded expectations"
    assert not divergences(real, sim_kernel.run(scenario, options))


def test_kernel_fixture_runs_a_claim_on_both(kernel: Backend) -> None:
    """The plugin's ``kernel`` fixture: one test, the model and the kernel."""
    scenario = parse("pipe r w\nsend w 10\npoll r:IN => r IN\nrecv r 100 => 10\n", "x.mux")
    assert kernel.run(scenario, RunOptions()).passed


@pytest.mark.real_kernel
def test_fuzz_command_reports_statistics(tmp_path: Path) -> None:
    import json

    from muxsim.cli import main

    result = CliRunner().invoke(main, ["fuzz", "--examples", "5", "--seed", "1", "--json",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 5 and report["divergences"] == 0
    assert any(key.startswith("statement ") for key in report["statistics"])
