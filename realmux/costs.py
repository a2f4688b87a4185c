"""What a Python server pays per call on this kernel: the cost model's constants, measured.

Owns: the measurement, through Python's ``socket`` and ``select`` modules
(interpreter included), of select/poll/epoll against descriptors watched and
ready, ``epoll_ctl``, ``send``/``recv`` against bytes, ``accept``, ``close``,
and sleeping and being woken. Not owned: fitting or using the numbers (the
model does that). Standard library only.

Method: a *sample* is the minimum over batches (each sized to last ~1.5 ms) of
the mean per call, after a warm-up of at least 64 calls and 30 ms (a fresh
pool of 9,000 sockets costs up to twice its settled price for its first ten
polls, a fifth more for the next fifty), so a preemption inside a sample
does not count. Each price has 5 samples (2 quick), taken in passes that
visit the points in a seeded shuffle, so drift on a shared VM cannot pose as
slope; the price is the mean of the lowest two samples that agree within
10%, and points whose samples disagree, or that bend a readiness curve, are
sampled again, at most six times: one disturbed sample cannot move a price
(:mod:`realmux.calibration`). ``meta["stability"]`` says, per price, how
many samples it had, their spread, and whether two agreed. Nothing sleeps
to synchronise: where the kernel is asynchronous (loopback TCP, the accept
queue) the code polls a kernel counter (``FIONREAD``, ``TCP_INFO``), bounded
in time.

Descriptors: ``watched`` are *both* ends of ``ceil(watched/2)`` AF_UNIX stream
pairs, by number, so 900 fit below ``FD_SETSIZE`` and 9,000 need ~9,100 of
``RLIMIT_NOFILE`` (raised by :func:`raise_nofile`; what still does not fit is
skipped, in ``meta["skipped"]``). The ready ones are the last, made readable by
a byte from their peer (watched for input only, the peer stays idle).

Kernel facts the curves show:

* fs/select.c: do_select and do_poll walk every descriptor on every call. With
  timeout 0 the poll table's ``_qproc`` is NULL from the start: a pure scan.
  Otherwise, until a descriptor is found ready, each ``vfs_poll`` calls
  ``poll_wait`` with a live table: ``__pollwait`` takes an entry (inline, then
  from pages, ``poll_get_entry``) and hooks it on that socket's wait queue, and
  ``poll_freewait`` unhooks and frees them all on the way out. So ``*_wait`` >
  ``*_scan`` with the ready descriptor last. The waiting calls pass no timeout;
  they are bounded because a timeout-0 call has just seen the ready ones ready,
  and nothing else reads them.
* fs/eventpoll.c: ep_poll returns at once when ``ep_events_available``, and
  ep_send_events re-polls only the ready list (``ep_item_poll`` per item,
  re-queueing level-triggered ones): ``epoll_wait`` grows with events
  returned, not with idle interests.
* ``wakeup``: parent (blocked in ``epoll.poll``) and child process play
  ping-pong with a byte; the child answers once /proc shows the parent asleep.
  The parent's CPU per round (``thread_time_ns``), less that of the same
  send + ``epoll_wait`` + recv finding the answer already there, is its sleep
  and resumption (``schedule`` in ep_poll) plus its waking of the child
  (``try_to_wake_up``): one wakeup's work on each side. Both share one CPU:
  across two, the idle CPU's halt and the IPI ending it (VM exits here) take
  over, and cost and latency vary threefold. Rounds are too short to batch, so
  each side is the 10th percentile of single rounds. ``wakeup_latency``: the
  median from the child's send to the parent's return (both read
  ``perf_counter_ns``, one ``CLOCK_MONOTONIC``).
* ``sleep_cpu`` and ``sleep_latency``: curves against seconds asleep. A
  minimal server here (``epoll_wait``, ``recv``, ``recv`` to EAGAIN,
  ``send``) answers requests a child process sends every 0.5, 2, 10 and 50
  ms, with no CPU pinned; the median CPU of one served request, less the
  four calls' hot prices, is what the sleep cost (it grows with the sleep:
  the caches go cold), and the median send-to-return time is the latency.
  The ping-pong above is the curve's short end.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import platform
import resource
import select
import socket
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from realmux.calibration import AGREE, Calibration, Point

Mux = Literal["select", "poll", "epoll"]
Batch = Callable[[int], tuple[int, int]]  # calls wanted -> (timed ns, calls made)

FD_SETSIZE = 1024
_TARGET_NS = 1_500_000  # one batch lasts about this long
_WARM_NS, _WARM_CALLS = 30_000_000, 64  # a readiness call's warm-up (see _min_per_call)
_WAIT_S = 5.0  # the bound on every wait for the kernel or the child
_LINGER_RST = struct.pack("ii", 1, 0)  # close sends RST: no TIME_WAIT left behind
_OFF_UNACKED = 24  # struct tcp_info: for a listener, the accept queue's length
_SEED = 1024
_PER_READY_AT, _MANY_READY = 512, 500
_FULL = {"select": (10, 30, 100, 300, 600, 900),
         "poll": (10, 30, 100, 300, 1000, 2000, 4000, 6000, 9000),
         "epoll_ready": (1, 10, 100, 1000), "epoll_idle": (100, 1000, 4000, 9000),
         "bytes": (1, 100, 1024, 16384, 65536)}
_QUICK = {"select": (10, 600), "poll": (10, 1000, 4000), "epoll_ready": (1, 100),
          "epoll_idle": (100, 4000), "bytes": (1, 65536)}
#: The curves the calibration checks for shape (realmux.calibration.curve_faults).
_CHECKED = ("select_scan", "select_wait", "poll_scan", "poll_wait", "epoll_wait")
_CURVES = ("select_scan", "select_wait", "poll_scan", "poll_wait", "epoll_wait",
           "epoll_wait_idle", "recv_unix", "send_unix", "recv_tcp", "send_tcp")
_CHILD = """\
import os, signal, socket, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
s = socket.socket(fileno=int(sys.argv[1]))
try:
    stat = os.open(f"/proc/{os.getppid()}/task/{sys.argv[2]}/stat", os.O_RDONLY)
