"""``muxsim explore``: run a workload, or a sweep of it, and write what it measured.

What this owns: the sweep's points, handing them to a
:class:`concurrent.futures.Executor` (processes by default; any executor
with the same interface, a Dask client's for one, can be passed from
Python), the terminal table, and the output directory: ``results.csv``,
``results.json`` (schema ``docs/explore.schema.json``) and one SVG plot per
measure. Every file is written atomically. It does not run the model (see
:mod:`muxsim.workload.engine`) nor parse workloads (:mod:`muxsim.workload.spec`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from muxsim.files import write_atomic
from muxsim.lang.errors import ScenarioError
from muxsim.model.costs import CostModel
from muxsim.workload.engine import DEFAULT_CALL_BUDGET, METRICS, Measures, run_workload
from muxsim.workload.plot import line_plot
from muxsim.workload.spec import (
    Workload,
    format_value,
    replace_key,
    replace_keys,
    workload_to_dict,
)

SCHEMA_VERSION = 3


@dataclass(frozen=True, slots=True)
class Point:
    index: int
    value: Any  # the swept key's value (None without a sweep)
    workload: Workload
    series: Any = None  # the second swept key's value (None without one)


@dataclass(frozen=True, slots=True)
class Row:
    point: Point
    measures: Measures


def sweep_points(workload: Workload, key: str | None, values: Sequence[Any]) -> list[Point]:
    if key is None:
        return [Point(0, None, workload)]
    return [Point(i, v, replace_key(workload, key, v)) for i, v in enumerate(values)]


def sweep_grid(workload: Workload, key: str, values: Sequence[Any], series_key: str,
               series_values: Sequence[Any]) -> tuple[list[Point], list[str]]:
    """Every pair of values of two keys; pairs that break a rule between keys are left
    out and said why (``loop=select`` at 10,000 connections), unless all are."""
    points: list[Point] = []
    skipped: list[str] = []
    first: ScenarioError | None = None
    for v in values:
        for sv in series_values:
            try:
                w = replace_keys(workload, [(key, v), (series_key, sv)])
            except ScenarioError as exc:
                first = first or exc
                skipped.append(exc.message)
                continue
            points.append(Point(len(points), v, w, sv))
    if not points and first is not None:
        raise first
    return points, skipped


def _run_point(workload: Workload, costs: CostModel, budget: int,
               stages: Callable[[str], None] | None = None) -> Measures:
    return run_workload(workload, costs, budget=budget, progress=stages)


def explore(points: list[Point], costs: CostModel, *, jobs: int = 1,
            executor: Executor | None = None, budget: int = DEFAULT_CALL_BUDGET,
            progress: Callable[[int, int, Row], None] | None = None,
            stages: Callable[[str], None] | None = None) -> list[Row]:
    """Run every point; the rows in point order.

    One point, or ``jobs == 1`` with no executor, runs here (no pool to
    start), and ``stages`` hears each run's setup and progress. Otherwise the
    points go to ``executor`` or to a process pool of ``jobs`` workers;
    ``progress(done, total, row)`` is called as each ends.
    """
    rows: dict[int, Row] = {}
    total = len(points)
    if executor is None and (jobs <= 1 or total == 1):
        for point in points:
            row = Row(point, _run_point(point.workload, costs, budget, stages))
            rows[point.index] = row
            if progress is not None:
                progress(len(rows), total, row)
        return [rows[p.index] for p in points]
    own = executor is None
    pool = executor or ProcessPoolExecutor(max_workers=min(jobs, total),
                                           initializer=_ignore_interrupts)
    try:
        # Workers are forked as points are submitted: Ctrl-C is blocked
        # meanwhile, so a worker starts with it blocked (inherited) until its
        # initializer ignores it, and the parent gets one pressed meanwhile as
        # soon as it is unblocked.
        blocked = own and threading.current_thread() is threading.main_thread()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocked else None
        try:
            futures: dict[Future[Measures], Point] = {
                pool.submit(_run_point, p.workload, costs, budget): p for p in points}
        finally:
            if mask is not None:  # the caller's mask as it was
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            point = futures[future]
            row = Row(point, future.result())
            rows[point.index] = row
            if progress is not None:
                progress(len(rows), total, row)
    except BaseException:
        if own:  # Ctrl-C or a failed point: stop the workers now, not after their points
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown()
    return [rows[p.index] for p in points]


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool and reports once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


# -- output -------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_table(rows: list[Row], key: str | None, series: str | None = None) -> str:
    """The terminal table: one line per point, the headline measures."""
    keys = [k for k in (key, series) if k]
    head = [k.split(".")[-1] for k in keys] + \
        [m.label + (f" ({m.unit})" if m.unit else "") for m in METRICS] + ["requests"]
    body: list[list[str]] = []
    for row in rows:
        d = row.measures.as_dict()
        cells = [format_value(row.point.value)] if key else []
        cells += [format_value(row.point.series)] if series else []
        cells += [_fmt(d[m.key]) for m in METRICS]
        cells.append(_fmt(d["requests"]) if not d["connects"] else
                     f"{d['accepts']:,} acc" + (f" ({d['unaccepted']:,} queued)"
                                                if d["unaccepted"] else ""))
        body.append(cells)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    notes = [f"point {r.point.index}: {r.measures.stopped_early}" for r in rows
             if r.measures.stopped_early]
    return "\n".join(lines + notes) + "\n"


def results_document(workload: Workload, key: str | None, rows: list[Row],
                     costs: CostModel, validation: list[dict[str, Any]] | None = None,
                     series: str | None = None, left_out: list[str] | None = None
                     ) -> dict[str, Any]:
    return {
        "type": "explore",
        "schema": SCHEMA_VERSION,
        "workload": workload_to_dict(workload),
        "source": workload.path,
        "sweep": key,
        "series": series,
        "costs": costs.source,
        "environment": {"python": platform.python_version(), "kernel": platform.release(),
                        "machine": platform.machine()},
        "metrics": [{"key": m.key, "label": m.label, "unit": m.unit, "help": m.help}
                    for m in METRICS],
        "points": [{"index": r.point.index, "value": r.point.value,
                    "series": r.point.series,
                    "workload": workload_to_dict(r.point.workload),
                    "measures": r.measures.as_dict()} for r in rows],
        "validation": validation or [],
        "left_out": left_out or [],
    }


def results_csv(key: str | None, rows: list[Row], series: str | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(rows[0].measures.as_dict()) if rows else []
    writer.writerow([k for k in (key, series) if k] + names)
    for row in rows:
        d = row.measures.as_dict()
        writer.writerow(([format_value(row.point.value)] if key else []) +
                        ([format_value(row.point.series)] if series else []) +
                        ["" if d[n] is None else d[n] for n in names])
    return buffer.getvalue()


def write_outputs(out_dir: str, workload: Workload, key: str | None, rows: list[Row],
                  costs: CostModel, validation: list[dict[str, Any]] | None = None,
                  series: str | None = None, left_out: list[str] | None = None
                  ) -> list[str]:
    """results.csv, results.json and, for a sweep, one SVG per measure (a line per value
    of the second key, if there is one); the paths."""
    written: list[str] = []
    doc = results_document(workload, key, rows, costs, validation, series, left_out)
    for name, text in (("results.json", json.dumps(doc, indent=2, sort_keys=True) + "\n"),
                       ("results.csv", results_csv(key, rows, series))):
        path = os.path.join(out_dir, name)
        write_atomic(path, text)
        written.append(path)
    if key is not None and rows:
        xs = list(dict.fromkeys(r.point.value for r in rows))
        labels = list(dict.fromkeys(r.point.series for r in rows))
        for m in METRICS:
            lines: list[tuple[str, list[float | None]]] = []
            for label in labels:
                at = {r.point.value: r.measures.as_dict()[m.key] for r in rows
                      if r.point.series == label}
                ys = [at.get(x) for x in xs]
                name = f"{series.split('.')[-1]}={format_value(label)}" if series else ""
                lines.append((name, [None if y is None else float(y) for y in ys]))
            svg = line_plot(xs, lines, title=f"{workload.name}: {m.help}", xlabel=key,
                            ylabel=m.label + (f" ({m.unit})" if m.unit else ""))
            path = os.path.join(out_dir, f"{m.key}.svg")
            write_atomic(path, svg)
            written.append(path)
    return written


def check_out_dir(out_dir: str) -> str | None:
    """Why ``out_dir`` cannot take the results, or None (checked before a long run).

    The directory is made, and a file written to it and removed: a check
    by permissions alone passes for root on read-only file systems.
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        return f"{out_dir} exists and is not a directory"
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-check-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write there: {exc.strerror or exc}"
    return None
