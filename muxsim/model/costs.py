"""What each system call costs the server, in seconds of CPU: the model's price list.

The facts this is built on (measured by ``muxsim probe --costs`` through
``realmux/costs.py``, read from the kernel's sources for their shape):

* ``select`` and ``poll`` scan every descriptor they are given on every
  call (fs/select.c: ``do_select``, ``do_poll``), so their cost grows with
  descriptors *watched*. A call that may sleep (timeout not 0) also hooks a
  wait-queue entry on every descriptor it scans until one is ready
  (``__pollwait``) and unhooks them all on the way out (``poll_freewait``):
  the "wait" curves measure that pass, with only the last descriptor
  ready. After a sleep the kernel scans again, without registering.
* ``epoll_wait`` looks only at the ready list (fs/eventpoll.c:
  ``ep_send_events``), so its cost grows with events *returned*; idle
  interests cost nothing per call.
* A call that really sleeps pays more than its scans: the switches out and
  back, and the caches the sleep let go cold, so the longer the sleep the
  more the request that ends it costs (``sleep_cpu``, measured by serving
  requests a child process sends every 0.5 to 50 ms: on the build machine,
  18 to 36 us after half a millisecond asleep and about 100 us after 10 ms,
  from run to run, against 4 us for the calls themselves hot; beyond the
  longest sleep measured, the price stays flat). A sleeping ``select`` or
  ``poll`` also pays for the descriptors it watched, gone cold
  (``slept_select``, ``slept_poll``). The woken thread starts running some
  time after the wakeup (``sleep_latency``, wall time, not CPU). Without
  these, the model put a C10K server's CPU at a quarter of the kernel's.

The scalars ``wakeup`` and ``wakeup_latency`` (a ping-pong on one CPU) are
the short end of the sleep curves, and ``epoll_wait_idle`` shows that idle
interests cost nothing; the model reads neither directly.

The curves are interpolated piecewise linearly between measured points and
extrapolated along the last segment. Costs are Python's: the server the
model prices is a Python server using the ``select`` module, as measured.
What a call costs is decided here; *which* calls happen, how many
descriptors they scan and whether they sleep is decided by the model
(:mod:`muxsim.model.tasks` counts the registrations it made).
"""

from __future__ import annotations

import math
import re
import statistics
import tomllib
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from muxsim.lang.errors import ScenarioError
from muxsim.lang.inputs import InputFileError, read_input

Curve = tuple[tuple[float, float], ...]
Transport = Literal["unix", "tcp"]

CURVE_KEYS = ("select_scan", "select_wait", "poll_scan", "poll_wait", "epoll_wait",
              "epoll_wait_idle", "recv_unix", "send_unix", "recv_tcp", "send_tcp",
              "sleep_cpu", "sleep_latency", "slept_select", "slept_poll", "slept_epoll")
SCALAR_KEYS = ("select_per_ready", "poll_per_ready", "epoll_ctl_add", "epoll_ctl_mod",
               "epoll_ctl_del", "accept_tcp", "close", "wakeup", "wakeup_latency")


class _Segments:
    """One curve, ready for many lookups: its x and y values and its floor."""

    __slots__ = ("floor", "last", "n", "xs", "ys")

    def __init__(self, xs: list[float], ys: list[float]) -> None:
        self.xs = xs
        self.ys = ys
        self.n = len(xs)
        self.last = xs[-1]
        # Never below half the cheapest measured call: extrapolating a noisy
        # first segment down to zero descriptors must not make calls free.
        self.floor = 0.5 * min(ys)

    def at(self, x: float, flat_beyond: bool) -> float:
        ys = self.ys
        if self.n == 1 or (flat_beyond and x >= self.last):
            return ys[-1]
        xs = self.xs
        i = bisect_left(xs, x)
        i = 1 if i < 1 else (self.n - 1 if i > self.n - 1 else i)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        y = y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 != x0 else y1
        return y if y > self.floor else self.floor


