"""The printer: statements and scenarios back to their canonical source text.

``parse(print(x)) == x`` for every statement the parser accepts: defaults the
source left out stay out (``socketpair a b`` is not printed with ``stream``,
a ``wait`` without ``max=`` stays without it), numbers are printed in the
shortest form that reads back to the same float.
"""

from __future__ import annotations

import math

from muxsim.lang.masks import format_mask
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
)


def format_seconds(seconds: float) -> str:
    """``inf``, an integer without a point, or the shortest exact float form."""
    if math.isinf(seconds):
        return "inf"
    if float(seconds).is_integer() and abs(seconds) < 1e15:
        return str(int(seconds))
    return repr(float(seconds))


def _timeout(seconds: float) -> list[str]:
    return [] if seconds == 0 else [f"timeout={format_seconds(seconds)}"]


def format_action(action: Action) -> str:
    """The canonical source text of one action (no expectation)."""
    match action:
        case SocketPair(a, b, kind):
            return f"socketpair {a} {b}" + ("" if kind == "stream" else f" {kind}")
        case TcpPair(a, b):
            return f"tcppair {a} {b}"
        case Socket(x, kind):
            return f"socket {x} {kind}"
        case Listen(listener):
            return f"listen {listener}"
        case Connect(client, listener):
            return f"connect {client} {listener}"
        case Accept(listener, server):
            return f"accept {listener} {server}"
        case Pipe(r, w):
            return f"pipe {r} {w}"
        case Epoll(e):
            return f"epoll {e}"
        case Dup(new, old):
            return f"dup {new} {old}"
        case Close(x):
            return f"close {x}"
        case Send(x, n):
            return f"send {x} {n}"
        case Recv(x, n):
            return f"recv {x} {n}"
        case Fill(x):
            return f"fill {x}"
        case Drain(x):
            return f"drain {x}"
        case Shutdown(x, how):
            return f"shutdown {x} {how}"
        case SetOption(x, option, value):
            return f"set {x} {option} {value}"
        case SoError(x):
            return f"soerror {x}"
        case Ctl(e, op, x, mask):
            return f"ctl {e} {op} {x}" + ("" if mask is None else f" {format_mask(mask)}")
        case Wait(e, timeout, maxevents):
            words = [f"wait {e}", *_timeout(timeout)]
            if maxevents is not None:
                words.append(f"max={maxevents}")
            return " ".join(words)
        case Poll(items, timeout):
            entries = [f"{name}:{format_mask(mask)}" for name, mask in items]
            return " ".join(["poll", *entries, *_timeout(timeout)])
        case Select(r, w, x, timeout):
            sets = [f"{key}={','.join(names)}" for key, names in
                    (("r", r), ("w", w), ("x", x)) if names]
            return " ".join(["select", *sets, *_timeout(timeout)])
        case Spawn(t, call):
            return f"spawn {t} {format_action(call)}"
        case Join(t):
            return f"join {t}"
        case Sleep(seconds):
            return f"sleep {format_seconds(seconds)}"
    raise AssertionError(f"unknown action {action!r}")  # pragma: no cover


def format_statement(statement: Statement) -> str:
    text = format_action(statement.action)
    if statement.expect is not None:
        text += f" => {statement.expect}"
    return text


def format_scenario(scenario: Scenario) -> str:
    """A whole scenario: its claim as a comment block, then one statement a line."""
    lines = [f"# {line}".rstrip() for line in scenario.claim.splitlines()]
    lines.extend(format_statement(s) for s in scenario.statements)
    return "\n".join(lines) + "\n"
