"""The ``muxsim`` command line (also ``python -m muxsim``).

Exit codes, the same for every command:

* 0: every expectation held;
* 1: an expectation did not hold (a mismatch);
* 2: a usage or scenario error (``FILE:LINE:COL: message`` and a hint);
* 3: an internal error (a bug in muxsim: please report it), or an
  environment that cannot run the scenario (a descriptor limit too low for
  the real backend, for instance): the message says which.
* 130: interrupted (Ctrl-C, or SIGINT to the process alone).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import click

from muxsim import __version__
from muxsim.backends import BACKENDS, get_backend
from muxsim.compare import Divergence, divergences, side_by_side
from muxsim.files import (
    SwitchPending,
    check_out_dir,
    finish_switch,
    write_atomic,
    write_jsonl_atomic,
)
from muxsim.lang.errors import EnvironmentLimit, InvariantError, ScenarioError
from muxsim.lang.parser import parse_file, read_source
from muxsim.lang.printer import format_action
from muxsim.lang.record import fill_expectations, wants_expectation
from muxsim.lang.results import RunOptions, ScenarioResult
from muxsim.lang.syntax import Scenario
from muxsim.lang.trace import scenario_record, statement_record, trace_records
from muxsim.progress import Progress
from muxsim.sigint import latched_interrupts

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def find_scenarios(paths: tuple[str, ...]) -> list[str]:
    """Every ``.mux`` file named, or found (sorted) under a named directory."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".mux"))
        elif os.path.exists(path):
            found.append(path)
        else:
            _fail(EXIT_USAGE, f"{path}: no such file or directory\n"
                              "  hint: give .mux files or directories that hold them")
    if not found:
        _fail(EXIT_USAGE, "no .mux scenario found in " + ", ".join(paths) +
              "\n  hint: scenario files end in .mux")
    return found


def parse_all(files: list[str]) -> list[Scenario]:
    """Parse every file first: report every scenario error, then exit 2."""
    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    for path in files:
        try:
            scenarios.append(parse_file(path))
        except ScenarioError as exc:
            errors.append(exc)
    if errors:
        _fail(EXIT_USAGE, "\n".join(e.render() for e in errors))
    return scenarios


def _tracking(options: RunOptions, progress: Progress, scenario: Scenario, index: int,
              count: int) -> RunOptions:
    """``options`` that report the run of ``scenario`` (number ``index`` of ``count``)."""
    which = f" (scenario {index + 1} of {count})" if count > 1 else ""

    def told(done: int, total: int) -> None:
        progress.update(f"{scenario.path}: statement {done} of {total}{which}, "
                        f"{progress.elapsed():.0f}s")

    return dataclasses.replace(options, progress=told)


def _guarded(body: Callable[[], int]) -> NoReturn:
    """Run a command body; map errors to the documented exit codes.

    Ctrl-C is latched (:mod:`muxsim.sigint`): one that Python swallowed
    still ends the command with 130 at its next safe point, or at its end.
    """
    try:
        with latched_interrupts():
            code = body()
    except ScenarioError as exc:
        _fail(EXIT_USAGE, exc.render())
    except EnvironmentLimit as exc:
        _fail(EXIT_INTERNAL, f"muxsim: cannot run here: {exc.message}\n  hint: {exc.hint}")
    except InvariantError as exc:
        _fail(EXIT_INTERNAL, f"muxsim: internal error: {exc}\n"
                             "  hint: this is a bug in muxsim; please report it with the scenario")
    except KeyboardInterrupt:
        _fail(130, "muxsim: interrupted")
    except BrokenPipeError:
        # The reader went away (muxsim run ... | head): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except OSError as exc:
        # The runners turn the kernel's errors into outcomes; one that reaches
        # here is about a file the command was told to read or write.
        where = exc.filename or "muxsim"
        _fail(EXIT_USAGE, f"{where}: {exc.strerror or exc}\n"
                          "  hint: check the path and that its directory is writable")
    except Exception as exc:
        detail = "".join(traceback.format_exception(exc))
        _fail(EXIT_INTERNAL, f"muxsim: internal error: {exc!r}\n{detail}"
                             "  hint: this is a bug in muxsim; please report it with the scenario")
    sys.exit(code)


