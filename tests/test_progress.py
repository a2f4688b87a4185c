"""Progress on stderr: silent at first, then a redrawn line on a terminal, whole lines in a log."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from muxsim import progress
from muxsim.cli import main
from muxsim.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_at_most_every_ten_seconds_and_no_carriage_return() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(out, clock=clock)
    for step in range(600):  # one update every 0.1 s for a minute
        clock.now = step / 10
        progress.update(f"statement {step}")
    progress.clear()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()
    assert lines[0] == "statement 30"  # nothing in the first three seconds
    assert 5 <= len(lines) <= 7, lines


def test_a_terminal_gets_one_line_redrawn_and_erased_at_the_end() -> None:
    clock, out = Clock(), Terminal()
    progress = Progress(out, clock=clock)
    for step in range(100):
        clock.now = step / 10
        progress.update(f"statement {step}")
    progress.clear()
    text = out.getvalue()
    assert "\n" not in text
    assert text.startswith("\r\033[Kstatement 30") and text.endswith("\r\033[K")
    assert text.count("\r") < 40  # at most five redraws a second


def test_a_short_run_shows_nothing() -> None:
    clock, out = Clock(), Terminal()
    progress = Progress(out, clock=clock)
    clock.now = 2.9
    progress.update("statement 1")
    progress.clear()
    assert out.getvalue() == ""


@pytest.mark.real_kernel
def test_muxsim_run_reports_progress_on_stderr_and_results_on_stdout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "AFTER", 0.0)
    monkeypatch.setattr(progress, "EVERY", 0.0)
    path = tmp_path / "p.mux"
    path.write_text("pipe r w\nsend w 1 => 1\nrecv r 1 => 1\n")
    result = CliRunner().invoke(main, ["run", str(path), "--on", "real"])
    assert result.exit_code == 0, result.output
    assert f"{path}: statement 3 of 3" in result.stderr
    assert "statement 3 of 3" not in result.stdout and "PASS" in result.stdout


def test_a_new_phase_is_shown_at_once_even_in_a_log() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(out, clock=clock, after=0.0)
    progress.update("[1/9] a.mux")
    clock.now = 1.0
    progress.update("[2/9] b.mux")  # too soon: left out of the log
    progress.update("fuzzing: 300 examples", force=True)
    assert out.getvalue().splitlines() == ["[1/9] a.mux", "fuzzing: 300 examples"]
