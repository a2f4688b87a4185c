"""The statements of the scenario language, v1, as frozen values.

Each statement is a frozen dataclass whose fields are exactly what the
source line says; defaults that the line leaves out stay ``None`` (or the
documented default) so that printing and parsing again gives an equal value.
Where a statement stands in its file (``Where``) is carried beside it and
left out of equality: ``parse(print(x)) == x`` compares meaning, not layout.

The grammar is documented in ``docs/language.md``; the parser lives in
:mod:`muxsim.lang.parser`, the printer in :mod:`muxsim.lang.printer`.
This module imports nothing heavier than the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NewType, TypeAlias

from muxsim.lang.masks import Mask
from muxsim.lang.outcomes import Outcome

Name = NewType("Name", str)

SocketKind = Literal["tcp", "unix", "udp"]
PairKind = Literal["stream", "dgram"]
ShutHow = Literal["rd", "wr", "rdwr"]
CtlOp = Literal["add", "mod", "del"]
OptionName = Literal["sndbuf", "rcvbuf", "rcvlowat", "linger", "notsent_lowat", "pipesize"]

OPTION_NAMES: tuple[OptionName, ...] = (
    "sndbuf", "rcvbuf", "rcvlowat", "linger", "notsent_lowat", "pipesize",
)

#: epoll_wait's maxevents when a ``wait`` does not say ``max=``.
DEFAULT_MAXEVENTS = 1024

INF = math.inf


@dataclass(frozen=True, slots=True)
class Where:
    """Where a statement stands: file, 1-based line, and the source line itself."""

    path: str
    line: int
    text: str = ""


_NOWHERE = Where("<memory>", 0)

# -- objects -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketPair:
    a: Name
    b: Name
    kind: PairKind = "stream"


@dataclass(frozen=True, slots=True)
class TcpPair:
    a: Name
    b: Name


@dataclass(frozen=True, slots=True)
class Socket:
    x: Name
    kind: SocketKind


@dataclass(frozen=True, slots=True)
class Listen:
    listener: Name


@dataclass(frozen=True, slots=True)
class Connect:
    client: Name
    listener: Name


@dataclass(frozen=True, slots=True)
class Accept:
    listener: Name
    server: Name


@dataclass(frozen=True, slots=True)
class Pipe:
    r: Name
    w: Name


@dataclass(frozen=True, slots=True)
class Epoll:
    e: Name


@dataclass(frozen=True, slots=True)
class Dup:
    new: Name
    old: Name


@dataclass(frozen=True, slots=True)
class Close:
    x: Name


# -- data ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    x: Name
    n: int


@dataclass(frozen=True, slots=True)
class Recv:
    x: Name
    n: int


@dataclass(frozen=True, slots=True)
class Fill:
    x: Name


@dataclass(frozen=True, slots=True)
class Drain:
    x: Name


@dataclass(frozen=True, slots=True)
class Shutdown:
    x: Name
    how: ShutHow


@dataclass(frozen=True, slots=True)
class SetOption:
    x: Name
    option: OptionName
    value: int


@dataclass(frozen=True, slots=True)
class SoError:
    x: Name


# -- readiness -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ctl:
    e: Name
    op: CtlOp
    x: Name
    mask: Mask | None = None  # None: the line gave no mask (the call passes 0)


@dataclass(frozen=True, slots=True)
class Wait:
    e: Name
    timeout: float = 0.0  # seconds; math.inf waits until an event
    max: int | None = None  # None: DEFAULT_MAXEVENTS


@dataclass(frozen=True, slots=True)
class Poll:
    items: tuple[tuple[Name, Mask], ...]
    timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class Select:
    r: tuple[Name, ...] = ()
    w: tuple[Name, ...] = ()
    x: tuple[Name, ...] = ()
    timeout: float = 0.0


WaitingCall: TypeAlias = Wait | Poll | Select


# -- concurrency and time ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    t: Name
    call: WaitingCall


@dataclass(frozen=True, slots=True)
class Join:
    t: Name


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Action: TypeAlias = (
    SocketPair | TcpPair | Socket | Listen | Connect | Accept | Pipe | Epoll | Dup | Close
    | Send | Recv | Fill | Drain | Shutdown | SetOption | SoError
    | Ctl | Wait | Poll | Select | Spawn | Join | Sleep
)


@dataclass(frozen=True, slots=True)
class Statement:
    """One line of a scenario: an action and, optionally, what it should yield."""

    action: Action
    expect: Outcome | None = None
    where: Where = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: its statements in order, and the file it came from."""

    statements: tuple[Statement, ...]
    path: str = field(default="<memory>", compare=False)
    claim: str = field(default="", compare=False)  # the opening comment block
