"""Inputs refused before the long run; output sets replaced whole; write errors name the file.

Guards issue 11 item 11: ``report --compare BAD.json`` and ``report --out
/proc/x`` ran the whole catalogue and failed at the end with a traceback;
``fuzz --out /proc/x`` never checked; a report interrupted between two
renames, or on a full disk, left new files beside an old ``index.html``,
and "No space left on device" named no path.

A full disk is simulated two ways: ``ENOSPC`` raised by the staging writer
(monkeypatched: the message path), and a real failing ``write(2)`` from
the kernel, ``EFBIG`` under ``RLIMIT_FSIZE`` in a child process (no root,
no tmpfs needed). A kill between two renames is a real ``SIGKILL`` sent by
a child to itself in the middle of the switch.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import muxsim.files
from muxsim.cli import main
from muxsim.files import MANIFEST, finish_switch, write_set
from muxsim.fuzz import FuzzReport
from muxsim.report import write_report
from tests.test_report import make_report

ROOT = Path(__file__).resolve().parent.parent
OLD = {"index.html": "old index\n", "summary.md": "old summary\n",
       "results.json": "{\"old\": true}\n", "junit.xml": "<old/>\n"}
NEW = {name: text.replace("old", "new") for name, text in OLD.items()}


def contents(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in directory.iterdir() if p.is_file()}


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- write_set ----------------------------------------------------------------------


def test_a_set_replaces_the_old_one_and_leaves_no_staging(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()  # what else lives there (reports/explore) is kept
    write_set(str(tmp_path), OLD)
    os.chmod(tmp_path / "index.html", 0o600)
    assert write_set(str(tmp_path), NEW) == [str(tmp_path / n) for n in NEW]
    assert contents(tmp_path) == NEW
    assert (tmp_path / "index.html").stat().st_mode & 0o777 == 0o600  # mode kept
    assert (tmp_path / "other").is_dir() and hidden(tmp_path) == []


def test_a_full_disk_names_the_file_and_leaves_the_old_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(str(tmp_path), OLD)
    real = muxsim.files._write_synced
    written: list[str] = []

    def fills_up(path: str, text: str) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(path)
        real(path, text)

    monkeypatch.setattr(muxsim.files, "_write_synced", fills_up)
    with pytest.raises(OSError) as caught:
        write_set(str(tmp_path), NEW)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(tmp_path / list(NEW)[2])
    assert contents(tmp_path) == OLD and hidden(tmp_path) == []


def _child(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "TARGET": str(cwd)})


def test_a_real_write_failure_from_the_kernel_leaves_the_old_set(tmp_path: Path) -> None:
    write_set(str(tmp_path), OLD)
    child = _child(f"""
        import json, os, resource, signal
        from muxsim.files import write_set
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            write_set(os.environ["TARGET"], {{**{NEW!r}, "results.json": "x" * 200_000}})
        except OSError as exc:
            print(json.dumps([exc.errno, exc.filename]))
        """, tmp_path)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == [errno.EFBIG, str(tmp_path / "results.json")]
    assert contents(tmp_path) == OLD and hidden(tmp_path) == []


def test_a_kill_between_two_renames_is_finished_by_the_next_writer(tmp_path: Path) -> None:
    write_set(str(tmp_path), OLD)
    child = _child(f"""
        import os, signal
        import muxsim.files
        from muxsim.files import write_set
        real, moved = os.replace, []
        def replace(src, dst):
            if len(moved) == 2 and "staging" in str(src):
                os.kill(os.getpid(), signal.SIGKILL)  # two of four files moved
            moved.append(dst)
            real(src, dst)
        muxsim.files.os.replace = replace
        write_set(os.environ["TARGET"], {NEW!r})
        """, tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    now = contents(tmp_path)
    assert MANIFEST in now  # committed: the switch must be finished, not undone
    del now[MANIFEST]
    assert sorted(now.values()) != sorted(OLD.values()) and now != NEW  # mixed, for now
    finish_switch(str(tmp_path))
    assert contents(tmp_path) == NEW and hidden(tmp_path) == []


def test_ctrl_c_during_the_switch_waits_until_the_set_is_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(str(tmp_path), OLD)
    real = os.replace
    seen: list[dict[str, str]] = []

    def replace(src: Any, dst: Any) -> None:
        if "staging" in str(src) and not seen:
            os.kill(os.getpid(), signal.SIGINT)  # held: SIGINT is blocked here
            seen.append({})
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_set(str(tmp_path), NEW)
    assert contents(tmp_path) == NEW and hidden(tmp_path) == []


def test_a_report_is_written_as_one_set(tmp_path: Path) -> None:
    write_set(str(tmp_path), OLD)
    written = write_report(make_report(), str(tmp_path))
    assert sorted(Path(p).name for p in written) == sorted(OLD)
    assert not set(contents(tmp_path).values()) & set(OLD.values())


# -- the commands check first ---------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any catalogue run or fuzzing fails the test: the checks must come first."""
    def ran(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the long run started before the inputs were checked")

    monkeypatch.setattr("muxsim.report.build_report", ran)
    monkeypatch.setattr("muxsim.fuzz.fuzz_share", ran)


@pytest.mark.parametrize("out", ["/proc/x", "/proc/x/y", "/dev/null"])
def test_report_refuses_an_unwritable_out_before_running(no_run: None, out: str) -> None:
    code, _, err = invoke("report", "--out", out, "--examples", "0")
    assert code == 2, err
    assert err.startswith(f"{out}: ") and "hint:" in err and "Traceback" not in err


@pytest.mark.parametrize(("name", "text"), [
    ("list.json", "[]"),
    ("no-scenarios.json", "{\"x\": 1}"),
    ("not-objects.json", "{\"scenarios\": [1]}"),
    ("no-id.json", "{\"scenarios\": [{\"grades\": {}}]}"),
    ("numeric-id.json", "{\"scenarios\": [{\"id\": 3, \"grades\": {}}]}"),
    ("bad-grades.json", "{\"scenarios\": [{\"id\": \"a\", \"grades\": [\"pass\"]}]}"),
    ("deep.json", "[" * 100_000),
    ("binary.json", "\udcff"),
])
def test_report_refuses_a_bad_compare_file_before_running(no_run: None, tmp_path: Path,
                                                          name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    code, _, err = invoke("report", "--compare", str(path), "--examples", "0", "--out",
                          str(tmp_path / "r"))
    assert code == 2, err
    assert err.startswith(f"{path}: not a results.json") and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_report_refuses_a_compare_file_that_is_not_a_file(no_run: None, tmp_path: Path,
                                                          special: str) -> None:
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)
    code, _, err = invoke("report", "--compare", special, "--examples", "0", "--out",
                          str(tmp_path / "r"))
    assert code == 2 and "not a regular file" in err


def test_a_report_on_a_full_disk_names_the_file_and_keeps_the_old_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(str(tmp_path), OLD)
    monkeypatch.setattr("muxsim.report.build_report", lambda *a, **k: make_report())

    def full(path: str, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(muxsim.files, "_write_synced", full)
    code, _, err = invoke("report", "--out", str(tmp_path), "--examples", "0")
    assert code == 2, err
    assert any(line.startswith(f"{tmp_path / 'results.json'}: cannot write: No space left on "
                               "device") for line in err.splitlines()), err
    assert "the previous report is unchanged" in err
    assert contents(tmp_path) == OLD and hidden(tmp_path) == []


def test_report_finishes_a_switch_a_kill_cut_short_before_reading_compare(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staging = tmp_path / ".muxsim-staging-x"
    staging.mkdir()
    old = {"scenarios": [{"id": "a", "grades": {"real": "pass"}}]}
    (staging / "results.json").write_text(json.dumps(old))
    (tmp_path / "results.json").write_text("half of the old set")
    (tmp_path / MANIFEST).write_text(json.dumps({"staging": staging.name,
                                                 "files": ["results.json"]}))
    monkeypatch.setattr("muxsim.report.build_report", lambda *a, **k: make_report())
    code, _, err = invoke("report", "--out", str(tmp_path), "--examples", "0",
                          "--compare", str(tmp_path / "results.json"))
    assert code in (0, 1), err  # compared with the finished set, not the half one
    assert json.loads((tmp_path / "results.json").read_text())["compare"]["removed"] == ["a"]
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("out", ["/proc/x", "/dev/null"])
def test_fuzz_refuses_an_unwritable_out_before_fuzzing(no_run: None, out: str) -> None:
    code, _, err = invoke("fuzz", "--examples", "5", "--seed", "1", "--out", out)
    assert code == 2, err
    assert err.startswith(f"{out}: ") and "Traceback" not in err


def test_fuzz_prints_a_divergence_it_cannot_write(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    found = FuzzReport(examples=1, divergences=1,
                       found=[("fuzz-abc.mux", "# Claim: x\npipe r w => ok\n")])
    monkeypatch.setattr("muxsim.fuzz.fuzz_share", lambda *a, **k: found)

    def full(path: str, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path + ".tmp")

    monkeypatch.setattr("muxsim.fuzz.write_atomic", full)
    code, out, err = invoke("fuzz", "--examples", "1", "--seed", "7", "--out", str(tmp_path))
    assert code == 2, err
    assert "pipe r w => ok" in out
    assert f"{tmp_path / 'fuzz-abc.mux'}: cannot write the divergence found with seed 7" in err
    assert "No space left on device" in err


# -- one file: what write_atomic may replace ------------------------------------
#
# A rename over the target once destroyed whatever was there: `record -o`
# turned a FIFO (or, as root, /dev/null) into a regular file, and recording
# through a symbolic link replaced the link with a copy, leaving its target
# unrecorded (found by a fresh-clone review).


def test_record_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real.mux"
    real.write_text("pipe r w\nsend w 1\n")
    link = tmp_path / "link.mux"
    link.symlink_to(real.name)
    code, _, err = invoke("record", str(link), "--on", "sim")
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == real.name
    assert real.read_text() == "pipe r w => ok\nsend w 1 => 1\n"


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_record_refuses_to_replace_what_is_not_a_regular_file(tmp_path: Path,
                                                               kind: str) -> None:
    source = tmp_path / "r.mux"
    source.write_text("pipe r w\n")
    target = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        try:
            os.mknod(target, 0o666 | 0o020000, os.makedev(1, 3))  # a copy of /dev/null
        except PermissionError:
            pytest.skip("mknod needs CAP_MKNOD")
    before = os.lstat(target)
    code, _, err = invoke("record", str(source), "--on", "sim", "-o", str(target))
    assert code == 2, err
    assert str(target) in err and ("not a regular file" in err or "is a directory" in err), err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_a_write_error_names_the_path_not_the_temporary_file(tmp_path: Path) -> None:
    source = tmp_path / "r.mux"
    source.write_text("pipe r w\n")
    code, _, err = invoke("record", str(source), "--on", "sim", "-o", "/proc/no-such/x.mux")
    assert code == 2
    assert err.startswith("/proc/no-such/x.mux: ") and ".tmp-" not in err, err


def test_run_checks_its_trace_directory_before_running(tmp_path: Path) -> None:
    source = tmp_path / "r.mux"
    source.write_text("pipe r w\n")
    code, out, err = invoke("run", str(source), "--on", "sim", "--trace", "/proc/no-such")
    assert code == 2 and "PASS" not in out, out  # refused before any scenario ran
    assert err.startswith("/proc/no-such: ") and "--trace" in err, err
