"""The report: grading, rendering (escaped, self-contained), comparing, atomic writes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from muxsim.lang import parse
from muxsim.lang.outcomes import Number, Ok, Outcome, Ready
from muxsim.lang.results import ScenarioResult, StatementResult
from muxsim.lang.syntax import Scenario
from muxsim.report import write_report
from muxsim.report.model import Report, compare_runs, grade_entry, topic_of
from muxsim.report.render import render_html, render_junit, render_markdown

SCENARIO = parse("# Claim: <b>bold</b> & 'quoted'\n# Source: fs/pipe.c:pipe_write\n"
                 "pipe r w\nsend w 3 => 3\nrecv r 9 => 3\n", "models/conformance/pipe-x.mux")


def outs(*items: Outcome) -> list[Outcome]:
    return list(items)


def result(scenario: Scenario, backend: str, outcomes: list[Outcome]) -> ScenarioResult:
    return ScenarioResult(scenario, backend, tuple(
        StatementResult(s, o, explain=(f"because {backend}",))
        for s, o in zip(scenario.statements, outcomes, strict=True)))


def graded(real: list[Outcome], sim: list[Outcome], textbook: list[Outcome]) -> dict[str, str]:
    entry = grade_entry(SCENARIO, {"real": result(SCENARIO, "real", real),
                                   "sim": result(SCENARIO, "sim", sim),
                                   "textbook": result(SCENARIO, "sim", textbook)})
    return entry.grades


def test_agreement_passes_everywhere() -> None:
    good: list[Outcome] = [Ok(), Number(3), Number(3)]
    assert graded(good, good, good) == {"real": "pass", "sim": "pass", "textbook": "pass"}


def test_a_model_that_differs_from_the_kernel_diverges() -> None:
    good: list[Outcome] = [Ok(), Number(3), Number(3)]
    assert graded(good, outs(Ok(), Number(3), Number(2)), good)["sim"] == "diverge"


def test_a_kernel_that_breaks_an_expectation_fails() -> None:
    other: list[Outcome] = [Ok(), Number(3), Number(1)]
    assert graded(other, other, other) == {"real": "fail", "sim": "fail", "textbook": "fail"}


def test_a_column_that_cannot_run_is_skipped_with_its_reason() -> None:
    entry = grade_entry(SCENARIO, {"real": "no Linux here",
                                   "sim": result(SCENARIO, "sim", outs(Ok(), Number(3), Number(3))),
                                   "textbook": result(SCENARIO, "sim",
                                                      outs(Ok(), Number(3), Number(3)))})
    assert entry.grades["real"] == "skipped"
    assert entry.reasons["real"] == "no Linux here"


def make_report() -> Report:
    good: list[Outcome] = [Ok(), Number(3), Number(3)]
    entry = grade_entry(SCENARIO, {"real": result(SCENARIO, "real", good),
                                   "sim": result(SCENARIO, "sim",
                                                 outs(Ok(), Number(3), Ready(()))),
                                   "textbook": result(SCENARIO, "sim", good)})
    return Report(run={"kernel": "6.x <test>", "commit": "abc"}, entries=[entry])


def test_html_escapes_text_from_scenario_files() -> None:
    page = render_html(make_report())
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27;" in page
    assert "6.x &lt;test&gt;" in page


def test_html_is_self_contained() -> None:
    page = render_html(make_report())
    assert "<script" not in page
    for needle in ("http://", "https://", "src=", "<link"):
        assert needle not in page


def test_html_highlights_differences_and_explains_them() -> None:
    page = render_html(make_report())
    assert "class='differs'" in page
    assert "because sim" in page
    assert "class='g-diverge'" in page


def test_junit_is_well_formed_and_counts_failures() -> None:
    root = ET.fromstring(render_junit(make_report()))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["real kernel"].get("failures") == "0"
    assert suites["model (linux)"].get("failures") == "1"
    assert suites["model (linux)"].find("testcase/failure") is not None


def test_markdown_summary_has_totals_and_attention() -> None:
    text = render_markdown(make_report())
    assert "| model (linux) | 0 | 0 | 1 | 0 | 0 |" in text
    assert "Needs attention" in text


def test_compare_lists_improved_regressed_added_removed() -> None:
    report = make_report()
    old = {"scenarios": [{"id": report.entries[0].id,
                          "grades": {"real": "pass", "sim": "pass", "textbook": "diverge"}},
                         {"id": "gone", "grades": {}}]}
    diff = compare_runs(old, report)
    assert diff["regressed"] == [f"{report.entries[0].id} [sim: pass -> diverge]"]
    assert diff["improved"] == [f"{report.entries[0].id} [textbook: diverge -> pass]"]
    assert diff["removed"] == ["gone"] and diff["added"] == []


def test_results_follow_the_published_schema(tmp_path: Path) -> None:
    import jsonschema

    write_report(make_report(), str(tmp_path))
    schema = json.loads((Path(__file__).parent.parent / "docs" / "results.schema.json")
                        .read_text())
    jsonschema.validate(json.loads((tmp_path / "results.json").read_text()), schema)


def test_an_interrupted_write_leaves_the_previous_report(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write_report(make_report(), str(tmp_path))
    before = (tmp_path / "index.html").read_text()

    def broken(report: Report) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("muxsim.report.render_html", broken)
    with pytest.raises(KeyboardInterrupt):
        write_report(make_report(), str(tmp_path))
    assert (tmp_path / "index.html").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize(("path", "topic"), [
    ("models/conformance/epoll-et-partial-read.mux", "epoll"),
    ("models/conformance/adv3-tcp-rst.mux", "tcp"),
    ("models/conformance/x-kself-epoll1-lt-twice.mux", "epoll"),
    ("models/conformance/y-gvisor-pipe-x.mux", "pipe"),
    ("models/regressions/fuzz-abc.mux", "regressions"),
])
def test_topics_come_from_file_names(path: str, topic: str) -> None:
    assert topic_of(path) == topic