_BACKEND_HELP = "where to run: " + ", ".join(f"{name} ({b.summary})" for name, b in
                                              BACKENDS.items())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="muxsim")
def main() -> None:
    """Simulate and test I/O readiness on Linux: select, poll and epoll.

    Scenarios are .mux files (see docs/language.md). Run them on the real
    kernel, record their outcomes, and compare.

    \b
    Examples:
      muxsim run models/conformance --on real
      muxsim run my.mux --json
      muxsim record new-scenario.mux
    """


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value != value or value == float("inf"):
        raise click.BadParameter("must be a finite number of seconds")
    return value


def _watchdog_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--watchdog", type=click.FloatRange(min=0.01, max=3600),
                        callback=_finite, default=1.0,
                        show_default=True, metavar="S",
                        help="seconds a wait with timeout=inf may block before it is HUNG")(f)


def _semantics_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--semantics", type=click.Choice(["linux", "textbook"]),
                        default="linux", show_default=True,
                        help="the model's policy: Linux's, or the textbook reading of "
                             "edge triggering (an edge only on a not-ready to ready change)")(f)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--on", "backend_name", type=click.Choice([*sorted(BACKENDS), "both"]),
              default="real", show_default=True,
              help=_BACKEND_HELP + "; both: run on the kernel and the model and report "
                   "where they differ")
@click.option("--json", "as_json", is_flag=True,
              help="print one JSON record per statement (and per scenario) instead of text")
