"""The compiled model (muxsim/model/compiled.py): used only when current, and it
answers exactly as the sources do."""

from __future__ import annotations

import ast
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


# -- exceptions across a yield ------------------------------------------------------------
#
# A generator compiled by mypyc that yields inside an ``except`` block leaves the
# exception it handles set as the thread's current one while it is suspended
# (mypyc/mypyc#347: "yield inside except and finally blocks is still broken").
# Every OSError raised after that takes it as its ``__context__``: the chain of
# every EAGAIN of a run stayed alive, and raising walks the chain, so the compiled
# model grew in memory and slowed down quadratically with the run's length
# (herd.toml, 8 virtual seconds: 49.5 s and 250 MB against 1.9 s and 31 MB).


def _yields_in_handlers(source: str) -> list[tuple[int, str]]:
    """(line, "except" | "finally") of every yield, ``yield from`` or ``await``
    inside an ``except`` or ``finally`` block of ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Try, ast.TryStar)):
            continue
        blocks = [("except", h.body) for h in node.handlers] + [("finally", node.finalbody)]
        for kind, body in blocks:
            for statement in body:
                found += [(sub.lineno, kind) for sub in ast.walk(statement)
                          if isinstance(sub, (ast.Yield, ast.YieldFrom, ast.Await))]
    return found


def test_the_checker_finds_a_yield_in_a_handler() -> None:
    source = ("def g():\n    try:\n        yield 1\n    except OSError:\n        yield 2\n"
              "    finally:\n        x = yield from h()\n")
    assert _yields_in_handlers(source) == [(5, "except"), (7, "finally")]


def test_no_compiled_module_yields_inside_except_or_finally() -> None:
    """The rule the compiled modules keep: charge, wait or sleep after the handler."""
    found = [f"{module}:{line}: yield inside {kind}" for module in compiled.MODULES
             for line, kind in _yields_in_handlers((compiled.ROOT / module).read_text())]
    assert not found, "\n".join(found)


#: The runs checked for a leaked exception: failed accepts (herd: eight threads
#: woken for each connection, one wins), failed sends (responses larger than the
#: socket buffer, two threads), and the scanning loops' sleeps and timeouts.
LEAK_CASES = [
    ("herd.toml", ["duration=0.1"]),
    ("c10k.toml", ["loop=epoll-lt", "threads=2", "connections=100", "duration=0.1",
                   "response_size=1000000"]),
    ("c10k.toml", ["loop=poll", "connections=200", "duration=0.05"]),
    ("c10k.toml", ["loop=select", "connections=200", "duration=0.05", "timeout=0.001"]),
]

_LEAK_PROBE = """\
import gc, json, sys
from muxsim.model.compiled import active
from muxsim.workload.engine import WorkloadRun
from muxsim.workload.spec import load_workload

def chain(exc):
    n = 0
    while exc is not None:
        n, exc = n + 1, exc.__context__
    return n

out = {"active": active(), "runs": []}
for path, args in json.loads(sys.argv[1]):
    run = WorkloadRun(load_workload(path, args))
    run.setup()
    step, leaked = run.env.step, []

    def checked_step():
        step()  # between two SimPy steps no handler runs: nothing may be current
        if sys.exception() is not None:
            leaked.append(repr(sys.exception()))

    run.env.step = checked_step
    m = run.run()
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, BaseException)]
    out["runs"].append({"answered": m.answered, "accepts": m.accepts,
                        "steps_with_an_exception_set": len(leaked), "first": leaked[:1],
                        "after_the_run": repr(sys.exception()), "alive": len(alive),
                        "longest_chain": max(map(chain, alive), default=0)})
print(json.dumps(out))
"""


@pytest.mark.parametrize("form", ["compiled", "sources"])
def test_no_exception_outlives_its_handler(form: str) -> None:
    """Between any two SimPy steps and after the run, no exception is current, and
    none is kept alive (by a chain of ``__context__``s or otherwise): what a leak
    across a yield leaves behind, counted rather than timed. Each form runs in a
    child of its own, so nothing this process holds is counted."""
    env = {**os.environ}
    env.pop("MUXSIM_PURE", None)
    if form == "sources":
        env["MUXSIM_PURE"] = "1"
    elif not compiled.active():
        pytest.skip(f"the compiled model is not in use: {compiled.status()[1]}")
    cases = [(str(SCENARIOS / name), args) for name, args in LEAK_CASES]
    done = subprocess.run([sys.executable, "-c", _LEAK_PROBE, json.dumps(cases)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["active"] is (form == "compiled")
    for (name, args), run in zip(LEAK_CASES, result["runs"], strict=True):
        where = f"{name} {' '.join(args)}: {run}"
        assert run["answered"] + run["accepts"] > 0, where
        assert run["steps_with_an_exception_set"] == 0, where
        assert run["after_the_run"] == "None", where
        assert run["alive"] == 0 and run["longest_chain"] == 0, where
