"""The command line, through click's test runner (and once as a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from muxsim.cli import main

PASSING = """# Claim: a send makes the peer readable.
# Source: net/unix/af_unix.c:unix_stream_sendmsg
socketpair a b
send a 3 => 3   # three bytes
poll b:IN => b IN
"""

MISMATCH = "socketpair a b\nsend a 3 => 3\npoll b:IN => -\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_passing_scenario_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.mux", PASSING)
    code, out, _ = invoke("run", str(path), "--on", "real")
    assert code == 0
    assert out.startswith(f"PASS {path}")
    assert "1 passed, 0 failed" in out


def test_run_mismatch_exits_1_and_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.mux", MISMATCH)
    code, out, _ = invoke("run", str(path))
    assert code == 1
    assert "FAIL" in out
    assert "line 3: poll b:IN" in out
    assert "expected: -" in out
    assert "got:      b IN" in out


def test_parse_error_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.mux", "socketpair a b\nsend a lots\n")
    code, out, err = invoke("run", str(path))
    assert code == 2
    assert f"{path}:2:8: N must be a whole number of bytes" in err
    assert "hint:" in err
    assert "Traceback" not in err + out


def test_every_parse_error_in_every_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.mux", "bogus\n")
    write(tmp_path, "b.mux", "pipe r\n")
    code, _, err = invoke("run", str(tmp_path))
    assert code == 2
    assert "a.mux:1:1" in err and "b.mux:1:7" in err


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("run", str(tmp_path / "nope.mux"))
    assert code == 2
    assert "no such file" in err


def test_runtime_scenario_error_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "conn.mux", "socketpair a b\nconnect c a\n")
    code, _, err = invoke("run", str(path))
    assert code == 2
    assert "conn.mux:2:1: 'a' is not a listener" in err


def test_json_prints_one_record_per_statement(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.mux", PASSING)
    code, out, _ = invoke("run", str(path), "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    statements = [r for r in records if r["type"] == "statement"]
    assert [r["line"] for r in statements] == [3, 4, 5]
    assert statements[2] == statements[2] | {"statement": "poll b:IN", "expected": "b IN",
                                             "outcome": "b IN", "matched": True}
    assert records[-1]["type"] == "scenario" and records[-1]["passed"] is True


def test_trace_writes_header_then_statements(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.mux", PASSING)
    traces = tmp_path / "traces"
    code, _, _ = invoke("run", str(path), "--trace", str(traces))
    assert code == 0
    (trace,) = traces.glob("*.jsonl")
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    header = records[0]
    assert header["type"] == "header"
    assert header["environment"]["kernel"]
    assert {"python", "muxsim", "backend"} <= set(header["environment"])
    assert header["claim"].startswith("Claim:")
    assert [r["type"] for r in records[1:]] == ["statement"] * 3 + ["scenario"]


def test_record_fills_outcomes_and_keeps_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "new.mux", "# Claim: x\n# Source: y\nsocketpair a b\n\n"
                                      "send a 3   # three\npoll b:IN => -\n"
                                      "spawn t poll b:IN\njoin t\n")
    code, out, _ = invoke("record", str(path))
    assert code == 0, out
    assert "1 differed" in out
    assert path.read_text() == ("# Claim: x\n# Source: y\nsocketpair a b => ok\n\n"
                                "send a 3 => 3  # three\npoll b:IN => b IN\n"
                                "spawn t poll b:IN\njoin t => b IN\n")
    code, _, _ = invoke("run", str(path))
    assert code == 0


def test_record_to_another_file_leaves_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, "src.mux", "pipe r w\nsend w 1\n")
    out = tmp_path / "out.mux"
    code, _, _ = invoke("record", str(path), "-o", str(out))
    assert code == 0
    assert path.read_text() == "pipe r w\nsend w 1\n"
    assert out.read_text() == "pipe r w => ok\nsend w 1 => 1\n"


def test_record_of_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.mux", "pipe r w\nsend w x\n")
    code, _, err = invoke("record", str(path))
    assert code == 2
    assert path.read_text() == "pipe r w\nsend w x\n"
    assert "broken.mux:2:8" in err


def test_help_explains_each_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0 and "run" in out and "record" in out and "report" in out
    code, out, _ = invoke("run", "--help")
    assert code == 0 and "--json" in out and "--trace" in out and "Exit code" in out


def test_report_writes_all_four_outputs(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    cat.mkdir()
    write(cat, "one.mux", PASSING)
    out = tmp_path / "rep"
    code, stdout, _ = invoke("report", "--out", str(out), "--catalogue", str(cat),
                             "--examples", "0")
    assert code == 0, stdout
    assert "1 of 1 scenarios pass on the real kernel, the model agrees on 1" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "junit.xml",
                                                     "results.json", "summary.md"]
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["real"]["pass"] == 1
    assert results["scenarios"][0]["claim"] == "a send makes the peer readable."
    assert "a send makes the peer readable" in (out / "index.html").read_text()


@pytest.mark.real_kernel
def test_python_dash_m_works_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.mux", MISMATCH)
    proc = subprocess.run([sys.executable, "-m", "muxsim", "run", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "expected: -" in proc.stdout


def test_trace_records_follow_the_published_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "docs" / "trace.schema.json")
                        .read_text())
    path = write(tmp_path, "ok.mux", PASSING + "spawn t poll a:IN timeout=inf\nsend b 1\njoin t\n")
    code, _, _ = invoke("run", str(path), "--trace", str(tmp_path / "t"))
    assert code == 0
    (trace,) = (tmp_path / "t").glob("*.jsonl")
    for line in trace.read_text().splitlines():
        jsonschema.validate(json.loads(line), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "statement", "line": -1}, schema)


@pytest.mark.real_kernel
def test_check_agreeing_scenario_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "same.mux", PASSING)
    code, out, _ = invoke("check", str(path))
    assert code == 0, out
    assert f"SAME {path}" in out
    assert "1 agree, 0 diverge" in out


@pytest.mark.real_kernel
def test_check_json_reports_each_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, "same.mux", PASSING)
    code, out, _ = invoke("check", str(path), "--json")
    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record == {"type": "check", "scenario": str(path), "statements": 3,
                      "divergences": 0}


@pytest.mark.real_kernel
def test_run_on_both_reports_agreement(tmp_path: Path) -> None:
    path = write(tmp_path, "same.mux", PASSING)
    code, out, _ = invoke("run", str(path), "--on", "both")
    assert code == 0, out
    assert f"SAME {path}" in out
    assert "1 agree on every statement, 0 differ" in out


def test_side_by_side_marks_the_first_divergence() -> None:
    from muxsim.compare import divergences, side_by_side
    from muxsim.lang import parse
    from muxsim.lang.outcomes import Number
    from muxsim.lang.results import ScenarioResult, StatementResult

    scenario = parse("pipe r w\nsend w 3\nrecv r 9\n", "x.mux")
    real = ScenarioResult(scenario, "real", tuple(
        StatementResult(s, Number(n)) for s, n in zip(scenario.statements, [0, 3, 3],
                                                     strict=True)))
    sim = ScenarioResult(scenario, "sim", tuple(
        StatementResult(s, Number(n), explain=("pipe_read took 2",) if n == 2 else ())
        for s, n in zip(scenario.statements, [0, 3, 2], strict=True)))
    found = divergences(real, sim)
    assert [d.line for d in found] == [3]
    text = side_by_side(real, sim, found[0], context=1)
    assert ">>line 3  recv r 9" in text
    assert "pipe_read took 2" in text


def test_record_keeps_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.mux"
    path.write_bytes(b"pipe r w\r\nsend w 1\r\n")
    code, _, _ = invoke("record", str(path))
    assert code == 0
    assert path.read_bytes() == b"pipe r w => ok\r\nsend w 1 => 1\r\n"


def test_report_refuses_a_bad_compare_file_before_running(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.json", "[]")
    code, _, err = invoke("report", "--compare", str(bad), "--examples", "0",
                          "--out", str(tmp_path / "r"))
    assert code == 2
    assert "not a results.json" in err
    assert not (tmp_path / "r").exists()


def test_unwritable_trace_directory_is_a_clean_error(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.mux", PASSING)
    code, _, err = invoke("run", str(path), "--trace", "/proc/no-such-dir")
    assert code == 2
    assert "/proc/no-such-dir" in err and "Traceback" not in err


def test_non_finite_watchdog_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.mux", PASSING)
    code, _, _ = invoke("run", str(path), "--watchdog", "nan")
    assert code == 2


def test_record_keeps_a_file_with_form_feeds_parseable(tmp_path: Path) -> None:
    """Lines end at \\n for the parser and for record alike (issue 11, item 10).

    ``pipe r w\\fsend w 1`` is one line (a form feed is a blank), so it is
    refused and left alone; a form feed on a line of its own stays, and the
    file record writes parses to the same statements.
    """
    joined = tmp_path / "joined.mux"
    joined.write_bytes(b"pipe r w\x0csend w 1\n")
    code, _, err = invoke("record", str(joined))
    assert code == 2 and f"{joined}:1:10: pipe: unexpected 'send'" in err
    assert joined.read_bytes() == b"pipe r w\x0csend w 1\n"

    paged = tmp_path / "paged.mux"
    paged.write_bytes("pipe r w\n\x0c\nsend w 1\x0b# \u2028 sep\n\x0c\nrecv r 1\n".encode())
    code, _, _ = invoke("record", str(paged))
    assert code == 0
    assert paged.read_bytes() == ("pipe r w => ok\n\x0c\nsend w 1 => 1  # \u2028 sep\n\x0c\n"
                                  "recv r 1 => 1\n").encode()
    code, out, _ = invoke("run", str(paged))
    assert code == 0 and "3 expectations" in out


@pytest.mark.parametrize("args", [
    ["run", "{special}"], ["run", "--on", "sim", "{special}"], ["record", "{special}"],
    ["check", "{special}"],
    ["explore", "models/scenarios/herd.toml", "--platform", "{special}"],
    ["report", "--compare", "{special}", "--examples", "0", "--out", "{tmp}/r"],
])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_devices_and_fifos_are_refused_unread(tmp_path: Path, args: list[str],
                                              special: str) -> None:
    """/dev/zero was read into MemoryError and a FIFO hung (issue 11, item 7)."""
    import os

    root = Path(__file__).resolve().parent.parent
    if special == "fifo":
        special = str(tmp_path / "in.mux")
        os.mkfifo(special)
    argv = [a.format(special=special, tmp=tmp_path) for a in args]
    done = subprocess.run([sys.executable, "-m", "muxsim", *argv], cwd=root, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()


def test_probe_reads_an_existing_out_file_without_blocking(tmp_path: Path) -> None:
    """`probe --out` keeps the [costs] of the file it replaces: a FIFO or /dev/zero there
    must not block or exhaust it (issue 11, item 7)."""
    import os

    from muxsim.model.costs import existing_costs

    fifo = tmp_path / "profile.toml"
    os.mkfifo(fifo)
    assert existing_costs(str(fifo)) == {}
    assert existing_costs("/dev/zero") == {}
    deep = tmp_path / "deep.toml"
    deep.write_text("costs = " + "[" * 2000 + "]" * 2000 + "\n")
    assert existing_costs(str(deep)) == {}


@pytest.mark.parametrize("command", [["run", "--on", "sim"], ["run", "--on", "real"],
                                     ["record"], ["check"]])
@pytest.mark.parametrize(("source", "where", "message"), [
    ("socketpair a b\nsend a " + "9" * 5000 + "\n", "2:8", "N is too large"),
    ("socketpair a b\nsend a 1 => " + "9" * 5000 + "\n", "2:13", "is too large"),
    ("socketpair a b\nset a linger " + "0" * 5000 + "7\n", "2:14", "leading zero"),
    ("epoll e\nsocketpair a b\nctl e add a IN|0xffffffffff\n", "3:16", "wider than 32 bits"),
])
def test_numbers_the_language_cannot_hold_exit_2_with_a_position(
        tmp_path: Path, command: list[str], source: str, where: str, message: str) -> None:
    """A 5,000-digit number was CPython's ValueError (exit 3) (issue 11, item 7): now
    exit 2 at FILE:LINE:COL, file untouched."""
    path = write(tmp_path, "n.mux", source)
    code, out, err = invoke(*command, str(path))
    assert code == 2, err
    assert f"{path}:{where}: " in err and message in err and "hint:" in err
    assert "Traceback" not in out + err and len(err) < 1000
    assert path.read_text() == source
