"""Workload files: parse, validate, override (``--set``) and sweep (``--sweep``).

A workload file is TOML in three tables: ``[workload]`` (name, description,
duration, seed), ``[server]`` and ``[clients]``; every key is optional except
``[workload] name``. This module owns the frozen records (:class:`Workload`,
:class:`Server`, :class:`Clients`), the one table of keys (:data:`KEYS`: type,
range, choices and help, read by validation and by ``--help`` alike) and the
rules between keys. It runs nothing: the simulator and the real runner take a
:class:`Workload`.

Every problem is a :class:`ScenarioError` at ``FILE:LINE:COL`` with a hint.
``tomllib`` gives positions only for syntax errors, so :func:`_positions` scans
the text for table headers and ``key =`` lines: an unknown key points at the
key, a bad value at the value, a broken rule between keys at the first of its
keys that a ``--set`` or the file wrote. Overrides and sweeps point into their
own argument (``--set:1:COL``, ``--sweep:1:COL``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from muxsim.lang.errors import ScenarioError
from muxsim.lang.inputs import InputFileError, read_input

Loop = Literal["select", "poll", "epoll-lt", "epoll-et", "epoll-oneshot"]
Sharing = Literal["shared-epoll", "epoll-per-thread"]
Transport = Literal["unix", "tcp"]
Arrivals = Literal["poisson", "periodic"]

MiB = 1 << 20
FD_SETSIZE = 1024
# select(2) watches only descriptors below FD_SETSIZE; leave room below it for
# stdio, the listener and the threads' own descriptors.
SELECT_MAX_CONNECTIONS = 900


@dataclass(frozen=True, slots=True)
class Server:
    loop: Loop = "epoll-lt"
    threads: int = 1
    sharing: Sharing = "shared-epoll"
    exclusive: bool = False
    timeout: float = -1.0
    maxevents: int = 64
    drain: bool = True
    read_size: int = 65536


@dataclass(frozen=True, slots=True)
class Clients:
    connections: int = 100
    active: float = 0.01
    rate: float = 10.0
    arrivals: Arrivals = "poisson"
    request_size: int = 100
    response_size: int = 100
    transport: Transport = "unix"
    connect_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    description: str = ""
    duration: float = 1.0
    seed: int = 1
    server: Server = Server()
    clients: Clients = Clients()
    path: str = "<memory>"  # the file it came from (not a key)


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a workload file: the single source of its type, range, choices and help."""

    section: str
    name: str
    kind: type[object]  # int, float, bool or str
    help: str
    lo: float = 0
    hi: float = 0
    lo_open: bool = False  # lo itself is not allowed
    also: tuple[float, ...] = ()  # lone values allowed outside [lo, hi]
    choices: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def range_text(self) -> str:
        if self.kind is not int and self.kind is not float:
            return ("one of " + ", ".join(self.choices) if self.choices else
                    "true or false" if self.kind is bool else "a string")
        lo, hi = format_value(self.lo), format_value(self.hi)
        span = f"greater than {lo} and at most {hi}" if self.lo_open else f"between {lo} and {hi}"
        return "".join(f"{format_value(v)}, or " for v in self.also) + span

    def accepts(self, value: float) -> bool:
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        return value in self.also or (low_ok and value <= self.hi)