@dataclass(frozen=True)
class CostModel:
    """Seconds of CPU per call, as functions of what the call did."""

    select_scan: Curve
    select_wait: Curve
    poll_scan: Curve
    poll_wait: Curve
    epoll_wait: Curve
    epoll_wait_idle: Curve
    recv_unix: Curve
    send_unix: Curve
    recv_tcp: Curve
    send_tcp: Curve
    #: Against seconds asleep: the CPU a sleep adds to the request that ends it
    #: (switches, and caches gone cold), and the delay from wakeup to running.
    sleep_cpu: Curve
    sleep_latency: Curve
    #: Against descriptors watched: the CPU of one call that slept about a
    #: millisecond and was woken (the sleeping pass, the switches, the pass
    #: after, over descriptors gone cold).
    slept_select: Curve
    slept_poll: Curve
    slept_epoll: Curve
    select_per_ready: float
    poll_per_ready: float
    epoll_ctl_add: float
    epoll_ctl_mod: float
    epoll_ctl_del: float
    accept_tcp: float
    close: float
    wakeup: float
    wakeup_latency: float
    source: str = "built-in"
    #: Derived once: each curve ready for lookups, the lookups already made
    #: per curve (a run asks for the same few points again and again), and
    #: what a sleeping epoll_wait costs whatever it watches (the flat
    #: slept_epoll curve's median).
    _segments: dict[str, _Segments] = field(init=False, repr=False, compare=False)
    _memo: dict[str, dict[float, float]] = field(init=False, repr=False, compare=False)
    _slept_base: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        curves = {k: getattr(self, k) for k in CURVE_KEYS}
        object.__setattr__(self, "_segments", {
            k: _Segments([p[0] for p in c], [p[1] for p in c]) for k, c in curves.items()})
        object.__setattr__(self, "_memo", {k: {} for k in CURVE_KEYS})
        object.__setattr__(self, "_slept_base",
                           statistics.median(y for _, y in self.slept_epoll))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the prices alone (explore's workers): the derived parts are rebuilt."""
        return (CostModel, tuple(getattr(self, f.name) for f in fields(self) if f.init))

    def _saturating(self, curve: str, x: float) -> float:
        """A curve that stays flat beyond its last point, at a continuous ``x``."""
        return self._segments[curve].at(x, True)

    def at(self, curve: str, x: float) -> float:
        """The named curve at ``x`` (memoised)."""
        memo = self._memo[curve]
        value = memo.get(x)
        if value is None:
            value = memo[x] = self._segments[curve].at(x, False)
        return value

    # -- readiness calls -------------------------------------------------------

    def _scan(self, scan: str, wait: str, per_ready: float, watched: int, ready: int,
              registered: int, asleep: float | None) -> float:
        n = max(watched, 1)
        extra_ready = per_ready * max(ready - 1, 0)
        if asleep is not None:
            # What a sleeping epoll_wait costs, plus what a sleeping select or
            # poll over this many cold descriptors costs beyond it (measured
            # whole: the registering pass, the pass after the wakeup).
            slept = "slept_select" if scan == "select_scan" else "slept_poll"
            return (self.epoll_wait_call(1, asleep)
                    + max(self.at(slept, n) - self._slept_base, 0.0) + extra_ready)
        one = self.at(scan, n)
        cost = one + extra_ready
        if registered:
            # The registering pass costs wait(n) - scan(n) more, spread over
            # the n descriptors it hooked (do_select / do_poll with a table).
            cost += max(self.at(wait, n) - one, 0.0) * min(registered, n) / n
        return cost

    def select_call(self, watched: int, ready: int, registered: int,
                    asleep: float | None) -> float:
        """``select``: every watched descriptor scanned on every pass (fs/select.c:do_select).

        ``asleep``: seconds the call slept, None if it did not sleep.
        """
        return self._scan("select_scan", "select_wait", self.select_per_ready,
                          watched, ready, registered, asleep)

    def poll_call(self, watched: int, ready: int, registered: int,
                  asleep: float | None) -> float:
        """``poll``: as select, one pollfd per descriptor (fs/select.c:do_poll)."""
        return self._scan("poll_scan", "poll_wait", self.poll_per_ready,
                          watched, ready, registered, asleep)

    def readiness_call(self, mux: str, watched: int, ready: int, registered: int = 0,
                       asleep: float | None = None) -> float:
        """The call ``mux`` ("select", "poll" or "epoll") names; epoll returns ``ready``."""
        if mux == "epoll":
            return self.epoll_wait_call(ready, asleep)
        if mux == "poll":
            return self.poll_call(watched, ready, registered, asleep)
        return self.select_call(watched, ready, registered, asleep)

    def epoll_wait_call(self, events: int, asleep: float | None) -> float:
        """``epoll_wait``: the ready list only (fs/eventpoll.c:ep_send_events)."""
        cost = self.at("epoll_wait", max(events, 1))
        return cost + (0.0 if asleep is None else self.wakeup_cpu(asleep))

    def wakeup_cpu(self, asleep: float) -> float:
        """CPU a sleep of ``asleep`` seconds adds to the request that ends it."""
        return self._saturating("sleep_cpu", asleep)

    def wakeup_delay(self, asleep: float) -> float:
        """Seconds from the wakeup of a task asleep ``asleep`` seconds to its running."""
        return self._saturating("sleep_latency", asleep)

    # -- data and descriptors ----------------------------------------------------

    def recv(self, transport: Transport, nbytes: int) -> float:
        return self.at("recv_unix" if transport == "unix" else "recv_tcp", max(nbytes, 1))

    def send(self, transport: Transport, nbytes: int) -> float:
        return self.at("send_unix" if transport == "unix" else "send_tcp", max(nbytes, 1))


#: Measured with ``muxsim probe --costs`` on the project's build machine
#: (Linux 6.18.44, x86_64, Python 3.11.7, two shared vCPUs, 2026-12-03, one
#: full run of 25 s); used
#: when the running kernel has no platform profile with a ``[costs]`` table.
BUILT_IN: dict[str, Any] = {
    "select_scan": [[10, 1.23e-6], [30, 2.3e-6], [100, 6.2e-6], [300, 1.69e-5], [600, 3.37e-5],
                    [900, 5.17e-5]],
    "select_wait": [[10, 2.4e-6], [30, 5.26e-6], [100, 1.55e-5], [300, 4.42e-5], [600, 8.94e-5],
                    [900, 0.000141]],
    "poll_scan": [[10, 8.01e-7], [30, 1.65e-6], [100, 5.07e-6], [300, 1.39e-5], [1000, 4.83e-5],
                  [2000, 0.000118], [4000, 0.000248], [6000, 0.000383], [9000, 0.000593]],
    "poll_wait": [[10, 1.98e-6], [30, 4.66e-6], [100, 1.42e-5], [300, 4.12e-5], [1000, 0.000147],
                  [2000, 0.000307], [4000, 0.000625], [6000, 0.000954], [9000, 0.00144]],
    "epoll_wait": [[1, 5.98e-7], [10, 1.82e-6], [100, 1.48e-5], [1000, 0.00016]],
    "epoll_wait_idle": [[100, 5.94e-7], [1000, 6.09e-7], [4000, 6e-7], [9000, 6.01e-7]],
    "recv_unix": [[1, 1.05e-6], [100, 1.04e-6], [1024, 1.23e-6], [16384, 2.03e-6],
                  [65536, 4.77e-6]],
    "send_unix": [[1, 1.07e-6], [100, 1.1e-6], [1024, 1.21e-6], [16384, 1.95e-6],
                  [65536, 4.86e-6]],
    "recv_tcp": [[1, 1.01e-6], [100, 9.87e-7], [1024, 1.1e-6], [16384, 2.13e-6], [65536, 3.04e-6]],
    "send_tcp": [[1, 2.25e-6], [100, 2.11e-6], [1024, 2.31e-6], [16384, 4.37e-6],
                 [65536, 8.02e-6]],
    "sleep_cpu": [[4.68e-6, 3e-6], [0.000474, 1.79e-5], [0.00197, 2.5e-5], [0.00991, 0.0001],
                  [0.0499, 0.000105]],
    "sleep_latency": [[4.68e-6, 4.68e-6], [0.000474, 1.62e-5], [0.00197, 2.01e-5],
                      [0.00991, 8.81e-5], [0.0499, 9.35e-5]],
    "slept_select": [[10, 1.26e-5], [100, 3.4e-5], [300, 9.61e-5], [900, 0.000218]],
    "slept_poll": [[10, 8.46e-6], [100, 2.73e-5], [1000, 0.000224], [4000, 0.000908],
                   [9000, 0.00165]],
    "slept_epoll": [[10, 8.2e-6], [1000, 6.29e-6], [9000, 6.99e-6]],
    "select_per_ready": 1.85e-9,
    "poll_per_ready": 2.72e-8,
    "epoll_ctl_add": 8.67e-7,
    "epoll_ctl_mod": 3.64e-7,
    "epoll_ctl_del": 7.03e-7,
    "accept_tcp": 5.25e-6,
    "close": 1.86e-6,
    "wakeup": 3e-6,
    "wakeup_latency": 4.68e-6,
}


def costs_from_mapping(data: Mapping[str, Any], source: str,
                       text: str | None = None) -> CostModel:
    """Check a ``[costs]`` table and build the model; errors point at the key."""
    values: dict[str, Any] = {}
    for key in (*CURVE_KEYS, *SCALAR_KEYS):
        raw = data.get(key)
        if raw is None:  # not measured here (a skipped point): the built-in value
            raw = BUILT_IN[key]
        if key in CURVE_KEYS:
            values[key] = _curve(raw, key, source, text)
        else:
            if isinstance(raw, bool) or not isinstance(raw, int | float) \
                    or not math.isfinite(raw) or raw < 0:
                _bad(source, text, key, f"costs.{key} must be a non-negative number of "
                     f"seconds, got {raw!r}", "rerun `muxsim probe --costs` to measure it")
            values[key] = float(raw)
    return CostModel(**values, source=source)


def _curve(raw: Any, key: str, source: str, text: str | None) -> Curve:
    hint = "a curve is a list of [x, seconds] pairs, e.g. [[10, 1.1e-6], [1000, 2.9e-5]]"
    if not isinstance(raw, list) or not raw:
        _bad(source, text, key, f"costs.{key} must be a non-empty list of pairs", hint)
    points: list[tuple[float, float]] = []
    for pair in raw:
        ok = isinstance(pair, list | tuple) and len(pair) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and v >= 0 for v in pair)
        if not ok:
            _bad(source, text, key, f"costs.{key}: {pair!r} is not an [x, seconds] pair "
                 "of non-negative numbers", hint)
        points.append((float(pair[0]), float(pair[1])))
    points.sort()
    if len({x for x, _ in points}) != len(points):
        _bad(source, text, key, f"costs.{key} has two points at the same x", hint)
    return tuple(points)


