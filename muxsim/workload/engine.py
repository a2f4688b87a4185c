"""Run a workload on the model kernel and measure what the server spends.

What this owns: turning a :class:`~muxsim.workload.spec.Workload` into
model objects (connections, epolls, a listener), the server's event loop and
the clients, in SimPy virtual time, and the measures of one run. It does not
decide readiness (the model kernel does, through the same code the
conformance scenarios run) nor what a call costs (:mod:`muxsim.model.costs`).

How time passes:

* The server's threads are SimPy processes. Each system call they make is a
  call into the model kernel followed by a timeout of its cost: a server
  thread spends virtual CPU exactly as the price list says. Threads run on
  cores of their own (XX: no model of a limited number of cores yet; a
  thread's CPU per virtual second can reach 1.0, the sum over threads can
  exceed it).
* A thread that sleeps in ``epoll_wait``/``poll``/``select`` is woken by the
  model's wait-queue callbacks and runs the scheduler's delay later; the
  call that slept pays what a sleep of that length costs (switches, caches
  gone cold). Both are measured against the length of the sleep.
* Clients are on other cores: their calls cost the server nothing and take
  no time. They send requests at seeded Poisson (or periodic) times, read
  responses when the model wakes them (after the same scheduler delay), and
  measure latency from sending a request to reading its whole response.

"Busy" servers (timeout 0) therefore show up as CPU near 1.0 and many calls
per request, never as a hang; a run stops early, saying so, if it exceeds its
budget of system calls (the server's and the clients').
"""

from __future__ import annotations

import errno
import gc
import math
import random
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, fields, replace
from typing import Any, Final

import simpy
from simpy import Timeout

from muxsim.model.bits import (
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLONESHOT,
    EPOLLOUT,
)
from muxsim.model.costs import CostModel, load_costs
from muxsim.model.eventpoll import EP_PRIVATE_BITS, EventPoll
from muxsim.model.inet import TcpSock
from muxsim.model.kernel import Kernel
from muxsim.model.profile import Profile, load_profile
from muxsim.model.tasks import Task, do_poll, do_select, ep_poll
from muxsim.model.unix import UnixSock
from muxsim.model.waitqueue import WaitQueueEntry
from muxsim.workload.spec import Workload

Proc = Generator[simpy.Event, Any, None]
POLLIN: Final = EPOLLIN
POLLOUT: Final = EPOLLOUT
READ_EVENTS: Final = EPOLLIN | EPOLLHUP | EPOLLERR
#: What one client recv asks for.
CLIENT_READ: Final = 1 << 20
#: A run makes at most this many system calls (server and clients) unless told otherwise.
DEFAULT_CALL_BUDGET: Final = 10_000_000


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    help: str


#: What a run reports, in table order (also the CSV columns and the plots).
METRICS: tuple[Metric, ...] = (
    Metric("cpu", "CPU", "cores", "server CPU seconds per virtual second (all threads)"),
    Metric("calls_per_op", "calls/op", "", "server system calls per useful operation"),
    Metric("wakeups_per_op", "wakeups/op", "", "server thread wakeups per useful operation"),
    Metric("readiness_cost_us", "wait call", "us",
           "mean CPU of one readiness call (select, poll or epoll_wait)"),
    Metric("latency_p50_us", "p50", "us", "median request latency (client send to response)"),
    Metric("latency_p99_us", "p99", "us", "99th percentile request latency"),
    Metric("unanswered", "unanswered", "", "requests sent but not answered by the end"),
    Metric("stranded_bytes", "stranded", "B",
           "unread bytes the server will not be told about again (edge-triggered or one-shot)"),
)


