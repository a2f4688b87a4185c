"""The parser: ``.mux`` source text to a :class:`~muxsim.lang.syntax.Scenario`.

Every error is a :class:`~muxsim.lang.errors.ScenarioError` with the file,
the 1-based line and column of the offending word, a message and a hint.
Besides syntax, the parser checks what can be known before running: names
are defined before use, a ``join`` names a running waiter, numbers are in
range. What only the kernel can decide (is this descriptor still open? is
this an epoll?) is left to the run: that is what scenarios are for.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from muxsim.lang.errors import ScenarioError
from muxsim.lang.inputs import InputFileError, read_input
from muxsim.lang.masks import Mask, MaskSyntaxError, parse_mask
from muxsim.lang.outcomes import Outcome, OutcomeSyntaxError, Ready, Selected, parse_outcome
from muxsim.lang.syntax import (
    OPTION_NAMES,
    Accept,
    Action,
    Close,
    Connect,
    Ctl,
    CtlOp,
    Drain,
    Dup,
    Epoll,
    Fill,
    Join,
    Listen,
    Name,
    OptionName,
    PairKind,
    Pipe,
    Poll,
    Recv,
    Scenario,
    Select,
    Send,
    SetOption,
    Shutdown,
    ShutHow,
    Sleep,
    Socket,
    SocketKind,
    SocketPair,
    SoError,
    Spawn,
    Statement,
    TcpPair,
    Wait,
    WaitingCall,
    Where,
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Decimal, without leading zeros (C reads 010 as octal 8; a scenario means 10).
_NUMBER = re.compile(r"(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")

#: Largest byte count one statement may name (the runner allocates the buffer).
MAX_COUNT = 1 << 28
#: Longest finite time a statement may name (the real kernel really waits).
MAX_SECONDS = 3600.0
#: Most waiters running at once: the real backend runs each in a thread and
#: looks at every one after each statement, so the language bounds them.
MAX_WAITERS = 4096
#: The C int every ``set`` value and ``max=`` is passed as: sk_setsockopt,
#: do_tcp_setsockopt and struct linger's l_linger read an int; epoll_wait's
#: maxevents is an int (include/linux/limits.h INT_MAX, INT_MIN).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Width in bits of a poll mask (struct pollfd's ``short events``) and of an
#: epoll mask (struct epoll_event's ``__u32 events``): a hex mask may not be wider.
POLL_MASK_BITS, EPOLL_MASK_BITS = 16, 32

#: The statement keywords and their shapes, for hints.
USAGE: dict[str, str] = {
    "socketpair": "socketpair A B [stream|dgram]",
    "tcppair": "tcppair A B",
    "socket": "socket X tcp|unix|udp",
    "listen": "listen L",
    "connect": "connect C L",
    "accept": "accept L S",
    "pipe": "pipe R W",
    "epoll": "epoll E",
    "dup": "dup NEW OLD",
    "close": "close X",
    "send": "send X N",
    "recv": "recv X N",
    "fill": "fill X",
    "drain": "drain X",
    "shutdown": "shutdown X rd|wr|rdwr",
    "set": "set X " + "|".join(OPTION_NAMES) + " VALUE",
    "soerror": "soerror X",
    "ctl": "ctl E add|mod|del X [MASK]",
    "wait": "wait E [timeout=S] [max=N]",
    "poll": "poll X:MASK [Y:MASK ...] [timeout=S]",
    "select": "select [r=X,Y] [w=X] [x=X] [timeout=S]",
    "spawn": "spawn T wait|poll|select ...",
    "join": "join T",
    "sleep": "sleep S",
}


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    col: int  # 1-based column of the first character


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One line split into its parts: code words, the expectation, the comment."""

    words: tuple[Word, ...]
    expect_text: str | None
    expect_col: int
    comment: str | None
    code_end: int  # index just past the statement's own text (before '=>' or '#')
    arrow_col: int  # 1-based column of '=>', 0 if there is none


