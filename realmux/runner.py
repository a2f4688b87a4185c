"""Run a scenario on the real kernel, statement by statement.

Each statement becomes the system call it names, through ``os``,
``select.select``, ``select.poll`` and, for epoll, ``select.epoll`` to
create and ``ctypes`` for ``epoll_ctl``/``epoll_wait`` (never
``selectors``, which folds HUP and ERR into "readable" and has no
edge-triggered or one-shot mode; see docs/realmux.md for why epoll's calls
are made through ``ctypes``). Where Python offers a call only on a
socket object (socket options, ``shutdown``, ``accept4``) it is made on the
bare number through :mod:`realmux.libc`, so that no Python object ever owns
a descriptor of the scenario (see that module for why).

Determinism without sleeping:

* AF_UNIX sockets and pipes are synchronous; nothing to wait for.
* TCP settles on conditions read from the kernel after every statement
  (:mod:`realmux.tcpsettle`), each wait bounded.
* ``spawn`` returns once the waiter thread sleeps in its system call
  (:mod:`realmux.waiters`).
* Descriptor numbers come from a private, lowest-free range
  (:mod:`realmux.fdspace`).

A wait with ``timeout=inf`` is bounded by the watchdog and yields ``HUNG``;
every descriptor the run opened is closed when it ends, whatever happened.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import math
import os
import platform
import select
import socket
import struct
import time
from collections.abc import Callable
from importlib import metadata

from muxsim.lang.errors import EnvironmentLimit, InvariantError, ScenarioError
from muxsim.lang.outcomes import Hung, Number, Ok, Outcome
from muxsim.lang.parser import MAX_WAITERS
from muxsim.lang.results import RunOptions, ScenarioResult, StatementResult
from muxsim.lang.syntax import (
    Accept,
    Action,
    Close,
    Connect,
    Ctl,
    Drain,
    Dup,
    Epoll,
    Fill,
    Join,
    Listen,
    Pipe,
    Poll,
    Recv,
    Scenario,
    Select,
    Send,
    SetOption,
    Shutdown,
    Sleep,
    Socket,
    SocketPair,
    SoError,
    Spawn,
    Statement,
    TcpPair,
    Wait,
    WaitingCall,
)
from realmux import libc, tcpsettle
from realmux.calls import Failed, Prepared, PreparedPoll, PreparedSelect, PreparedWait
from realmux.errnames import errno_name
from realmux.fdspace import FdSpace, FileKind, OpenFile, ensure_limit, private_need
from realmux.waiters import Waiter, others_switches

CHUNK = 65536
_ZEROS = bytes(CHUNK)
F_SETPIPE_SZ = 1031
TCP_NOTSENT_LOWAT = 25
#: How long TCP may take to settle after a statement, and a connect to finish.
SETTLE_BOUND = 2.0
#: fill and drain stop after this many bytes (a guard against a bottomless peer).
FILL_LIMIT = 1 << 30
#: Descriptors a spawned waiter may hold above the scenario ranges (see _Run.spawn).
PRIVATE_PER_WAITER = 4
#: Rounds of "until EAGAIN, then let TCP settle" for fill and drain on TCP.
TCP_ROUNDS = 64

_SHUT = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}
_SOCKOPT = {
    "sndbuf": (socket.SOL_SOCKET, socket.SO_SNDBUF),
    "rcvbuf": (socket.SOL_SOCKET, socket.SO_RCVBUF),
    "rcvlowat": (socket.SOL_SOCKET, socket.SO_RCVLOWAT),
    "notsent_lowat": (socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT),
}


def _ebadf() -> OSError:
    return OSError(errno.EBADF, os.strerror(errno.EBADF))


@functools.cache
def _version() -> str:
    try:
        return metadata.version("muxsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def environment() -> dict[str, str]:
    """What a trace header says about where the run happened."""
    return {
        "backend": "real",
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "muxsim": _version(),
    }


class RealKernel:
    """The real-kernel backend: ``muxsim run --on real``."""

    name = "real"

    def environment(self) -> dict[str, str]:
        return environment()

    def open(self, options: RunOptions | None = None) -> _Run:
        """A session that runs statements one at a time; close it when done."""
        return _Run(Scenario(()), options or RunOptions())

    def run(self, scenario: Scenario, options: RunOptions | None = None) -> ScenarioResult:
        opts = options or RunOptions()
        began = time.monotonic()
        # Up front, so that a limit too low refuses the run before it starts.
        spawns = sum(1 for st in scenario.statements if isinstance(st.action, Spawn))
        if spawns:
            ensure_limit(private_need(PRIVATE_PER_WAITER * spawns))
        run = _Run(scenario, opts)
        total = len(scenario.statements)
        done: list[StatementResult] = []
        try:
            for statement in scenario.statements:
                done.append(run.execute(statement))
                if opts.progress is not None:
                    opts.progress(len(done), total)
        finally:
            run.close()
        results = tuple(done)
        return ScenarioResult(scenario, self.name, results, time.monotonic() - began,
                              environment())


class _Run:
    """The state of one scenario run on the real kernel."""

    def __init__(self, scenario: Scenario, options: RunOptions) -> None:
        self.scenario = scenario
        self.options = options
        self.fds = FdSpace()
        self.names: dict[str, int | None] = {}
        self.listen_addr: dict[str, tuple[str, int]] = {}
        # epoll data token -> the name used at the ctl add/mod that stored it.
        self.interest_names: dict[int, str] = {}
        self.waiters: dict[str, Waiter] = {}
        self.pending: list[tcpsettle.Condition] = []
        self.notes: list[str] = []
        self.waiters_quiet = True  # every waiter was asleep or done after the last statement
        #: The waiters' run counts at that quiet moment (-1: finished).
        self.quiet_counts: dict[str, int] = {}
        #: The other threads' context switches then (None: not known quiet).
        self.quiet_switches: int | None = None
        self.spawned: Waiter | None = None  # started by the statement running now

    # -- bookkeeping -----------------------------------------------------

    def close(self) -> None:
        for waiter in self.waiters.values():
            waiter.cancel()
        self.waiters.clear()
        self.fds.release()

    def fd(self, name: str) -> int:
        """The number a name refers to; -1 for a name bound to nothing (failed accept)."""
        number = self.names.get(name)
        return -1 if number is None else number

    def need_fd(self, name: str) -> int:
        number = self.fd(name)
        if number < 0:
            raise _ebadf()
        return number

    def bind(self, name: str, fd: int | None) -> None:
        self.names[name] = fd

    def new_socket(self, family: int, kind: int, file_kind: FileKind,
                   sock: socket.socket | None = None) -> tuple[int, OpenFile]:
        s = sock if sock is not None else socket.socket(family, kind)
        s.setblocking(False)
        if file_kind == "tcp":
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        file = OpenFile(file_kind)
        return self.fds.install(s.detach(), file), file

    def file_of(self, fd: int) -> OpenFile | None:
        return self.fds.files.get(fd)

    # -- the statement loop ----------------------------------------------

    def execute(self, statement: Statement) -> StatementResult:
        began = time.monotonic()
        self.notes = []
        try:
            outcome = self.dispatch(statement.action, statement)
        except OSError as exc:
            outcome = errno_name(exc)
        self.settle()
        spawned, self.spawned = self.spawned, None
        self.quiesce_waiters(spawned)
        return StatementResult(statement, outcome, time.monotonic() - began,
                               tuple(self.notes))

    def settle(self) -> None:
        if not self.fds.tcp_numbers and not self.pending:
            return
        connected = self.fds.numbers_of("tcp")
        if not tcpsettle.settle(connected, self.pending, SETTLE_BOUND):
            self.notes.append(f"tcp did not settle within {SETTLE_BOUND}s")
        self.pending = []

    def quiesce_waiters(self, spawned: Waiter | None = None) -> None:
        """Let every waiter a statement woke run until it sleeps again or finishes.

        The model does the same (it runs every process woken at the current
        instant before the next statement), so a woken waiter's harvest never
        races the statements that follow. A woken waiter may wake another
        (``ep_done_scan`` passes a level-triggered event on), so one look is
        not enough: the waiters are quiet when two looks in a row find each
        one asleep or finished *and* not scheduled in between (the thread's
        run count in ``/proc/self/task/<tid>/schedstat`` has not moved).

        Both are cheap when the statement woke nobody, the common case: the
        first of the two looks is the last quiet one, from the end of the
        previous statement (a waiter the statement woke is runnable or has
        run since); and before any per-waiter count is read, the sum of the
        other threads' context switches is compared with its value then
        (:func:`realmux.waiters.others_switches`). ``spawned``: the waiter
        this statement started, whose own switches do not count.
        """
        if not self.waiters:
            self.waiters_quiet = True
            self.quiet_counts = {}
            self.quiet_switches = None
            return
        if self.unchanged_since_quiet(spawned):
            self.waiters_quiet = True
            return
        deadline = time.monotonic() + SETTLE_BOUND
        previous: dict[str, int | None] = {name: count for name, count in self.quiet_counts.items()
                                           if name in self.waiters}
        if spawned is not None:
            previous[spawned.name] = spawned.look(0.0)
        quiet = False
        while True:
            switches = others_switches()
            counts = {name: waiter.look(max(0.0, deadline - time.monotonic()))
                      for name, waiter in self.waiters.items()}
            if None not in counts.values() and counts == previous:
                quiet = True
                break
            if time.monotonic() >= deadline:
                break
            previous = counts
        if not quiet:
            self.notes.append("waiters did not settle within "
                              f"{SETTLE_BOUND}s (a waiter kept running)")
        self.quiet_counts = {k: v for k, v in counts.items() if v is not None} if quiet else {}
        # Read before the look that found them quiet: nothing ran since.
        self.quiet_switches = switches if quiet else None
        self.waiters_quiet = quiet

    def unchanged_since_quiet(self, spawned: Waiter | None) -> bool:
        """No waiter has run since they were last quiet, known without reading their counts."""
        if self.quiet_switches is None:
            return False
        own = count = 0
        if spawned is not None:
            seen_count = spawned.look(0.0)
            if seen_count is None or seen_count < 0:
                return False
            seen = spawned.switches()
            if seen is None:
                return False
            own, count = seen, seen_count
        if not all(w.asleep_now() for w in self.waiters.values() if w is not spawned):
            return False
        now = others_switches()
        if now is None or now != self.quiet_switches + own:
            return False
        if spawned is not None:
            # The new waiter's switches were read first: they must not have moved.
            if not spawned.asleep_now() or spawned.switches() != own:
                return False
            self.quiet_counts[spawned.name] = count
            self.quiet_switches = now  # the new waiter's switches count from here on
        return True

    def timers_pending(self) -> float | None:
        """Seconds until the last running waiter's finite timeout runs out, if any."""
        now = time.monotonic()
        left = [w.began + w.timeout - now for w in self.waiters.values()
                if not w.finished and not math.isinf(w.timeout)]
        return max(0.0, max(left)) if left else None

    def quiesce_between_calls(self) -> None:
        """Between the calls of a ``fill`` or ``drain``, woken waiters run first.

        A waiter woken by one chunk may change what the next chunk meets (a
        poll that held the last reference to the peer returns and lets it
        go). Running it to sleep or completion before the next call makes the
        total the same on every run, and the model does the same.
        """
        if any(not w.finished for w in self.waiters.values()):
            self.quiesce_waiters()

    def dispatch(self, action: Action, statement: Statement) -> Outcome:
        # The commonest statements first, by exact type (a match over two
        # dozen classes costs microseconds per statement).
        atype = type(action)
        if atype is Send:
            assert isinstance(action, Send)
            return Number(self.write(self.need_fd(action.x), action.n))
        if atype is Recv:
            assert isinstance(action, Recv)
            return Number(self.read(self.need_fd(action.x), action.n))
        if atype is Wait or atype is Poll or atype is Select:
            assert isinstance(action, Wait | Poll | Select)
            return self.wait_call(action, self.options.watchdog)
        match action:
            case SocketPair(a, b, kind):
                stype = socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM
                fkind: FileKind = "unix-stream" if kind == "stream" else "unix-dgram"
                self.fds.need(2)  # socketpair(2) makes both descriptors or neither
                left, right = socket.socketpair(socket.AF_UNIX, stype)
                self.bind(a, self.new_socket(0, 0, fkind, left)[0])
                self.bind(b, self.new_socket(0, 0, fkind, right)[0])
                return Ok()
            case TcpPair(a, b):
                return self.tcppair(a, b)
            case Socket(x, kind):
                family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
                stype = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
                sk: FileKind = {"tcp": "tcp", "unix": "unix-stream", "udp": "udp"}[kind]  # type: ignore[assignment]
                self.bind(x, self.new_socket(family, stype, sk)[0])
                return Ok()
            case Listen(name):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0))
                s.listen(128)
                addr = s.getsockname()
                fd, file = self.new_socket(0, 0, "tcp-listener", s)
                file.local = addr
                self.listen_addr[name] = addr
                self.bind(name, fd)
                return Ok()
            case Connect(client, listener):
                return self.connect(client, listener, statement)
            case Accept(listener, server):
                return self.accept(listener, server)
            case Pipe(r, w):
                self.fds.need(2)  # pipe2(2) makes both descriptors or neither
                rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                self.bind(r, self.fds.install(rfd, OpenFile("pipe-r")))
                self.bind(w, self.fds.install(wfd, OpenFile("pipe-w")))
                return Ok()
            case Epoll(e):
                ep = select.epoll()
                try:
                    raw = os.dup(ep.fileno())
                finally:
                    ep.close()
                self.bind(e, self.fds.install(raw, OpenFile("epoll")))
                return Ok()
            case Dup(new, old):
                self.bind(new, None)
                self.bind(new, self.fds.dup(self.need_fd(old)))
                if old in self.listen_addr:  # a dup of a listener: the same address
                    self.listen_addr[new] = self.listen_addr[old]
                return Ok()
            case Close(x):
                fd = self.need_fd(x)
                conditions = self.close_conditions(fd)
                self.bound_linger(fd)
                self.fds.close(fd)
                self.pending.extend(conditions)
                return Ok()
            case Send(x, n):
                return Number(self.write(self.need_fd(x), n))
            case Recv(x, n):
                return Number(self.read(self.need_fd(x), n))
            case Fill(x):
                return Number(self.fill(self.need_fd(x)))
            case Drain(x):
                return Number(self.drain(self.need_fd(x)))
            case Shutdown(x, how):
                libc.shutdown(self.need_fd(x), _SHUT[how])
                return Ok()
            case SetOption(x, option, value):
                self.set_option(self.need_fd(x), option, value)
                return Ok()
            case SoError(x):
                code = libc.getsockopt_int(self.need_fd(x), socket.SOL_SOCKET, socket.SO_ERROR)
                return Number(0) if code == 0 else errno_name(OSError(code, os.strerror(code)))
            case Ctl(e, op, x, mask):
                return self.ctl(e, op, x, int(mask or 0))
            case Wait() | Poll() | Select():
                return self.wait_call(action, self.options.watchdog)
            case Spawn(t, call):
                return self.spawn(t, call, statement)
            case Join(t):
                waiter = self.waiters.pop(t, None)
                self.quiet_counts.pop(t, None)  # a later waiter may take the name
                if waiter is None:
                    raise self.scenario_error(statement, f"no running waiter {t!r}",
                                              "spawn it first")
                if (not waiter.finished and math.isinf(waiter.timeout) and self.waiters_quiet
                        and self.timers_pending() is None):
                    # Asleep since the last statement, with no timer and no one
                    # left to wake it: it never returns.
                    waiter.cancel()
                    return Hung()
                return waiter.join(self.options.watchdog)
            case Sleep(seconds):
                time.sleep(seconds)
                return Ok()
        raise InvariantError(f"statement not handled by realmux: {action!r}")

    def scenario_error(self, statement: Statement, message: str, hint: str) -> ScenarioError:
        return ScenarioError(statement.where.path, statement.where.line, 1, message, hint)

    # -- objects ---------------------------------------------------------

    def tcppair(self, a: str, b: str) -> Outcome:
        self.fds.need(2)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                client.settimeout(SETTLE_BOUND)
                client.connect(lsock.getsockname())
                lsock.settimeout(SETTLE_BOUND)
                server, _ = lsock.accept()
            except BaseException:
                client.close()
                raise
            cfd, cfile = self.new_socket(0, 0, "tcp", client)
            self.bind(a, cfd)
            sfd, sfile = self.new_socket(0, 0, "tcp", server)
            self.bind(b, sfd)
        cfile.local, cfile.remote = _addresses(cfd)
        sfile.local, sfile.remote = _addresses(sfd)
        return Ok()

    def held_listener(self, addr: tuple[str, int]) -> int | None:
        for fd, file in self.fds.files.items():
            if file.kind == "tcp-listener" and file.local == addr:
                return fd
        return None

    def connect(self, client: str, listener: str, statement: Statement) -> Outcome:
        addr = self.listen_addr.get(listener)
        if addr is None:
            raise self.scenario_error(statement, f"{listener!r} is not a listener",
                                      "connect C L needs L made by 'listen L'")
        fd, file = self.new_socket(socket.AF_INET, socket.SOCK_STREAM, "tcp")
        self.bind(client, fd)
        lfd = self.held_listener(addr)
        queued = tcpsettle.accept_queue_length(lfd) if lfd is not None else 0
        view = socket.socket(fileno=fd)
        try:
            code = view.connect_ex(addr)
        finally:
            view.detach()
        if code == errno.EINPROGRESS:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if not poller.poll(SETTLE_BOUND * 1000):
                self.notes.append("connect still in progress after its bound")
                return errno_name(OSError(errno.EINPROGRESS, os.strerror(errno.EINPROGRESS)))
            # The handshake may wake waiters (the listener turns readable), and
            # what they do may reset the new connection (a poll that held the
            # last reference to a closed listener lets it go). The outcome is
            # the error pending once all that has settled; the model agrees.
            self.settle()
            self.quiesce_waiters()
            code = libc.getsockopt_int(fd, socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
        file.local, file.remote = _addresses(fd)
        if lfd is not None:
            # The client is connected once it has the SYN-ACK; the listener
            # queues the child when the final ACK arrives (tcp_check_req).
            listener_fd = lfd
            self.pending.append(
                lambda: _safe(lambda: tcpsettle.accept_queue_length(listener_fd) > queued))
        return Ok()

    def accept(self, listener: str, server: str) -> Outcome:
        self.bind(server, None)
        new = libc.accept4(self.need_fd(listener), socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            libc.setsockopt(new, socket.IPPROTO_TCP, socket.TCP_NODELAY, struct.pack("i", 1))
        except OSError:
            os.close(new)
            raise
        file = OpenFile("tcp")
        fd = self.fds.install(new, file)
        self.bind(server, fd)
        file.local, file.remote = _addresses(fd)
        return Ok()

    def close_conditions(self, fd: int) -> list[tcpsettle.Condition]:
        """What must become visible on the peers we hold once ``fd`` is closed."""
        file = self.file_of(fd)
        if file is None or not self.fds.is_last_reference(fd):
            return []
        watched: list[int] = []
        if file.kind == "tcp" and file.remote is not None:
            peer = self.held_peer(file)
            if peer is not None and self.close_sends_segment(fd):
                watched.append(peer)
        elif file.kind == "tcp-listener":
            # inet_csk_listen_stop resets every child still in the accept queue.
            for cfd, cfile in self.fds.files.items():
                if (cfile.kind == "tcp" and cfile.remote == file.local
                        and self.held_peer(cfile) is None
                        and _state(cfd) == tcpsettle.TCP_ESTABLISHED):
                    watched.append(cfd)
        conditions: list[tcpsettle.Condition] = []
        for peer_fd in watched:
            before = _state(peer_fd)
            conditions.append(lambda p=peer_fd, s=before: _state(p) != s)  # type: ignore[misc]
        return conditions

    def bound_linger(self, fd: int) -> None:
        """Keep a lingering close within the watchdog, with the kernel's own outcome.

        With ``SO_LINGER`` on and a positive time, closing the last reference
        to a TCP socket blocks until its data and FIN are acknowledged or the
        time runs out (net/ipv4/tcp.c:__tcp_close waits in
        sk_stream_wait_close; the time is ``sk_lingertime``, read at close);
        either way ``close`` then returns 0 and the connection goes on as an
        orphan. Nothing else acts while the main thread is in ``close`` (the
        waiters only wait), so on loopback the data either drains at once or
        never, and a peer that does not read would hold the run for the whole
        linger: years for ``linger 2147483647``. So the time is cut to the
        watchdog (rounded up to whole seconds, the unit of ``l_linger``) just
        before the close: the kernel then does what it does when a linger
        runs out, and only the wall-clock wait is shorter.
        """
        file = self.file_of(fd)
        if file is None or file.kind != "tcp" or not self.fds.is_last_reference(fd):
            return
        try:
            onoff, seconds = struct.unpack(
                "ii", libc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_LINGER, 8))
        except OSError:
            return
        bound = max(1, math.ceil(self.options.watchdog))
        if not onoff or seconds <= bound:
            return
        try:
            info = tcpsettle.tcp_info(fd)
        except OSError:
            return
        if info.state not in _FIN_TO_SEND:
            return  # no FIN to wait for (never connected, closed, reset): no linger
        libc.setsockopt(fd, socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, bound))
        if info.unacked or info.notsent:
            # Data still to go: the close may wait for it (a FIN alone is
            # acknowledged at once on loopback).
            self.notes.append(f"SO_LINGER {seconds}s cut to {bound}s for the close "
                              "(the watchdog): the outcome is the same, only sooner")

    def held_peer(self, file: OpenFile) -> int | None:
        for fd, other in self.fds.files.items():
            if other.kind == "tcp" and other.local == file.remote and other.remote == file.local:
                return fd
        return None

    def close_sends_segment(self, fd: int) -> bool:
        """Whether closing the last reference sends a RST or FIN (net/ipv4/tcp.c:__tcp_close)."""
        try:
            info = tcpsettle.tcp_info(fd)
            unread = tcpsettle.unread_bytes(fd)
            onoff, linger = struct.unpack(
                "ii", libc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_LINGER, 8))
        except OSError:
            return False
        if unread > 0 or (onoff and linger == 0):
            return True  # a reset
        return info.state in (tcpsettle.TCP_ESTABLISHED, tcpsettle.TCP_CLOSE_WAIT,
                              tcpsettle.TCP_SYN_RECV) and info.notsent == 0

    # -- data ------------------------------------------------------------

    def is_socket(self, fd: int) -> bool:
        file = self.file_of(fd)
        return file is not None and not file.kind.startswith(("pipe", "epoll"))

    def write(self, fd: int, n: int) -> int:
        """send(2) on a socket (MSG_NOSIGNAL), write(2) on anything else."""
        data = _ZEROS if n <= CHUNK else bytes(n)
        if self.is_socket(fd):
            return libc.send(fd, n, data)
        return os.write(fd, memoryview(data)[:n])

    def read(self, fd: int, n: int) -> int:
        """recv(2) on a socket, read(2) on anything else (they differ for n == 0)."""
        if self.is_socket(fd):
            return libc.recv(fd, n)
        return len(os.read(fd, n))

    def is_tcp(self, fd: int) -> bool:
        file = self.file_of(fd)
        return file is not None and file.kind == "tcp"

    def fill(self, fd: int) -> int:
        """Write CHUNK bytes until EAGAIN; on TCP, let it settle and go on until stuck."""
        total = 0
        for _ in range(TCP_ROUNDS):
            progressed = False
            while total < FILL_LIMIT:
                try:
                    sent = self.write(fd, CHUNK)
                except BlockingIOError:
                    break
                except OSError:
                    if total == 0:
                        raise
                    return total
                total += sent
                progressed = True
                self.quiesce_between_calls()
            if not progressed or not self.is_tcp(fd) or total >= FILL_LIMIT:
                break
            self.settle()
        return total

    def drain(self, fd: int) -> int:
        """Read CHUNK bytes until EAGAIN or end of file; on TCP, settle and go on."""
        total = 0
        for _ in range(TCP_ROUNDS):
            progressed = False
            while total < FILL_LIMIT:
                try:
                    got = self.read(fd, CHUNK)
                except BlockingIOError:
                    break
                except OSError:
                    if total == 0:
                        raise
                    return total
                if got == 0 and not self.is_datagram(fd):
                    return total
                total += got
                progressed = True
                self.quiesce_between_calls()
            if not progressed or not self.is_tcp(fd) or total >= FILL_LIMIT:
                break
            self.settle()
        return total

    def is_datagram(self, fd: int) -> bool:
        file = self.file_of(fd)
        return file is not None and file.kind in ("unix-dgram", "udp")

    def set_option(self, fd: int, option: str, value: int) -> None:
        if option == "pipesize":
            fcntl.fcntl(fd, F_SETPIPE_SZ, value)
        elif option == "linger":
            onoff = 0 if value < 0 else 1
            libc.setsockopt(fd, socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", onoff, max(value, 0)))
        else:
            level, name = _SOCKOPT[option]
            libc.setsockopt(fd, level, name, struct.pack("i", value))

    # -- readiness -------------------------------------------------------

    def ctl(self, e: str, op: str, x: str, mask: int) -> Outcome:
        efd = self.fd(e)
        xfd = self.fd(x)
        if efd < 0 or xfd < 0:
            raise _ebadf()
        token = len(self.interest_names) + 1
        code = {"add": libc.EPOLL_CTL_ADD, "mod": libc.EPOLL_CTL_MOD, "del": libc.EPOLL_CTL_DEL}
        # Name the token before the call: an add or mod of a ready file wakes
        # sleeping waiters, which may translate the token before we return.
        self.interest_names[token] = x
        try:
            libc.epoll_ctl(efd, code[op], xfd, mask, token)
        except OSError:
            del self.interest_names[token]
            raise
        return Ok()

    def wait_call(self, call: WaitingCall, watchdog: float) -> Outcome:
        """Run one wait on the main thread.

        ``timeout=inf`` is decided at once: the main thread is the only actor,
        TCP has settled and every waiter sleeps, so if nothing is ready now
        nothing ever will be, and the call would never return (HUNG). The
        probe is a call with timeout 0, which has no side effect when nothing
        is ready and returns exactly what the blocking call would otherwise.
        """
        if math.isinf(call.timeout):
            # Certain only while no waiter has a timer running: one that times
            # out may let go of the last reference to a file, and that wakes
            # queues (pipe_release, unix_release_sock). Until the last timer
            # has run out, wait for real (then one watchdog).
            later = self.timers_pending()
            seconds = 0.0 if later is None else later + watchdog
        else:
            seconds = call.timeout
        prepared = self.prepare(call)
        try:
            outcome = prepared.once(seconds)
        finally:
            prepared.release()
        if outcome is None:
            return Hung() if math.isinf(call.timeout) else prepared.empty
        return outcome

    def prepare(self, call: WaitingCall, spawned: bool = False) -> Prepared:
        if isinstance(call, Wait):
            return PreparedWait(self, call, spawned)
        if isinstance(call, Poll):
            return PreparedPoll(self, call)
        return PreparedSelect(self, call)

    def spawn(self, t: str, call: WaitingCall, statement: Statement) -> Outcome:
        if len(self.waiters) >= MAX_WAITERS:
            raise self.scenario_error(
                statement, f"more than {MAX_WAITERS} waiters running at once",
                "the real backend runs each waiter in a thread and looks at every one after "
                "each statement; join some first")
        # A waiter's private descriptors sit above the ranges: an eventfd, or
        # a reference to the epoll (and, off the main thread, a second one),
        # and its two procfs files.
        ensure_limit(private_need(PRIVATE_PER_WAITER * (len(self.waiters) + 1)))
        try:
            prepared = self.prepare(call, spawned=True)
        except OSError as exc:
            failed: Outcome = errno_name(exc)
            prepared = Failed(failed)
        stopper = prepared.enable_interrupt()
        waiter = Waiter(t, prepared.once, call.timeout, prepared.empty, prepared.release,
                        stopper, prepared.close_interrupt)
        # Registered first: should start() fail after the thread began, the
        # run's close still cancels it.
        self.waiters[t] = waiter
        self.spawned = waiter
        try:
            waiter.start()
        except RuntimeError as exc:  # "can't start new thread": a limit of the machine
            del self.waiters[t]
            self.spawned = None
            prepared.close_interrupt()
            raise EnvironmentLimit(f"cannot start a thread for waiter {t!r}: {exc}",
                                   "raise the limit on threads (ulimit -u) or run fewer "
                                   "waiters at once") from exc
        state = waiter.wait_asleep(max(SETTLE_BOUND, self.options.watchdog))
        if not state.asleep and not waiter.finished:
            self.notes.append(f"waiter {t} not seen asleep (wchan={state.wchan or '?'})")
        return Ok()


#: States whose close sends a FIN and, lingering, waits for its ACK (tcp_close_state).
_FIN_TO_SEND = {tcpsettle.TCP_ESTABLISHED, tcpsettle.TCP_CLOSE_WAIT, tcpsettle.TCP_SYN_RECV}


def _addresses(fd: int) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """(local, remote) of a TCP socket; None for what it no longer has.

    A connection reset before ``accept`` is still handed out, and then has
    no peer (``getpeername`` says ENOTCONN): that is not a failed accept.
    """
    view = socket.socket(fileno=fd)
    try:
        try:
            local = view.getsockname()
        except OSError:
            local = None
        try:
            remote = view.getpeername()
        except OSError:
            remote = None
        return local, remote
    finally:
        view.detach()


def _state(fd: int) -> int:
    try:
        return tcpsettle.tcp_info(fd).state
    except OSError:
        return -1


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except OSError:
        return True

