"""Outcomes: what a statement did, in one canonical form for every backend.

An outcome is a frozen value. Its ``str()`` is the canonical spelling that
traces, ``muxsim record`` and ``=>`` expectations all use:

* ``Number``: a byte count (``10``), ``Ok``: ``ok``, ``Errno``: ``EAGAIN``;
* ``Ready``: a ready list from ``wait`` or ``poll``: ``a IN|OUT, b HUP``,
  entries sorted by name, mask bits in ascending bit order, ``-`` if empty;
* ``Selected``: the three sets of ``select``: ``r=a,b w=c x=d``, empty sets
  left out, ``-`` when all three are empty;
* ``Hung``: ``HUNG``, a wait that never returned within the watchdog.

Two outcomes are the same exactly when their canonical spellings are equal,
so an expectation matches when it *denotes* the same outcome whatever the
order its author wrote entries or mask bits in. ``-`` denotes both the empty
ready list and the empty select result; :func:`same_outcome` treats them
as one.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from muxsim.lang.masks import Mask, MaskSyntaxError, format_mask, parse_mask

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ERRNO_NAMES = {errno.EAGAIN: "EAGAIN", errno.EOPNOTSUPP: "EOPNOTSUPP",
                errno.EDEADLK: "EDEADLK"}
_ERRNO = re.compile(r"E[A-Z0-9]+\Z")
_INTEGER = re.compile(r"-?[0-9]+\Z")
#: The largest count a system call returns (ssize_t on a 64-bit kernel).
SSIZE_MAX = 2**63 - 1


def _cut(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class Number:
    value: int

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Ok:
    def __str__(self) -> str:
        return "ok"


@dataclass(frozen=True, slots=True)
class Errno:
    name: str

    @classmethod
    def of(cls, code: int) -> Errno:
        """The canonical name of an errno value.

        Where Linux gives one value two names, the kernel's own spelling
        wins: ``EAGAIN`` (not ``EWOULDBLOCK``), ``EOPNOTSUPP`` (not
        ``ENOTSUP``), ``EDEADLK`` (not ``EDEADLOCK``).
        """
        return cls(_ERRNO_NAMES.get(code) or errno.errorcode.get(code, f"E{code}"))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Ready:
    """A ready list; build it with :meth:`of` so that it is in canonical order."""

    entries: tuple[tuple[str, Mask], ...]

    @classmethod
    def of(cls, entries: Sequence[tuple[str, Mask]]) -> Ready:
        return cls(tuple(sorted(entries, key=lambda e: (e[0], int(e[1])))))

    def __str__(self) -> str:
        if not self.entries:
            return "-"
        return ", ".join(f"{name} {format_mask(mask)}" for name, mask in self.entries)


@dataclass(frozen=True, slots=True)
class Selected:
    """select's result; build it with :meth:`of` so that each set is sorted."""

    r: tuple[str, ...] = ()
    w: tuple[str, ...] = ()
    x: tuple[str, ...] = ()

    @classmethod
    def of(cls, r: Sequence[str], w: Sequence[str], x: Sequence[str]) -> Selected:
        return cls(tuple(sorted(r)), tuple(sorted(w)), tuple(sorted(x)))

    def __str__(self) -> str:
        parts = [f"{key}={','.join(names)}" for key, names in
                 (("r", self.r), ("w", self.w), ("x", self.x)) if names]
        return " ".join(parts) if parts else "-"


@dataclass(frozen=True, slots=True)
class Hung:
    def __str__(self) -> str:
        return "HUNG"


Outcome: TypeAlias = Number | Ok | Errno | Ready | Selected | Hung


class OutcomeSyntaxError(ValueError):
    """An expectation that is not an outcome; ``offset`` is within the text."""

    def __init__(self, message: str, offset: int, hint: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.hint = hint


_HINT = (
    "an outcome is a number, ok, an errno name (EAGAIN), a ready list "
    "(a IN, b OUT|HUP), select sets (r=a w=b x=c), - for nothing, or HUNG"
)


def parse_outcome(text: str) -> Outcome:
    """Parse the text after ``=>`` (already stripped) into an :class:`Outcome`."""
    if not text:
        raise OutcomeSyntaxError("missing outcome after '=>'", 0, _HINT)
    if text == "-":
        return Ready(())
    if text == "ok":
        return Ok()
    if text == "HUNG":
        return Hung()
    if _INTEGER.match(text):
        digits = text.lstrip("-")
        if len(digits) > 1 and digits[0] == "0":
            plain = ("-" if text[0] == "-" else "") + (digits.lstrip("0") or "0")
            raise OutcomeSyntaxError(f"{_cut(text)} has a leading zero", 0,
                                     f"write {_cut(plain)}: outcomes are written as "
                                     "muxsim record writes them")
        # Digits are counted before int() reads them (CPython refuses 4,300).
        if len(digits) > len(str(SSIZE_MAX)) or abs(int(text)) > SSIZE_MAX:
            raise OutcomeSyntaxError(f"outcome {_cut(text)} is too large", 0,
                                     "no system call returns more than SSIZE_MAX "
                                     f"({SSIZE_MAX:,}); nor does fill or drain")
        return Number(int(text))
    if _ERRNO.match(text):
        return Errno(text)
    first = text.split()[0]
    if "=" in first:
        return _parse_selected(text)
    return _parse_ready(text)


def _parse_selected(text: str) -> Selected:
    sets: dict[str, list[str]] = {"r": [], "w": [], "x": []}
    seen: set[str] = set()
    offset = 0
    for word in text.split(" "):
        if not word:
            offset += 1
            continue
        key, eq, names = word.partition("=")
        if not eq or key not in sets:
            raise OutcomeSyntaxError(f"bad select set {_cut(word)!r}", offset,
                                     "select outcomes look like r=a,b w=c x=d")
        if key in seen:
            raise OutcomeSyntaxError(f"set {key}= given twice", offset,
                                     "name each of r=, w= and x= at most once")
        seen.add(key)
        for name in names.split(","):
            if not _NAME.match(name):
                raise OutcomeSyntaxError(f"bad name {_cut(name)!r} in select set", offset,
                                         "names are [A-Za-z_][A-Za-z0-9_]*")
            sets[key].append(name)
        offset += len(word) + 1
    return Selected.of(sets["r"], sets["w"], sets["x"])


def _parse_ready(text: str) -> Ready:
    entries: list[tuple[str, Mask]] = []
    offset = 0
    for chunk in text.split(","):
        lead = len(chunk) - len(chunk.lstrip())
        words = chunk.split()
        if len(words) != 2:
            raise OutcomeSyntaxError(f"bad ready-list entry {_cut(chunk.strip())!r}",
                                     offset + lead,
                                     "each entry is NAME MASK, e.g. a IN|OUT; "
                                     "entries are separated by commas. " + _HINT)
        name, mask_text = words
        if not _NAME.match(name):
            raise OutcomeSyntaxError(f"bad name {_cut(name)!r}", offset + lead,
                                     "names are [A-Za-z_][A-Za-z0-9_]*")
        try:
            mask = parse_mask(mask_text)
        except MaskSyntaxError as exc:
            at = offset + chunk.index(mask_text, lead + len(name)) + exc.offset
            raise OutcomeSyntaxError(str(exc), at, exc.hint) from None
        entries.append((name, mask))
        offset += len(chunk) + 1
    return Ready.of(entries)


def same_outcome(expected: Outcome, actual: Outcome) -> bool:
    """Whether two outcomes denote the same thing (``-`` is every empty result)."""
    return str(expected) == str(actual)
