"""Run a workload on the real kernel: the twin of the model's workload engine.

Owns: one run of a client/server workload, given as plain values (a
:class:`RealLoad`: this layer cannot see ``muxsim.workload``), on real sockets,
measured under the names of the model's ``Measures``, plus ``blocked_bytes``
(requests the clients could not send) and ``client_late_us`` (how late, on
average, they sent). Not owned: choosing, validating (values are what the
workload file's rules allow) or comparing workloads; listeners and herds (one
server thread serves established connections); a call's price (realmux.costs).

Method: make every connection non-blocking (AF_UNIX pairs, or loopback TCP
paired by port), then fork. The parent's main thread is the engine's server
(``_serve``, ``_rearm``, ``_scan_thread``): ``read_size`` per ``recv``, until
EAGAIN if it drains, every whole request answered, POLLOUT/EPOLLOUT asked for
only while a response is unsent, one-shot interests re-armed. It counts its own
calls; ``cpu`` and ``readiness_cost_us`` are ``thread_time_ns`` (read around
each readiness call, a system call itself, which a 0-timeout loop pays), and
``wakeups`` are the thread's voluntary context switches: sleeps really taken.
The child is the clients. It draws the engine's schedule (:func:`arrivals`) and
keeps it by the clock from the server's start (so it sends exactly the model's
requests), queues what a send cannot take until EPOLLOUT, and reads responses
while it waits. Latency runs from a send to the reading of the whole response,
or with ``response_size = 0`` to the server's reading of the whole request
(stamped by the parent: both read ``perf_counter_ns``, one CLOCK_MONOTONIC).

How much the machine's other work disturbed a run is measured from the run
itself, for the callers that compare timings: ``server_run_delay`` and
``client_run_delay``, the fraction of the run each side waited on a run queue
while runnable (/proc/thread-self/schedstat), ``server_preempted``
(involuntary context switches), ``client_late_us``, and ``sent_after_stop``,
the requests due before the end that the clients, running late, sent only
after the server had stopped (unanswered whatever the server does).

Nothing sleeps to synchronise; pipes carry the protocol. The parent writes
``g`` and its start time as it starts serving, and ``s`` and the response bytes
it sent when ``duration`` is over. The child reads what is in flight
(``_GRACE_S`` at most), writes its counts as JSON and waits for the control pipe
to close, so that the bytes left in the server ends (FIONREAD) are counted while
every client end is still open; the parent then reaps it through a pidfd. Every
wait is bounded (``_WAIT_S``); a ``finally`` kills and reaps the child and
closes every descriptor, KeyboardInterrupt included.

Facts that shaped it:

* ``epoll.poll`` and ``poll.poll`` round a timeout *up* to whole milliseconds
  (a loop may overrun its deadline by up to 1 ms). The child needs finer
  arrivals: it waits in ``select`` (microseconds) on its epoll descriptor,
  itself pollable, with a timer slack of 1 ns (the default 50 us doubled how
  late it sent), then harvests with ``epoll_wait(0)``.
* ``select`` cannot name a descriptor >= FD_SETSIZE (1024), and pairs number the
  server ends up to twice the connections: for select the parent ``dup``s them
  down into the holes the closed client ends left, so ~1000 connections fit.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import io
import itertools
import json
import math
import os
import random
import resource
import select
import signal
import socket
import struct
import sys
import termios
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from realmux.costs import FD_SETSIZE, raise_nofile

LOOPS = ("select", "poll", "epoll-lt", "epoll-et", "epoll-oneshot")
MAX_DURATION = 30.0
_WAIT_S = 10.0  # the bound on every wait for the other process or the kernel
_GRACE_S = 0.1  # how long the child reads responses in flight after the stop
_SPARE_FDS = 16  # pipes, epoll, pidfd and a margin
_BATCH = 256  # TCP connections per connect-then-accept round (the accept queue's length)
_LINGER_RST = struct.pack("ii", 1, 0)  # close sends RST: no TIME_WAIT left behind
_PR_SET_TIMERSLACK = 29  # prctl(2)
_READ = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
_IN, _OUT = select.EPOLLIN, select.EPOLLOUT  # the same bits as POLLIN, POLLOUT

Closable = socket.socket | select.epoll | io.FileIO


@dataclass(frozen=True, slots=True)
class RealLoad:
    """One workload as the real runner takes it: the model's Workload, flattened."""

    loop: str  # "select" | "poll" | "epoll-lt" | "epoll-et" | "epoll-oneshot"
    timeout: float  # readiness-call timeout in seconds; -1 blocks, 0 busy-polls
    maxevents: int
    drain: bool  # read until EAGAIN after each report
    read_size: int
    connections: int
    active: float  # fraction of the connections that send
    rate: float  # requests/s per active connection
    arrivals: str  # "poisson" | "periodic"
    request_size: int
    response_size: int  # 0: a request is answered when the server has read it whole
    transport: str  # "unix" | "tcp"
    duration: float  # seconds of real time
    seed: int


