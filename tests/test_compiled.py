"""The compiled model (muxsim/model/compiled.py): used only when current, and it
answers exactly as the sources do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from muxsim.cli import main
from muxsim.model import compiled
from muxsim.workload.engine import run_workload
from muxsim.workload.spec import load_workload

SCENARIOS = Path(__file__).resolve().parent.parent / "models" / "scenarios"
WALL = {"setup_wall_s", "run_wall_s"}


def _manifest(directory: Path, **changes: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {"interpreter": compiled._interpreter(),
                                   "sources": compiled._digests()}
    manifest.update(changes)
    (directory / compiled.MANIFEST).write_text(json.dumps(manifest))


def test_nothing_built_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUXSIM_PURE", raising=False)
    assert compiled.status(tmp_path / "none")[0] == "missing"


def test_a_build_from_these_sources_is_fresh(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUXSIM_PURE", raising=False)
    _manifest(tmp_path)
    assert compiled.status(tmp_path) == ("fresh", f"compiled modules in {tmp_path}")


def test_an_edited_source_makes_the_build_stale(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard against running yesterday's model: one digest off is enough."""
    monkeypatch.delenv("MUXSIM_PURE", raising=False)
    sources = compiled._digests()
    sources["muxsim/model/unix.py"] = "0" * 64
    _manifest(tmp_path, sources=sources)
    state, why = compiled.status(tmp_path)
    assert state == "stale" and "muxsim/model/unix.py" in why


def test_another_interpreter_makes_the_build_stale(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUXSIM_PURE", raising=False)
    _manifest(tmp_path, interpreter="cpython-399-elsewhere")
    assert compiled.status(tmp_path)[0] == "stale"


def test_muxsim_pure_disables_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _manifest(tmp_path)
    monkeypatch.setenv("MUXSIM_PURE", "1")
    assert compiled.status(tmp_path)[0] == "disabled"


def test_compile_status_says_what_runs() -> None:
    result = CliRunner().invoke(main, ["compile", "--status", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["status"] in ("fresh", "stale", "missing", "disabled")
    assert record["in_use"] == compiled.active()
    assert record["in_use"] == (record["status"] == "fresh")


#: One seeded run per loop and transport: what the compiled engine and kernel must
#: reproduce exactly.
CASES = [
    ["loop=epoll-lt", "connections=2000", "duration=0.2"],
    ["loop=epoll-et", "connections=500", "duration=0.1", "transport=tcp"],
    ["loop=epoll-oneshot", "connections=500", "duration=0.1", "response_size=70000"],
    ["loop=poll", "connections=300", "duration=0.1"],
    ["loop=select", "connections=300", "duration=0.1", "timeout=0.001"],
]


@pytest.mark.skipif(not compiled.active(),
                    reason=f"the compiled model is not in use: {compiled.status()[1]}")
def test_compiled_and_sources_answer_alike() -> None:
    """Seeded C10K runs of every loop, compiled here and from the sources in a child
    process: every measure but wall time is identical (the same events in the same
    order), long responses (EPOLLOUT), TCP and timed-out sleeps included."""
    path = str(SCENARIOS / "c10k.toml")
    here = [run_workload(load_workload(path, args)).as_dict() for args in CASES]
    code = ("import json\n"
            "from muxsim.model.compiled import active\n"
            "from muxsim.workload.engine import run_workload\n"
            "from muxsim.workload.spec import load_workload\n"
            f"runs = [run_workload(load_workload({path!r}, a)).as_dict() for a in {CASES!r}]\n"
            "print(json.dumps({'active': active(), 'runs': runs}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "MUXSIM_PURE": "1"}, check=True)
    there = json.loads(done.stdout)
    assert there["active"] is False
    for args, ours, theirs in zip(CASES, here, there["runs"], strict=True):
        assert ours["answered"] > 10, args
        for name in sorted(set(ours) - WALL):
            assert ours[name] == theirs[name], (args, name)


def test_compile_into_an_unwritable_place_says_where_and_what_to_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUXSIM_COMPILED_DIR", "/proc/no-such-place/compiled")
    result = CliRunner().invoke(main, ["compile"])
    assert result.exit_code == 2
    assert "/proc/no-such-place" in result.output and "MUXSIM_COMPILED_DIR" in result.output
    assert "Traceback" not in result.output
