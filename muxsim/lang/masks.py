"""Event masks: the bits of poll(2) and epoll(7), with Linux's values.

poll's ``POLL*`` and epoll's ``EPOLL*`` event bits share one numbering on
Linux (include/uapi/linux/eventpoll.h defines ``EPOLLIN`` as ``(__poll_t)0x1``
and so on, and include/uapi/asm-generic/poll.h gives ``POLLIN`` the same
value), so a single :class:`Mask` serves the ready lists of ``wait`` and
``poll`` alike. The input flags that only ``epoll_ctl`` understands
(``EXCLUSIVE``, ``ONESHOT``, ``ET``) sit in the high bits, exactly where
the kernel puts them.

This module owns the names, the values, the canonical spelling of a mask
(bits in ascending order joined by ``|``), and the parsing of that
spelling. It knows nothing about what sets which bit.
"""

from __future__ import annotations

import enum
import functools


class Mask(enum.IntFlag):
    """poll/epoll event bits with the values of include/uapi/linux/eventpoll.h."""

    IN = 0x001
    PRI = 0x002
    OUT = 0x004
    ERR = 0x008
    HUP = 0x010
    NVAL = 0x020
    RDNORM = 0x040
    RDBAND = 0x080
    WRNORM = 0x100
    WRBAND = 0x200
    MSG = 0x400
    RDHUP = 0x2000
    EXCLUSIVE = 1 << 28
    WAKEUP = 1 << 29
    ONESHOT = 1 << 30
    ET = 1 << 31


#: The names a scenario may write, in ascending bit order (the canonical order).
MASK_NAMES: tuple[str, ...] = (
    "IN",
    "PRI",
    "OUT",
    "ERR",
    "HUP",
    "NVAL",
    "RDNORM",
    "RDBAND",
    "WRNORM",
    "WRBAND",
    "MSG",
    "RDHUP",
    "EXCLUSIVE",
    "ONESHOT",
    "ET",
)

#: The bits that describe readiness (what a ready list may carry).
EVENT_BITS = (
    Mask.IN
    | Mask.PRI
    | Mask.OUT
    | Mask.ERR
    | Mask.HUP
    | Mask.NVAL
    | Mask.RDNORM
    | Mask.RDBAND
    | Mask.WRNORM
    | Mask.WRBAND
    | Mask.MSG
    | Mask.RDHUP
)

#: Input-only flags of epoll_ctl (include/uapi/linux/eventpoll.h: EP_PRIVATE_BITS
#: plus the trigger flags).
CONTROL_BITS = Mask.EXCLUSIVE | Mask.WAKEUP | Mask.ONESHOT | Mask.ET

_BY_NAME: dict[str, Mask] = {name: Mask[name] for name in MASK_NAMES}
_BITS: tuple[tuple[str, int], ...] = tuple((name, int(Mask[name])) for name in MASK_NAMES)
_NAMED = sum(bit for _, bit in _BITS)
_WRITABLE = frozenset(_BY_NAME)


class MaskSyntaxError(ValueError):
    """A mask spelling is not valid; ``offset`` points at the bad name."""

    def __init__(self, message: str, offset: int, hint: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.hint = hint


def parse_mask(text: str, bits: int = 32) -> Mask:
    """Parse ``0`` or ``NAME|NAME...`` into a :class:`Mask`.

    A hex part (``0x20000000``, as the printer shows bits without a name)
    may be at most ``bits`` wide: 32 for epoll (struct epoll_event's
    ``__u32 events``), 16 for poll (struct pollfd's ``short events``).
    """
    if text == "0":
        return Mask(0)
    mask = Mask(0)
    offset = 0
    for part in text.split("|"):
        if part.startswith("0x") and _is_hex(part[2:]):
            # The printer shows bits without a name in hex; read them back.
            digits = part[2:]
            field = "a poll mask (short events)" if bits <= 16 else \
                "an epoll mask (__u32 events)"
            if digits[0] == "0":
                raise MaskSyntaxError(f"hex mask {_cut(part)} has a leading zero", offset,
                                      f"write 0x{digits.lstrip('0')[:bits // 4] or '0'}"
                                      if digits.strip("0") else "write 0 for no bits")
            if len(digits) > bits // 4 or int(digits, 16) >> bits:
                raise MaskSyntaxError(f"hex mask {_cut(part)} is wider than {bits} bits",
                                      offset, f"{field} holds {bits} bits: at most "
                                      f"0x{(1 << bits) - 1:x} (include/uapi/linux/eventpoll.h, "
                                      "include/uapi/asm-generic/poll.h)")
            mask |= Mask(int(digits, 16))
            offset += len(part) + 1
            continue
        if part not in _WRITABLE:
            hint = "mask names are " + " ".join(MASK_NAMES) + ", or 0"
            if part.upper() in _WRITABLE:
                hint = f"mask names are upper case: did you mean {part.upper()}?"
            elif part.startswith(("EPOLL", "POLL")):
                bare = part.removeprefix("EPOLL").removeprefix("POLL")
                if bare in _WRITABLE:
                    hint = f"write {bare}, without the prefix"
            shown = _cut(part) if part else "(empty)"
            raise MaskSyntaxError(f"unknown mask name {shown!r}", offset, hint)
        mask |= _BY_NAME[part]
        offset += len(part) + 1
    return mask


def _cut(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:24]}... ({len(text):,} characters)"


def _is_hex(digits: str) -> bool:
    return bool(digits) and all(c in "0123456789abcdef" for c in digits)


def format_mask(mask: int) -> str:
    """The canonical spelling: bit names in ascending bit order, or ``0``."""
    return _format_mask(int(mask))


@functools.lru_cache(maxsize=4096)
def _format_mask(value: int) -> str:
    names = [name for name, bit in _BITS if value & bit]
    rest = value & ~_NAMED
    if rest:
        # Bits without a scenario name (WAKEUP, unknown kernel bits) are shown
        # in hex so that nothing the kernel said is silently dropped.
        names.append(hex(rest))
    return "|".join(names) if names else "0"
