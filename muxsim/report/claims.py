"""The classic claims about select, poll and epoll, checked in this run.

Each claim gets a verdict (``true``, ``false``, ``partly true``, or ``true
only in Python``, naming the layer) and its evidence: a catalogue scenario
(run on the real kernel like every other), or a measurement made here, now,
on this machine. Measurements use raw descriptors (AF_UNIX socket pairs) and
Python's ``select`` module; where Python itself adds a limit, the kernel is
asked directly through ``ctypes`` to tell the two apart.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import resource
import select
import socket
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@dataclass
class Claim:
    number: int
    text: str
    verdict: str
    evidence: str
    scenario: str | None = None  # catalogue id giving the evidence
    measured: dict[str, Any] = field(default_factory=dict)


class SocketPool:
    """N watched descriptors (socket pair ends), one of them readable."""

    def __init__(self, n: int) -> None:
        self.socks: list[socket.socket] = []
        for _ in range((n + 1) // 2):
            a, b = socket.socketpair()
            self.socks += [a, b]
        self.socks = self.socks[:n] if n % 2 == 0 else self.socks
        self.fds = [s.fileno() for s in self.socks[:n]]
        # Make exactly one watched descriptor readable.
        self.socks[1].send(b"x")

    def close(self) -> None:
        for s in self.socks:
            s.close()


def per_call(fn: Any, repeats: int = 7, calls: int = 200, args: tuple[Any, ...] = ()) -> float:
    """Median seconds per call over a few batches."""
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        samples.append((time.perf_counter() - began) / calls)
    return statistics.median(samples)


def measure_costs(sizes: tuple[int, ...] = (10, 100, 1000, 4000, 8000)) -> dict[str, list[float]]:
    """Microseconds per call (timeout 0, one ready descriptor) against descriptors watched."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    costs: dict[str, list[float]] = {"n": [], "select": [], "poll": [], "epoll": []}
    for n in sizes:
        if n * 1.2 + 64 > limit:
            continue
        pool = SocketPool(n)
        try:
            costs["n"].append(float(n))
            if max(pool.fds) < 1024:
                costs["select"].append(
                    per_call(select.select, args=(pool.fds, [], [], 0)) * 1e6)
            else:
                costs["select"].append(float("nan"))
            poller = select.poll()
            for fd in pool.fds:
                poller.register(fd, select.POLLIN)
            costs["poll"].append(per_call(poller.poll, calls=200, args=(0,)) * 1e6)
            ep = select.epoll()
            try:
                for fd in pool.fds:
                    ep.register(fd, select.EPOLLIN)
                costs["epoll"].append(per_call(ep.poll, calls=200, args=(0, 64)) * 1e6)
            finally:
                ep.close()
        finally:
            pool.close()
    return costs


def kernel_select_beyond_fd_setsize() -> tuple[bool, str]:
    """Ask select(2) itself about a descriptor numbered 1500 (Python refuses it)."""
    a, b = socket.socketpair()
    high = -1
    try:
        high = _dup_to(a.fileno(), 1500)
        b.send(b"x")
        try:
            select.select([high], [], [], 0)
            python = "Python accepted it"
        except ValueError as exc:
            python = f"Python: ValueError({exc})"
        words = (high + 64) // 64
        bitmap = (ctypes.c_uint64 * words)()
        bitmap[high // 64] |= 1 << (high % 64)
        timeout = (ctypes.c_long * 2)(0, 0)
        ready = _libc.select(high + 1, ctypes.byref(bitmap), None, None, ctypes.byref(timeout))
        return ready == 1, f"{python}; select(2) with a 1,501-bit set: {ready} ready"
    finally:
        if high >= 0:
            with contextlib.suppress(OSError):
                import os

                os.close(high)
        a.close()
        b.close()


def _dup_to(fd: int, at: int) -> int:
    import fcntl

    return int(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, at))