except OSError:
    stat = -1
while s.recv(1):
    for _ in range(20000 if stat >= 0 else 0):  # until the parent sleeps, bounded
        if os.pread(stat, 80, 0).rsplit(b")", 1)[1][1:2] == b"S":
            break
        os.sched_yield()
    s.sendall(time.perf_counter_ns().to_bytes(8, "little"))
"""


class FdSetSizeError(ValueError):
    """``select`` cannot name a descriptor numbered ``FD_SETSIZE`` (1024) or more."""


def raise_nofile(want: int) -> int:
    """Raise the RLIMIT_NOFILE soft limit toward ``min(want, hard)``; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return sys.maxsize if soft == resource.RLIM_INFINITY else soft


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # less the one listing itself


def _min_per_call(batch: Batch, batches: int, warm_ns: int = 0) -> float:
    """Seconds per call: the minimum over ``batches`` of a batch's mean, after a warm-up.

    The warm-up is two batches, and with ``warm_ns`` at least _WARM_CALLS calls
    and ``warm_ns`` of them, bounded by four times that in wall time: the
    first calls over a fresh pool of thousands of sockets cost up to twice the
    settled price (measured at 9,000: 1.1 to 1.7 ms for the first ten polls,
    ~0.75 ms for the next fifty, 0.61 ms from the hundredth on), and two
    warm-up batches left most of the minimum's batches in that slope.
    """
    calls, rounds, warmed, timed, began = 2, 0, 0, 0, time.perf_counter_ns()
    while True:  # warm up, and size a batch to last about _TARGET_NS
        ns, done = batch(calls)
        rounds, warmed, timed = rounds + 1, warmed + done, timed + ns
        calls = max(1, min(50_000, _TARGET_NS * done // max(ns, 1)))
        if rounds >= 2 and ((warmed >= _WARM_CALLS and timed >= warm_ns)
                            or time.perf_counter_ns() - began > 4 * warm_ns):
            break
    return min(ns / done for ns, done in (batch(calls) for _ in range(batches))) / 1e9


def _loop(fn: Callable[..., object], *args: object) -> Batch:
    def batch(calls: int) -> tuple[int, int]:
        began = time.perf_counter_ns()
        for _ in itertools.repeat(None, calls):
            fn(*args)
        return time.perf_counter_ns() - began, calls
    return batch


def _cycles(cycle: Callable[[], tuple[int, int]]) -> Batch:
    """A batch made of cycles, each untimed setup, a timed loop (ns, calls), untimed cleanup."""
    def batch(calls: int) -> tuple[int, int]:
        total = done = 0
        while done < calls:
            ns, n = cycle()
            total, done = total + ns, done + n
        return total, done
    return batch


def _until(ready: Callable[[], bool], what: str) -> None:
    """Spin (yielding the CPU) until ``ready()``; RuntimeError after _WAIT_S."""
    deadline = time.monotonic() + _WAIT_S
    for _ in range(100_000_000):
        if ready():
            return
        if time.monotonic() > deadline:
            break
        os.sched_yield()
    raise RuntimeError(f"timed out after {_WAIT_S} s waiting for {what}")


@contextlib.contextmanager
def _pool(watched: int, ready: int) -> Iterator[list[int]]:
    """``watched`` descriptors (ends of AF_UNIX pairs) by number, the last ``ready`` readable."""
    socks: list[socket.socket] = []
    try:
        peer: dict[int, socket.socket] = {}
        for _ in range((watched + 1) // 2):
            a, b = socket.socketpair()
            socks += (a, b)
            peer[a.fileno()], peer[b.fileno()] = b, a
        fds = sorted(peer)[:watched]
        for fd in fds[watched - ready:]:
            peer[fd].send(b"x")
        yield fds
    finally:
        for s in socks:
            s.close()


def measure_readiness_call(mux: Mux, watched: int, ready: int = 1, *, waiting: bool = False,
                           batches: int = 15) -> float:
    """Seconds per readiness call with ``watched`` descriptors, the last ``ready`` readable.

    ``waiting=False``: timeout 0 (a scan). ``waiting=True``: no timeout; it
    returns at once, but registers on every descriptor before the first ready
    one. epoll uses ``maxevents = max(64, ready)``.
    """
    if mux not in ("select", "poll", "epoll"):
        raise ValueError(f"unknown multiplexer {mux!r}: select, poll or epoll")
    if watched < 1 or not 0 <= ready <= watched:
        raise ValueError(f"need 1 <= watched and 0 <= ready <= watched, not {watched}, {ready}")
    if waiting and ready == 0:
        raise ValueError("waiting with nothing ready would sleep forever")
    if mux == "select" and watched >= FD_SETSIZE:
        raise FdSetSizeError(f"select() cannot watch {watched} descriptors: their numbers "
                             f"must all be below FD_SETSIZE ({FD_SETSIZE}); use poll or epoll")
    raise_nofile(_open_fds() + watched + 64)
    with _pool(watched, ready) as fds, contextlib.ExitStack() as stack:
        if mux == "select":
            if fds[-1] >= FD_SETSIZE:
                raise FdSetSizeError(f"select() cannot watch descriptor {fds[-1]}: numbers "
                                     f"must be below FD_SETSIZE ({FD_SETSIZE}); use poll or epoll")
            found = len(select.select(fds, [], [], 0)[0])
            batch = _loop(select.select, fds, [], [], None if waiting else 0)
        elif mux == "poll":
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            found = len(poller.poll(0))
            batch = _loop(poller.poll) if waiting else _loop(poller.poll, 0)
        else:
            ep = stack.enter_context(select.epoll())
            for fd in fds:
                ep.register(fd, select.EPOLLIN)
            found = len(ep.poll(0, max(64, ready)))
            batch = _loop(ep.poll, -1 if waiting else 0, max(64, ready))
        if found != ready:  # the check that makes the waiting calls bounded
            raise RuntimeError(f"{mux}: {found} descriptors ready, expected {ready}")
        return _min_per_call(batch, batches, min(_WARM_NS, 2 * batches * _TARGET_NS))


# -- send, recv, accept, close, epoll_ctl -------------------------------------


def _inq(sock: socket.socket) -> int:
    """Bytes waiting to be read (FIONREAD, alias SIOCINQ)."""
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0])


def _stream_pair(kind: Literal["unix", "tcp"]) -> tuple[socket.socket, socket.socket]:
    """A connected nonblocking pair; TCP on 127.0.0.1 with TCP_NODELAY (asyncio's default)."""
    if kind == "unix":
        pair = socket.socketpair()
    else:
        with socket.create_server(("127.0.0.1", 0)) as listener, contextlib.ExitStack() as undo:
            listener.settimeout(_WAIT_S)
            client = socket.create_connection(listener.getsockname(), timeout=_WAIT_S)
            undo.callback(client.close)
            pair = (client, listener.accept()[0])
            undo.pop_all()
    try:
        for s in pair:
            s.setblocking(False)
            if kind == "tcp":
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    except BaseException:
        for s in pair:
            s.close()
        raise
    return pair


def _read_exactly(sock: socket.socket, want: int, scratch: bytearray) -> None:
    _until(lambda: _inq(sock) >= want, f"{want} bytes to arrive")
    got = 0
    while got < want:
        got += sock.recv_into(scratch, min(len(scratch), want - got))


def _measure_stream(kind: Literal["unix", "tcp"], op: Literal["send", "recv"], n: int,
                    batches: int) -> float:
    """Seconds per ``send(n bytes)`` or ``recv(n)`` with n bytes available, nonblocking."""
    buf, scratch = bytes(n), bytearray(1 << 17)
    per_cycle = max(1, min(64, 65536 // n))  # what the buffers hold without blocking

    def cycle() -> tuple[int, int]:
        send, recv, times = sender.send, receiver.recv, itertools.repeat(None, per_cycle)
        if op == "send":
            sent, began = 0, time.perf_counter_ns()
            for _ in times:
                sent += send(buf)
            ns = time.perf_counter_ns() - began
            _read_exactly(receiver, sent, scratch)  # drained: the next cycle cannot block
        else:
            sent = sum(send(buf) for _ in range(per_cycle))
            _until(lambda: _inq(receiver) >= sent, f"{sent} bytes to arrive")
            began = time.perf_counter_ns()
            for _ in times:
                recv(n)
            ns = time.perf_counter_ns() - began
            if _inq(receiver):
                raise RuntimeError(f"{kind} recv({n}) returned short reads")
        if sent != per_cycle * n:
            raise RuntimeError(f"{kind} send of {n} bytes was partial")
        return ns, per_cycle

    sender, receiver = _stream_pair(kind)
    try:
        return _min_per_call(_cycles(cycle), batches)
    finally:
        sender.close()
        receiver.close()


def _accept_backlog(listener: socket.socket) -> int:
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("I", info, _OFF_UNACKED)[0])  # tcp_get_info: sk_ack_backlog


def _measure_accept(batches: int) -> float:
    """Seconds per ``accept()`` of a connection already in the accept queue."""
    def cycle() -> tuple[int, int]:
        clients: list[socket.socket] = []
        accepted: list[socket.socket] = []
        try:
            for _ in range(64):
                clients.append(client := socket.socket())
                client.setblocking(False)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                client.connect_ex(address)
            _until(lambda: _accept_backlog(listener) >= 64, "64 connections to be queued")
            began = time.perf_counter_ns()
            for _ in itertools.repeat(None, 64):
                accepted.append(listener.accept()[0])
            return time.perf_counter_ns() - began, 64
        finally:
            for s in clients + accepted:  # clients first: RST, and no TIME_WAIT anywhere
                s.close()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.setblocking(False)
        address = listener.getsockname()
        return _min_per_call(_cycles(cycle), batches)


def _measure_close(batches: int) -> float:
    """Seconds per ``os.close`` of one end of a connected AF_UNIX stream pair."""
    def cycle() -> tuple[int, int]:
        first: list[int] = []
        second: list[int] = []
        try:
            for _ in range(128):
                a, b = socket.socketpair()
                first.append(a.detach())
                second.append(b.detach())
            began = time.perf_counter_ns()
            for fd in first:
                os.close(fd)
            ns = time.perf_counter_ns() - began
            first.clear()
            return ns, 128
        finally:
            for fd in first + second:
                with contextlib.suppress(OSError):  # only if interrupted midway
                    os.close(fd)
    return _min_per_call(_cycles(cycle), batches)


def _measure_epoll_ctl(op: Literal["add", "mod", "del"], batches: int) -> float:
    """Seconds per EPOLL_CTL_ADD, _DEL (each timed alone, 256 idle descriptors) or _MOD."""
    rd, rdwr = select.EPOLLIN, select.EPOLLIN | select.EPOLLOUT

    def cycle() -> tuple[int, int]:
        add, mod, delete = ep.register, ep.modify, ep.unregister
        if op == "mod":  # EPOLLIN <-> EPOLLIN|EPOLLOUT: a server toggling write interest
            fd = fds[0]
            add(fd, rd)
            began = time.perf_counter_ns()
            for _ in itertools.repeat(None, 128):
                mod(fd, rdwr)
                mod(fd, rd)
            ns = time.perf_counter_ns() - began
            delete(fd)
            return ns, 256
        began = time.perf_counter_ns()
        for fd in fds:
            add(fd, rd)
        middle = time.perf_counter_ns()
        for fd in fds:
            delete(fd)
        return (middle - began if op == "add" else time.perf_counter_ns() - middle), len(fds)

    with _pool(256, 0) as fds, select.epoll() as ep:
        return _min_per_call(_cycles(cycle), batches)


# -- sleeping and being woken -------------------------------------------------


def _measure_wakeup(rounds: int) -> tuple[float, float, float]:
    """(extra CPU seconds of sleeping and being woken, median latency, fraction of rounds slept)."""
    allowed = os.sched_getaffinity(0)
    with contextlib.ExitStack() as stack:
        stack.callback(os.sched_setaffinity, 0, allowed)
        with contextlib.suppress(OSError):  # one CPU, for the child too (it inherits it)
            os.sched_setaffinity(0, {min(allowed)})
        child_end, parent_end = socket.socketpair()
        local, filler = socket.socketpair()  # the baseline: the answer is already there
        for s in (child_end, parent_end, local, filler):
            stack.callback(s.close)
            s.setblocking(s is child_end)  # O_NONBLOCK is shared with the child: not there
        ep_child = stack.enter_context(select.epoll())
        ep_local = stack.enter_context(select.epoll())
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(child_end.fileno()),
                                 str(threading.get_native_id())],
                                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL)
        stack.callback(_reap, proc)
        stack.callback(parent_end.close)  # runs before _reap: EOF ends the child's loop
        child_end.close()
        ep_child.register(parent_end.fileno(), select.EPOLLIN)
        ep_local.register(local.fileno(), select.EPOLLIN)

        def one_round(sock: socket.socket, ep: select.epoll) -> tuple[int, int]:
            cpu = time.thread_time_ns()
            sock.send(b"p")
            if not ep.poll(_WAIT_S, 1):
                raise RuntimeError(f"wakeup: no answer within {_WAIT_S} s")
            now = time.perf_counter_ns()
            stamp = int.from_bytes(sock.recv(8), "little")
            return time.thread_time_ns() - cpu, now - stamp

        for _ in range(5):  # the child has started and answers
            one_round(parent_end, ep_child)
        woken, ready, latencies = [], [], []
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        for _ in range(rounds):  # interleaved, so that drift hits both alike
            cpu, latency = one_round(parent_end, ep_child)
            woken.append(cpu)
            latencies.append(latency)
            filler.send(time.perf_counter_ns().to_bytes(8, "little"))
            ready.append(one_round(local, ep_local)[0])
            filler.recv(1)
        slept = (resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - switches) / rounds
    low = sorted(woken)[rounds // 10] - sorted(ready)[rounds // 10]
    return max(0, low) / 1e9, statistics.median(latencies) / 1e9, slept


#: The load generator of the served-request measurement: a request every GAP
#: seconds by the clock (timestamped), then it reads the answer.
_CYCLE_CHILD = """\
import os, signal, socket, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
s = socket.socket(fileno=int(sys.argv[1]))
s.settimeout(5.0)
for gap, rounds in zip(map(float, sys.argv[2].split(",")), map(int, sys.argv[3].split(","))):
    due = time.perf_counter() + gap
    for _ in range(rounds):
        left = due - time.perf_counter()
        if left > 0:
            time.sleep(left)  # the load's schedule; the server's state is read, never awaited
        s.sendall(time.perf_counter_ns().to_bytes(8, "little") + bytes(92))
        got = 0
        while got < 100:
            chunk = s.recv(100 - got)
            if not chunk:
                sys.exit(0)
            got += len(chunk)
        due += gap
"""

#: (seconds between requests, requests): the sleeps the served-request curve spans.
_GAPS_FULL = ((0.0005, 200), (0.002, 100), (0.01, 40), (0.05, 12))
_GAPS_QUICK = ((0.001, 30), (0.01, 8))


def _measure_served_requests(gaps: tuple[tuple[float, int], ...]
                             ) -> list[tuple[float, float, float]]:
    """(seconds asleep, CPU of one served request, wakeup latency) per gap: medians.

    A minimal server (``epoll_wait`` with no timeout, ``recv``, ``recv`` to
    EAGAIN, ``send``) answers 100-byte requests a child process sends every
    gap seconds, with no CPU pinned: the child runs where the scheduler puts
    it, as clients do. The CPU is the server thread's own (``thread_time``)
    for the whole cycle, so it holds what sleeping costs besides the calls'
    hot prices: the context switches, and the caches the sleep let go cold.
    """
    out: list[tuple[float, float, float]] = []
    with contextlib.ExitStack() as stack:
        child_end, server = socket.socketpair()
        for sock in (child_end, server):
            stack.callback(sock.close)
        server.setblocking(False)
        ep = stack.enter_context(select.epoll())
        ep.register(server.fileno(), select.EPOLLIN)
        proc = subprocess.Popen(
            [sys.executable, "-c", _CYCLE_CHILD, str(child_end.fileno()),
             ",".join(str(g) for g, _ in gaps), ",".join(str(n) for _, n in gaps)],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL)
        stack.callback(_reap, proc)
        stack.callback(server.close)  # before _reap: EOF ends the child
        child_end.close()
        buf = bytearray(65536)
        answer = bytes(100)
        for _gap, rounds in gaps:
            cpus, latencies, asleep = [], [], []
            for _ in range(rounds):
                cpu, entered = time.thread_time_ns(), time.perf_counter_ns()
                if not ep.poll(_WAIT_S, 1):
                    raise RuntimeError(f"served requests: none within {_WAIT_S} s")
                woke = time.perf_counter_ns()
                got = server.recv_into(buf)
                stamp = int.from_bytes(buf[:8], "little")
                with contextlib.suppress(BlockingIOError):
                    server.recv_into(buf)
                server.send(answer)
                cpus.append(time.thread_time_ns() - cpu)
                latencies.append(woke - stamp)
                asleep.append(woke - entered)
                if got < 100:
                    raise RuntimeError("served requests: a request arrived in pieces")
            out.append((statistics.median(asleep) / 1e9, statistics.median(cpus) / 1e9,
                        statistics.median(latencies) / 1e9))
    return out


#: Descriptors watched by the sleeping-call curves, and rounds at each size.
_SLEPT_FULL: dict[str, tuple[int, ...]] = {
    "select": (10, 100, 300, 900), "poll": (10, 100, 1000, 4000, 9000), "epoll": (10, 1000, 9000)}
_SLEPT_QUICK: dict[str, tuple[int, ...]] = {
    "select": (10, 600), "poll": (10, 2000), "epoll": (10, 1000)}


def _measure_sleeping_calls(sizes: dict[str, tuple[int, ...]], rounds: int,
                            skip: Callable[[str], None]) -> dict[str, list[list[float]]]:
    """CPU of one readiness call that sleeps about a millisecond, against descriptors watched.

    A child process sends on the last watched connection every millisecond
    and the call (no timeout) sleeps until it does; the median of the call's
    own thread CPU. It holds the registering pass, the sleep, the wakeup and
    the pass after it, over descriptors whose structures the sleep let go
    cold: what a server's sleeping call costs, which hot loops cannot show.
    """
    curves: dict[str, list[list[float]]] = {}
    for mux, ns in sizes.items():
        for n in ns:
            if n + 64 > raise_nofile(_open_fds() + n + 64) - _open_fds():
                skip(f"slept_{mux} at {n}: not enough descriptors")
                continue
            try:
                cpu = _one_sleeping_call(mux, n, rounds)
            except FdSetSizeError as exc:
                skip(f"slept_{mux} at {n}: {exc}")
                continue
            curves.setdefault(f"slept_{mux}", []).append([n, cpu])
    return curves


def _one_sleeping_call(mux: str, n: int, rounds: int) -> float:
    with contextlib.ExitStack() as stack:
        idle: list[socket.socket] = []

        def close_idle() -> None:
            for sock in idle:
                sock.close()

        stack.callback(close_idle)
        for _ in range(n // 2):  # both ends watched, idle: nothing is ever sent on them
            idle += socket.socketpair()
        child_end, server = socket.socketpair()
        for sock in (child_end, server):
            stack.callback(sock.close)
        server.setblocking(False)
        fds = [*sorted(s.fileno() for s in idle)[:n - 1], server.fileno()]
        if mux == "select" and max(fds) >= FD_SETSIZE:
            raise FdSetSizeError(f"descriptor {max(fds)} is beyond FD_SETSIZE")
        proc = subprocess.Popen([sys.executable, "-c", _CYCLE_CHILD, str(child_end.fileno()),
                                 "0.001", str(rounds)], pass_fds=(child_end.fileno(),),
                                stdin=subprocess.DEVNULL)
        stack.callback(_reap, proc)
        stack.callback(server.close)  # before _reap: EOF ends the child
        child_end.close()
        call: Callable[[], object]
        if mux == "select":
            call = functools.partial(select.select, fds, [], [], _WAIT_S)
        elif mux == "poll":
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            call = functools.partial(poller.poll, _WAIT_S * 1000)
        else:
            ep = stack.enter_context(select.epoll())
            for fd in fds:
                ep.register(fd, select.EPOLLIN)
            call = functools.partial(ep.poll, _WAIT_S, 64)
        buf, answer, cpus = bytearray(4096), bytes(100), []
        for _ in range(rounds):
            cpu = time.thread_time_ns()
            if not call():
                raise RuntimeError(f"sleeping {mux}: nothing within {_WAIT_S} s")
            cpus.append(time.thread_time_ns() - cpu)
            got, give_up = 0, time.monotonic() + _WAIT_S
            while got < 100:  # the request may still be arriving: wait for it, bounded
                try:
                    chunk = server.recv_into(buf, 100 - got)
                except BlockingIOError:
                    left = give_up - time.monotonic()
                    if left <= 0 or not select.select([server], [], [], left)[0]:
                        raise RuntimeError(f"sleeping {mux}: a request did not arrive whole "
                                           f"within {_WAIT_S} s") from None
                    continue
                if chunk == 0:
                    raise RuntimeError(f"sleeping {mux}: the child process went away")
                got += chunk
            server.send(answer)
        return statistics.median(cpus[rounds // 10:]) / 1e9


def _at(best: dict[tuple[str, int], float], key: str, x: int) -> float:
    """A measured point, or the nearest one measured for that key (0.0 if none)."""
    if (key, x) in best:
        return best[key, x]
    near = sorted((abs(k[1] - x), v) for k, v in best.items() if k[0] == key)
    return near[0][1] if near else 0.0


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- everything ---------------------------------------------------------------


def _readiness_sample(skip: Callable[[str], None], key: str, mux: Mux, watched: int,
                      ready: int, waiting: bool, batches: int) -> float | None:
    """One sample of a readiness call, or None (noted) where select cannot name the descriptors."""
    try:
        return measure_readiness_call(mux, watched, ready, waiting=waiting, batches=batches)
    except FdSetSizeError as exc:
        skip(f"{key} at {watched} watched: {exc}")
        return None


def measure_costs(progress: Callable[[str], None] | None = None, *,
                  quick: bool = False,
                  between: Mapping[Mux, Sequence[int]] | None = None) -> dict[str, Any]:
    """Every cost, in seconds: curves as sorted ``[x, seconds]`` pairs, and a ``meta`` dict.

    ``between``: descriptor counts per multiplexer ("select", "poll", "epoll")
    to measure too, as a scan with one ready, in the same shuffled passes as
    the curves (so that whatever disturbs the machine hits both alike) and
    checked against them: ``meta["between"]`` has ``[mux, watched, seconds,
    repeats, spread]`` rows. ``meta["stability"]`` says, for every price of
    the passes, ``[x, repeats, spread, agreed]`` (see realmux.calibration).
    """
    began = time.perf_counter()
    say = progress or (lambda _message: None)
    sizes, batches, passes, rounds, per_round = ((_QUICK, 3, 2, 1, 1) if quick
                                                 else (_FULL, 15, 5, 3, 2))
    between = between or {}
    skipped: dict[str, None] = {}  # ordered, without repeats

    def skip(note: str) -> None:
        if note not in skipped:
            skipped[note] = None
            say(f"skipped: {note}")

    widest = max((*sizes["poll"], *sizes["epoll_idle"], *(n for s in between.values() for n in s)))
    soft = raise_nofile(_open_fds() + widest + 256)
    room = soft - _open_fds()
    calls: list[tuple[str, Mux, int, int, bool, int]] = [  # key, mux, watched, ready, waiting, x
        (f"{mux}_{how}", mux, n, 1, how == "wait", n)
        for mux in ("select", "poll") for n in sizes[mux] for how in ("scan", "wait")]
    calls += [(f"_{mux}_ready", mux, _PER_READY_AT, k, False, k)
              for mux in ("select", "poll") for k in (1, _MANY_READY)]
    calls += [("epoll_wait", "epoll", 2 * k, k, False, k) for k in sizes["epoll_ready"]]
    calls += [("epoll_wait_idle", "epoll", n, 1, False, n) for n in sizes["epoll_idle"]]
    calls += [(f"between_{mux}", mux, n, 1, False, n)
              for mux, ns in between.items() for n in ns]
    points: list[Point] = []
    for key, mux, watched, ready, waiting, x in calls:
        if watched + 64 > room:
            skip(f"{key} at {watched} watched: needs {watched + 64} more descriptors, "
                 f"RLIMIT_NOFILE (soft {soft}, as high as the hard limit allows) leaves {room}")
            continue
        points.append(Point(key, x, functools.partial(
            _readiness_sample, skip, key, mux, watched, ready, waiting, batches)))
    points += [Point(f"epoll_ctl_{op}", 0, functools.partial(_measure_epoll_ctl, op, batches))
               for op in ("add", "mod", "del")]
    points += [Point(f"{op}_{kind}", n, functools.partial(_measure_stream, kind, op, n, batches))
               for kind in ("unix", "tcp") for op in ("send", "recv") for n in sizes["bytes"]]
    points += [Point("accept_tcp", 0, functools.partial(_measure_accept, batches)),
               Point("close", 0, functools.partial(_measure_close, batches))]

    calibration = Calibration(points, say, _SEED)
    calibration.run_passes(passes)
    lines = {f"between_{mux}": ("epoll_wait_idle" if mux == "epoll" else f"{mux}_scan")
             for mux in between}
    unsettled = calibration.settle(rounds, _CHECKED, lines, per_round)
    for note in unsettled:
        say(f"unsettled: {note}")
    prices = calibration.prices()
    best = {key: price.seconds for key, price in prices.items()}
    for curve in _CHECKED:  # more descriptors never cost less, whatever was left unsettled
        highest = 0.0
        for point in sorted(k for k in best if k[0] == curve):
            best[point] = highest = max(highest, best[point])
    say("wakeup: ping-pong with a child process")
    wakeup, latency, slept = _measure_wakeup(150 if quick else 600)
    if slept < 0.9:
        skip(f"wakeup: the parent slept in only {slept:.0%} of rounds, so it is underestimated")
    say("served requests: a child sends, this thread sleeps in epoll_wait and answers")
    served = _measure_served_requests(_GAPS_QUICK if quick else _GAPS_FULL)
    say("sleeping calls: select, poll and epoll_wait woken every millisecond")
    result_slept = _measure_sleeping_calls(_SLEPT_QUICK if quick else _SLEPT_FULL,
                                           20 if quick else 60, skip)
    hot = (_at(best, "epoll_wait", 1) + _at(best, "recv_unix", 100) + _at(best, "recv_unix", 1)
           + _at(best, "send_unix", 100))

    result: dict[str, Any] = {name: [[x, s] for (key, x), s in sorted(best.items()) if key == name]
                              for name in _CURVES}
    for mux in ("select", "poll"):
        one, many = best.get((f"_{mux}_ready", 1)), best.get((f"_{mux}_ready", _MANY_READY))
        result[f"{mux}_per_ready"] = (None if one is None or many is None
                                      else max(0.0, (many - one) / (_MANY_READY - 1)))
    result |= {name: best.get((name, 0)) for name in (
        "epoll_ctl_add", "epoll_ctl_mod", "epoll_ctl_del", "accept_tcp", "close")}
    # The ping-pong (one CPU, the shortest sleep there is) anchors the short end.
    result["sleep_cpu"] = [[latency, wakeup]] + [[a, max(cpu - hot, 0.0)]
                                                 for a, cpu, _ in served]
    result["sleep_latency"] = [[latency, latency]] + [[a, lat] for a, _, lat in served]
    result |= result_slept
    result |= {"wakeup": wakeup, "wakeup_latency": latency, "meta": {
        "kernel": platform.release(), "machine": platform.machine(),
        "python": platform.python_version(),
        "method": f"per sample, the minimum over {batches} batches of about "
                  f"{_TARGET_NS / 1e6:g} ms of the mean seconds per call, after a warm-up; "
                  f"{passes} samples a price in shuffled passes, up to {rounds * per_round} "
                  "more where "
                  "samples disagree or a curve check fails, the price the mean of the lowest "
                  f"two samples within {AGREE:.0%} of each other; through Python's socket and "
                  "select modules on AF_UNIX pairs and loopback TCP",
        "seconds": round(time.perf_counter() - began, 3), "skipped": list(skipped),
        "unsettled": unsettled,
        "stability": {name: [[x, p.repeats, round(p.spread, 4), p.agreed]
                             for (key, x), p in sorted(prices.items()) if key == name]
                      for name in sorted({key for key, _ in prices})},
        "samples": {name: [[x, [float(f"{v:.4g}") for v in sorted(samples)]]
                           for (key, x), samples in sorted(calibration.samples.items())
                           if key == name]
                    for name in sorted({key for key, _ in calibration.samples})},
        "between": [[key.removeprefix("between_"), x, best[key, x], p.repeats,
                     round(p.spread, 4)]
                    for (key, x), p in sorted(prices.items()) if key.startswith("between_")]}}
    return result


def describe_stability(measured: Mapping[str, Any]) -> list[str]:
    """One line per price list of the passes: samples, the widest spread, agreement."""
    meta = measured.get("meta", {})
    lines = []
    for name, rows in meta.get("stability", {}).items():
        if not rows:
            continue
        repeats = sorted(r[1] for r in rows)
        widest = max(rows, key=lambda r: r[2])
        where = f" (at {widest[0]})" if len(rows) > 1 else ""
        disagreed = [str(r[0]) for r in rows if not r[3]]
        lines.append(
            f"{name}: {len(rows)} price{'s' if len(rows) > 1 else ''}, "
            f"{repeats[0]}{f'-{repeats[-1]}' if repeats[-1] != repeats[0] else ''} samples "
            f"each, spread up to {widest[2]:.1%}{where}, "
            + (f"no two samples agreed within {AGREE:.0%} at {', '.join(disagreed)}"
               if disagreed else f"two samples within {AGREE:.0%} set each"))
    lines += [f"unsettled: {note}" for note in meta.get("unsettled", [])]
    return lines