def unsupported(load: RealLoad) -> str | None:
    """Why ``load`` cannot run for real here, or None (raising RLIMIT_NOFILE as it must)."""
    if load.loop not in LOOPS:
        return f"unknown loop {load.loop!r}: one of {', '.join(LOOPS)}"
    if load.transport not in ("unix", "tcp") or load.arrivals not in ("poisson", "periodic"):
        return f"transport {load.transport!r}, arrivals {load.arrivals!r}: real runs know " \
               "unix or tcp, poisson or periodic"
    if not 0 < load.duration <= MAX_DURATION:
        return f"duration {load.duration:g} s: a real run lasts at most {MAX_DURATION:g} s"
    now, n = len(os.listdir("/proc/self/fd")), load.connections
    soft = raise_nofile(now + 2 * n + 64)
    if now + 2 * n + _SPARE_FDS > soft:
        return f"{n:,} connections need {2 * n + _SPARE_FDS:,} more descriptors; RLIMIT_NOFILE " \
               f"(soft {soft:,}, as high as the hard limit allows) leaves {soft - now:,}"
    if load.loop == "select" and now + n + _SPARE_FDS > FD_SETSIZE:
        return f"select cannot watch descriptors >= FD_SETSIZE ({FD_SETSIZE}): {n:,} " \
               f"connections need numbers up to about {now + n + _SPARE_FDS:,}"
    return None


def arrivals(seed: int, kind: str, rate: float, active: int) -> Iterator[tuple[float, int]]:
    """The engine's schedule: (seconds from the start, index among the active connections).

    Poisson: an ``expovariate(rate * active)`` gap, then ``randrange(active)``,
    per arrival, the draws of ``WorkloadRun._clients`` in its order. Periodic:
    gaps of ``1 / (rate * active)``, the connections in turn.
    """
    rng, total, t = random.Random(seed), rate * active, 0.0
    for j in itertools.count():
        t += rng.expovariate(total) if kind == "poisson" else 1.0 / total
        yield t, rng.randrange(active) if kind == "poisson" else j % active


def _connect(transport: str, n: int, opened: list[Closable]) -> tuple[list[socket.socket],
                                                                       list[socket.socket]]:
    """``n`` connected non-blocking pairs: (server ends, client ends), the i-th of each paired."""
    pairs: list[tuple[socket.socket, socket.socket]] = []
    for _ in range(n if transport == "unix" else 0):
        pairs.append(socket.socketpair())
        opened += pairs[-1]
    if transport == "tcp":
        with socket.create_server(("127.0.0.1", 0), backlog=_BATCH) as listener:
            _accept_pairs(listener, n, pairs, opened)
    for pair in pairs:
        for s in pair:
            s.setblocking(False)
            if transport == "tcp":
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    return [s for s, _ in pairs], [c for _, c in pairs]


def _accept_pairs(listener: socket.socket, n: int, pairs: list[tuple[socket.socket,
                  socket.socket]], opened: list[Closable]) -> None:
    """Connect ``n`` clients in rounds that fit the accept queue, accept each, pair by port."""
    waiter, deadline = select.poll(), time.monotonic() + _WAIT_S
    waiter.register(listener, select.POLLIN)
    listener.setblocking(False)
    for start in range(0, n, _BATCH):
        by_port: dict[int, socket.socket] = {}
        for _ in range(start, min(n, start + _BATCH)):
            opened.append(client := socket.socket())
            client.setblocking(False)
            client.connect_ex(listener.getsockname())
            by_port[client.getsockname()[1]] = client
        while by_port:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(by_port)} connections not accepted in {_WAIT_S} s")
            with contextlib.suppress(BlockingIOError):
                while by_port and waiter.poll(100):
                    server, (_host, port) = listener.accept()
                    opened.append(server)
                    if port in by_port:
                        pairs.append((server, by_port.pop(port)))


