"""Run a scenario on the model: the ``sim`` backend.

The statement semantics are realmux's, statement for statement (names bind
descriptor numbers, ``poll`` serves a name listed twice from one entry per
number, ``fill`` and ``drain`` loop until EAGAIN, ``connect`` reads and so
clears the pending error); only the kernel underneath is the model.

Time is SimPy's virtual time. The main thread's statements take no time;
a wait with a timeout, ``sleep`` and ``join`` let it pass. After every
statement, every process woken at the current instant runs until it sleeps
again or finishes (realmux waits for its waiter threads the same way). A
wait that can never end, because every task sleeps with no timer pending,
is ``HUNG`` at once, where the real kernel needs the watchdog to say so.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import platform
from collections.abc import Callable, Generator
from importlib import metadata
from typing import Any

import simpy

from muxsim.lang.errors import InvariantError, ScenarioError
from muxsim.lang.masks import Mask
from muxsim.lang.outcomes import Errno, Hung, Number, Ok, Outcome, Ready, Selected
from muxsim.lang.results import RunOptions, ScenarioResult, StatementResult
from muxsim.lang.syntax import (
    DEFAULT_MAXEVENTS,
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
from muxsim.model.inet import TcpSock
from muxsim.model.kernel import Kernel
from muxsim.model.profile import Profile, load_profile
from muxsim.model.tasks import Task, do_poll, do_select, ep_poll
from muxsim.model.unix import UnixSock

CHUNK = 65536
FILL_LIMIT = 1 << 30
#: A statement may process at most this many SimPy events (a guard, not a rule).
STEP_LIMIT = 1_000_000
_SHUT = {"rd": 0, "wr": 1, "rdwr": 2}
_POLL_ALWAYS = int(Mask.ERR | Mask.HUP | Mask.NVAL)


def errno_name(exc: OSError) -> Errno:
    """The model's one place where an ``OSError`` becomes an errno name."""
    code = exc.errno
    if code is None:
        raise InvariantError(f"OSError without errno from the model: {exc!r}")
    return Errno.of(code)


@functools.cache
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