_KEY_LIST = [
    Key("workload", "name", str, "the workload's name, shown in reports"),
    Key("workload", "description", str, "one line on what the workload shows"),
    Key("workload", "duration", float, "virtual seconds to run", 0, 3600, lo_open=True),
    Key("workload", "seed", int, "seed of the clients' random arrivals", 0, 2**63 - 1),
    Key("server", "loop", str, "the server's readiness call", choices=get_args(Loop)),
    Key("server", "threads", int, "server threads, each running the loop", 1, 256),
    Key("server", "sharing", str, "epoll loops: all threads wait on one epoll, or each owns one "
        "(connections dealt round-robin, the listener in each)", choices=get_args(Sharing)),
    Key("server", "exclusive", bool, "EPOLLEXCLUSIVE on the listener's interests "
        '(needs sharing = "epoll-per-thread" and connect_rate > 0)'),
    Key("server", "timeout", float, "readiness-call timeout in seconds: -1 blocks, 0 busy-polls",
        0, 3600, also=(-1.0,)),
    Key("server", "maxevents", int, "events per epoll_wait (epoll loops)", 1, 1_000_000),
    Key("server", "drain", bool, "read until EAGAIN after each report (an edge-triggered "
        "server with drain = false strands data)"),
    Key("server", "read_size", int, "bytes per recv (up to 16 MiB)", 1, 16 * MiB),
    Key("clients", "connections", int, "connections, idle and active", 1, 1_000_000),
    Key("clients", "active", float, "fraction of the connections that send requests", 0, 1),
    Key("clients", "rate", float, "requests/s per active connection", 0, 1e6, lo_open=True),
    Key("clients", "arrivals", str, "how requests are spaced", choices=get_args(Arrivals)),
    Key("clients", "request_size", int, "bytes per request (up to 16 MiB)", 1, 16 * MiB),
    Key("clients", "response_size", int, "bytes per response (up to 256 MiB)", 0, 256 * MiB),
    Key("clients", "transport", str, "the connections' sockets", choices=get_args(Transport)),
    Key("clients", "connect_rate", float, "new short-lived connections per second at a "
        "listening TCP socket (0: no listener)", 0, 1e6),
]
KEYS: dict[str, Key] = {k.dotted: k for k in _KEY_LIST}
SECTIONS = ("workload", "server", "clients")
_GLOSS = {"epoll-lt": "level-triggered", "epoll-et": "edge-triggered"}

Place = tuple[str, int, int]  # path, line, col
# A broken rule between keys: the keys to point at (the first written wins), message, hint.
Broken = tuple[tuple[str, ...], str, str]


class _Invalid(Exception):
    """A bad value (message, hint), before anyone knows where it was written."""