def poll_beyond_rlimit() -> tuple[int, int]:
    """poll(2) with more entries than RLIMIT_NOFILE: (errno, limit)."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit > 1 << 20:
        return -1, limit  # too large to build the array for; reported as not measured

    class PollFd(ctypes.Structure):
        _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short),
                    ("revents", ctypes.c_short))

    n = limit + 1
    array = (PollFd * n)()
    for i in range(n):
        array[i].fd = -1
    ret = _libc.poll(array, n, 0)
    return (ctypes.get_errno() if ret < 0 else 0), limit


def epoll_watch_limit() -> tuple[int, int]:
    with open("/proc/sys/fs/epoll/max_user_watches") as f:
        watches = int(f.read())
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return watches, total_kb * 1024


def slope_ratio(costs: dict[str, list[float]], mux: str) -> float:
    values = [v for v in costs[mux] if v == v]
    return values[-1] / values[0] if len(values) > 1 and values[0] > 0 else float("nan")


def check_claims(costs: dict[str, list[float]]) -> list[Claim]:
    ns = costs["n"]
    span = f"{int(ns[0])} to {int(ns[-1])}" if ns else "?"
    sel_ok, sel_text = kernel_select_beyond_fd_setsize()
    poll_errno, rlimit = poll_beyond_rlimit()
    watches, memory = epoll_watch_limit()
    per_gib = watches / (memory / (1 << 30))
    poll_growth = slope_ratio(costs, "poll")
    epoll_growth = slope_ratio(costs, "epoll")
    select_growth = slope_ratio(costs, "select")
    return [
        Claim(1, "select is limited to 1024 descriptors (FD_SETSIZE).",
              "true only in Python (and C with glibc's fd_set)" if sel_ok else "true",
              f"The kernel sizes select's bitmaps from nfds (fs/select.c:core_sys_select); "
              f"the 1024 is FD_SETSIZE in user space. Measured: {sel_text}.",
              measured={"kernel_accepts_1500": sel_ok}),
        Claim(2, "select and poll scan every descriptor on each call, so their cost grows "
                 "linearly with the number watched.", "true",
              f"Measured per call with one ready descriptor among {span} watched: poll cost "
              f"grew {poll_growth:.1f}x, select {select_growth:.1f}x over its range "
              f"(fs/select.c:do_poll and do_select walk every entry). See the plot.",
              measured={"poll_growth": poll_growth, "select_growth": select_growth}),
        Claim(3, "select and poll copy the whole descriptor set between user and kernel "
                 "space on every call.", "true",
              "core_sys_select copies all three bitmaps in and out, do_sys_poll copies the "
              "whole pollfd array in and the revents out (fs/select.c); the linear cost above "
              "includes it."),
        Claim(4, "poll has no maximum number of descriptors; it is based on a linked list.",
              "partly true",
              "The kernel chains pollfds in pages (struct poll_list), but rejects more entries "
              "than RLIMIT_NOFILE: " + (
                  f"measured poll(2) with {rlimit + 1} entries gave "
                  f"{errno.errorcode.get(poll_errno, poll_errno)} (limit {rlimit})."
                  if poll_errno >= 0 else
                  f"not measured here (RLIMIT_NOFILE is {rlimit}, too large to build)."),
              measured={"errno": errno.errorcode.get(poll_errno, str(poll_errno))}),
        Claim(5, "poll is level-triggered: an unhandled ready descriptor is reported again.",
              "true", "The same poll reports the unread data twice (scenario).",
              scenario="models/conformance/claim-poll-level-triggered"),
        Claim(6, "epoll has no descriptor limit; about 100,000 descriptors per GB of memory.",
              "partly true",
              f"Registrations are limited by fs.epoll.max_user_watches, sized at 4% of low "
              f"memory (fs/eventpoll.c:eventpoll_init): here {watches:,} for "
              f"{memory / (1 << 30):.1f} GiB, about {per_gib:,.0f} per GiB.",
              measured={"max_user_watches": watches, "per_gib": round(per_gib)}),
        Claim(7, "epoll's cost does not grow with the total number of connections, only the "
                 "active ones.", "true" if epoll_growth < 2 else "partly true",
              f"Measured epoll_wait with one ready among {span} registered: cost grew "
              f"{epoll_growth:.2f}x (the ready list holds only what callbacks queued, "
              f"fs/eventpoll.c:ep_send_events). See the plot.",
              measured={"epoll_growth": epoll_growth}),
        Claim(8, "epoll uses mmap to share memory with user space and avoid copying.", "false",
              "epoll_wait copies each event out with __put_user "
              "(fs/eventpoll.c:epoll_put_uevent); there is no mmap in fs/eventpoll.c."),
        Claim(9, "Edge-triggered epoll notifies once when a descriptor becomes ready and never "
                 "again until it has become not-ready.", "false",
              "Every wakeup whose key matches requeues the item (ep_poll_callback): new data "
              "on an already readable pipe is reported again (scenario).",
              scenario="models/conformance/epoll-et-pipe-rereport"),
        Claim(10, "Level-triggered epoll reports a ready descriptor on every epoll_wait until "
                  "it is handled.", "true",
              "ep_send_events puts LT items back on the ready list (scenario).",
              scenario="models/conformance/epoll-lt-rereport"),
        Claim(11, "Edge-triggered mode must be used with non-blocking descriptors, or a task "
                  "can starve.", "true",
              "After a partial read no new edge comes; a wait for one never returns (HUNG, "
              "scenario), so a blocking read loop would block with data left unread.",
              scenario="models/conformance/epoll-et-starvation-hung"),
        Claim(12, "epoll registers a callback on each descriptor's wait queue instead of "
                  "scanning.", "true",
              "ep_insert hooks ep_poll_callback onto each queue the file polls "
              "(ep_ptable_queue_proc); the model's explanation shows the chain for every "
              "event, and the flat epoll cost above is its consequence.",
              scenario="models/conformance/epoll-nested-wakeup"),
    ]


def render_plot(costs: dict[str, list[float]]) -> str:
    """An inline SVG: microseconds per call against descriptors watched (log x)."""
    import math

    width, height, left, bottom, top, right = 640, 360, 60, 40, 20, 120
    ns = costs["n"]
    values = [v for m in ("select", "poll", "epoll") for v in costs[m] if v == v]
    if not ns or not values:
        return "<p>No measurements.</p>"
    xmin, xmax = math.log10(min(ns)), math.log10(max(ns))
    ymax = max(values) * 1.1
    def x(n: float) -> float:
        span = (xmax - xmin) or 1.0
        return left + (math.log10(n) - xmin) / span * (width - left - right)
    def y(v: float) -> float:
        return height - bottom - v / ymax * (height - top - bottom)
    colors = {"select": "#c0392b", "poll": "#2471a3", "epoll": "#1e8449"}
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"role='img' aria-label='cost per call against descriptors watched'>",
             f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' "
             f"y2='{height - bottom}' stroke='#333'/>",
             f"<line x1='{left}' y1='{top}' x2='{left}' y2='{height - bottom}' stroke='#333'/>"]
    for n in ns:
        parts.append(f"<text x='{x(n):.1f}' y='{height - bottom + 16}' font-size='11' "
                     f"text-anchor='middle'>{int(n)}</text>")
    for i in range(5):
        v = ymax * i / 4
        parts.append(f"<text x='{left - 6}' y='{y(v) + 4:.1f}' font-size='11' "
                     f"text-anchor='end'>{v:.0f}</text>")
    parts.append(f"<text x='{(left + width - right) / 2}' y='{height - 6}' font-size='12' "
                 "text-anchor='middle'>descriptors watched (one ready)</text>")
    parts.append(f"<text x='14' y='{(top + height - bottom) / 2}' font-size='12' "
                 f"transform='rotate(-90 14 {(top + height - bottom) / 2})' "
                 "text-anchor='middle'>microseconds per call</text>")
    for k, mux in enumerate(("select", "poll", "epoll")):
        points = [(x(n), y(v)) for n, v in zip(ns, costs[mux], strict=False) if v == v]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f"<polyline fill='none' stroke='{colors[mux]}' stroke-width='2' "
                     f"points='{path}'/>")
        for px, py in points:
            parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='3' fill='{colors[mux]}'/>")
        parts.append(f"<text x='{width - right + 10}' y='{top + 20 + 18 * k}' font-size='12' "
                     f"fill='{colors[mux]}'>{mux}</text>")
    parts.append("</svg>")
    return "".join(parts)