# -- what a line is ----------------------------------------------------------
#
# One definition, shared by the parser and by `muxsim record`'s writer
# (muxsim.lang.record): a line ends at "\n", and a "\r" right before it (or at
# the very end of the file) belongs to the ending, so CRLF files read the same.
# Nothing else ends a line. Python's str.splitlines also breaks at \v, \f,
# \x1c-\x1e, \x85, U+2028 and U+2029; a parser that used it and a writer that
# split at "\n" disagreed on where lines are, and `record` joined two
# statements into one. Between words, a blank is a space, a tab, a form feed
# or a vertical tab (C's isspace() without the line endings). Outside a
# comment, any other character that is not printable ASCII is refused where
# it stands: every word of the language is ASCII, and an invisible character
# must not change what a line means.

_ODD_SPACE = re.compile(r"[\t\f\v]")
_WORD = re.compile(r"[^ \t\f\v]+")
_NOT_ALLOWED = re.compile(r"[^ -~\t\f\v]")
_DIGITS = re.compile(r"[0-9]+\Z")
_INTEGER = re.compile(r"-?[0-9]+\Z")


def source_lines(text: str) -> list[str]:
    """The lines of a scenario's text, each with its ending (``"\n"`` or ``"\r\n"``).

    The one definition of a line: :func:`parse` numbers lines with it and
    ``muxsim record`` rewrites them with it, so line N is the same line for both.
    """
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def line_body(line: str) -> str:
    """A line without its ending."""
    body = line[:-1] if line.endswith("\n") else line
    return body[:-1] if body.endswith("\r") else body


def check_characters(path: str, lineno: int, body: str) -> None:
    """Refuse a character outside a comment that is neither printable ASCII nor a blank."""
    hash_at = body.find("#")
    code = body if hash_at < 0 else body[:hash_at]
    bad = _NOT_ALLOWED.search(code)
    if bad is None:
        return
    char = bad.group(0)
    name = unicodedata.name(char, "") or {"\r": "CARRIAGE RETURN", "\x85": "NEXT LINE",
                                          "\x1c": "FILE SEPARATOR", "\x1d": "GROUP SEPARATOR",
                                          "\x1e": "RECORD SEPARATOR", "\x00": "NUL"}.get(
                                              char, "a control character")
    hint = ("lines end with \\n (or \\r\\n); words are separated by spaces or tabs; "
            "statements are ASCII (other text goes in a # comment)")
    raise ScenarioError(path, lineno, bad.start() + 1,
                        f"character U+{ord(char):04X} ({name}) is not allowed in a statement",
                        hint)


def _whole(text: str, lo: int, hi: int) -> int | None:
    """``text`` (already matched as [-]digits) as an int if it is in [lo, hi], else None.

    The digits are counted before ``int()`` reads them, so no number of
    digits can reach CPython's 4,300-digit limit (sys.get_int_max_str_digits).
    """
    digits = text.lstrip("-")
    if len(digits) > max(len(str(lo)), len(str(hi))):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def _leading_zero(text: str) -> bool:
    digits = text.lstrip("-")
    return len(digits) > 1 and digits[0] == "0"


def _words(body: str) -> tuple[Word, ...]:
    """The words of a line with their 1-based columns."""
    if _ODD_SPACE.search(body):
        return tuple(Word(m.group(0), m.start() + 1) for m in _WORD.finditer(body))
    out = []
    col = 1
    for part in body.split(" "):
        if part:
            out.append(Word(part, col))
        col += len(part) + 1
    return tuple(out)


def split_line(text: str) -> SourceLine:
    """Split a source line into statement words, expectation text and comment."""
    hash_at = text.find("#")
    code = text if hash_at < 0 else text[:hash_at]
    comment = None if hash_at < 0 else text[hash_at:]
    arrow = code.find("=>")
    expect_text: str | None = None
    expect_col = 0
    body = code
    if arrow >= 0:
        body = code[:arrow]
        rest = code[arrow + 2:]
        expect_text = rest.strip()
        expect_col = arrow + 3 + (len(rest) - len(rest.lstrip()))
    words = _words(body)
    code_end = len(body.rstrip())
    return SourceLine(words, expect_text, expect_col, comment, code_end, arrow + 1)