def format_value(value: Any) -> str:
    """A value as a table cell or a message shows it: true/false, 10000, 0.01, epoll-lt."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _show(value: Any) -> str:
    shown = json.dumps(value) if isinstance(value, str) else format_value(value)
    return shown if len(shown) <= 60 else f"{shown[:60]}... ({len(shown):,} characters)"


def _one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# -- one value ---------------------------------------------------------------


def _choice_hint(key: Key, value: str) -> str:
    # "epoll" names a family, not a loop: offer the whole family, the default first.
    near = [c for c in key.choices if c.startswith(value.lower() + "-")] if value else []
    near = near or difflib.get_close_matches(value.lower(), key.choices, n=3)
    named = [f"'{c}'" + (f" ({_GLOSS[c]})" if i == 0 and c in _GLOSS else "")
             for i, c in enumerate(near)]
    return (f"did you mean {_one_of(named)}? " if near else "") + f"{key.name} is {key.range_text}"


def _coerce(key: Key, value: Any) -> Any:
    """``value`` checked against ``key`` and converted to its type (an int for a float is fine)."""
    d, about = key.dotted, f"{key.name}: {key.help}; {key.range_text}"
    if key.kind is bool:
        if not isinstance(value, bool):
            raise _Invalid(f"{d} must be true or false, got {_show(value)}",
                           f"write true or false without quotes, e.g. {key.name} = true")
        return value
    if key.kind is str:
        if not isinstance(value, str):
            raise _Invalid(f"{d} must be a string, got {_show(value)}",
                           f'put it in double quotes, e.g. {key.name} = "{_show(value)}"')
        if key.choices and value not in key.choices:
            raise _Invalid(f"unknown {d} {_show(value)}", _choice_hint(key, value))
        if key.name == "name":
            _check_name(value)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{d} must be a number, got {_show(value)}", about)
    if isinstance(value, float) and not value.is_integer() and key.kind is int:
        raise _Invalid(f"{d} must be a whole number, got {_show(value)}", about)
    if (isinstance(value, float) and not math.isfinite(value)) or not key.accepts(value):
        raise _Invalid(f"{d} must be {key.range_text}, got {_show(value)}", about)
    return int(value) if key.kind is int else float(value)


def output_name(name: str) -> str:
    """The workload's name as the directory ``explore`` writes to by default.

    Letters, digits, ``-``, ``_`` and ``.`` are kept, anything else becomes
    ``-``; :func:`_check_name` has refused the names whose form here could
    leave that directory (``.`` and ``..``) or is not one path component.
    """
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


#: The longest file name Linux allows (include/uapi/linux/limits.h NAME_MAX, in bytes).
NAME_MAX = 255


def _check_name(name: str) -> None:
    """Refuse a name that is empty or could name a path of its own (issue 11, item 6)."""
    example = 'name the workload with letters, digits and - _ ., e.g. name = "c10k"'
    if not name.strip():
        raise _Invalid("workload.name must not be empty", example)
    if name in (".", ".."):
        raise _Invalid(f"workload.name {_show(name)} names a directory, not a workload",
                       "the name is the default output directory, reports/explore/<name>; "
                       + example)
    bad = next((c for c in name if c == "/" or unicodedata.category(c) in ("Cc", "Zl", "Zp")),
               None)
    if bad is not None:
        raise _Invalid(f"workload.name may not hold {_show(bad)} (U+{ord(bad):04X})",
                       "the name is the default output directory, reports/explore/<name>, "
                       "so it may not hold a path separator, a line break or a control "
                       f"character; {example}")
    if len(output_name(name).encode()) > NAME_MAX:
        raise _Invalid(f"workload.name is too long: {len(name.encode()):,} bytes",
                       f"the name is a directory name: at most {NAME_MAX} bytes (NAME_MAX); "
                       "put the rest in description")


def _checked(key: Key, value: Any, place: Place) -> Any:
    try:
        return _coerce(key, value)
    except _Invalid as bad:
        raise ScenarioError(*place, *bad.args) from None


def _with(workload: Workload, key: Key, value: Any) -> Workload:
    if key.section == "workload":
        return dataclasses.replace(workload, **{key.name: value})
    part = dataclasses.replace(getattr(workload, key.section), **{key.name: value})
    return dataclasses.replace(workload, **{key.section: part})


# -- rules between keys ------------------------------------------------------


def _broken_rule(w: Workload) -> Broken | None:
    s, c = w.server, w.clients
    epoll = s.loop.startswith("epoll")
    if s.sharing == "epoll-per-thread" and not epoll:
        return (("server.sharing", "server.loop"),
                f'sharing = "epoll-per-thread" needs an epoll loop, not loop = "{s.loop}"',
                "select and poll threads each watch their own share of the connections "
                'already; drop sharing, or use loop = "epoll-lt"')
    if s.exclusive and not epoll:
        return (("server.exclusive", "server.loop"),
                f'exclusive = true needs an epoll loop, not loop = "{s.loop}"',
                'EPOLLEXCLUSIVE is an epoll_ctl flag; use an epoll loop with sharing = '
                '"epoll-per-thread", or drop exclusive')
    if s.exclusive and s.sharing != "epoll-per-thread":
        return (("server.exclusive", "server.sharing"),
                'exclusive = true needs sharing = "epoll-per-thread"',
                "EPOLLEXCLUSIVE matters when several epolls watch the one listener; on one "
                "shared epoll, epoll_wait callers already wait exclusively")
    if s.exclusive and c.connect_rate == 0:
        return (("server.exclusive", "clients.connect_rate"),
                "exclusive = true needs a listener, but connect_rate = 0",
                "EPOLLEXCLUSIVE applies to the listener here; set connect_rate (e.g. 2000) "
                'and transport = "tcp"')
    if s.exclusive and s.loop == "epoll-oneshot":
        return (("server.exclusive", "server.loop"),
                'exclusive = true cannot go with loop = "epoll-oneshot"',
                "epoll_ctl refuses EPOLLEXCLUSIVE with EPOLLONESHOT (EINVAL: "
                "fs/eventpoll.c, EPOLLEXCLUSIVE_OK_BITS); use epoll-lt or epoll-et")
    if c.connect_rate > 0 and c.transport != "tcp":
        return (("clients.connect_rate", "clients.transport"),
                f'connect_rate > 0 needs transport = "tcp", not "{c.transport}"',
                'new connections arrive at a listening TCP socket; set transport = "tcp", '
                "or connect_rate = 0")
    if s.loop == "select" and c.connections > SELECT_MAX_CONNECTIONS:
        return (("clients.connections", "server.loop"),
                f"select watches only descriptors below FD_SETSIZE ({FD_SETSIZE}): at most "
                f"{SELECT_MAX_CONNECTIONS} connections, got {c.connections}",
                "use poll or epoll for more connections")
    if c.connect_rate == 0 and c.active * c.connections < 1:
        return (("clients.active", "clients.connections"),
                f"no connection is active: active * connections = {format_value(c.active)} * "
                f"{c.connections} = {format_value(c.active * c.connections)}",
                "raise active or connections so that at least one connection sends "
                'requests (or set connect_rate with transport = "tcp")')
    return None


def _check_rules(workload: Workload, fallback: Place, *written: dict[str, Place]) -> None:
    """Raise at the first broken rule: at its first key the first of ``written`` has."""
    if broken := _broken_rule(workload):
        keys, message, hint = broken
        place = next((w[k] for w in written for k in keys if k in w), fallback)
        raise ScenarioError(*place, message, hint)


# -- files -------------------------------------------------------------------

_PART = r"""[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'"""
_DOTTED = rf"(?:{_PART})(?:[ \t]*\.[ \t]*(?:{_PART}))*"
_HEADER_RE = re.compile(rf"[ \t]*\[\[?[ \t]*({_DOTTED})[ \t]*\]")
_KEY_RE = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=[ \t]*")
_AT_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
Positions = dict[tuple[str, ...], tuple[int, int, int]]  # key path -> line, key col, value col


def _positions(text: str) -> Positions:
    """Where each table header and ``key =`` is first written."""
    found: Positions = {}
    table: tuple[str, ...] = ()
    in_string = False
    for lineno, line in enumerate(text.split("\n"), 1):
        if not in_string and (m := _HEADER_RE.match(line) or _KEY_RE.match(line)):
            parts = tuple(p.strip("\"'") for p in re.findall(_PART, m[1]))
            if m.re is _HEADER_RE:
                table = parts
                found.setdefault(table, (lineno, m.start(1) + 1, m.start(1) + 1))
            else:
                found.setdefault(table + parts, (lineno, m.start(1) + 1, m.end() + 1))
        if (line.count('"""') + line.count("'''")) % 2:
            in_string = not in_string  # inside a multi-line string nothing is a key
    return found


def _at(pos: Positions, where: tuple[str, ...], value: bool = False) -> tuple[int, int]:
    if where in pos:
        line, key_col, value_col = pos[where]
        return line, value_col if value else key_col
    return pos[where[:1]][:2] if where[:1] in pos else (1, 1)


def _toml_error(exc: tomllib.TOMLDecodeError, text: str, path: str) -> ScenarioError:
    message = str(exc)
    if m := _AT_RE.search(message):
        line, col, message = int(m[1]), int(m[2]), message[: m.start()]
    else:  # "(at end of document)"
        lines = text.split("\n")
        line, col, message = len(lines), len(lines[-1]) + 1, message.split(" (at ")[0]
    hint = "check quoting and brackets; see docs/explore.md"
    if message.startswith("Invalid value"):
        hint = f'strings need quotes (loop = "poll"), numbers and true/false do not; {hint}'
    return ScenarioError(path, line, col, f"TOML syntax: {message}", hint)


def _unknown_key_hint(section: str, name: str) -> str:
    if name in SECTIONS:
        return f"[{name}] is a table of its own: start it with a [{name}] line"
    if owner := [k.section for k in _KEY_LIST if k.name == name]:
        return f"'{name}' belongs in [{owner[0]}]"
    names = [k.name for k in _KEY_LIST if k.section == section]
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean '{close[0]}'?" if close else f"[{section}] keys are {', '.join(names)}"


#: A run of digits longer than CPython reads into an int (sys.get_int_max_str_digits).
_LONG_NUMBER = re.compile(r"[0-9](?:_?[0-9]){4300,}")
#: Nesting deeper than any workload needs (it needs none); tomllib recurses per level.
_MAX_DEPTH = 100


def _too_deep(text: str) -> tuple[int, int]:
    """Where array or inline-table nesting first passes _MAX_DEPTH (line, col), or 1:1.

    Only used to place the error once tomllib has given up; strings and
    comments are skipped so that brackets inside them do not count.
    """
    depth, quote, i = 0, "", 0
    while i < len(text):
        c = text[i]
        if quote == "#":  # a comment runs to the end of the line
            quote = "" if c == "\n" else quote
        elif quote:
            if c == "\\" and quote[0] == '"':
                i += 1  # an escape: the next character is not a closing quote
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif c in "\"'#":
            quote = text[i:i + 3] if text.startswith(c * 3, i) and c != "#" else c
            i += len(quote) - 1
        elif c in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i)
        elif c in "]}":
            depth -= 1
        i += 1
    return 1, 1


