"""Public Hypothesis strategies for scenarios, valid by construction.

``scenarios()`` draws whole scenarios over the language: every object kind,
every mux, every mask flag, dup and close and number reuse, shutdown, fill
and drain, buffer options, several waiters with spawn and join, nested epoll,
``maxevents``. Each statement is drawn knowing what exists so far, so every
draw parses and runs: no ``assume`` throws draws away. The same step-by-step
generator drives the stateful machine in :mod:`muxsim.testing`.

The generator stays out of corners where the real kernel itself is not
deterministic, or where the model is a documented approximation; each rule
is listed in ``docs/nondeterminism.md`` with its evidence:

* **no wall-clock races**: spawned waiters and blocking waits use
  ``timeout=inf`` (a waiter nobody wakes is ``HUNG``, which both sides agree
  on at once) or ``0``; there is no ``sleep`` and no finite timeout above 0;
* **no TCP byte counts that depend on window growth**: no ``fill`` or
  ``drain`` on TCP, and TCP sends of at most 4 KiB (receive-window growth
  and autotuning are timing-driven on the real kernel and approximated in
  the model).

Parameters restrict kinds and sizes: ``scenarios(kinds={"pipe", "epoll"},
max_statements=10, waiters=False)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from muxsim.lang.masks import Mask
from muxsim.lang.printer import format_action
from muxsim.lang.syntax import (
    OPTION_NAMES,
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
    Name,
    Pipe,
    Poll,
    Recv,
    Scenario,
    Select,
    Send,
    SetOption,
    Shutdown,
    Socket,
    SocketPair,
    SoError,
    Spawn,
    Statement,
    TcpPair,
    Wait,
    WaitingCall,
    Where,
)

#: Object kinds a scenario may create.
ALL_KINDS = frozenset({"unix-stream", "unix-dgram", "pipe", "tcp", "listener", "udp",
                       "unconnected", "epoll"})
ALL_MUXES = frozenset({"epoll", "poll", "select"})

_EVENT_FLAGS = (Mask.IN, Mask.OUT, Mask.PRI, Mask.RDHUP, Mask.RDNORM, Mask.WRNORM,
                Mask.ERR, Mask.HUP, Mask.RDBAND, Mask.WRBAND, Mask.MSG)
_SIZES = (0, 1, 10, 100, 1000, 4096, 4097, 65536, 100000, 300000)
_TCP_SIZES = (0, 1, 10, 100, 1000, 4096)
_RECV_SIZES = (0, 1, 5, 100, 4096, 65536)
_BUF_VALUES = (1024, 4096, 8192, 16384, 65536, 262144)
_PIPE_SIZES = (0, 4096, 5000, 8192, 65536, 1048576, 2097152)


@dataclass(frozen=True)
class Limits:
    """What the generator may draw."""

    min_statements: int = 1
    max_statements: int = 30
    kinds: frozenset[str] = ALL_KINDS
    muxes: frozenset[str] = ALL_MUXES
    waiters: bool = True
    max_waiters: int = 3
    hung_waits: bool = True  # main-thread waits with timeout=inf


@dataclass
class GenState:
    """What exists so far in the scenario being drawn.

    Names bind descriptor numbers, and numbers are reused lowest-first, so
    what a name refers to *now* is tracked the way the kernel's table would
    be: a name's kind is the kind of the file its number currently holds.
    """

    limits: Limits
    objects: dict[str, str] = field(default_factory=dict)  # name -> kind at creation
    listeners: list[str] = field(default_factory=list)
    waiters: list[str] = field(default_factory=list)  # running
    joined: set[str] = field(default_factory=set)
    counter: int = 0
    fds: dict[str, int | None] = field(default_factory=dict)  # name -> number
    table: dict[int, int] = field(default_factory=dict)  # number -> file id
    files: dict[int, list[Any]] = field(default_factory=dict)  # id -> [kind, refs]
    pending: dict[str, int] = field(default_factory=dict)  # listener -> queued connections
    listener_files: dict[str, int] = field(default_factory=dict)  # listener name -> file id
    file_ids: int = 0
    uncertain: bool = False  # the shadow table may be wrong (a listener was shut down)
    nested: bool = False  # an epoll was added to an epoll
    running: dict[str, tuple[str, frozenset[int]]] = field(default_factory=dict)
    held: dict[str, frozenset[int]] = field(default_factory=dict)  # waiter -> files it holds

    def fresh(self, prefix: str) -> Name:
        self.counter += 1
        return Name(f"{prefix}{self.counter}")

    def names(self, *kinds: str) -> list[str]:
        if not kinds:
            return list(self.objects)
        return [n for n, k in self.objects.items() if k in kinds]

    # -- a shadow descriptor table -------------------------------------------

    def open_file(self, name: str, kind: str) -> None:
        self.objects[name] = kind
        self.file_ids += 1
        self.files[self.file_ids] = [kind, 0]
        self.install(name, self.file_ids)

    def install(self, name: str, file_id: int) -> None:
        fd = next(n for n in range(len(self.table) + 1) if n not in self.table)
        self.table[fd] = file_id
        self.files[file_id][1] += 1
        self.fds[name] = fd

    def kind_now(self, name: str) -> str | None:
        fd = self.fds.get(name)
        if fd is None or fd not in self.table:
            return None
        return str(self.files[self.table[fd]][0])

    def file_now(self, name: str) -> int | None:
        fd = self.fds.get(name)
        return None if fd is None else self.table.get(fd)

    def close(self, name: str) -> None:
        fd = self.fds.get(name)
        if fd is None or fd not in self.table:
            return
        file_id = self.table.pop(fd)
        self.files[file_id][1] -= 1

    def is_open(self, file_id: int | None) -> bool:
        return file_id is not None and self.files[file_id][1] > 0


def _mask(draw: Any, epoll: bool) -> Mask:
    flags = draw(st.lists(st.sampled_from(_EVENT_FLAGS), max_size=3, unique=True))
    mask = Mask(0)
    for flag in flags:
        mask |= flag
    if draw(st.integers(0, 3)) > 0:
        mask |= draw(st.sampled_from((Mask.IN, Mask.OUT, Mask.IN | Mask.OUT)))
    if epoll:
        for extra, chance in ((Mask.ET, 3), (Mask.ONESHOT, 6), (Mask.EXCLUSIVE, 8)):
            if draw(st.integers(0, chance)) == 0:
                mask |= extra
    return mask


def _creatable(state: GenState) -> list[str]:
    kinds = state.limits.kinds
    out: list[str] = [k for k in ("unix-stream", "unix-dgram", "pipe", "tcp", "udp", "unconnected",
                       "epoll", "epoll", "epoll") if k in kinds]
    if "listener" in kinds:
        out += ["listener"]
        if state.listeners:
            out += ["connect", "accept"]
    return out


def create(draw: Any, state: GenState) -> Action:
    what = draw(st.sampled_from(_creatable(state)))
    if what in ("unix-stream", "unix-dgram"):
        a, b = state.fresh("s"), state.fresh("s")
        state.open_file(a, what)
        state.open_file(b, what)
        return SocketPair(a, b, "stream" if what == "unix-stream" else "dgram")
    if what == "pipe":
        r, w = state.fresh("r"), state.fresh("w")
        state.open_file(r, "pipe-r")
        state.open_file(w, "pipe-w")
        return Pipe(r, w)
    if what == "tcp":
        a, b = state.fresh("t"), state.fresh("t")
        state.open_file(a, "tcp")
        state.open_file(b, "tcp")
        return TcpPair(a, b)
    if what == "udp":
        x = state.fresh("u")
        state.open_file(x, "udp")
        return Socket(x, "udp")
    if what == "unconnected":
        x = state.fresh("x")
        kind = draw(st.sampled_from(("tcp", "unix")))
        state.open_file(x, "unconnected-" + kind)
        return Socket(x, "tcp" if kind == "tcp" else "unix")
    if what == "epoll":
        e = state.fresh("e")
        state.open_file(e, "epoll")
        return Epoll(e)
    if what == "listener":
        listener = state.fresh("l")
        state.open_file(listener, "listener")
        state.listener_files[listener] = state.file_ids
        state.listeners.append(listener)
        state.pending[listener] = 0
        return Listen(listener)
    if what == "connect":
        c = state.fresh("c")
        listener = draw(st.sampled_from(state.listeners))
        state.open_file(c, "tcp")
        if state.is_open(state.listener_files[listener]):
            state.pending[listener] += 1
        return Connect(c, Name(listener))
    s = state.fresh("a")
    listener = draw(st.sampled_from(state.listeners))
    state.objects[s] = "tcp"
    state.fds[s] = None
    if state.kind_now(listener) == "listener" and state.pending.get(listener, 0) > 0 and \
            state.file_now(listener) == state.listener_files[listener]:
        state.pending[listener] -= 1
        state.file_ids += 1
        state.files[state.file_ids] = ["tcp", 0]
        state.install(s, state.file_ids)
    return Accept(Name(listener), s)


def data(draw: Any, state: GenState) -> Action:
    x = Name(draw(st.sampled_from(state.names())))
    tcp = state.kind_now(x) in ("tcp", "unconnected-tcp")
    op = draw(st.sampled_from(("send", "send", "recv", "recv", "fill", "drain", "shutdown",
                               "soerror")))
    if op in ("fill", "drain") and (tcp or state.uncertain):
        op = "send" if op == "fill" else "recv"
    if op == "shutdown" and state.kind_now(x) == "listener":
        state.uncertain = True  # its queued connections go, and accept may fail
    if op == "send":
        small = tcp or state.uncertain
        return Send(x, draw(st.sampled_from(_TCP_SIZES if small else _SIZES)))
    if op == "recv":
        return Recv(x, draw(st.sampled_from(_RECV_SIZES)))
    if op == "fill":
        return Fill(x)
    if op == "drain":
        return Drain(x)
    if op == "shutdown":
        return Shutdown(x, draw(st.sampled_from(("rd", "wr", "rdwr"))))
    return SoError(x)


def option(draw: Any, state: GenState) -> Action:
    x = Name(draw(st.sampled_from(state.names())))
    kind = state.kind_now(x) or ""
    if kind.startswith("pipe") and draw(st.integers(0, 4)):
        return SetOption(x, "pipesize", draw(st.sampled_from(_PIPE_SIZES)))
    name = draw(st.sampled_from(OPTION_NAMES[:-1]))
    if name in ("sndbuf", "rcvbuf"):
        value = draw(st.sampled_from(_BUF_VALUES))
    elif name == "rcvlowat":
        value = draw(st.sampled_from((1, 10, 100, 5000, 100000)))
    elif name == "linger":
        value = draw(st.sampled_from((-1, 0, 1)))
    else:
        value = draw(st.sampled_from((0, 1, 100, 65536)))
    return SetOption(x, name, value)


def readiness(draw: Any, state: GenState, main: bool = True) -> Action:
    epolls = state.names("epoll")
    if "epoll" in state.limits.muxes and epolls and main and draw(st.integers(0, 2)) > 0:
        e = Name(draw(st.sampled_from(epolls)))
        op = draw(st.sampled_from(("add", "add", "add", "mod", "del")))
        x = Name(draw(st.sampled_from(state.names())))
        if op == "add" and state.kind_now(x) == "epoll":
            if any(touch for _, touch in state.running.values()):
                op = "del"  # rule: no new nesting under a waiter (nondeterminism.md)
            else:
                state.nested = True
        return Ctl(e, op, x, None if op == "del" else _mask(draw, epoll=True))
    return waiting_call(draw, state, forever=not main)


def waiting_call(draw: Any, state: GenState, forever: bool) -> WaitingCall:
    muxes = sorted(state.limits.muxes)
    epolls = state.names("epoll")
    if not epolls:
        muxes = [m for m in muxes if m != "epoll"] or ["poll"]
    mux = draw(st.sampled_from(muxes))
    timeout = float("inf") if forever or (state.limits.hung_waits and
                                          draw(st.integers(0, 15)) == 0) else 0.0
    if mux == "epoll":
        maxevents = draw(st.sampled_from((None, None, 1, 2)))
        return Wait(Name(draw(st.sampled_from(epolls))), timeout, maxevents)
    names = state.names()
    if mux == "poll":
        picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
        return Poll(tuple((Name(n), _mask(draw, epoll=False)) for n in picked), timeout)
    sets = [tuple(Name(n) for n in draw(st.lists(st.sampled_from(names), max_size=2)))
            for _ in range(3)]
    if not any(sets):
        sets[0] = (Name(draw(st.sampled_from(names))),)
    return Select(sets[0], sets[1], sets[2], timeout)


def lifetime(draw: Any, state: GenState) -> Action:
    x = Name(draw(st.sampled_from(state.names())))
    held = frozenset().union(*state.held.values()) if state.held else frozenset()
    if draw(st.booleans()) and state.file_now(x) not in held:
        # Rule (docs/nondeterminism.md): no close of a file a running waiter
        # holds; its return would release the file while a statement runs.
        state.close(x)
        return Close(x)
    new = state.fresh("d")
    state.objects[new] = state.objects[x]
    state.fds[new] = None
    file_id = state.file_now(x)
    if file_id is not None:
        state.install(new, file_id)
    return Dup(new, x)


def touches(state: GenState, call: WaitingCall) -> frozenset[int]:
    """The epoll files a waiting call sleeps on or polls."""
    if isinstance(call, Wait):
        names: list[str] = [call.e]
    elif isinstance(call, Poll):
        names = [n for n, _ in call.items]
    else:
        names = [*call.r, *call.w, *call.x]
    files = {state.file_now(n) for n in names if state.kind_now(n) == "epoll"}
    return frozenset(f for f in files if f is not None)


def races(state: GenState, call: WaitingCall) -> bool:
    """Whether ``call`` in a new waiter could race a running one on the real kernel.

    Two waiters woken by one event run at the same time on the real kernel.
    On one plain epoll, ``epoll_wait`` sleepers are woken one at a time and
    harvest under the epoll's mutex in a fixed order, so that is safe; but a
    ``poll``/``select`` of the epoll descriptor racing an ``epoll_wait`` on
    it, or waiters on nested epolls, see the ready list in whatever order
    the scheduler picks (docs/nondeterminism.md).
    """
    mine = touches(state, call)
    if not mine:
        return False
    for kind, theirs in state.running.values():
        if not theirs:
            continue
        if state.nested or (mine & theirs and not (kind == "wait" and isinstance(call, Wait))):
            return True
    return False


def concurrency(draw: Any, state: GenState) -> Action:
    if state.waiters and (len(state.waiters) >= state.limits.max_waiters or draw(st.booleans())):
        return join_one(draw, state)
    call = waiting_call(draw, state, forever=True)
    if races(state, call):
        if not state.waiters:  # pragma: no cover - a race needs a running waiter
            raise AssertionError("race without a running waiter")
        return join_one(draw, state)
    t = state.fresh("T")
    state.waiters.append(t)
    state.running[t] = ("wait" if isinstance(call, Wait) else "other", touches(state, call))
    state.held[t] = holds(state, call)
    return Spawn(t, call)


def holds(state: GenState, call: WaitingCall) -> frozenset[int]:
    """The files a waiting call holds a reference to while it sleeps."""
    if isinstance(call, Wait):
        names: list[str] = [call.e]
    elif isinstance(call, Poll):
        names = [n for n, _ in call.items]
    else:
        names = [*call.r, *call.w, *call.x]
    files = {state.file_now(n) for n in names}
    return frozenset(f for f in files if f is not None)


def join_one(draw: Any, state: GenState) -> Action:
    t = draw(st.sampled_from(state.waiters))
    state.waiters.remove(t)
    state.running.pop(t, None)
    state.held.pop(t, None)
    state.joined.add(t)
    return Join(Name(t))


def next_action(draw: Any, state: GenState) -> Action:
    """One statement that is valid given ``state`` (which it updates)."""
    if not state.objects:
        return create(draw, state)
    choices = ["create"] * 3 + ["data"] * 6 + ["readiness"] * 7 + ["lifetime"] * 2 + \
        ["option"]
    if state.limits.waiters:
        choices += ["concurrency"] * 2
    pick = draw(st.sampled_from(choices))
    if pick == "create":
        return create(draw, state)
    if pick == "data":
        return data(draw, state)
    if pick == "readiness":
        return readiness(draw, state)
    if pick == "lifetime":
        return lifetime(draw, state)
    if pick == "option":
        return option(draw, state)
    return concurrency(draw, state)


def closing_joins(state: GenState) -> Iterable[Statement]:
    """Join every waiter still running, so its outcome is compared too."""
    for t in list(state.waiters):
        state.waiters.remove(t)
        state.running.pop(t, None)
        state.held.pop(t, None)
        yield Statement(Join(Name(t)))


@st.composite
def scenarios(draw: Any, *, min_statements: int = 1, max_statements: int = 30,
              kinds: Iterable[str] = ALL_KINDS, muxes: Iterable[str] = ALL_MUXES,
              waiters: bool = True, hung_waits: bool = True) -> Scenario:
    """Scenarios valid by construction, within the given limits."""
    limits = Limits(min_statements, max_statements, frozenset(kinds) & ALL_KINDS or ALL_KINDS,
                    frozenset(muxes) & ALL_MUXES or ALL_MUXES, waiters, 3, hung_waits)
    state = GenState(limits)
    count = draw(st.integers(limits.min_statements, limits.max_statements))
    actions = [next_action(draw, state) for _ in range(count)]
    actions.extend(s.action for s in closing_joins(state))
    return Scenario(tuple(Statement(a, where=Where("<generated>", i, format_action(a)))
                          for i, a in enumerate(actions, start=1)), path="<generated>")