class _Line:
    """The words of one statement, consumed left to right."""

    def __init__(self, path: str, lineno: int, words: tuple[Word, ...], end_col: int) -> None:
        self.path = path
        self.lineno = lineno
        self.words = words
        self.i = 0
        self.end_col = end_col
        self.keyword = words[0].text

    def error(self, word: Word | None, message: str, hint: str) -> ScenarioError:
        col = word.col if word is not None else self.end_col
        return ScenarioError(self.path, self.lineno, col, message, hint)

    def usage(self) -> str:
        return f"the statement is: {USAGE[self.keyword]}"

    def peek(self) -> Word | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def take(self, what: str) -> Word:
        word = self.peek()
        if word is None:
            raise self.error(None, f"{self.keyword}: missing {what}", self.usage())
        self.i += 1
        return word

    def done(self) -> None:
        word = self.peek()
        if word is not None:
            raise self.error(word, f"{self.keyword}: unexpected {word.text!r}", self.usage())


class _Names:
    """What is defined so far: object names and running waiters."""

    def __init__(self) -> None:
        self.objects: set[str] = set()
        self.waiters: dict[str, WaitingCall] = {}
        self.joined: set[str] = set()


class Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.names = _Names()
        self.check_names = True
        self.last_joined: WaitingCall | None = None

    # -- words -----------------------------------------------------------

    def new_name(self, line: _Line, what: str) -> Name:
        word = line.take(what)
        if not _NAME.match(word.text):
            raise line.error(word, f"{word.text!r} is not a valid name",
                             "names are [A-Za-z_][A-Za-z0-9_]*, e.g. a, srv_1")
        return Name(word.text)

    def defined(self, line: _Line, what: str) -> Name:
        word = line.take(what)
        return self.check_defined(line, word, word.text)

    def check_defined(self, line: _Line, word: Word, text: str, col_offset: int = 0) -> Name:
        if not _NAME.match(text):
            raise ScenarioError(self.path, line.lineno, word.col + col_offset,
                                f"{text!r} is not a valid name",
                                "names are [A-Za-z_][A-Za-z0-9_]*, e.g. a, srv_1")
        if text not in self.names.objects:
            close = difflib.get_close_matches(text, sorted(self.names.objects), n=1)
            hint = (f"did you mean {close[0]}?" if close else
                    "create it first, e.g. socketpair, tcppair, socket, listen, pipe or epoll")
            raise ScenarioError(self.path, line.lineno, word.col + col_offset,
                                f"{text!r} is not defined", hint)
        return Name(text)

    def no_leading_zero(self, line: _Line, word: Word, text: str, col_offset: int = 0) -> None:
        if _leading_zero(text):
            shown = ("-" if text.startswith("-") else "") + (text.lstrip("-0") or "0")
            raise ScenarioError(self.path, line.lineno, word.col + col_offset,
                                f"{_short(text)} has a leading zero",
                                f"write {_short(shown)}: numbers are decimal, without leading "
                                "zeros (C would read 010 as octal 8)")

    def count(self, line: _Line, what: str) -> int:
        word = line.take(what)
        if not _DIGITS.match(word.text):
            raise line.error(word, f"{what} must be a whole number of bytes, got "
                             f"{_short(word.text)!r}", line.usage())
        self.no_leading_zero(line, word, word.text)
        value = _whole(word.text, 0, MAX_COUNT)
        if value is None:
            raise line.error(word, f"{what} is too large: {_short(word.text)} bytes",
                             f"at most {MAX_COUNT:,} bytes (256 MiB) in one statement; "
                             "fill sends until the buffer is full")
        return value

    def seconds(self, line: _Line, word: Word, text: str, col_offset: int,
                allow_inf: bool) -> float:
        if text == "inf" and allow_inf:
            return math.inf
        if not _NUMBER.match(text):
            hint = "seconds are a number such as 0, 0.5 or 2" + (", or inf" if allow_inf else "")
            if re.match(r"0[0-9]", text):
                hint = "write seconds without leading zeros, e.g. 0.5 or 2"
            raise ScenarioError(self.path, line.lineno, word.col + col_offset,
                                f"bad number of seconds {_short(text)!r}", hint)
        value = float(text)  # no digit limit for floats; 1e999 is inf, refused below
        if value > MAX_SECONDS:
            hint = (f"at most {MAX_SECONDS:g} seconds (the real kernel really waits)" +
                    ("; write inf to wait until an event" if allow_inf else ""))
            raise ScenarioError(self.path, line.lineno, word.col + col_offset,
                                f"too many seconds: {_short(text)}", hint)
        return value

    def choice(self, line: _Line, what: str, options: tuple[str, ...]) -> str:
        word = line.take(what)
        if word.text not in options:
            raise line.error(word, f"{line.keyword}: {what} must be one of "
                             f"{', '.join(options)}, got {word.text!r}", line.usage())
        return word.text

    def mask(self, line: _Line, word: Word, text: str, col_offset: int,
             bits: int = EPOLL_MASK_BITS) -> Mask:
        try:
            return parse_mask(text, bits)
        except MaskSyntaxError as exc:
            raise ScenarioError(self.path, line.lineno, word.col + col_offset + exc.offset,
                                str(exc), exc.hint) from None

    def options(self, line: _Line, allowed: tuple[str, ...]) -> dict[str, tuple[Word, str]]:
        found: dict[str, tuple[Word, str]] = {}
        while (word := line.peek()) is not None:
            key, eq, value = word.text.partition("=")
            if not eq or key not in allowed:
                raise line.error(word, f"{line.keyword}: unexpected {word.text!r}", line.usage())
            if key in found:
                raise line.error(word, f"{line.keyword}: {key}= given twice",
                                 f"give {key}= at most once")
            found[key] = (word, value)
            line.i += 1
        return found

    def timeout(self, line: _Line, found: dict[str, tuple[Word, str]]) -> float:
        if "timeout" not in found:
            return 0.0
        word, value = found["timeout"]
        return self.seconds(line, word, value, len("timeout="), allow_inf=True)

    # -- statements ------------------------------------------------------

    def action(self, line: _Line) -> Action:
        keyword = line.take("statement")
        k = keyword.text
        if k not in USAGE:
            close = difflib.get_close_matches(k, list(USAGE), n=1)
            hint = (f"did you mean {close[0]}?" if close else
                    "statements are " + ", ".join(USAGE))
            raise line.error(keyword, f"unknown statement {k!r}", hint)
        action: Action
        if k == "socketpair":
            a, b = self.new_name(line, "A"), self.new_name(line, "B")
            kind: PairKind = "stream"
            if line.peek() is not None:
                kind = "dgram" if self.choice(line, "kind", ("stream", "dgram")) == "dgram" \
                    else "stream"
            action = SocketPair(a, b, kind)
            self.define(a, b)
        elif k == "tcppair":
            a, b = self.new_name(line, "A"), self.new_name(line, "B")
            action = TcpPair(a, b)
            self.define(a, b)
        elif k == "socket":
            x = self.new_name(line, "X")
            skind: SocketKind = _socket_kind(self.choice(line, "kind", ("tcp", "unix", "udp")))
            action = Socket(x, skind)
            self.define(x)
        elif k == "listen":
            listener = self.new_name(line, "L")
            action = Listen(listener)
            self.define(listener)
        elif k == "connect":
            client = self.new_name(line, "C")
            listener = self.defined(line, "L")
            action = Connect(client, listener)
            self.define(client)
        elif k == "accept":
            listener = self.defined(line, "L")
            server = self.new_name(line, "S")
            action = Accept(listener, server)
            self.define(server)
        elif k == "pipe":
            r, w = self.new_name(line, "R"), self.new_name(line, "W")
            action = Pipe(r, w)
            self.define(r, w)
        elif k == "epoll":
            e = self.new_name(line, "E")
            action = Epoll(e)
            self.define(e)
        elif k == "dup":
            new = self.new_name(line, "NEW")
            old = self.defined(line, "OLD")
            action = Dup(new, old)
            self.define(new)
        elif k == "close":
            action = Close(self.defined(line, "X"))
        elif k == "send":
            x = self.defined(line, "X")
            action = Send(x, self.count(line, "N"))
        elif k == "recv":
            x = self.defined(line, "X")
            action = Recv(x, self.count(line, "N"))
        elif k == "fill":
            action = Fill(self.defined(line, "X"))
        elif k == "drain":
            action = Drain(self.defined(line, "X"))
        elif k == "shutdown":
            x = self.defined(line, "X")
            how: ShutHow = _shut_how(self.choice(line, "how", ("rd", "wr", "rdwr")))
            action = Shutdown(x, how)
        elif k == "set":
            x = self.defined(line, "X")
            option: OptionName = _option(self.choice(line, "OPTION", OPTION_NAMES))
            word = line.take("VALUE")
            if not _INTEGER.match(word.text):
                raise line.error(word, f"set: VALUE must be a whole number, got "
                                 f"{_short(word.text)!r}", line.usage())
            self.no_leading_zero(line, word, word.text)
            value = _whole(word.text, INT_MIN, INT_MAX)
            if value is None:
                raise line.error(word, f"set: VALUE {_short(word.text)} does not fit a C int",
                                 "socket options (SO_SNDBUF, SO_RCVBUF, SO_RCVLOWAT, "
                                 "TCP_NOTSENT_LOWAT, SO_LINGER's l_linger) and F_SETPIPE_SZ "
                                 f"take an int: {INT_MIN} to {INT_MAX}")
            action = SetOption(x, option, value)
        elif k == "soerror":
            action = SoError(self.defined(line, "X"))
        elif k == "ctl":
            action = self.ctl(line)
        elif k in ("wait", "poll", "select"):
            action = self.waiting_call(line, k)
        elif k == "spawn":
            t = self.new_name(line, "T")
            if len(self.names.waiters) >= MAX_WAITERS:
                raise line.error(line.words[0], f"more than {MAX_WAITERS:,} waiters running at "
                                 "once", "join some before spawning more")
            if self.check_names and t in self.names.waiters:
                raise line.error(line.words[1], f"waiter {t!r} is already running",
                                 f"join {t} before spawning it again, or use another name")
            inner = line.peek()
            if inner is None or inner.text not in ("wait", "poll", "select"):
                raise line.error(inner, "spawn: the waiter must run wait, poll or select",
                                 line.usage())
            line.i += 1
            line.keyword = inner.text
            call = self.waiting_call(line, inner.text)
            action = Spawn(t, call)
            self.names.waiters[t] = call
        elif k == "join":
            word = line.take("T")
            if word.text not in self.names.waiters:
                hint = (f"{word.text} was joined already; spawn it again first"
                        if word.text in self.names.joined else
                        "spawn T wait|poll|select ... first")
                raise line.error(word, f"no running waiter {word.text!r}", hint)
            if self.check_names:
                self.last_joined = self.names.waiters[word.text]
            del self.names.waiters[word.text]
            self.names.joined.add(word.text)
            action = Join(Name(word.text))
        else:  # sleep
            word = line.take("S")
            action = Sleep(self.seconds(line, word, word.text, 0, allow_inf=False))
        line.done()
        return action

    def define(self, *names: Name) -> None:
        self.names.objects.update(names)

    def ctl(self, line: _Line) -> Ctl:
        e = self.defined(line, "E")
        op: CtlOp = _ctl_op(self.choice(line, "operation", ("add", "mod", "del")))
        x = self.defined(line, "X")
        mask = None
        word = line.peek()
        if word is not None:
            line.i += 1
            mask = self.mask(line, word, word.text, 0)
        return Ctl(e, op, x, mask)

    def waiting_call(self, line: _Line, k: str) -> WaitingCall:
        if k == "wait":
            e = self.defined(line, "E")
            found = self.options(line, ("timeout", "max"))
            maxevents = None
            if "max" in found:
                word, value = found["max"]
                if not _DIGITS.match(value) or value.strip("0") == "":
                    raise line.error(word, f"max must be a whole number of at least 1, "
                                     f"got {_short(value)!r}",
                                     "epoll_wait needs room for one event at least "
                                     "(the kernel answers EINVAL to maxevents <= 0)")
                self.no_leading_zero(line, word, value, len("max="))
                maxevents = _whole(value, 1, INT_MAX)
                if maxevents is None:
                    raise line.error(word, f"max={_short(value)} does not fit a C int",
                                     "epoll_wait's maxevents is an int; above EP_MAX_EVENTS "
                                     "(178,956,970) the kernel answers EINVAL")
            return Wait(e, self.timeout(line, found), maxevents)
        if k == "poll":
            items: list[tuple[Name, Mask]] = []
            while (item := line.peek()) is not None and "=" not in item.text:
                name, colon, mask_text = item.text.partition(":")
                if not colon:
                    raise line.error(item, f"poll: {item.text!r} is not X:MASK",
                                     "each polled descriptor is NAME:MASK, e.g. a:IN|OUT or a:0")
                items.append((self.check_defined(line, item, name),
                              self.mask(line, item, mask_text, len(name) + 1, POLL_MASK_BITS)))
                line.i += 1
            if not items:
                raise line.error(line.peek(), "poll: no descriptor to poll", line.usage())
            found = self.options(line, ("timeout",))
            return Poll(tuple(items), self.timeout(line, found))
        # select
        found = self.options(line, ("r", "w", "x", "timeout"))
        sets: dict[str, tuple[Name, ...]] = {}
        for key in ("r", "w", "x"):
            if key not in found:
                sets[key] = ()
                continue
            word, value = found[key]
            names: list[Name] = []
            offset = len(key) + 1
            for text in value.split(","):
                names.append(self.check_defined(line, word, text, offset))
                offset += len(text) + 1
            sets[key] = tuple(names)
        return Select(sets["r"], sets["w"], sets["x"], self.timeout(line, found))

    def expectation(self, line: _Line, text: str, col: int, action: Action) -> Outcome:
        try:
            outcome = parse_outcome(text)
        except OutcomeSyntaxError as exc:
            raise ScenarioError(self.path, line.lineno, col + exc.offset, str(exc),
                                exc.hint) from None
        # '-' is every empty result; give it the type the statement produces.
        selects = isinstance(action, Select) or (
            isinstance(action, Join) and isinstance(self.last_joined, Select))
        if selects and outcome == Ready(()):
            return Selected()
        return outcome


