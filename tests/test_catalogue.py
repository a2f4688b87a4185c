"""Every catalogue scenario holds on the real kernel this suite runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from muxsim.lang import parse_file
from muxsim.lang.results import RunOptions
from realmux import RealKernel
from tests.conftest import catalogue_files, independent_files

pytestmark = pytest.mark.real_kernel


def test_catalogue_is_big_enough() -> None:
    assert len(catalogue_files()) >= 30


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.stem)
def test_scenario_states_its_claim_and_source(path: Path) -> None:
    scenario = parse_file(str(path))
    assert scenario.claim.startswith("Claim:"), "open with '# Claim: ...'"
    assert "Source:" in scenario.claim, "name a kernel function or man page as the source"
    assert any(s.expect is not None for s in scenario.statements)


@pytest.mark.parametrize("path", catalogue_files() + independent_files(),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenario_holds_on_the_real_kernel(path: Path, real_kernel: RealKernel) -> None:
    result = real_kernel.run(parse_file(str(path)), RunOptions())
    problems = [
        f"line {r.statement.where.line}: {r.statement.where.text.strip()}\n"
        f"  expected {r.statement.expect}, got {r.outcome}"
        for r in result.mismatches
    ]
    assert not problems, "\n".join(problems)
    assert not [n for r in result.results for n in r.notes], "the run needed no excuses"
