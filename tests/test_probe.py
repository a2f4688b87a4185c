"""``muxsim probe``: machine constants and per-call costs measured on the real kernel."""

from __future__ import annotations

import pytest

from muxsim.model.profile import DEFAULT, dump_profile, load_profile
from muxsim.probe import fit_line, probe, probe_costs


def test_fit_line_recovers_a_line() -> None:
    a, b = fit_line([1, 2, 3, 4], [3.0, 5.0, 7.0, 9.0])
    assert (round(a, 9), round(b, 9)) == (1.0, 2.0)


@pytest.mark.real_kernel
def test_probe_explains_every_truesize_measurement() -> None:
    profile, log = probe()
    assert any("explain all" in line for line in log), log
    assert profile.page_size > 0 and profile.pipe_slots > 0


@pytest.mark.real_kernel
def test_cost_fit_charges_poll_per_descriptor_and_epoll_per_event() -> None:
    costs, log = probe_costs(sizes=(10, 1000, 3000), ready=(1, 50))
    # The shape, not the numbers: poll pays per descriptor watched, and a
    # thousand watched descriptors cost more than a thousand times nothing.
    assert costs["cost_poll_per_fd"] > 0
    assert costs["cost_poll_per_fd"] * 1000 > costs["cost_epoll_wait_base"]
    assert len(log) == 4


def test_profiles_round_trip_through_toml(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.toml"
    path.write_text(dump_profile(DEFAULT))
    assert load_profile(path) == DEFAULT