@click.option("--trace", "trace_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="write a JSON Lines trace per scenario into DIR")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="run each scenario this many times (all must pass)")
@_watchdog_option
@_semantics_option
@click.option("-v", "--verbose", is_flag=True, help="print every statement and its outcome")
@click.option("--explain", is_flag=True,
              help="print the model's causal chain behind each outcome (wakeups, callbacks, "
                   "harvests)")
def run(paths: tuple[str, ...], backend_name: str, as_json: bool, trace_dir: str | None,
        repeat: int, watchdog: float, semantics: str, verbose: bool, explain: bool) -> None:
    """Run scenarios (files or directories of .mux files) and check their expectations.

    Prints one line per scenario; for a mismatch, the line, the statement,
    what was expected and what happened. Exit code 0 when every expectation
    held, 1 on a mismatch, 2 on a scenario error, 3 on an internal error or
    an environment the real backend cannot run in (the message says which).
    """

    def body() -> int:
        if trace_dir is not None:  # checked first: a trace written after the run has to fit
            _check_out(trace_dir, "give --trace a directory that exists or can be made, and "
                                  "that you can write")
        scenarios = parse_all(find_scenarios(paths))
        names = ["real", "sim"] if backend_name == "both" else [backend_name]
        backends = [get_backend(name) for name in names]
        options = RunOptions(watchdog=watchdog, semantics=semantics)
        failed = 0
        total = 0
        agreed = 0
        began = time.monotonic()
        progress = Progress()
        for index, scenario in enumerate(scenarios):
            tracked = _tracking(options, progress, scenario, index, len(scenarios))
            for attempt in range(repeat):
                results = [backend.run(scenario, tracked) for backend in backends]
                progress.clear()
                total += 1
                diverged = divergences(results[0], results[1]) if len(results) == 2 else []
                if any(not r.passed for r in results) or diverged:
                    failed += 1
                if len(results) == 2 and not diverged:
                    agreed += 1
                for result in results:
                    if as_json:
                        _print_json(result)
                    elif len(results) == 1:
                        _print_text(result, verbose or explain, attempt, repeat, explain)
                    if trace_dir is not None:
                        _write_trace(trace_dir, result, attempt if repeat > 1 else None,
                                     suffix="" if len(results) == 1 else f".{result.backend}")
                if len(results) == 2:
                    if as_json:
                        _print_json_divergences(scenario.path, diverged)
                    else:
                        _print_both(results[0], results[1], diverged, verbose, explain)
        if not as_json and backend_name == "both":
            click.echo(f"{total} scenario runs on real and sim: {agreed} agree on every "
                       f"statement, {total - agreed} differ")
        if not as_json and backend_name != "both":
            elapsed = time.monotonic() - began
            click.echo(f"{total} scenario runs on {backend_name}: {total - failed} passed, "
                       f"{failed} failed ({elapsed:.2f}s)")
        return EXIT_MISMATCH if failed else EXIT_OK

    _guarded(body)


def _print_both(real: ScenarioResult, sim: ScenarioResult, diverged: list[Divergence],
                verbose: bool, explain: bool) -> None:
    bad = [r for r in (real, sim) if not r.passed]
    status = "DIFF" if diverged else ("FAIL" if bad else "SAME")
    click.echo(f"{status} {real.scenario.path}  ({len(real.results)} statements, "
               f"{len(diverged)} differ between real and sim)")
    marked = {d.index for d in diverged}
    for i, (a, b) in enumerate(zip(real.results, sim.results, strict=True)):
        st = a.statement
        if i in marked or verbose or a.matched is False or b.matched is False:
            mark = "!! " if i in marked else "   "
            click.echo(f"  {mark}line {st.where.line}: {format_action(st.action)}")
            if st.expect is not None:
                click.echo(f"        expected: {st.expect}")
            click.echo(f"        real:     {a.outcome}")
            click.echo(f"        sim:      {b.outcome}")
            if i in marked or explain:
                for step in b.explain:
                    click.echo(f"          because {step}")


def _print_json_divergences(path: str, diverged: list[Divergence]) -> None:
    for d in diverged:
        click.echo(json.dumps({
            "type": "divergence", "scenario": path, "line": d.line,
            "statement": format_action(d.left.statement.action),
            "real": str(d.left.outcome), "sim": str(d.right.outcome),
            "explain": list(d.right.explain),
        }, sort_keys=True))


def _print_json(result: ScenarioResult) -> None:
    for r in result.results:
        click.echo(json.dumps(statement_record(r, result.scenario.path, result.backend),
                              sort_keys=True))
    click.echo(json.dumps(scenario_record(result), sort_keys=True))


def _print_text(result: ScenarioResult, verbose: bool, attempt: int, repeat: int,
                explain: bool = False) -> None:
    status = "PASS" if result.passed else "FAIL"
    expectations = sum(1 for r in result.results if r.matched is not None)
    run_no = f" [run {attempt + 1}/{repeat}]" if repeat > 1 else ""
    click.echo(f"{status} {result.scenario.path}{run_no}  ({len(result.results)} statements, "
               f"{expectations} expectations, {result.elapsed:.3f}s)")
    for r in result.results:
        st = r.statement
        if verbose or r.matched is False:
            mark = {True: "ok ", False: "!! ", None: "   "}[r.matched]
            click.echo(f"  {mark}line {st.where.line}: {format_action(st.action)}")
            if r.matched is False:
                click.echo(f"        expected: {st.expect}")
                click.echo(f"        got:      {r.outcome}")
            elif verbose:
                click.echo(f"        => {r.outcome}")
        if r.notes and (verbose or r.matched is False):
            for note in r.notes:
                click.echo(f"        note: {note}")
        if explain:
            for step in r.explain:
                click.echo(f"          because {step}")


def _trace_name(path: str) -> str:
    rel = os.path.relpath(path)
    stem = rel[:-4] if rel.endswith(".mux") else rel
    return stem.replace(os.sep, "__").lstrip("._") + ".jsonl"


def _write_trace(trace_dir: str, result: ScenarioResult, attempt: int | None,
                 suffix: str = "") -> None:
    name = _trace_name(result.scenario.path).replace(".jsonl", f"{suffix}.jsonl")
    if attempt is not None:
        name = name.replace(".jsonl", f".{attempt + 1}.jsonl")
    write_jsonl_atomic(os.path.join(trace_dir, name), trace_records(result))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--on", "backend_name", type=click.Choice(sorted(BACKENDS)), default="real",
              show_default=True, help="where the outcomes come from (the kernel is the judge)")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="write here instead of rewriting PATH in place")