@dataclass(frozen=True, slots=True)
class Measures:
    """The outcome of one run (virtual time unless the name says wall)."""

    duration: float
    requests: int
    answered: int
    unanswered: int
    accepts: int
    connects: int
    unaccepted: int
    operations: int
    cpu: float
    cpu_max_thread: float
    syscalls: int
    readiness_calls: int
    wakeups: int
    calls_per_op: float | None
    wakeups_per_op: float | None
    readiness_cost_us: float | None
    latency_p50_us: float | None
    latency_p90_us: float | None
    latency_p99_us: float | None
    latency_max_us: float | None
    unread_bytes: int
    stranded_bytes: int
    blocked_bytes: int
    events: int | None
    model_events: int
    setup_wall_s: float
    run_wall_s: float
    stopped_early: str | None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle by the constructor (explore's workers; compiled, the default cannot)."""
        return (Measures, tuple(getattr(self, f.name) for f in fields(self)))


class _BudgetExceeded(Exception):
    pass


_simpy_step = simpy.Environment.step


class CountingEnvironment(simpy.Environment):
    """SimPy's environment, counting the events it processes.

    Only when asked (``count_simpy_events``): a hook on every step cost a
    compiled C10K run 15% of its instructions, and a run's SimPy events are
    the same every time.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def step(self) -> None:
        self.events += 1
        _simpy_step(self)  # not super().step(): this runs once per event


class Arrivals:
    """The Poisson clients' draws, as ``random.Random`` makes them, without its Python frames.

    ``gap()`` is ``rng.expovariate(total)`` and ``index()`` is
    ``rng.randrange(count)``, value for value (CPython's own formulas, on the
    generator's C methods; tests/test_workload.py holds them to it): the real
    clients (realmux/workload.py:arrivals) draw with ``random.Random`` itself,
    and both sides must send the same requests to the same connections.
    """

    def __init__(self, rng: random.Random, total: float, count: int) -> None:
        self.random = rng.random
        self.getrandbits = rng.getrandbits
        self.total = total
        self.count = count
        self.bits = count.bit_length()

    def gap(self) -> float:
        return -math.log(1.0 - self.random()) / self.total  # Random.expovariate

    def index(self) -> int:
        r = self.getrandbits(self.bits)  # Random._randbelow_with_getrandbits
        while r >= self.count:
            r = self.getrandbits(self.bits)
        return r


class _Conn:
    """One client connection: the server's end, the client's, and what is in flight."""

    __slots__ = ("backlog", "cfd", "inbuf", "index", "out", "resp_got", "sent_at", "sfd",
                 "sock", "thread", "want_out")

    def __init__(self, index: int, cfd: int, sfd: int, sock: Any, thread: int) -> None:
        self.index = index
        self.cfd = cfd
        self.sfd = sfd
        self.sock = sock  # the server end's model socket (to measure unread bytes)
        self.thread = thread
        self.inbuf = 0  # request bytes read by the server, not yet a whole request
        self.out = 0  # response bytes the server still has to send
        self.want_out = False  # EPOLLOUT/POLLOUT asked for
        self.backlog = 0  # request bytes the client could not send yet
        self.sent_at: deque[float] = deque()  # send times of requests not yet answered
        self.resp_got = 0  # response bytes read by the client, not yet a whole response


class _Thread:
    __slots__ = ("busy_until", "conns", "cpu", "epfd", "fds_dirty", "index", "pollfds",
                 "readiness", "readiness_cpu", "report", "served", "task")

    def __init__(self, index: int, task: Task) -> None:
        self.index = index
        self.task = task
        self.conns: list[_Conn] = []
        self.epfd = -1
        self.cpu = 0.0
        self.busy_until = 0.0
        self.readiness = 0
        self.readiness_cpu = 0.0
        self.pollfds: list[tuple[int, int]] = []
        self.fds_dirty = True
        #: The last readiness report (epoll data, or descriptor numbers as text,
        #: with their events) and how many of its entries are served: the rest
        #: are in hand, not forgotten.
        self.report: list[tuple[str, int]] = []
        self.served = 0


class WorkloadRun:
    """One workload on one fresh model kernel."""

    def __init__(self, workload: Workload, costs: CostModel | None = None,
                 profile: Profile | None = None, *, budget: int = DEFAULT_CALL_BUDGET,
                 progress: Callable[[str], None] | None = None, explain: int = 0,
                 count_simpy_events: bool = False) -> None:
        self.w = workload
        self.costs = costs or load_costs()
        self.progress = progress
        self.explain = explain
        server, clients = workload.server, workload.clients
        listener = 1 if clients.connect_rate > 0 else 0
        size = 2 * clients.connections + server.threads + listener + 64
        base = profile or load_profile()
        self.kernel = Kernel(replace(base, fd_table_size=size))
        self.kernel.tracing = False
        #: At most this many system calls, the server's and the clients' (checked
        #: as the server's are charged and as each request is sent): a busy loop,
        #: or a flood of requests, ends the run here.
        self.budget = budget
        self.server_calls = 0
        self.env: simpy.Environment = (CountingEnvironment() if count_simpy_events
                                       else simpy.Environment())
        #: With ``explain``, the model's explanation of the run's first events,
        #: each line stamped with its virtual time.
        self.explanation: list[str] = []
        self.transport = clients.transport
        # What the per-request paths read, as plain attributes.
        self.read_size = server.read_size
        self.drain = server.drain
        self.request_size = clients.request_size
        self.response_size = clients.response_size
        self.threads: list[_Thread] = []
        self.conns: list[_Conn] = []
        self.by_sfd: dict[int, _Conn] = {}
        self.by_data: dict[str, _Conn] = {}  # epoll_data: the connection's index, as text
        self.lfd = -1
        self.port = 0
        self.latencies: list[float] = []
        self.requests = 0
        self.answered = 0
        self.accepts = 0
        self.connects = 0
        self.client_syscalls = 0
        self.client_ready: set[int] = set()
        #: The clients' process sleeps in a readiness call of its own, and wakes
        #: as the server's threads do: after the scheduler's delay.
        self.client_task = Task(self.env, "clients")
        self.client_task.wake_delay = self.costs.wakeup_delay
        self.stopped_early: str | None = None
        self.setup_wall = 0.0
        self.run_wall = 0.0

    # -- setup -------------------------------------------------------------------

    def setup(self) -> None:
        began = time.perf_counter()
        w, k = self.w, self.kernel
        server, clients = w.server, w.clients
        epoll_loop = server.loop.startswith("epoll")
        for i in range(server.threads):
            task = Task(self.env, f"server{i}", self.kernel.trace)
            task.wake_delay = self.costs.wakeup_delay
            self.threads.append(_Thread(i, task))
        shared = epoll_loop and server.sharing == "shared-epoll"
        if epoll_loop:
            epfds = [k.epoll_create(f"e{i}") for i in range(1 if shared else server.threads)]
            for th in self.threads:
                th.epfd = epfds[0 if shared else th.index]
        flags = EPOLLIN
        if server.loop == "epoll-et":
            flags |= EPOLLET
        elif server.loop == "epoll-oneshot":
            flags |= EPOLLONESHOT
        if clients.connect_rate > 0:
            self.lfd, self.port = k.listen("L")
            # The listener's interest has the loop's mode, as the connections' do.
            lflags = flags | (EPOLLEXCLUSIVE if server.exclusive else 0)
            if epoll_loop:
                for epfd in sorted({th.epfd for th in self.threads}):
                    k.epoll_ctl(epfd, "add", self.lfd, lflags, "L")
        step = max(1, clients.connections // 20)
        for i in range(clients.connections):
            if self.transport == "unix":
                cfd, sfd = k.socketpair(f"c{i}", f"s{i}", "stream")
            else:
                cfd, sfd = k.tcppair(f"c{i}", f"s{i}")
            thread = 0 if shared else i % server.threads
            conn = _Conn(i, cfd, sfd, k.fdt.fget(sfd), thread)
            self.conns.append(conn)
            self.by_sfd[sfd] = conn
            self.by_data[str(i)] = conn
            self.threads[thread].conns.append(conn)
            if epoll_loop:
                k.epoll_ctl(self.threads[thread].epfd, "add", sfd, flags, str(i))
            if self.progress is not None and i % step == step - 1:
                self.progress(f"setup: {i + 1:,} of {clients.connections:,} connections")
        active = round(clients.active * clients.connections)
        self.active = [self.conns[j * clients.connections // active] for j in range(active)] \
            if active else []
        for conn in self.active:
            sock = k.fdt.fget(conn.cfd)
            assert isinstance(sock, UnixSock | TcpSock)
            sock.wq.add(WaitQueueEntry(self._client_wake, conn))
        for th in self.threads:
            loop = self._epoll_thread if epoll_loop else self._scan_thread
            self.env.process(loop(th))
        if active:
            self.env.process(self._clients())
            self.env.process(self._client_io())
        if clients.connect_rate > 0:
            self.env.process(self._connector())
        if self.explain > 0:
            self.kernel.on_trace = self._explain_line
            self.kernel.tracing = True
        self.setup_wall = time.perf_counter() - began

    # -- the server ----------------------------------------------------------------

    def _charge(self, th: _Thread, cost: float) -> simpy.Event:
        """Spend ``cost`` of the thread's CPU; the event that ends when it is spent.

        ``busy_until`` follows the thread's clock from its last readiness call
        (set there), adding each charge as SimPy adds the timeout's delay, so
        it equals SimPy's own time without asking for it on every call.
        """
        th.cpu += cost
        th.busy_until += cost  # the part beyond the run's end is not spent
        self.server_calls += 1
        if self.server_calls + self.client_syscalls > self.budget:
            raise _BudgetExceeded
        # simpy.Timeout itself: env.timeout makes a bound method on every access.
        return Timeout(self.env, cost)

    def _epoll_thread(self, th: _Thread) -> Proc:
        """``epoll_wait``, then serve each event; ctl MOD where the loop needs it."""
        w, k, costs = self.w, self.kernel, self.costs
        timeout = math.inf if w.server.timeout < 0 else w.server.timeout
        task = th.task
        oneshot = w.server.loop == "epoll-oneshot"
        while True:
            sleeps = task.sleeps
            events = yield from ep_poll(k, task, th.epfd, w.server.maxevents, timeout)
            th.busy_until = self.env.now
            cost = costs.epoll_wait_call(len(events), _asleep(task, sleeps))
            th.readiness += 1
            th.readiness_cpu += cost
            if k.tracing:
                k.trace(f"server{th.index}: epoll_wait returns {len(events)} event(s), "
                        f"charged {cost * 1e6:.2f} us")
            th.report, th.served = events, 0
            yield self._charge(th, cost)
            for data, revents in events:
                if data == "L":
                    yield from self._accept(th)
                    if oneshot:  # re-arm the listener
                        k.epoll_ctl(th.epfd, "mod", self.lfd, EPOLLIN | EPOLLONESHOT, "L")
                        yield self._charge(th, costs.epoll_ctl_mod)
                else:
                    conn = self.by_data[data]
                    yield from self._serve(th, conn, revents)
                    if oneshot or (conn.out > 0) != conn.want_out:
                        yield from self._rearm(th, conn)
                th.served += 1

    def _rearm(self, th: _Thread, conn: _Conn) -> Proc:
        """Ask for EPOLLOUT while a response is unsent, or stop asking; re-arm a
        one-shot interest (the caller asks only when one of these is due)."""
        loop = self.w.server.loop
        want_out = conn.out > 0
        events = EPOLLIN | (EPOLLOUT if want_out else 0)
        events |= EPOLLET if loop == "epoll-et" else 0
        events |= EPOLLONESHOT if loop == "epoll-oneshot" else 0
        self.kernel.epoll_ctl(th.epfd, "mod", conn.sfd, events, str(conn.index))
        conn.want_out = want_out
        yield self._charge(th, self.costs.epoll_ctl_mod)

    def _scan_thread(self, th: _Thread) -> Proc:
        """``poll`` or ``select`` over every descriptor this thread serves."""
        w, k, costs = self.w, self.kernel, self.costs
        timeout = math.inf if w.server.timeout < 0 else w.server.timeout
        task = th.task
        use_select = w.server.loop == "select"
        while True:
            if th.fds_dirty:
                th.pollfds = [(c.sfd, POLLIN | (POLLOUT if c.out else 0)) for c in th.conns]
                if self.lfd >= 0:
                    th.pollfds.append((self.lfd, POLLIN))
                th.fds_dirty = False
            fds = th.pollfds
            sleeps, registered = task.sleeps, task.registered
            ready: list[tuple[int, int]]
            if use_select:
                rset = [fd for fd, _ in fds]
                wset = [fd for fd, ev in fds if ev & POLLOUT]
                r, wr, _ = yield from do_select(k, task, (rset, wset, []), timeout)
                ready = [(fd, (EPOLLIN if fd in r else 0) | (EPOLLOUT if fd in wr else 0))
                         for fd in sorted(r | wr)]
                found = len(r) + len(wr)
            else:
                masks = yield from do_poll(k, task, fds, timeout)
                ready = [(fd, m) for (fd, _), m in zip(fds, masks, strict=True) if m]
                found = len(ready)
            th.busy_until = self.env.now
            cost = costs.readiness_call(w.server.loop, len(fds), found,
                                        task.registered - registered, _asleep(task, sleeps))
            th.readiness += 1
            th.readiness_cpu += cost
            th.report, th.served = [(str(fd), m) for fd, m in ready], 0
            yield self._charge(th, cost)
            for fd, revents in ready:
                if fd == self.lfd:
                    yield from self._accept(th)
                else:
                    conn = self.by_sfd[fd]
                    had_out = conn.out > 0
                    yield from self._serve(th, conn, revents)
                    if (conn.out > 0) != had_out:
                        th.fds_dirty = True
                th.served += 1

    def _serve(self, th: _Thread, conn: _Conn, revents: int) -> Proc:
        """Read what the report says is there, answer whole requests, send."""
        k, costs, transport = self.kernel, self.costs, self.transport
        read_size, request_size = self.read_size, self.request_size
        response_size = self.response_size
        if revents & READ_EVENTS:
            while True:
                got = k.recv_errno(conn.sfd, read_size)
                if got < 0:
                    yield self._charge(th, costs.recv(transport, 1))
                    if got == -errno.EAGAIN:
                        break  # drained
                    return
                yield self._charge(th, costs.recv(transport, got))
                if got == 0:
                    break
                conn.inbuf += got
                whole, conn.inbuf = divmod(conn.inbuf, request_size)
                if whole:
                    if response_size:
                        conn.out += whole * response_size
                    else:
                        self._answered(conn, whole)
                if not self.drain:
                    break
        if conn.out and (revents & (EPOLLOUT | READ_EVENTS)):
            while conn.out:
                try:
                    sent = k.send(conn.sfd, conn.out)
                except OSError as exc:
                    if not isinstance(exc, BlockingIOError):
                        conn.out = 0  # the peer is gone: nothing more to send
                    sent = -1
                # Never yield inside an except block (see _accept).
                if sent < 0:
                    yield self._charge(th, costs.send(transport, 1))
                    break
                conn.out -= sent
                yield self._charge(th, costs.send(transport, sent))

    def _accept(self, th: _Thread) -> Proc:
        """Accept (until EAGAIN if the server drains) and close: a short-lived connection.

        The failed accept is charged after the ``except`` block, not inside it:
        a generator compiled by mypyc that is suspended inside an ``except``
        block leaves the exception it handles set as the thread's current one
        (mypyc restores it only when the block is left, not across a
        ``yield``; mypyc/mypyc#347: "yield inside except and finally blocks is
        still broken"). SimPy then resumes other processes with it set, every
        later OSError takes it as its ``__context__``, and the chain of every
        EAGAIN of the run stays alive: 250 MB and quadratic time for eight
        virtual seconds of herd.toml. tests/test_compiled.py checks that no
        compiled module yields inside ``except`` or ``finally``.
        """
        k, costs = self.kernel, self.costs
        while True:
            try:
                fd = k.accept(self.lfd, "a")
            except OSError:
                fd = -1  # EAGAIN: another thread took the connection
            if fd < 0:
                yield self._charge(th, costs.accept_tcp)
                return
            self.accepts += 1
            yield self._charge(th, costs.accept_tcp)
            k.close(fd)
            yield self._charge(th, costs.close)
            if not self.w.server.drain:
                return

    # -- the clients ---------------------------------------------------------------

    def _clients(self) -> Proc:
        """Requests at seeded Poisson (or evenly spaced) times on the active connections."""
        clients = self.w.clients
        rng = random.Random(self.w.seed)
        total = clients.rate * len(self.active)
        count = len(self.active)
        j = 0
        poisson = clients.arrivals == "poisson"
        size = clients.request_size
        env, active = self.env, self.active
        now = env.now  # kept by adding the gaps, as SimPy adds a timeout's delay
        draws = Arrivals(rng, total, count)
        while True:
            gap = draws.gap() if poisson else 1.0 / total
            yield Timeout(env, gap)
            now += gap
            if poisson:
                conn = active[draws.index()]
            else:
                conn = active[j % count]
                j += 1
            self.requests += 1
            if self.server_calls + self.client_syscalls > self.budget:
                raise _BudgetExceeded
            if self.kernel.tracing:
                self.kernel.trace(f"client c{conn.index} sends {size} bytes")
            conn.sent_at.append(now)
            conn.backlog += size
            self._client_send(conn)

    def _client_send(self, conn: _Conn) -> None:
        while conn.backlog:
            self.client_syscalls += 1
            try:
                conn.backlog -= self.kernel.send(conn.cfd, conn.backlog)
            except OSError:
                return  # full (EAGAIN): resumes when the model says it is writable

    def _client_wake(self, entry: WaitQueueEntry, key: int | None) -> int:
        """A client socket's wait-queue callback: note it, wake the client process.

        Like ``pollwake``, it only marks and wakes; the reading happens in the
        client process, never inside the sender's call.
        """
        conn: _Conn = entry.private
        if key is not None and not key & (EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLERR):
            return 0
        if key is not None and not key & (EPOLLIN | EPOLLHUP | EPOLLERR) and not conn.backlog:
            return 0
        self.client_ready.add(conn.index)
        return self.client_task.try_to_wake_up()

    def _client_io(self) -> Proc:
        k, response_size = self.kernel, self.response_size
        while True:
            while self.client_ready:
                conn = self.conns[self.client_ready.pop()]
                if conn.backlog:
                    self._client_send(conn)
                while True:
                    self.client_syscalls += 1
                    got = k.recv_errno(conn.cfd, CLIENT_READ)
                    if got < 0:
                        break
                    if response_size:
                        conn.resp_got += got
                        whole, conn.resp_got = divmod(conn.resp_got, response_size)
                        self._answered(conn, whole)
                    if got < CLIENT_READ:
                        break  # a short read of a stream socket: drained (or EOF)
            yield from self.client_task.sleep(math.inf)

    def _answered(self, conn: _Conn, whole: int) -> None:
        now = self.env.now
        for _ in range(min(whole, len(conn.sent_at))):
            self.latencies.append(now - conn.sent_at.popleft())
            self.answered += 1

    def _connector(self) -> Proc:
        """Short-lived connections at Poisson times: connect, then close at once."""
        rng = random.Random(self.w.seed + 1)
        k = self.kernel
        while True:
            yield self.env.timeout(rng.expovariate(self.w.clients.connect_rate))
            # The model's listener has no backlog limit (XX: somaxconn and SYN
            # drops): a connection not accepted yet waits in its accept queue.
            fd, _refused = k.connect("k", self.port)
            self.connects += 1
            k.close(fd)
            self.client_syscalls += 2

    # -- running ---------------------------------------------------------------------

    def run(self) -> Measures:
        if not self.threads:
            self.setup()
        duration = self.w.duration
        gc.collect()
        gc.freeze()  # the setup's objects live to the end: spare the collector
        began = time.perf_counter()
        try:
            steps = 20 if self.progress is not None else 1
            for i in range(1, steps + 1):
                self.env.run(until=duration * i / steps)
                if self.progress is not None:
                    self.progress(f"run: {duration * i / steps:.3g} of {duration:g} "
                                  f"virtual seconds, {self.model_events():,} model events")
        except _BudgetExceeded:
            self.stopped_early = (f"stopped at {self.env.now:.6g} of {duration:g} virtual "
                                  f"seconds: more than {self.budget:,} system calls")
        finally:
            gc.unfreeze()
        self.run_wall = time.perf_counter() - began
        return self.measures()

    def measures(self) -> Measures:
        elapsed = self.env.now if self.stopped_early else self.w.duration
        elapsed = max(elapsed, 1e-12)
        threads = self.threads
        syscalls = self.server_calls
        readiness = sum(t.readiness for t in threads)
        wakeups = sum(t.task.wakeups for t in threads)
        ops = self.answered + self.accepts
        lat = sorted(self.latencies)
        unread = stranded = 0
        in_hand = {self._reported(t, data) for t in threads for data, _ in t.report[t.served:]}
        edge = self.w.server.loop in ("epoll-et", "epoll-oneshot")
        for conn in self.conns:
            left = _unread(conn.sock)
            unread += left
            if left and edge and conn.index not in in_hand and self._forgotten(conn):
                stranded += left
        cpu = [t.cpu - max(0.0, t.busy_until - elapsed) for t in threads]
        return Measures(
            duration=elapsed,
            requests=self.requests,
            answered=self.answered,
            unanswered=self.requests - self.answered,
            accepts=self.accepts,
            connects=self.connects,
            unaccepted=self.connects - self.accepts,
            operations=ops,
            cpu=sum(cpu) / elapsed,
            cpu_max_thread=max(cpu, default=0.0) / elapsed,
            syscalls=syscalls,
            readiness_calls=readiness,
            wakeups=wakeups,
            calls_per_op=syscalls / ops if ops else None,
            wakeups_per_op=wakeups / ops if ops else None,
            readiness_cost_us=(1e6 * sum(t.readiness_cpu for t in threads) / readiness
                               if readiness else None),
            latency_p50_us=_pct(lat, 0.50),
            latency_p90_us=_pct(lat, 0.90),
            latency_p99_us=_pct(lat, 0.99),
            latency_max_us=lat[-1] * 1e6 if lat else None,
            unread_bytes=unread,
            stranded_bytes=stranded,
            blocked_bytes=sum(c.backlog for c in self.conns),
            events=(self.env.events if isinstance(self.env, CountingEnvironment)
                    else None),
            model_events=self.model_events(),
            setup_wall_s=self.setup_wall,
            run_wall_s=self.run_wall,
            stopped_early=self.stopped_early,
        )

    def _explain_line(self, line: str) -> None:
        """An explanation line, stamped with virtual time; tracing stops at ``explain`` lines."""
        self.explanation.append(f"{self.env.now * 1e6:12.3f} us  {line}")
        if len(self.explanation) >= self.explain:
            self.kernel.tracing = False

    def model_events(self) -> int:
        """The kernel events the run simulated: every system call (the server's
        and the clients'), every wait-queue callback run, every timer that
        ended a sleep."""
        tasks = [t.task for t in self.threads] + [self.client_task]
        return (self.server_calls + self.client_syscalls
                + self.kernel.callbacks + sum(t.timer_ends for t in tasks))

    def _reported(self, th: _Thread, data: str) -> int:
        """The connection index a report entry names (-1 for the listener)."""
        conn = self.by_data.get(data) if th.epfd >= 0 else self.by_sfd.get(int(data))
        return -1 if conn is None else conn.index

    def _forgotten(self, conn: _Conn) -> bool:
        """No report will come: the ET item is off the ready list, or the one-shot is disarmed."""
        ep = self.kernel.fdt.fget(self.threads[conn.thread].epfd)
        assert isinstance(ep, EventPoll)
        epi = ep.items.get((conn.sock.serial, conn.sfd))
        if epi is None:
            return True
        return not epi.linked or not (epi.events & ~EP_PRIVATE_BITS)


def _asleep(task: Task, sleeps_before: int) -> float | None:
    """How long the call just made slept, or None if it did not sleep."""
    return task.last_asleep if task.sleeps != sleeps_before else None


def _unread(sock: Any) -> int:
    if isinstance(sock, UnixSock):
        return sum(skb.len - skb.consumed for skb in sock.rcvq)
    if isinstance(sock, TcpSock):
        return sock.rcv_bytes
    return 0


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index] * 1e6


def run_workload(workload: Workload, costs: CostModel | None = None,
                 profile: Profile | None = None, *, budget: int = DEFAULT_CALL_BUDGET,
                 progress: Callable[[str], None] | None = None) -> Measures:
    """Run ``workload`` on a fresh model kernel; the measures of the run."""
    run = WorkloadRun(workload, costs, profile, budget=budget, progress=progress)
    run.setup()
    return run.run()


__all__ = ["METRICS", "Measures", "Metric", "WorkloadRun", "run_workload"]
