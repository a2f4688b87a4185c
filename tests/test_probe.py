"""``muxsim probe``: machine constants and per-call costs measured on the real kernel."""

from __future__ import annotations

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