@_watchdog_option
def record(path: str, backend_name: str, output: str | None, watchdog: float) -> None:
    """Run a scenario and write it back with every '=> OUTCOME' filled in.

    This is how a catalogue entry is made: write the statements, then let
    the real kernel say what they do. Comments and layout are kept; the file
    is replaced atomically.

    \b
    Example:
      muxsim record models/conformance/my-claim.mux
    """

    def body() -> int:
        scenario = parse_all([path])[0]
        progress = Progress()
        result = get_backend(backend_name).run(
            scenario, _tracking(RunOptions(watchdog=watchdog), progress, scenario, 0, 1))
        progress.clear()
        outcomes = {r.statement.where.line: r.outcome for r in result.results
                    if wants_expectation(r.statement)}
        text = read_source(path)  # as written: CRLF files stay CRLF
        changed = sum(1 for r in result.results if r.matched is False)
        write_atomic(output or path, fill_expectations(text, outcomes))
        notes = [f"line {r.statement.where.line}: {n}" for r in result.results for n in r.notes]
        for note in notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"recorded {len(outcomes)} outcomes from {backend_name} into "
                   f"{output or path} ({changed} differed from the old expectations)")
        return EXIT_OK

    _guarded(body)


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="reports",
              show_default=True, help="directory for index.html, summary.md, results.json, "
                                      "junit.xml")
@click.option("--catalogue", "paths", multiple=True, type=click.Path(),
              default=("models/conformance", "models/regressions"), show_default=True,
              help="scenario directories (missing ones are skipped)")
@click.option("--examples", type=click.IntRange(min=0), default=300, show_default=True,
              help="fuzzing examples to include (0: none)")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True,
              help="the fuzzing seed")
@click.option("--compare", "compare_with", type=click.Path(dir_okay=False, exists=True),
              help="an earlier run's results.json: list what improved, regressed, was added "
                   "or removed")
@_watchdog_option
def report(out_dir: str, paths: tuple[str, ...], examples: int, seed_value: int,
           compare_with: str | None, watchdog: float) -> None:
    """Grade every catalogue scenario on the real kernel, the model and the textbook model.

    Writes OUT/index.html (self-contained), OUT/summary.md, OUT/results.json
    and OUT/junit.xml, replaced together as one set (an interrupt or a full
    disk leaves the whole previous report), and prints the totals. OUT and
    the --compare file are checked before anything runs. Exit code 1 if
    any scenario fails on the real kernel or the model diverges from it, 2
    for a bad input or output, 130 on Ctrl-C.

    \b
    Examples:
      muxsim report
      muxsim report --out /tmp/r --examples 0 --compare reports/results.json
    """
    from muxsim.report import (
        PreviousResultsError,
        build_report,
        load_previous,
        terminal_table,
        write_report,
    )

    fuzz_out = "models/regressions"

    def body() -> int:
        # Every input and output is checked before the catalogue runs.
        present = tuple(p for p in paths if os.path.exists(p))
        if not present:
            _fail(EXIT_USAGE, "no catalogue directory found: " + ", ".join(paths))
        _check_out(out_dir, "give --out a directory that exists or can be made, and that "
                            "you can write")
        if examples > 0:
            _check_out(fuzz_out, f"fuzzing writes the divergences it finds into {fuzz_out}: "
                                 "run from a checkout of muxsim, or give --examples 0")
        if os.path.isdir(out_dir):
            finish_switch(out_dir)  # a report a kill cut short is finished first
        previous = None
        if compare_with is not None:
            try:
                previous = load_previous(compare_with)
            except PreviousResultsError as exc:
                _fail(EXIT_USAGE, f"{exc}\n  hint: give the results.json of an earlier "
                                  "`muxsim report`")
        scenarios = parse_all(find_scenarios(present))

        # A redrawn line on a terminal; in a log, a line every few seconds
        # (not one endless line of carriage returns).
        shown = Progress(after=0.0)
        built = build_report(scenarios, RunOptions(watchdog=watchdog), examples=examples,
                             seed=seed_value, fuzz_out=fuzz_out,
                             progress=lambda message: shown.update(
                                 message, force=not message.startswith("[")))
        shown.clear()
        try:
            written = write_report(built, out_dir, previous)
        except OSError as exc:
            state = ("the new report is committed and the next `muxsim report` into "
                     f"{out_dir} finishes putting it in place" if isinstance(exc, SwitchPending)
                     else "the previous report is unchanged")
            _fail(EXIT_USAGE, f"{exc.filename or out_dir}: cannot write: "
                              f"{exc.strerror or exc}; {state}\n"
                              "  hint: free space or give --out another directory")
        click.echo(terminal_table(built))
        counts = built.counts()
        bad = counts["real"]["fail"] + counts["sim"]["diverge"] + counts["sim"]["fail"]
        click.echo(f"\n{counts['real']['pass']} of {len(built.entries)} scenarios pass on the "
                   f"real kernel, the model agrees on {counts['sim']['pass']}, the textbook "
                   f"reading on {counts['textbook']['pass']}; wrote " + ", ".join(written))
        return EXIT_MISMATCH if bad else EXIT_OK

    _guarded(body)