def _socket_kind(text: str) -> SocketKind:
    return "tcp" if text == "tcp" else "unix" if text == "unix" else "udp"


def _shut_how(text: str) -> ShutHow:
    return "rd" if text == "rd" else "wr" if text == "wr" else "rdwr"


def _ctl_op(text: str) -> CtlOp:
    return "add" if text == "add" else "mod" if text == "mod" else "del"


def _option(text: str) -> OptionName:
    for name in OPTION_NAMES:
        if name == text:
            return name
    raise AssertionError(text)  # pragma: no cover - choice() checked it


def _short(text: str, keep: int = 40) -> str:
    """``text`` cut to ``keep`` characters for a message (a 5,000-digit number is not shown)."""
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text):,} characters)"


def iter_statement_lines(text: str) -> Iterator[tuple[int, str, SourceLine]]:
    """Each line that holds a statement: (line number, raw text, its parts)."""
    for lineno, raw in enumerate(map(line_body, source_lines(text)), start=1):
        parts = split_line(raw)
        if parts.words or parts.expect_text is not None:
            yield lineno, raw, parts


def parse(text: str, path: str = "<memory>") -> Scenario:
    """Parse a whole scenario; raises :class:`ScenarioError` at the first problem."""
    parser = Parser(path)
    statements: list[Statement] = []
    claim: list[str] = []
    in_header = True
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of line 1
    for lineno, raw in enumerate(map(line_body, source_lines(text)), start=1):
        check_characters(path, lineno, raw)
        if _ODD_SPACE.search(raw):
            # Tabs are fine as blanks, but columns are counted in characters.
            raw = raw.replace("\t", " ").replace("\f", " ").replace("\v", " ")
        parts = split_line(raw)
        if not parts.words:
            if parts.expect_text is not None:
                raise ScenarioError(path, lineno, parts.arrow_col, "'=>' without a statement",
                                    "write the statement first: send a 1 => 1")
            if in_header and parts.comment is not None:
                claim.append(parts.comment[1:].strip())
            elif in_header and claim:
                claim.append("")
            continue
        in_header = False
        line = _Line(path, lineno, parts.words, parts.code_end + 1)
        action = parser.action(line)
        expect = None
        if parts.expect_text is not None:
            expect = parser.expectation(line, parts.expect_text, parts.expect_col, action)
            if isinstance(action, Spawn) and str(expect) != "ok":
                raise ScenarioError(path, lineno, parts.expect_col,
                                    "a spawn's own outcome is ok",
                                    f"put the waiter's expected outcome on 'join {action.t}'")
        statements.append(Statement(action, expect, Where(path, lineno, raw)))
    while claim and not claim[-1]:
        claim.pop()
    return Scenario(tuple(statements), path=path, claim="\n".join(claim))