# -- the clients: the child process ---------------------------------------------


def _clients(load: RealLoad, socks: list[socket.socket], control_pipe: io.FileIO,
             result: io.FileIO) -> None:
    control, n = control_pipe.fileno(), load.connections
    k = round(load.active * n)
    active = [socks[j * n // k] for j in range(k)]
    index = {s.fileno(): j for j, s in enumerate(active)}
    ep = select.epoll()
    for fd in (*index, control):
        ep.register(fd, _IN)
    backlog, want_out, resp_got = [0] * k, [False] * k, [0] * k
    sent_at: list[deque[int]] = [deque() for _ in range(k)]
    all_sent: list[list[int]] = [[] for _ in range(k)]  # for response_size 0 only
    latencies: list[int] = []
    requests = received = 0
    late = 0.0
    zeros, scratch = memoryview(bytes(min(load.request_size, 1 << 20))), bytearray(1 << 18)
    precise = ep.fileno() < FD_SETSIZE

    def wait(timeout: float) -> list[tuple[int, int]]:
        if timeout > 0 and precise and not select.select([ep.fileno()], [], [], timeout)[0]:
            return []
        return ep.poll(0 if precise else timeout)

    def flush(j: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while backlog[j]:
                backlog[j] -= active[j].send(zeros[:min(backlog[j], len(zeros))])
        if want_out[j] != (backlog[j] > 0):
            want_out[j] = backlog[j] > 0
            ep.modify(active[j].fileno(), _IN | (_OUT if want_out[j] else 0))

    def read(j: int) -> None:
        nonlocal received
        with contextlib.suppress(BlockingIOError):  # EAGAIN ends it; EOF (0) is an error
            while got := active[j].recv_into(scratch):
                received += got
                if load.response_size:
                    whole, resp_got[j] = divmod(resp_got[j] + got, load.response_size)
                    now = time.perf_counter_ns()
                    for _ in range(min(whole, len(sent_at[j]))):
                        latencies.append(now - sent_at[j].popleft())
            raise ConnectionError(f"the server closed connection {j * n // k} early")

    waiter = select.poll()
    waiter.register(control, select.POLLIN)
    if not waiter.poll(_WAIT_S * 1000) or (go := os.read(control, 9))[:1] != b"g":
        raise TimeoutError(f"no start signal from the server within {_WAIT_S} s")
    t0 = int.from_bytes(go[1:], "little") / 1e9  # the server's start: the same clock
    delay = run_delay_ns()
    schedule = arrivals(load.seed, load.arrivals, load.rate, k) if k else iter(())
    at, who = next(schedule, (math.inf, 0))

    def send_due(until: float, *, counts_late: bool = True) -> None:
        """Send each arrival due by ``until`` (seconds after the start)."""
        nonlocal at, who, late, requests
        while at < load.duration and at <= until:
            if counts_late:
                late += max(0.0, time.perf_counter() - t0 - at)
            requests += 1
            sent_at[who].append(time.perf_counter_ns())
            if not load.response_size:
                all_sent[who].append(sent_at[who][-1])
            backlog[who] += load.request_size
            flush(who)
            at, who = next(schedule)

    stop: int | None = None  # the response bytes the server sent, once it has stopped
    while stop is None:
        send_due(time.perf_counter() - t0)
        if time.perf_counter() > t0 + load.duration + _WAIT_S:
            raise TimeoutError(f"no stop signal from the server within {_WAIT_S} s of the end")
        wake = t0 + (at if at < load.duration else load.duration + _WAIT_S)
        for fd, events in wait(max(0.0, wake - time.perf_counter())):
            if fd == control:
                message = os.read(control, 9)
                if len(message) != 9 or message[:1] != b"s":
                    raise RuntimeError(f"bad stop message {message!r}")
                stop = int.from_bytes(message[1:], "little")
                ep.unregister(control)
                continue
            if events & _OUT and stop is None:
                flush(index[fd])
            if events & _READ:
                read(index[fd])
    # Arrivals due before the end that this process was too late to send (a
    # busy machine) are sent now, unanswered: every arrival of the schedule is.
    on_time = requests
    send_due(load.duration, counts_late=False)  # the server has stopped: not lateness
    for j in range(k):  # sending stops; the backlog stays unsent
        if want_out[j]:
            ep.modify(active[j].fileno(), _IN)
    grace_end = time.perf_counter() + _GRACE_S
    while received < stop and (left := grace_end - time.perf_counter()) > 0:
        for fd, _events in wait(left):
            read(index[fd])
    data = memoryview(json.dumps({
        "requests": requests, "latencies_ns": latencies,
        "blocked_bytes": sum(backlog), "late_s": late,
        "run_delay_s": (run_delay_ns() - delay) / 1e9 if delay >= 0 else -1,
        "sent_after_stop": requests - on_time,
        "sent_ns": [] if load.response_size else all_sent}).encode())
    while data:
        data = data[os.write(result.fileno(), data):]
    result.close()
    waiter.poll(_WAIT_S * 1000)  # until the parent, having counted unread bytes, closes control


def _child(load: RealLoad, socks: list[socket.socket], control: io.FileIO, result: io.FileIO,
           opened: list[Closable]) -> NoReturn:
    code = 1
    try:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent kills the child if it must
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)
        gc.freeze()  # the parent's heap: never scanned here
        mine = {id(obj) for obj in (*socks, control, result)}
        for obj in opened:
            if id(obj) not in mine:
                obj.close()
        _clients(load, socks, control, result)
        code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)


# -- the server: this process's main thread ---------------------------------------


class _Link:
    """A connection's server end: what it has read and what it still has to send."""

    __slots__ = ("done_ns", "fd", "inbuf", "index", "out", "sock", "want_out")

    def __init__(self, index: int, sock: socket.socket) -> None:
        self.index, self.sock, self.fd = index, sock, sock.fileno()
        self.inbuf = self.out = 0
        self.want_out = False
        self.done_ns: list[int] = []  # when each whole request was read (response_size 0)


class _Server:
    """The engine's server loop on real descriptors, counting its calls."""

    def __init__(self, load: RealLoad, links: list[_Link], ep: select.epoll | None) -> None:
        self.load, self.links, self.ep = load, links, ep
        self.extra = {"epoll-et": select.EPOLLET,
                      "epoll-oneshot": select.EPOLLONESHOT}.get(load.loop, 0)
        for link in links:
            if ep is not None:
                ep.register(link.fd, _IN | self.extra)
        self.by_fd = {link.fd: link for link in links}
        self.buf = bytearray(load.read_size)
        self.zeros = memoryview(bytes(min(max(load.response_size, 1), 1 << 20)))
        self.calls = self.readiness = self.readiness_ns = self.sent = 0
        self.limit = math.inf if load.timeout < 0 else load.timeout

    def serve(self, link: _Link, revents: int) -> None:
        """Read what the report says is there, answer whole requests, send (engine._serve)."""
        load = self.load
        while revents & _READ:
            self.calls += 1
            try:
                got = link.sock.recv_into(self.buf, load.read_size)
            except BlockingIOError:
                break
            if not got:
                raise ConnectionError(f"the clients closed connection {link.index} early")
            whole, link.inbuf = divmod(link.inbuf + got, load.request_size)
            if whole and load.response_size:
                link.out += whole * load.response_size
            elif whole:
                link.done_ns += [time.perf_counter_ns()] * whole
            if not load.drain:
                break
        while link.out and revents & (_OUT | _READ):
            self.calls += 1
            try:
                sent = link.sock.send(self.zeros[:min(link.out, len(self.zeros))])
            except BlockingIOError:
                break
            link.out -= sent
            self.sent += sent

    def run(self, deadline: float) -> None:
        """Serve until ``deadline``: engine._epoll_thread with _rearm, or engine._scan_thread."""
        load, by_fd, loop, ep, extra = self.load, self.by_fd, self.load.loop, self.ep, self.extra
        rfds, wfds, poller = list(by_fd), list[int](), select.poll()
        for fd in rfds if loop == "poll" else ():
            poller.register(fd, _IN)
        while (left := deadline - time.perf_counter()) > 0:
            wait, cpu = min(self.limit, left), time.thread_time_ns()
            if ep is not None:
                ready = ep.poll(wait, load.maxevents)
            elif loop == "poll":
                ready = poller.poll(wait * 1000)
            else:
                r, w, _ = select.select(rfds, wfds, [], wait)
            self.readiness_ns += time.thread_time_ns() - cpu
            self.readiness += 1
            if loop == "select":
                masks = dict.fromkeys(r, _IN)
                for fd in w:
                    masks[fd] = masks.get(fd, 0) | _OUT
                ready = list(masks.items())
            dirty = False
            for fd, revents in ready:
                link = by_fd[fd]
                self.serve(link, revents)
                if extra & select.EPOLLONESHOT or (link.out > 0) != link.want_out:
                    link.want_out, dirty = link.out > 0, True
                    mask = _IN | (_OUT if link.want_out else 0)
                    if ep is not None:  # a system call, unlike poll's and select's arrays
                        ep.modify(fd, mask | extra)
                        self.calls += 1
                    elif loop == "poll":
                        poller.modify(fd, mask)
            if dirty and loop == "select":
                wfds = [link.fd for link in self.links if link.out]


def _compact(links: list[_Link], opened: list[Closable]) -> None:
    """Move the server ends down into the lowest free numbers (select's FD_SETSIZE)."""
    for link in sorted(links, key=lambda link: link.fd, reverse=True):
        new = os.dup(link.fd)  # the lowest free number
        if new > link.fd:  # no hole below this one: every lower end is in place too
            os.close(new)
            return
        opened.append(sock := socket.socket(fileno=new))
        sock.setblocking(False)
        link.sock.close()
        link.sock, link.fd = sock, new


def _pipe(opened: list[Closable]) -> tuple[io.FileIO, io.FileIO]:
    read_end, write_end = os.pipe()
    pipe = (io.FileIO(read_end, "r"), io.FileIO(write_end, "w"))
    opened += pipe
    return pipe


def _reap(pid: int, patience: float) -> int:
    """The child's wait status once it exits, SIGKILLed if it has not within ``patience`` s."""
    pidfd = os.pidfd_open(pid)
    try:
        waiter = select.poll()
        waiter.register(pidfd, select.POLLIN)
        if not waiter.poll(patience * 1000):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)