def _loads(text: str, path: str, line: int = 1, col: int = 1) -> dict[str, Any]:
    """``tomllib.loads``, every failure a positioned error.

    Besides ``TOMLDecodeError``, tomllib raises ``ValueError`` for an integer
    of more than 4,300 digits and ``RecursionError`` for arrays nested some
    hundreds deep; both were tracebacks.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, text, path) from None
    except ValueError:
        m = _LONG_NUMBER.search(text)
        at_line = text.count("\n", 0, m.start()) + 1 if m else 1
        at_col = m.start() - text.rfind("\n", 0, m.start()) if m else 1
        raise ScenarioError(path, at_line + line - 1, at_col + col - 1,
                            "number too long: more than 4,300 digits",
                            "no key takes a number this large; see docs/explore.md for each "
                            "key's range") from None
    except RecursionError:
        at_line, at_col = _too_deep(text)
        raise ScenarioError(path, at_line + line - 1, at_col + col - 1,
                            f"nested too deeply (more than {_MAX_DEPTH} levels of [ or {{)",
                            "workload values are numbers, strings and true/false: no key "
                            "takes an array or a table") from None


def _parse(text: str, path: str) -> tuple[Workload, dict[str, Place]]:
    """The workload as written, each value checked (not the rules between keys),
    and where the file wrote each of its keys."""
    text = text.removeprefix("\ufeff")
    doc = _loads(text, path)
    pos = _positions(text)
    values: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for top, body in doc.items():
        if top not in SECTIONS:
            owner = [k.section for k in _KEY_LIST if k.name == top]
            close = difflib.get_close_matches(top, SECTIONS, n=1)
            raise ScenarioError(
                path, *_at(pos, (top,)),
                f"key '{top}' is outside any table" if owner else f"unknown table [{top}]",
                f"put it under [{owner[0]}]" if owner else f"did you mean [{close[0]}]?"
                if close else "the tables are [workload], [server] and [clients]")
        if not isinstance(body, dict):
            raise ScenarioError(path, *_at(pos, (top,)), f"{top} must be a table, not a value",
                                f"write [{top}] on a line of its own, with its keys below it")
        for name, raw in body.items():
            if (key := KEYS.get(f"{top}.{name}")) is None:
                raise ScenarioError(path, *_at(pos, (top, name)),
                                    f"unknown key '{name}' in [{top}]",
                                    _unknown_key_hint(top, name))
            values[top][name] = _checked(key, raw, (path, *_at(pos, (top, name), True)))
    if "name" not in values["workload"]:
        raise ScenarioError(path, *_at(pos, ("workload",)), "the workload has no name",
                            'start the file with [workload] and a line name = "c10k"')
    workload = Workload(**values["workload"], server=Server(**values["server"]),
                        clients=Clients(**values["clients"]), path=path)
    return workload, {k.dotted: (path, *_at(pos, (k.section, k.name))) for k in _KEY_LIST
                      if (k.section, k.name) in pos}


def parse_workload(text: str, path: str) -> Workload:
    """The workload in ``text`` (a file's contents; ``path`` names it in errors)."""
    workload, in_file = _parse(text, path)
    _check_rules(workload, (path, 1, 1), in_file)
    return workload


def _read(path: str) -> str:
    try:
        data = read_input(path)  # bounded; a FIFO or a device is refused unread
    except InputFileError as exc:
        raise ScenarioError(path, 1, 1, exc.message,
                            "check the path; shipped workloads are in models/scenarios/") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        raise ScenarioError(path, data.count(b"\n", 0, exc.start) + 1, col,
                            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
                            "TOML files are UTF-8; save the file as UTF-8") from None


def load_workload(path: str, overrides: Sequence[str] = (), *,
                  sweeping: str | None = None) -> Workload:
    """The workload in the file at ``path``, with each ``key=value`` override applied.

    The rules between keys are checked once, after every override: one
    override may need the next (``loop=select`` then ``connections=500``).
    With ``sweeping`` (a ``--sweep`` argument) they are left to the sweep's
    points, which replace that key (``--set loop=select --sweep
    connections=100,800`` on a file with 10,000 connections).
    """
    workload, in_file = _parse(_read(path), path)
    overridden: dict[str, Place] = {}
    for assignment in overrides:
        workload, key, col = _assign(workload, assignment, "--set")
        overridden[key.dotted] = ("--set", 1, col)
    if sweeping is None:
        _check_rules(workload, (path, 1, 1), overridden, in_file)
    return workload


# -- --set and --sweep -------------------------------------------------------


def _split(text: str, where: str, example: str) -> tuple[str, str, int, int]:
    """``key=value`` -> key, value, and the 1-based column of each."""
    name, eq, value = text.partition("=")
    value_col = len(name) + 2 + len(value) - len(value.lstrip())
    if not eq or not name.strip() or not value.strip():
        what = ("missing '='" if not eq else "no key before '='" if not name.strip() else
                "no value after '='")
        raise ScenarioError(where, 1, value_col if eq and name.strip() else 1,
                            f"{what} in {text!r}", f"use key=value, e.g. {example}")
    return name.strip(), value.strip(), len(name) - len(name.lstrip()) + 1, value_col


def _resolve(name: str, where: str, col: int) -> Key:
    """A dotted key, or a bare one that only one table has."""
    if name in KEYS:
        return KEYS[name]
    matches = [k for k in KEYS.values() if k.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ScenarioError(where, 1, col, f"key '{name}' is in more than one table",
                            f"write {_one_of([k.dotted for k in matches])}")
    close = difflib.get_close_matches(name, [*KEYS, *(k.name for k in KEYS.values())], n=1)
    raise ScenarioError(where, 1, col, f"unknown key '{name}'",
                        f"did you mean '{close[0]}'?" if close else f"keys are {', '.join(KEYS)}")


def _value(key: Key, text: str, where: str, col: int) -> Any:
    """``text`` as a TOML value if it is one (5000, 0.5, true, "poll"), else as a bare string."""
    value: Any = text
    if "\n" not in text and "\r" not in text:
        try:
            doc = _loads(f"v = {text}", where, 1, col - len("v = "))
            if list(doc) == ["v"] and (key.kind is not str or isinstance(doc["v"], str)):
                value = doc["v"]
        except ScenarioError as exc:
            if not exc.message.startswith("TOML syntax"):
                raise  # too long or too deep: no bare string either
    return _checked(key, value, (where, 1, col))


def _assign(workload: Workload, assignment: str, where: str) -> tuple[Workload, Key, int]:
    name, text, key_col, value_col = _split(assignment, where, "connections=5000")
    key = _resolve(name, where, key_col)
    return _with(workload, key, _value(key, text, where, value_col)), key, key_col


def apply_set(workload: Workload, assignment: str, *, where: str = "--set") -> Workload:
    """``workload`` with one ``key=value`` applied, the value checked.

    The rules between keys are the caller's (:func:`load_workload` checks
    them after the last override).
    """
    return _assign(workload, assignment, where)[0]


def replace_key(workload: Workload, dotted_key: str, value: Any, *,
                where: str = "--sweep", col: int = 1) -> Workload:
    """``workload`` with one key set to ``value`` (a sweep point), every rule checked."""
    return replace_keys(workload, [(dotted_key, value)], where=where, col=col)


def _points(key: Key, spec: str, col: int) -> list[Any]:
    """``a..b`` or ``a..b:n``: n points (5 unless given) from a to b, both included."""
    if key.kind is not int and key.kind is not float:
        example = ",".join(key.choices[:3]) if key.choices else "false,true"
        raise ScenarioError("--sweep", 1, col, f"a range needs a numeric key; {key.dotted} is "
                            f"{key.range_text}", f"list the values, e.g. {key.name}={example}")
    lo_text, _, rest = spec.partition("..")
    hi_text, colon, n_text = rest.partition(":")
    hi_col = col + len(lo_text) + 2
    for text, at in ((lo_text, col), (hi_text, hi_col)):
        if not text.strip():
            raise ScenarioError("--sweep", 1, at, "the range needs a start and an end",
                                f"write a..b or a..b:n, e.g. {key.name}=1..10")
    lo = _value(key, lo_text.strip(), "--sweep", col)
    hi = _value(key, hi_text.strip(), "--sweep", hi_col)
    if colon and (not re.fullmatch(r"[0-9]{1,4}", n_text.strip())
                  or not 2 <= int(n_text) <= 1000):
        raise ScenarioError("--sweep", 1, hi_col + len(hi_text) + 1,
                            f"bad number of points {n_text.strip()[:40]!r}",
                            f"write a..b:n with n from 2 to 1000, e.g. {key.name}="
                            f"{format_value(lo)}..{format_value(hi)}:10")
    n = int(n_text) if colon else 5
    if key.kind is int:  # exact integer steps, rounded half up
        points: list[Any] = [lo + ((hi - lo) * 2 * i + n - 1) // (2 * (n - 1)) for i in range(n)]
    else:
        points = [float(f"{lo + (hi - lo) * i / (n - 1):.12g}") for i in range(n)]
    return list(dict.fromkeys(points))


def replace_keys(workload: Workload, assignments: Sequence[tuple[str, Any]], *,
                 where: str = "--sweep", col: int = 1) -> Workload:
    """``workload`` with several keys set at once (a point of a two-key sweep); the rules
    between keys are checked once, after all of them."""
    changed = workload
    shown: list[str] = []
    for dotted, value in assignments:
        key = _resolve(dotted, where, col)
        changed = _with(changed, key, _checked(key, value, (where, 1, col)))
        shown.append(f"{key.name}={format_value(value)}")
    try:
        _check_rules(changed, (where, 1, col))
    except ScenarioError as exc:
        raise ScenarioError(exc.path, exc.line, exc.col, f"at {', '.join(shown)}: "
                            f"{exc.message}", exc.hint) from None
    return changed


def parse_sweep(text: str, workload: Workload, *, rules: bool = True) -> tuple[str, list[Any]]:
    """``key=a..b``, ``key=a..b:n`` or ``key=v1,v2,...`` -> (dotted key, values).

    Every value is checked as ``--set`` would check it, and (unless ``rules``
    is false: a two-key sweep checks its points whole) every point against
    the rules between keys, so a bad sweep fails before any run.
    """
    name, spec, key_col, col = _split(text, "--sweep", "connections=1000..10000:4")
    key = _resolve(name, "--sweep", key_col)
    if key.name in ("name", "description"):
        raise ScenarioError("--sweep", 1, key_col, f"cannot sweep {key.dotted}",
                            "sweep a number or a choice, e.g. connections=1000..10000 or "
                            "loop=poll,epoll-lt")
    if ".." in spec:
        values = _points(key, spec, col)
        cols = [col] * len(values)
    else:
        values, cols = [], []
        for item in spec.split(","):
            cols.append(col + len(item) - len(item.lstrip()))
            if not item.strip():
                raise ScenarioError("--sweep", 1, cols[-1], "empty value in the list",
                                    f"separate values with single commas, e.g. {key.name}=1,2,3")
            values.append(_value(key, item.strip(), "--sweep", cols[-1]))
            col += len(item) + 1
    for value, at in zip(values, cols, strict=True):
        if rules:
            replace_key(workload, key.dotted, value, where="--sweep", col=at)
    return key.dotted, list(dict.fromkeys(values))  # a value listed twice runs once


def workload_to_dict(workload: Workload) -> dict[str, Any]:
    """The workload as JSON-able tables, as a file would write them (without ``path``)."""
    return {section: {k.name: getattr(workload if section == "workload" else
                                      getattr(workload, section), k.name)
                      for k in _KEY_LIST if k.section == section}
            for section in SECTIONS}