def read_source(path: str) -> str:
    """A scenario file's text, exactly as written (CRLF stays CRLF).

    Unreadable files, FIFOs and devices, files over 16 MiB and bytes that
    are not UTF-8 are scenario errors, positioned at the first bad byte.
    """
    try:
        data = read_input(path)
    except InputFileError as exc:
        raise ScenarioError(path, 1, 1, exc.message, exc.hint) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise ScenarioError(path, data.count(b"\n", 0, exc.start) + 1, col,
                            f"not UTF-8 text ({exc.reason}: byte 0x{data[exc.start]:02x})",
                            "scenario files are UTF-8 text") from None


def parse_file(path: str) -> Scenario:
    """Read and parse a ``.mux`` file; unreadable files are scenario errors too."""
    return parse(read_source(path), path)


def parse_statement(text: str) -> Statement:
    """Parse a single statement line with no definitions checked (for tests, printers)."""
    parser = Parser("<statement>")
    parser.names.objects = _AnyNames()
    parser.names.waiters = _AnyWaiters()
    parser.check_names = False
    check_characters("<statement>", 1, text)
    scenario_line = split_line(text)
    if not scenario_line.words:
        raise ScenarioError("<statement>", 1, 1, "empty statement", "write a statement")
    line = _Line("<statement>", 1, scenario_line.words, scenario_line.code_end + 1)
    action = parser.action(line)
    expect = None
    if scenario_line.expect_text is not None:
        expect = parser.expectation(line, scenario_line.expect_text, scenario_line.expect_col,
                                    action)
    return Statement(action, expect)


class _AnyNames(set[str]):
    """A name set that contains every name (statement-at-a-time parsing)."""

    def __contains__(self, item: object) -> bool:
        return True


class _AnyWaiters(dict[str, WaitingCall]):
    def __contains__(self, item: object) -> bool:
        return True

    def __delitem__(self, key: str) -> None:
        pass