def _check_out(directory: str, hint: str) -> None:
    """Refuse an output directory that cannot be written, before any work (nothing made)."""
    problem = check_out_dir(directory)
    if problem:
        _fail(EXIT_USAGE, f"{directory}: {problem}\n  hint: {hint}")


@main.command("probe")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="where to write the profile [default: <kernel release>.toml in "
                   "$MUXSIM_PLATFORM_DIR, else $XDG_DATA_HOME/muxsim/platform, else "
                   "~/.local/share/muxsim/platform]")
@click.option("--json", "as_json", is_flag=True, help="print the profile as JSON")
@click.option("--costs", is_flag=True,
              help="also measure the per-call costs of select, poll, epoll_wait, epoll_ctl, "
                   "send, recv, accept, close and a sleep and wakeup (about a minute), for "
                   "`muxsim explore`")
def probe_command(out_path: str | None, as_json: bool, costs: bool) -> None:
    """Measure this machine's constants on the real kernel and write a platform profile.

    The model loads the profile for the running kernel, <kernel
    release>.toml, from the user's platform directory ($MUXSIM_PLATFORM_DIR,
    else $XDG_DATA_HOME/muxsim/platform, else ~/.local/share/muxsim/platform),
    else from the repository's models/platform/, whether the model runs
    compiled or as Python: buffer sizes, skb truesize rule, pipe limits, and
    with --costs the [costs] table that `muxsim explore` prices system calls
    with. Without one it uses a documented default profile. The probe writes
    to the user's directory (never into the repository unless --out says
    so). Without --costs, a [costs] table already in the profile in use is
    kept.

    \b
    Examples:
      muxsim probe
      muxsim probe --costs --out /tmp/this-machine.toml
      muxsim explore models/scenarios/c10k.toml --platform /tmp/this-machine.toml
      muxsim probe --costs --out models/platform/$(uname -r).toml   # ship it
    """
    from dataclasses import asdict

    from muxsim.model.costs import dump_costs, existing_costs
    from muxsim.model.profile import dump_profile, find_profile, probe_target
    from muxsim.probe import probe

    def body() -> int:
        target = out_path or str(probe_target())
        # Where it goes, checked before the measuring (with --costs, half a minute).
        directory = os.path.dirname(os.path.abspath(target))
        try:
            if not out_path:
                os.makedirs(directory, exist_ok=True)
            writable = os.access(directory, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            _fail(EXIT_USAGE, f"muxsim probe: cannot write in {directory}\n"
                              "  hint: give --out FILE, or set MUXSIM_PLATFORM_DIR to a "
                              "directory you can write")
        in_use = out_path or find_profile()  # the costs to keep: the profile the model reads
        measured: dict[str, Any] = existing_costs(str(in_use)) if in_use else {}
        profile, log = probe()
        if costs:
            from realmux.costs import describe_stability, measure_costs

            tty = sys.stderr.isatty()

            def progress(line: str) -> None:
                if tty:
                    click.echo(f"\r{line[:70]:<70}", nl=False, err=True)

            measured = measure_costs(progress)
            if tty:
                click.echo("", err=True)
            for key in ("poll_scan", "epoll_wait", "wakeup"):
                log.append(f"costs: {key} = {measured[key]}")
            log += [f"costs: stability: {line}" for line in describe_stability(measured)]
            skipped = measured.get("meta", {}).get("skipped", [])
            log += [f"costs: skipped {s}" for s in skipped]
        write_atomic(target, dump_profile(profile) + (dump_costs(measured) if measured else ""))
        if as_json:
            click.echo(json.dumps({**asdict(profile), "costs": measured}, sort_keys=True))
        else:
            for line in log:
                click.echo(line)
            click.echo(f"wrote {target}")
        return EXIT_OK

    _guarded(body)


@main.command("compile")
@click.option("--status", "only_status", is_flag=True,
              help="only say whether the compiled model is built, current and in use")
@click.option("--if-stale", is_flag=True,
              help="build only if nothing current is built (what `make` runs)")
@click.option("--remove", is_flag=True, help="delete the compiled model: the sources run")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def compile_command(only_status: bool, if_stale: bool, remove: bool, as_json: bool) -> None:
    """Compile the model's hot path with mypyc (about a minute; needs a C compiler).

    The model and the workload engine are typed Python; mypyc turns the
    same modules into C extensions, and a C10K run takes about 40% of the
    wall time (11 against 28 us per simulated request here). The build
    goes to <venv>/muxsim-compiled (or $MUXSIM_COMPILED_DIR) with the
    SHA-256 of every source it came from;
    it is used only while every source still matches, so an edited model
    always runs as written. MUXSIM_PURE=1 runs the sources regardless.

    \b
    Examples:
      muxsim compile
      muxsim compile --status
      MUXSIM_PURE=1 muxsim explore models/scenarios/c10k.toml
    """
    from muxsim.model import compiled

    def report(state: str, why: str, **extra: Any) -> None:
        if as_json:
            click.echo(json.dumps({"status": state, "detail": why,
                                   "in_use": compiled.active(), **extra}, sort_keys=True))
        else:
            click.echo(f"{state}: {why}")

    def body() -> int:
        if remove:
            gone = compiled.remove()
            report("missing", f"removed {compiled.compiled_dir()}" if gone else "nothing built")
            return EXIT_OK
        state, why = compiled.status()
        if only_status or (if_stale and state in ("fresh", "disabled")):
            report(state, why)
            return EXIT_OK

        def progress(line: str) -> None:
            if not as_json:
                click.echo(line, err=True)

        try:
            built = compiled.build(progress=progress)
        except OSError as exc:  # the directory: not writable, or not there
            where = exc.filename or compiled.compiled_dir()
            _fail(EXIT_USAGE, f"muxsim compile: cannot write {where}: {exc.strerror or exc}\n"
                              "  hint: set MUXSIM_COMPILED_DIR to a directory you can write "
                              "(and the same when running muxsim)")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            _fail(EXIT_MISMATCH, f"muxsim compile: {exc}\n  hint: mypyc needs a C compiler "
                                 "and the Python headers (Debian: gcc, python3-dev) and mypy "
                                 "(pip install 'muxsim[compile]'); the model runs as Python "
                                 "without it")
        state, why = compiled.status()
        report(state, why, modules=built["modules"])
        return EXIT_OK

    _guarded(body)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_watchdog_option
@click.option("--context", type=click.IntRange(min=0), default=3, show_default=True,
              help="statements shown before and after the first divergence")
@click.option("--json", "as_json", is_flag=True,
              help="print one JSON record per scenario (and per divergence)")
def check(paths: tuple[str, ...], watchdog: float, context: int, as_json: bool) -> None:
    """Run each scenario on the model and on the real kernel and compare every outcome.

    For the first divergence of a scenario, prints both traces side by side
    around it, with the model's explanation of its outcome. Exit code 1 if
    any scenario diverges.

    \b
    Example:
      muxsim check models/conformance
    """

    def body() -> int:
        scenarios = parse_all(find_scenarios(paths))
        real, sim = get_backend("real"), get_backend("sim")
        options = RunOptions(watchdog=watchdog)
        diverged_runs = 0
        statements = 0
        began = time.monotonic()
        progress = Progress()
        for index, scenario in enumerate(scenarios):
            left = real.run(scenario, _tracking(options, progress, scenario, index,
                                                len(scenarios)))
            progress.clear()
            right = sim.run(scenario, options)
            statements += len(scenario.statements)
            found = divergences(left, right)
            if found:
                diverged_runs += 1
            if as_json:
                click.echo(json.dumps({"type": "check", "scenario": scenario.path,
                                       "statements": len(scenario.statements),
                                       "divergences": len(found)}, sort_keys=True))
                _print_json_divergences(scenario.path, found)
            elif found:
                click.echo(side_by_side(left, right, found[0], context))
            else:
                click.echo(f"SAME {scenario.path}  ({len(scenario.statements)} statements)")
        elapsed = time.monotonic() - began
        if not as_json:
            rate = statements / elapsed if elapsed > 0 else float("inf")
            click.echo(f"{len(scenarios)} scenarios, {statements} statements checked in "
                       f"{elapsed:.2f}s ({rate:.0f} statements/s): "
                       f"{len(scenarios) - diverged_runs} agree, {diverged_runs} diverge")
        return EXIT_MISMATCH if diverged_runs else EXIT_OK

    _guarded(body)


@main.command()
@click.option("--examples", type=click.IntRange(min=1), default=None,
              help="scenarios to generate [default: from --profile]")
@click.option("--seed", "seed_value", type=int, default=None,
              help="Hypothesis seed (the same seed draws the same scenarios) [default: random]")
@click.option("--profile", type=click.Choice(["dev", "ci", "nightly"]), default="dev",
              show_default=True, help="how many examples: dev 200, ci 500, nightly 20,000")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="worker processes (each with its own seed and share of examples)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              default="models/regressions", show_default=True,
              help="where shrunk divergences are written as .mux files")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def fuzz(examples: int | None, seed_value: int | None, profile: str, jobs: int, out_dir: str,
         as_json: bool) -> None:
    """Differential property test: generated scenarios on the model and the real kernel.

    Every divergence is shrunk by Hypothesis to a minimal scenario and written
    into OUT with its expectations recorded from the real kernel (OUT is
    checked before fuzzing begins). Exit code 1 if any divergence was found,
    2 if OUT cannot be written, 130 on Ctrl-C (workers are stopped at once;
    divergences already written stay, each file whole).

    \b
    Examples:
      muxsim fuzz --examples 2000 --seed 1
      muxsim fuzz --profile nightly --jobs 2
    """
    from muxsim.fuzz import PROFILES, UnwrittenDivergence, default_seed, fuzz_parallel

    def body() -> int:
        # Checked first: a divergence found hours in must have somewhere to go.
        _check_out(out_dir, "give --out a directory that exists or can be made, and that "
                            "you can write")
        count = examples or PROFILES[profile]
        chosen = default_seed() if seed_value is None else seed_value
        # A redrawn bar on a terminal; in a log, a whole line every few seconds.
        shown = Progress(after=1.0)

        def progress(done: int) -> None:
            if not as_json:
                bar = "#" * int(30 * min(done, count) / count)
                shown.update(f"[{bar:<30}] {done}/{count} examples, "
                             f"{shown.elapsed():.0f}s")

        try:
            report = fuzz_parallel(count, chosen, jobs, out_dir, progress)
        except UnwrittenDivergence as exc:  # the disk filled since the check: print it
            shown.clear()
            click.echo(exc.text)
            _fail(EXIT_USAGE, f"{exc.filename}: cannot write the divergence found with seed "
                              f"{chosen}: {exc.strerror}; it is printed above\n"
                              "  hint: save it as a .mux file, or free space and run "
                              "again with the same seed")
        if as_json:
            click.echo(json.dumps({
                "examples": report.examples, "statements": report.statements,
                "divergences": report.divergences, "seed": chosen, "jobs": jobs,
                "elapsed": round(report.elapsed, 3), "written": report.written,
                "statistics": dict(sorted(report.stats.items())),
            }, sort_keys=True))
        else:
            shown.clear()
            rate = report.examples / report.elapsed if report.elapsed else 0.0
            verdict = ("no divergence" if not report.divergences else
                       f"{report.divergences} divergence(s), shrunk and written to " +
                       ", ".join(report.written))
            click.echo(f"{report.examples} examples ({report.statements} statements) with seed "
                       f"{chosen} in {report.elapsed:.1f}s ({rate:.1f} examples/s): {verdict}")
            click.echo("statistics:")
            total = sum(v for k, v in report.stats.items() if k.startswith("statement "))
            for key, value in sorted(report.stats.items(), key=lambda kv: (-kv[1], kv[0])):
                share = f"{100 * value / total:5.1f}%" if total else ""
                click.echo(f"  {key:<32} {value:>7}  {share}")
        return EXIT_MISMATCH if report.divergences else EXIT_OK

    _guarded(body)


def _register_explore() -> None:
    # Defined in its own module; imported here, after the helpers it uses exist.
    from muxsim.workload.command import explore_command

    main.add_command(explore_command)


_register_explore()