def _bad(source: str, text: str | None, key: str, message: str, hint: str) -> None:
    line, col = 1, 1
    if text is not None:
        for number, content in enumerate(text.splitlines(), 1):
            found = re.match(rf"\s*{re.escape(key)}\s*=", content)
            if found:
                line, col = number, found.end() + 1
                break
    raise ScenarioError(source, line, col, message, hint)


def built_in_costs() -> CostModel:
    return costs_from_mapping(BUILT_IN, "built-in")


def load_costs(path: Path | None = None) -> CostModel:
    """The ``[costs]`` table of a platform profile; the built-in costs if it has none.

    With no path, the profile for the running kernel if there is one
    (:func:`muxsim.model.profile.find_profile`).
    """
    from muxsim.model.profile import find_profile

    target = path or find_profile()
    if target is None or not target.exists():
        if path is not None:
            raise ScenarioError(str(path), 1, 1, "no such platform profile",
                                "give a file written by `muxsim probe --costs`")
        return built_in_costs()
    try:
        # Bounded, and refused unread if not a regular file (--platform /dev/zero, a FIFO).
        text = read_input(str(target), 1 << 20).decode("utf-8")
        data = tomllib.loads(text)
    except InputFileError as exc:
        raise ScenarioError(str(target), 1, 1, f"platform profile: {exc.message}",
                            "give a file written by `muxsim probe --costs`") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # tomllib raises ValueError for an integer of more than 4,300 digits and
        # RecursionError for arrays nested some hundreds deep.
        if isinstance(exc, tomllib.TOMLDecodeError):
            found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line, col = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
            raise ScenarioError(str(target), line, col, f"not valid TOML: {exc}",
                                "check quoting and brackets, or rerun `muxsim probe --costs`"
                                ) from None
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"{exc}"[:120]
        raise ScenarioError(str(target), 1, 1, f"cannot read the profile: {what}",
                            "give a file written by `muxsim probe --costs`") from None
    table = data.get("costs")
    if table is None:
        return built_in_costs()
    if not isinstance(table, dict):
        raise ScenarioError(str(target), 1, 1, "[costs] must be a table",
                            "rerun `muxsim probe --costs`")
    return costs_from_mapping(table, str(target), text)


def existing_costs(path: str) -> dict[str, Any]:
    """The ``[costs]`` table of a profile already on disk ({} if none or unreadable)."""
    try:
        # Bounded and never blocking: `probe --out` may name a FIFO or a device.
        table = tomllib.loads(read_input(path, 1 << 20).decode("utf-8")).get("costs", {})
    except (InputFileError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return table if isinstance(table, dict) else {}


def dump_costs(measured: Mapping[str, Any]) -> str:
    """The ``[costs]`` table for a platform profile (curves as [x, seconds] pairs)."""
    lines = ["", "# Seconds of CPU per call, measured by `muxsim probe --costs`:",
             "# curves are [x, seconds] pairs (x: descriptors watched, events",
             "# returned or bytes), see muxsim/model/costs.py.", "[costs]"]
    for key in (*CURVE_KEYS, *SCALAR_KEYS):
        if key not in measured:
            continue
        value = measured[key]
        if key in CURVE_KEYS:
            pairs = ", ".join(f"[{_num(x)}, {float(y)!r}]" for x, y in value)
            lines.append(f"{key} = [{pairs}]")
        else:
            lines.append(f"{key} = {float(value)!r}")
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