def _read_all(pipe: io.FileIO, patience: float) -> bytes:
    """What the child writes to ``pipe`` until it closes it, within ``patience`` s."""
    os.set_blocking(pipe.fileno(), False)
    waiter, deadline, chunks = select.poll(), time.monotonic() + patience, list[bytes]()
    waiter.register(pipe, select.POLLIN)
    while (left := deadline - time.monotonic()) > 0:
        if waiter.poll(left * 1000) and (chunk := pipe.read(1 << 16)) is not None:
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    raise TimeoutError(f"the client process sent no result within {patience} s")


def _unread(fd: int) -> int:
    """Bytes waiting to be read (FIONREAD, alias SIOCINQ)."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0])


def run_delay_ns() -> int:
    """Nanoseconds this thread has waited on a run queue, runnable but not running.

    The second field of /proc/thread-self/schedstat (kernel/sched/stats.c:
    ``show_schedstat``, ``sched_info.run_delay``): time a neighbour's work
    took from this thread, whatever the neighbour. -1 where the kernel does
    not keep it (CONFIG_SCHED_INFO off).
    """
    try:
        with open("/proc/thread-self/schedstat", "rb") as handle:
            return int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _pct(sorted_ns: list[int], q: float) -> float | None:
    """The engine's percentile (the value at index ``int(q * n)``), in microseconds."""
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e3 if sorted_ns else None


