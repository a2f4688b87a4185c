"""``muxsim probe``: machine constants and per-call costs measured on the real kernel."""

from __future__ import annotations

import re

import pytest

from muxsim.model.profile import DEFAULT, dump_profile, load_profile
from muxsim.probe import probe


@pytest.mark.real_kernel
def test_probe_explains_every_truesize_measurement() -> None:
    profile, log = probe()
    assert any("explain all" in line for line in log), log
    assert profile.page_size > 0 and profile.pipe_slots > 0


def test_profiles_round_trip_through_toml(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.toml"
    path.write_text(dump_profile(DEFAULT))
    assert load_profile(path) == DEFAULT


@pytest.mark.real_kernel
def test_probe_costs_writes_a_costs_table_that_a_later_probe_keeps(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """`muxsim probe --costs` measures and writes [costs]; `muxsim probe` alone keeps it."""
    from pathlib import Path

    from click.testing import CliRunner

    import realmux.costs
    from muxsim.cli import main
    from muxsim.model.costs import load_costs

    quick = realmux.costs.measure_costs

    def measure_quickly(progress: object = None) -> dict[str, object]:
        return quick(quick=True)

    monkeypatch.setattr(realmux.costs, "measure_costs", measure_quickly)
    path = Path(str(tmp_path)) / "profile.toml"
    result = CliRunner().invoke(main, ["probe", "--costs", "--out", str(path)])
    assert result.exit_code == 0, result.output
    # How far to trust each price list: samples, spread, agreement (issue 11).
    assert re.search(r"costs: stability: poll_scan: 3 prices, [2-4](-[3-4])? samples each, "
                     r"spread up to [\d.]+%", result.output), result.output
    costs = load_costs(path)
    assert costs.source == str(path) and costs.poll_scan[-1][1] > costs.poll_scan[0][1]
    again = CliRunner().invoke(main, ["probe", "--out", str(path)])
    assert again.exit_code == 0, again.output
    assert load_costs(path) == costs


def test_a_broken_costs_table_is_a_positioned_error(tmp_path: object) -> None:
    from pathlib import Path

    from muxsim.lang.errors import ScenarioError
    from muxsim.model.costs import load_costs

    path = Path(str(tmp_path)) / "bad.toml"
    path.write_text('[profile]\nname = "x"\n[costs]\npoll_scan = [[10, -1.0]]\n')
    with pytest.raises(ScenarioError) as caught:
        load_costs(path)
    assert (caught.value.line, caught.value.col) == (4, 12)
    assert "[x, seconds]" in caught.value.hint
