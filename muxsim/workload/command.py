"""The ``muxsim explore`` command: its options, progress and output.

The work is done elsewhere (:mod:`muxsim.workload.explore`); this module is
the command line's face of it, registered on the ``muxsim`` group by
:mod:`muxsim.cli`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from muxsim.files import write_atomic
from muxsim.lang.errors import InvariantError
from muxsim.model.costs import CostModel, load_costs
from muxsim.workload.engine import DEFAULT_CALL_BUDGET, METRICS, WorkloadRun
from muxsim.workload.explore import (
    Row,
    check_out_dir,
    explore,
    format_table,
    results_document,
    sweep_grid,
    sweep_points,
    write_outputs,
)
from muxsim.workload.spec import (
    Workload,
    format_value,
    load_workload,
    output_name,
    parse_sweep,
)

# Indented as the docstring it goes into (click cleans the indentation after).
if TYPE_CHECKING:
    from realmux.workload import RealLoad

_METRIC_HELP = "\n    ".join(f"  {m.label:<12} {m.help}" for m in METRICS)


@click.command("explore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="override a workload key, e.g. --set connections=5000 --set loop=poll "
                   "(repeatable; bare keys or section.key)")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=A..B[:N]|V1,V2,...",
              help="run one point per value: connections=100..10000:5 (N evenly spaced "
                   "points, default 5) or loop=poll,epoll-lt; given twice, every pair, "
                   "plotted as one line per value of the second")
@click.option("--jobs", type=click.IntRange(min=1, max=256), default=os.cpu_count() or 1,
              show_default=True, help="points run in parallel (worker processes)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="where results.csv, results.json and the plots go "
                   "[default: reports/explore/<workload name>]")
@click.option("--platform", "platform_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="platform profile whose [costs] to use [default: this kernel's profile, "
                   "from $MUXSIM_PLATFORM_DIR (else ~/.local/share/muxsim/platform) where "
                   "`muxsim probe` writes it, else from models/platform/; else the built-in "
                   "costs]")
@click.option("--validate", is_flag=True,
              help="also measure each point's readiness call on the real kernel and print "
                   "it against the model's prediction")
@click.option("--budget", type=click.IntRange(min=1000), default=DEFAULT_CALL_BUDGET,
              show_default=True,
              help="most system calls (server and clients) one point may make: where a busy "
                   "loop or a flood of requests stops")
@click.option("--explain", type=click.IntRange(min=0, max=100000), default=0, metavar="N",
              show_default=True,
              help="also print the model's explanation of the first point's first N lines "
                   "of events (wakeups, callbacks, harvests), written to explanation.txt")
@click.option("--json", "as_json", is_flag=True, help="print results.json to stdout instead "
                                                       "of the table")
def explore_command(file: str, assignments: tuple[str, ...], sweeps: tuple[str, ...], jobs: int,
                    out_dir: str | None, platform_file: str | None, validate: bool,
                    budget: int, explain: int, as_json: bool) -> None:
    """Run a workload (models/scenarios/*.toml) on the model and measure the server.

    Reports server CPU per virtual second, system calls and wakeups per useful
    operation (a request answered, or a connection accepted), the mean cost
    of a readiness call, latency percentiles, requests left unanswered and,
    for edge-triggered servers that do not drain, the stranded bytes. The
    workload file's keys are in docs/explore.md; prices come from
    `muxsim probe --costs`.

    \b
    Measures:
    {metrics}

    \b
    Examples:
      muxsim explore models/scenarios/c10k.toml
      muxsim explore models/scenarios/c10k.toml --sweep connections=100..10000:5
      muxsim explore models/scenarios/c10k.toml --set loop=poll --sweep connections=100,1000
      muxsim explore models/scenarios/c10k.toml --sweep connections=100..5000:4 \\
          --sweep loop=select,poll,epoll-lt
      muxsim explore models/scenarios/herd.toml --sweep threads=1,2,4,8 --json
      muxsim explore models/scenarios/c10k.toml --sweep connections=100..4000:3 --validate
      muxsim explore models/scenarios/herd.toml --explain 40
    """
    from muxsim.cli import EXIT_OK, EXIT_USAGE, _fail, _guarded

    def body() -> int:
        if len(sweeps) > 2:
            _fail(EXIT_USAGE, f"--sweep given {len(sweeps)} times\n  hint: sweep one key, or "
                              "two (a line per value of the second)")
        workload = load_workload(file, assignments, sweeping=sweeps[0] if sweeps else None)
        key, values = parse_sweep(sweeps[0], workload, rules=len(sweeps) == 1) if sweeps \
            else (None, [])
        series: str | None = None
        series_values: list[Any] = []
        skipped: list[str] = []
        if len(sweeps) == 2:
            series, series_values = parse_sweep(sweeps[1], workload, rules=False)
            if series == key:
                _fail(EXIT_USAGE, f"--sweep: {key} is swept twice\n  hint: sweep two "
                                  "different keys")
        costs = load_costs(Path(platform_file)) if platform_file else load_costs()
        if series is not None and key is not None:
            points, skipped = sweep_grid(workload, key, values, series, series_values)
        else:
            points = sweep_points(workload, key, values)
        tty = sys.stderr.isatty()
        jobs_now = fit_memory(points, jobs)
        # Last of the checks, as it makes the directory: a refused run leaves none.
        target = out_dir or default_out_dir(workload.name)
        problem = check_out_dir(target)
        if problem:
            _fail(EXIT_USAGE, f"{target}: {problem}\n  hint: give --out a writable directory")

        def progress(done: int, total: int, row: Row) -> None:
            if tty:
                what = f"{key}={format_value(row.point.value)}" if key else workload.name
                click.echo(f"\r[{done}/{total}] {what}: {row.measures.run_wall_s:.2f} s"
                           + " " * 10, err=True, nl=done == total)

        def stages(line: str) -> None:
            click.echo(f"\r{line[:76]:<76}", nl=False, err=True)

        rows = explore(points, costs, jobs=jobs_now, budget=budget, progress=progress,
                       stages=stages if tty and len(points) == 1 else None)
        if tty and len(points) == 1:
            click.echo("", err=True)
        # The model's results are written first: a failing validation loses nothing.
        written = write_outputs(target, workload, key, rows, costs, series=series,
                                left_out=skipped)
        validation = None
        if validate:
            validation = validate_rows(rows, costs)
            written = write_outputs(target, workload, key, rows, costs, validation, series,
                                    skipped)
        lines: list[str] = []
        if explain:
            run = WorkloadRun(points[0].workload, costs, budget=budget, explain=explain)
            run.setup()
            run.run()
            lines = run.explanation
            path = os.path.join(target, "explanation.txt")
            write_atomic(path, "".join(line + "\n" for line in lines))
            written.append(path)
        if as_json:
            doc = results_document(workload, key, rows, costs, validation, series, skipped)
            click.echo(json.dumps(doc, indent=2, sort_keys=True))
            return EXIT_OK
        click.echo(f"{workload.name}: {workload.description}".rstrip(": "))
        if assignments:
            click.echo("with " + ", ".join(assignments))
        click.echo(f"costs: {costs.source}; {len(rows)} point(s), virtual "
                   f"{workload.duration:g} s each")
        click.echo(format_table(rows, key, series), nl=False)
        for note in skipped:
            click.echo(f"left out: {note}")
        if validation:
            click.echo(format_validation(validation), nl=False)
        if lines:
            click.echo(f"\nthe model's explanation, point 0, first {len(lines)} lines:")
            click.echo("\n".join(lines))
        click.echo(f"wrote {len(written)} files to {target}/")
        return EXIT_OK

    _guarded(body)


explore_command.help = (explore_command.help or "").replace("{metrics}", _METRIC_HELP)


#: Memory one modelled connection takes (two sockets, an epoll item, queue
#: entries): measured 4.8 KB at C100K (480 MB peak); rounded up.
BYTES_PER_CONNECTION = 6000


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def fit_memory(points: list[Any], jobs: int) -> int:
    """Workers that fit in memory; exits 2 if even one point cannot fit."""
    from muxsim.cli import EXIT_USAGE, _fail

    available = _available_memory()
    if available is None:
        return jobs
    biggest = max(p.workload.clients.connections for p in points) * BYTES_PER_CONNECTION
    if biggest > 0.8 * available:
        _fail(EXIT_USAGE, f"a point needs about {biggest / 2**30:.1f} GiB for its connections, "
                          f"and {available / 2**30:.1f} GiB is available\n"
                          "  hint: lower clients.connections")
    fitting = max(1, int(0.8 * available // biggest))
    if fitting < min(jobs, len(points)):
        click.echo(f"note: running {fitting} point(s) at a time, not {jobs}: each needs about "
                   f"{biggest / 2**30:.1f} GiB", err=True)
        return fitting
    return jobs


#: Where explore writes without --out: one directory per workload name.
DEFAULT_OUT_ROOT = os.path.join("reports", "explore")


def default_out_dir(name: str) -> str:
    """``reports/explore/<name>``, and never anywhere else.

    The spec refuses names that could leave it (``..``, ``/``); this checks
    the path itself too, so that no later change to what a name may hold
    can make a workload write over another output.
    """
    target = os.path.join(DEFAULT_OUT_ROOT, output_name(name) or "workload")
    if os.path.dirname(os.path.normpath(target)) != os.path.normpath(DEFAULT_OUT_ROOT):
        raise InvariantError(f"workload name {name!r} leaves {DEFAULT_OUT_ROOT}: {target}")
    return target


# -- validation against the real kernel ---------------------------------------------


def validate_rows(rows: list[Row], costs: CostModel) -> list[dict[str, Any]]:
    """Each point's readiness call, measured on the real kernel and predicted."""
    from realmux.costs import measure_readiness_call, raise_nofile

    out: list[dict[str, Any]] = []
    for row in rows:
        w = row.point.workload
        watched, mux = _call_shape(w)
        ready = 1
        entry: dict[str, Any] = {"index": row.point.index, "value": row.point.value,
                                 "series": row.point.series, "mux": mux, "watched": watched,
                                 "ready": ready, "run": _whole_run(w, row)}
        out.append(entry)
        limit = raise_nofile(2 * watched + 64)
        if 2 * watched + 64 > limit or (mux == "select" and watched > 900):
            entry["skipped"] = (f"needs {2 * watched + 64} descriptors (limit {limit})"
                                if mux != "select" else "select watches below FD_SETSIZE only")
            continue
        try:
            measured = measure_readiness_call(mux, watched, ready)  # type: ignore[arg-type]
        except (OSError, RuntimeError, ValueError) as exc:
            entry["skipped"] = f"the measurement failed: {exc}"
            continue
        predicted = costs.readiness_call(mux, watched, ready)
        entry.update(measured_us=measured * 1e6, predicted_us=predicted * 1e6,
                     ratio=predicted / measured if measured > 0 else None)
    return out


#: Measures shown side by side for a whole run, model against kernel.
RUN_COLUMNS = ("cpu", "calls_per_op", "wakeups_per_op", "readiness_cost_us",
               "latency_p50_us", "latency_p99_us", "answered")


def real_load(w: Workload) -> RealLoad:
    """The workload as realmux runs it (realmux may not import the workload layer)."""
    from realmux.workload import RealLoad

    s, c = w.server, w.clients
    return RealLoad(loop=s.loop, timeout=s.timeout, maxevents=s.maxevents, drain=s.drain,
                    read_size=s.read_size, connections=c.connections, active=c.active,
                    rate=c.rate, arrivals=c.arrivals, request_size=c.request_size,
                    response_size=c.response_size, transport=c.transport,
                    duration=w.duration, seed=w.seed)


def _whole_run(w: Workload, row: Row) -> dict[str, Any]:
    """The same workload on the real kernel, where this machine can run it."""
    from realmux.workload import run_real, unsupported

    if w.server.threads != 1 or w.clients.connect_rate > 0:
        return {"skipped": "the real run has one server thread and no listener"}
    load = real_load(w)
    why = unsupported(load)
    if why is not None:
        return {"skipped": why}
    try:
        real = run_real(load)
    except (OSError, RuntimeError, ValueError) as exc:
        return {"skipped": f"the real run failed: {exc}"}
    model = row.measures.as_dict()
    return {"real": {k: real.get(k) for k in RUN_COLUMNS},
            "model": {k: model.get(k) for k in RUN_COLUMNS}}


def _call_shape(w: Workload) -> tuple[int, str]:
    """Descriptors the busiest thread's readiness call watches, and the call."""
    listener = 1 if w.clients.connect_rate > 0 else 0
    if w.server.loop.startswith("epoll"):
        shared = w.server.sharing == "shared-epoll"
        per_thread = w.clients.connections if shared else \
            -(-w.clients.connections // w.server.threads)
        return per_thread + listener, "epoll"
    return -(-w.clients.connections // w.server.threads) + listener, w.server.loop


def format_validation(entries: list[dict[str, Any]]) -> str:
    lines = ["", "validation: one readiness call (timeout 0, one ready), real kernel vs model"]
    for e in entries:
        where = f"point {e['index']}" + _point_values(e)
        if "skipped" in e:
            lines.append(f"  {where}: {e['mux']} over {e['watched']:,}: skipped, {e['skipped']}")
            continue
        lines.append(f"  {where}: {e['mux']} over {e['watched']:,}: measured "
                     f"{e['measured_us']:.2f} us, predicted {e['predicted_us']:.2f} us, "
                     f"ratio {_short(e['ratio'])}")
    lines += ["", "validation: the whole workload on the real kernel (real / model)"]
    lines.append("  " + "  ".join(["point", *RUN_COLUMNS]))
    for e in entries:
        run = e.get("run", {})
        if "skipped" in run:
            lines.append(f"  {e['index']}{_point_values(e)}: skipped, {run['skipped']}")
            continue
        cells = [f"{_short(run['real'][k])}/{_short(run['model'][k])}" for k in RUN_COLUMNS]
        lines.append(f"  {e['index']}{_point_values(e)}  " + "  ".join(cells))
    return "\n".join(lines) + "\n"


def _point_values(entry: dict[str, Any]) -> str:
    shown = [format_value(entry[k]) for k in ("value", "series") if entry.get(k) is not None]
    return f" ({', '.join(shown)})" if shown else ""


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