def run_real(load: RealLoad, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``load`` on this kernel for ``load.duration`` real seconds; the model's measures."""
    if (reason := unsupported(load)) is not None:
        raise ValueError(f"cannot run this load for real: {reason}")
    say = progress or (lambda _message: None)
    began, k = time.perf_counter(), round(load.active * load.connections)
    opened: list[Closable] = []
    pid = 0
    try:
        control_r, control_w = _pipe(opened)
        result_r, result_w = _pipe(opened)
        server_side, clients = _connect(load.transport, load.connections, opened)
        pid = os.fork()
        if pid == 0:
            _child(load, clients, control_r, result_w, opened)
        for sock in clients:
            sock.close()
        control_r.close()
        result_w.close()
        links = [_Link(i, s) for i, s in enumerate(server_side)]
        if load.loop == "select":
            _compact(links, opened)
        ep = select.epoll(len(links)) if load.loop.startswith("epoll") else None
        opened += [ep] if ep is not None else []
        server = _Server(load, links, ep)
        say(f"setup: {load.connections:,} {load.transport} connections ({k:,} active), "
            f"{load.loop}, client process {pid}")
        setup = time.perf_counter() - began
        usage, delay = resource.getrusage(resource.RUSAGE_THREAD), run_delay_ns()
        cpu, start = time.thread_time_ns(), time.perf_counter_ns()
        control_w.write(b"g" + start.to_bytes(8, "little"))
        server.run(start / 1e9 + load.duration)
        elapsed = time.perf_counter() - start / 1e9
        cpu = time.thread_time_ns() - cpu
        delay = run_delay_ns() - delay if delay >= 0 else -1
        after = resource.getrusage(resource.RUSAGE_THREAD)
        wakeups, preempted = after.ru_nvcsw - usage.ru_nvcsw, after.ru_nivcsw - usage.ru_nivcsw
        control_w.write(b"s" + server.sent.to_bytes(8, "little"))
        got = json.loads(_read_all(result_r, _WAIT_S))
        unread = sum(_unread(link.fd) for link in links)  # every client end still open
        control_w.close()
        status, pid = _reap(pid, _WAIT_S), 0
        if status != 0:
            raise RuntimeError(f"the client process ended with wait status {status}")
    finally:
        try:
            if pid > 0:
                _reap(pid, 0.0)
        finally:  # the descriptors go even if reaping failed
            for obj in opened:
                obj.close()  # idempotent
    latencies: list[int] = got["latencies_ns"]
    if not load.response_size:
        latencies = [done - sent for j, times in enumerate(got["sent_ns"]) for sent, done
                     in zip(times, links[j * load.connections // k].done_ns, strict=False)]
    answered = len(latencies)
    latencies.sort()
    ops, syscalls = max(answered, 1), server.readiness + server.calls
    result = {
        "backend": "real", "duration": elapsed, "requests": got["requests"],
        "answered": answered, "unanswered": got["requests"] - answered,
        "cpu": cpu / 1e9 / elapsed, "syscalls": syscalls,
        "readiness_calls": server.readiness, "wakeups": wakeups,
        "calls_per_op": syscalls / ops, "wakeups_per_op": wakeups / ops,
        "readiness_cost_us": server.readiness_ns / 1e3 / max(server.readiness, 1),
        "latency_p50_us": _pct(latencies, 0.50), "latency_p90_us": _pct(latencies, 0.90),
        "latency_p99_us": _pct(latencies, 0.99),
        "latency_max_us": latencies[-1] / 1e3 if latencies else None,
        "unread_bytes": unread, "blocked_bytes": got["blocked_bytes"],
        "client_late_us": 1e6 * got["late_s"] / max(got["requests"], 1),
        "setup_wall_s": setup,
        # How much the machine's other work disturbed the run (timing measures
        # such as wakeups_per_op depend on it; counts do not).
        "server_run_delay": delay / 1e9 / elapsed if delay >= 0 else None,
        "server_preempted": preempted,
        "client_run_delay": got["run_delay_s"] / elapsed if got["run_delay_s"] >= 0 else None,
        "sent_after_stop": got["sent_after_stop"],
    }
    say(f"done: {result['requests']:,} requests, {answered:,} answered in {elapsed:.3g} s")
    return result
