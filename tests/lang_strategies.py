"""Hypothesis strategies for single statements of the language (parse/print tests).

These draw any syntactically valid statement, names unchecked; whole valid
scenarios for differential testing are a separate, public strategy.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from muxsim.lang.masks import MASK_NAMES, Mask
from muxsim.lang.outcomes import Errno, Hung, Number, Ok, Outcome, Ready, Selected
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

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).map(Name)
masks = st.lists(st.sampled_from(MASK_NAMES), max_size=5).map(
    lambda ns: Mask(sum(int(Mask[n]) for n in set(ns))))
event_masks = masks.map(lambda m: Mask(int(m) & 0x3FFF))
counts = st.integers(min_value=0, max_value=10**7)
seconds = st.one_of(
    st.just(0.0),
    st.floats(min_value=0, max_value=3600, allow_nan=False, allow_infinity=False),
    st.just(math.inf),
)
finite_seconds = st.floats(min_value=0, max_value=3600, allow_nan=False, allow_infinity=False)


def waiting_calls() -> st.SearchStrategy[WaitingCall]:
    return st.one_of(
        st.builds(Wait, names, seconds, st.none() | st.integers(1, 5000)),
        st.builds(Poll, st.lists(st.tuples(names, masks), min_size=1, max_size=4).map(tuple),
                  seconds),
        st.builds(Select, st.lists(names, max_size=3).map(tuple),
                  st.lists(names, max_size=3).map(tuple), st.lists(names, max_size=3).map(tuple),
                  seconds),
    )


def actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(SocketPair, names, names, st.sampled_from(["stream", "dgram"])),
        st.builds(TcpPair, names, names),
        st.builds(Socket, names, st.sampled_from(["tcp", "unix", "udp"])),
        st.builds(Listen, names),
        st.builds(Connect, names, names),
        st.builds(Accept, names, names),
        st.builds(Pipe, names, names),
        st.builds(Epoll, names),
        st.builds(Dup, names, names),
        st.builds(Close, names),
        st.builds(Send, names, counts),
        st.builds(Recv, names, counts),
        st.builds(Fill, names),
        st.builds(Drain, names),
        st.builds(Shutdown, names, st.sampled_from(["rd", "wr", "rdwr"])),
        st.builds(SetOption, names, st.sampled_from(OPTION_NAMES),
                  st.integers(-(10**6), 10**9)),
        st.builds(SoError, names),
        st.builds(Ctl, names, st.sampled_from(["add", "mod", "del"]), names, st.none() | masks),
        waiting_calls(),
        st.builds(Spawn, names, waiting_calls()),
        st.builds(Join, names),
        st.builds(Sleep, finite_seconds),
    )


def outcomes() -> st.SearchStrategy[Outcome]:
    return st.one_of(
        st.builds(Number, st.integers(-1, 10**9)),
        st.builds(Ok),
        st.builds(Errno, st.sampled_from(["EAGAIN", "EBADF", "EPIPE", "ECONNRESET", "E2BIG"])),
        st.builds(Hung),
        st.lists(st.tuples(names, event_masks), max_size=4).map(Ready.of),
        st.builds(Selected.of, st.lists(names, max_size=3), st.lists(names, max_size=3),
                  st.lists(names, max_size=3)),
    )


def statements() -> st.SearchStrategy[Statement]:
    def build(action: Action, expect: Outcome | None) -> Statement:
        if isinstance(action, Spawn) and expect is not None:
            expect = Ok()
        # '-' reads back as an empty select result only on a select.
        if expect == Selected() and not isinstance(action, Select):
            expect = Ready(())
        if expect == Ready(()) and isinstance(action, Select):
            expect = Selected()
        return Statement(action, expect)

    return st.builds(build, actions(), st.none() | outcomes())
