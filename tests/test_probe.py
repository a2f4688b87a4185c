"""``muxsim probe``: machine constants and per-call costs measured on the real kernel."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from muxsim.model.profile import DEFAULT, dump_profile, load_profile
from muxsim.probe import probe

HERD = Path(__file__).resolve().parent.parent / "models" / "scenarios" / "herd.toml"


@pytest.mark.real_kernel
def test_probe_explains_every_truesize_measurement() -> None:
    profile, log = probe()
    assert any("explain all" in line for line in log), log
    assert profile.page_size > 0 and profile.pipe_slots > 0
    # The window scale follows net.ipv4.tcp_rmem[2]: the probe must carry it.
    with open("/proc/sys/net/ipv4/tcp_rmem") as handle:
        assert profile.tcp_rmem_max == int(handle.read().split()[2])


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


# -- where profiles live ----------------------------------------------------------------
#
# Compiled, `muxsim probe` once wrote the profile beside the compiled module
# (<venv>/muxsim-compiled/models/platform/), the pure model never read it, and
# the next `muxsim compile` deleted it. Profiles now live in the user's
# platform directory, read before the repository's models/platform/.


def test_the_users_profile_is_read_before_the_shipped_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from muxsim.model import profile

    shipped = min(profile.SHIPPED_DIR.glob("*.toml"))  # a profile models/platform/ ships
    release = shipped.stem
    monkeypatch.setenv("MUXSIM_PLATFORM_DIR", str(tmp_path))
    assert profile.find_profile(release) == shipped
    assert profile.probe_target(release) == tmp_path / f"{release}.toml"
    (tmp_path / f"{release}.toml").write_text(
        dump_profile(replace(DEFAULT, name="mine", pipe_slots=32)))
    assert profile.find_profile(release) == tmp_path / f"{release}.toml"
    assert profile.find_profile("no-such-release") is None


def test_the_users_directory_follows_xdg(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from muxsim.model import profile

    monkeypatch.delenv("MUXSIM_PLATFORM_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert profile.user_dir() == tmp_path / "muxsim" / "platform"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # invalid by the XDG rule: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert profile.user_dir() == tmp_path / "home" / ".local" / "share" / "muxsim" / "platform"


def test_probe_refuses_an_unwritable_place_before_measuring(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import muxsim.probe
    from muxsim.cli import main

    def never() -> None:
        raise AssertionError("measured before checking where the profile goes")

    monkeypatch.setattr(muxsim.probe, "probe", never)
    monkeypatch.setenv("MUXSIM_PLATFORM_DIR", "/proc/no-such-place/platform")
    result = CliRunner().invoke(main, ["probe"])
    assert result.exit_code == 2, result.output
    assert "/proc/no-such-place" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["probe", "--out", "/proc/no-such-place/p.toml"])
    assert result.exit_code == 2 and "MUXSIM_PLATFORM_DIR" in result.output, result.output


_PROBE_QUICKLY = """\
import sys
import realmux.costs
from muxsim.cli import main
from muxsim.model.compiled import active
print("compiled" if active() else "sources", file=sys.stderr)
quick = realmux.costs.measure_costs
realmux.costs.measure_costs = lambda progress=None: quick(quick=True)
main(["probe", "--costs"], prog_name="muxsim")
"""


@pytest.mark.real_kernel
def test_probe_then_compile_then_explore_uses_the_measured_prices(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`muxsim probe --costs` with the compiled model (quick costs), then `muxsim
    compile` (the real command replacing the compiled directory, mypyc's minute
    replaced by a copy of the current build), then `muxsim explore`, compiled and
    from the sources: both price with the probed profile. A copy of the build and
    MUXSIM_PLATFORM_DIR in tmp_path keep the environment and the tree untouched."""
    import shutil
    import subprocess
    import sys

    from click.testing import CliRunner

    from muxsim.cli import main
    from muxsim.model import compiled

    if not compiled.active():
        pytest.skip(f"the compiled model is not in use: {compiled.status()[1]}")
    installed = compiled.compiled_dir()
    built, platform_dir = tmp_path / "compiled", tmp_path / "platform"
    shutil.copytree(installed, built, ignore=shutil.ignore_patterns("models"))
    release = __import__("platform").release()
    env = {**os.environ, "MUXSIM_COMPILED_DIR": str(built),
           "MUXSIM_PLATFORM_DIR": str(platform_dir)}
    env.pop("MUXSIM_PURE", None)

    probed = subprocess.run([sys.executable, "-c", _PROBE_QUICKLY], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=False)
    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert probed.stderr.startswith("compiled"), probed.stderr
    profile = platform_dir / f"{release}.toml"
    assert f"wrote {profile}" in probed.stdout
    assert "[costs]" in profile.read_text()
    assert not (built / "models").exists(), "the probe wrote into the compiled model"

    def mypyc(args: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        shutil.copytree(installed, Path(args[3]) / "lib",
                        ignore=shutil.ignore_patterns("models", compiled.MANIFEST))
        return subprocess.CompletedProcess(args, 0, "", "")

    stranded = built / "models" / "platform" / "older-release.toml"  # an earlier muxsim's
    stranded.parent.mkdir(parents=True)
    stranded.write_text(dump_profile(DEFAULT))
    with monkeypatch.context() as patch:
        patch.setenv("MUXSIM_COMPILED_DIR", str(built))
        patch.setenv("MUXSIM_PLATFORM_DIR", str(platform_dir))
        patch.setattr(subprocess, "run", mypyc)  # what compiled.build calls
        result = CliRunner().invoke(main, ["compile"])
    assert result.exit_code == 0, result.output
    assert compiled.status(built)[0] == "fresh" and not (built / "models").exists()
    assert (platform_dir / "older-release.toml").read_text() == dump_profile(DEFAULT)

    for form in ("compiled", "sources"):
        form_env = {**env, "MUXSIM_PURE": "1"} if form == "sources" else env
        done = subprocess.run(
            [sys.executable, "-m", "muxsim", "explore", str(HERD), "--set", "duration=0.01",
             "--jobs", "1", "--json", "--out", str(tmp_path / f"out-{form}")],
            env=form_env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
            check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["costs"] == str(profile), (form, done.stdout[:500])