class SimKernel:
    """The model backend: ``muxsim run --on sim``."""

    name = "sim"

    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile or load_profile()

    def environment(self) -> dict[str, str]:
        return {
            "backend": "sim",
            "kernel": platform.release(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "muxsim": _version("muxsim"),
            "simpy": _version("simpy"),
            "profile": self.profile.name,
        }

    def open(self, options: RunOptions | None = None) -> _SimRun:
        """A session that runs statements one at a time."""
        return _SimRun(self.profile, options or RunOptions())

    def run(self, scenario: Scenario, options: RunOptions | None = None) -> ScenarioResult:
        opts = options or RunOptions()
        run = _SimRun(self.profile, opts)
        results = tuple(run.execute(statement) for statement in scenario.statements)
        env = dict(self.environment(), semantics=opts.semantics)
        return ScenarioResult(scenario, self.name, results, 0.0, env)


class _Waiter:
    def __init__(self, task: Task, proc: simpy.Process, empty: Outcome) -> None:
        self.task = task
        self.proc = proc
        self.empty = empty


class _SimRun:
    """One scenario on one fresh model kernel."""

    def __init__(self, profile: Profile, options: RunOptions) -> None:
        self.kernel = Kernel(profile, options.semantics)
        self.env = simpy.Environment()
        self.options = options
        self.names: dict[str, int | None] = {}
        self.ports: dict[str, int] = {}
        self.waiters: dict[str, _Waiter] = {}
        self.steps = 0

    def close(self) -> None:
        """Nothing to release: the model holds no real resources."""

    # -- time --------------------------------------------------------------

    def step(self) -> None:
        self.steps += 1
        if self.steps > STEP_LIMIT:
            raise InvariantError("the model ran more than a million events in one statement")
        self.env.step()

    def settle(self) -> None:
        """Run everything due now: woken tasks run until they sleep or finish."""
        while self.env.peek() <= self.env.now:
            self.step()

    def run_until(self, proc: simpy.Process) -> bool:
        """Advance time until ``proc`` ends; False if it never can (nothing left to run)."""
        while not proc.triggered:
            if math.isinf(self.env.peek()):
                return False
            self.step()
        self.settle()
        return True

    def cancel(self, waiter: _Waiter) -> None:
        """Give up on a hung task: interrupt it so it leaves its wait queues."""
        if waiter.proc.is_alive:
            waiter.proc.interrupt("hung")
            self.settle()
        waiter.task.forget()

    # -- the statement loop ------------------------------------------------

    def execute(self, statement: Statement) -> StatementResult:
        self.kernel.explanation = []
        self.steps = 0
        began = self.env.now
        try:
            outcome = self.dispatch(statement.action, statement)
        except OSError as exc:
            outcome = errno_name(exc)
        self.settle()
        if self.kernel.semantics == "textbook":
            self.kernel.after_syscall()
            self.settle()
        return StatementResult(statement, outcome, self.env.now - began, (),
                               tuple(self.kernel.explanation))

    def fd(self, name: str) -> int:
        number = self.names.get(name)
        return -1 if number is None else number

    def need_fd(self, name: str) -> int:
        number = self.fd(name)
        if number < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return number

    def dispatch(self, action: Action, statement: Statement) -> Outcome:
        handler = _HANDLERS.get(type(action))
        if handler is None:
            raise InvariantError(f"statement not handled by the model: {action!r}")
        return handler(self, action, statement)

    # One handler per statement, found by type (a match over 24 classes costs
    # a few microseconds per statement, which is most of a model step).

    def do_socketpair(self, a: SocketPair, st: Statement) -> Outcome:
        self.names[a.a], self.names[a.b] = self.kernel.socketpair(a.a, a.b, a.kind)
        return Ok()

    def do_tcppair(self, a: TcpPair, st: Statement) -> Outcome:
        self.names[a.a], self.names[a.b] = self.kernel.tcppair(a.a, a.b)
        return Ok()

    def do_socket(self, a: Socket, st: Statement) -> Outcome:
        self.names[a.x] = self.kernel.socket(a.x, a.kind)
        return Ok()

    def do_listen(self, a: Listen, st: Statement) -> Outcome:
        self.names[a.listener], self.ports[a.listener] = self.kernel.listen(a.listener)
        return Ok()

    def do_connect(self, a: Connect, st: Statement) -> Outcome:
        if a.listener not in self.ports:
            raise ScenarioError(st.where.path, st.where.line, 1,
                                f"{a.listener!r} is not a listener",
                                "connect C L needs L made by 'listen L'")
        fd, err = self.kernel.connect(a.client, self.ports[a.listener])
        self.names[a.client] = fd
        if err is not None:
            raise err
        # As realmux: the outcome is the error pending (and read, so cleared)
        # once the tasks the handshake woke have run.
        self.settle()
        client = self.kernel.fdt.lookup(fd)
        if isinstance(client, TcpSock):
            code = client.sock_error()
            if code:
                raise OSError(code, os.strerror(code))
        return Ok()

    def do_accept(self, a: Accept, st: Statement) -> Outcome:
        self.names[a.server] = None
        self.names[a.server] = self.kernel.accept(self.need_fd(a.listener), a.server)
        return Ok()

    def do_pipe(self, a: Pipe, st: Statement) -> Outcome:
        self.names[a.r], self.names[a.w] = self.kernel.pipe(a.r, a.w)
        return Ok()

    def do_epoll(self, a: Epoll, st: Statement) -> Outcome:
        self.names[a.e] = self.kernel.epoll_create(a.e)
        return Ok()

    def do_dup(self, a: Dup, st: Statement) -> Outcome:
        self.names[a.new] = None
        self.names[a.new] = self.kernel.dup(self.need_fd(a.old), a.new)
        if a.old in self.ports:  # a dup of a listener: the same address
            self.ports[a.new] = self.ports[a.old]
        return Ok()

    def do_close(self, a: Close, st: Statement) -> Outcome:
        self.kernel.close(self.need_fd(a.x))
        return Ok()

    def do_send(self, a: Send, st: Statement) -> Outcome:
        return Number(self.kernel.send(self.need_fd(a.x), a.n))

    def do_recv(self, a: Recv, st: Statement) -> Outcome:
        return Number(self.kernel.recv(self.need_fd(a.x), a.n))

    def do_fill(self, a: Fill, st: Statement) -> Outcome:
        return Number(self.fill(self.need_fd(a.x)))

    def do_drain(self, a: Drain, st: Statement) -> Outcome:
        return Number(self.drain(self.need_fd(a.x)))

    def do_shutdown(self, a: Shutdown, st: Statement) -> Outcome:
        self.kernel.shutdown(self.need_fd(a.x), _SHUT[a.how])
        return Ok()

    def do_set(self, a: SetOption, st: Statement) -> Outcome:
        self.kernel.setsockopt(self.need_fd(a.x), a.option, a.value)
        return Ok()

    def do_soerror(self, a: SoError, st: Statement) -> Outcome:
        code = self.kernel.so_error(self.need_fd(a.x))
        return Number(0) if code == 0 else errno_name(OSError(code, os.strerror(code)))

    def do_ctl(self, a: Ctl, st: Statement) -> Outcome:
        self.kernel.epoll_ctl(self.need_fd(a.e), a.op, self.need_fd(a.x), int(a.mask or 0), a.x)
        return Ok()

    def do_wait(self, a: WaitingCall, st: Statement) -> Outcome:
        return self.main_wait(a)

    def do_spawn(self, a: Spawn, st: Statement) -> Outcome:
        task = Task(self.env, a.t, self.kernel.trace)
        proc = self.env.process(self.waiting(task, a.call))
        self.waiters[a.t] = _Waiter(task, proc, _empty(a.call))
        self.kernel.trace(f"spawn {a.t}")
        self.settle()
        return Ok()

    def do_join(self, a: Join, st: Statement) -> Outcome:
        waiter = self.waiters.pop(a.t, None)
        if waiter is None:
            raise ScenarioError(st.where.path, st.where.line, 1,
                                f"no running waiter {a.t!r}", "spawn it first")
        if not self.run_until(waiter.proc):
            self.kernel.trace(f"join {a.t}: every task sleeps and no timer is pending: HUNG")
            self.cancel(waiter)
            return Hung()
        return _outcome(waiter.proc)

    def do_sleep(self, a: Sleep, st: Statement) -> Outcome:
        until = self.env.now + a.seconds
        # sleep 0 (or a time too small to move the clock: 1e-320 after a
        # second) lets no time pass; SimPy refuses an end that is not later.
        if until > self.env.now:
            self.env.run(until=until)
        return Ok()

    # -- waits -------------------------------------------------------------

    def main_wait(self, call: WaitingCall) -> Outcome:
        task = Task(self.env, "main", self.kernel.trace)
        if call.timeout == 0:
            # A wait that may not sleep never yields: run it without a process.
            gen = self.waiting(task, call)
            try:
                gen.send(None)
            except StopIteration as stop:
                return _checked(stop.value)
            raise InvariantError("a wait with timeout 0 tried to sleep")
        proc = self.env.process(self.waiting(task, call))
        if not self.run_until(proc):
            self.kernel.trace("every task sleeps and no timer is pending: HUNG")
            self.cancel(_Waiter(task, proc, _empty(call)))
            return Hung()
        return _outcome(proc)

    def waiting(self, task: Task, call: WaitingCall) -> Generator[simpy.Event, Any, Outcome]:
        """One wait as a SimPy process; its value is the outcome."""
        try:
            if isinstance(call, Wait):
                maxevents = call.max if call.max is not None else DEFAULT_MAXEVENTS
                events = yield from ep_poll(self.kernel, task, self.need_fd(call.e),
                                            maxevents, call.timeout)
                return Ready.of([(name, Mask(bits)) for name, bits in events])
            if isinstance(call, Poll):
                return (yield from self.poll(task, call))
            return (yield from self.select(task, call))
        except OSError as exc:
            return errno_name(exc)
        except simpy.Interrupt:
            return Hung()

    def poll(self, task: Task, call: Poll) -> Generator[simpy.Event, Any, Outcome]:
        items = [(name, self.fd(name), int(mask) & 0xFFFF) for name, mask in call.items]
        wanted: dict[int, int] = {}
        for _, fd, events in items:
            if fd >= 0:
                wanted[fd] = wanted.get(fd, 0) | events
        fds = list(wanted.items())
        revents = yield from do_poll(self.kernel, task, fds, call.timeout)
        got = {fd: mask for (fd, _), mask in zip(fds, revents, strict=True) if mask}
        entries = []
        for name, fd, events in items:
            bits = got.get(fd, 0) & (events | _POLL_ALWAYS)
            if bits:
                entries.append((name, Mask(bits)))
        return Ready.of(entries)

    def select(self, task: Task, call: Select) -> Generator[simpy.Event, Any, Outcome]:
        groups = [[(name, self.fd(name)) for name in names] for names in (call.r, call.w, call.x)]
        if any(fd < 0 for group in groups for _, fd in group):
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        sets = ([fd for _, fd in groups[0]], [fd for _, fd in groups[1]],
                [fd for _, fd in groups[2]])
        res = yield from do_select(self.kernel, task, sets, call.timeout)
        names = [[name for name, fd in group if fd in hit] for group, hit in zip(groups, res,
                                                                                  strict=True)]
        return Selected.of(names[0], names[1], names[2])

    # -- data loops (as realmux's) -------------------------------------------

    def fill(self, fd: int) -> int:
        total = 0
        while total < FILL_LIMIT:
            try:
                total += self.kernel.send(fd, CHUNK)
            except BlockingIOError:
                break
            except OSError:
                if total == 0:
                    raise
                break
            self.settle()  # woken tasks run between the calls (as realmux)
        return total

    def drain(self, fd: int) -> int:
        total = 0
        datagram = self.is_datagram(fd)
        while total < FILL_LIMIT:
            try:
                got = self.kernel.recv(fd, CHUNK)
            except BlockingIOError:
                break
            except OSError:
                if total == 0:
                    raise
                break
            if got == 0 and not datagram:
                break
            total += got
            self.settle()
        return total

    def is_datagram(self, fd: int) -> bool:
        file = self.kernel.fdt.lookup(fd)
        return (isinstance(file, UnixSock) and file.stype == "dgram") or (
            file is not None and file.kind == "udp")


_HANDLERS: dict[type, Callable[[_SimRun, Any, Statement], Outcome]] = {
    SocketPair: _SimRun.do_socketpair, TcpPair: _SimRun.do_tcppair, Socket: _SimRun.do_socket,
    Listen: _SimRun.do_listen, Connect: _SimRun.do_connect, Accept: _SimRun.do_accept,
    Pipe: _SimRun.do_pipe, Epoll: _SimRun.do_epoll, Dup: _SimRun.do_dup, Close: _SimRun.do_close,
    Send: _SimRun.do_send, Recv: _SimRun.do_recv, Fill: _SimRun.do_fill,
    Drain: _SimRun.do_drain, Shutdown: _SimRun.do_shutdown, SetOption: _SimRun.do_set,
    SoError: _SimRun.do_soerror, Ctl: _SimRun.do_ctl, Wait: _SimRun.do_wait,
    Poll: _SimRun.do_wait, Select: _SimRun.do_wait, Spawn: _SimRun.do_spawn,
    Join: _SimRun.do_join, Sleep: _SimRun.do_sleep,
}


def _outcome(proc: simpy.Process) -> Outcome:
    return _checked(proc.value)


def _checked(value: object) -> Outcome:
    if not isinstance(value, Number | Ok | Errno | Ready | Selected | Hung):
        raise InvariantError(f"a waiting process ended with {value!r}")
    return value


def _empty(call: WaitingCall) -> Outcome:
    return Selected() if isinstance(call, Select) else Ready(())


__all__ = ["SimKernel", "TcpSock"]
