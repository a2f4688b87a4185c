"""Thin wrappers over the few libc calls that work on bare descriptor numbers.

The runner keeps descriptors as plain integers that it alone owns: no
``socket.socket`` or ``select.epoll`` object holds one between statements,
because such an object closes its descriptor when collected, and a number
closed twice is a number taken from someone else. Python offers socket
options, ``shutdown`` and ``accept4`` only on socket objects, so they are
called here directly. Each failure raises ``OSError`` with the kernel's
errno, exactly as the standard library would.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

_libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_uint32)]
_libc.setsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                             ctypes.c_uint32]
_libc.shutdown.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.accept4.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
_libc.send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.send.restype = ctypes.c_ssize_t
_libc.recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.recv.restype = ctypes.c_ssize_t

_libc.select.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_void_p]
_libc.epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
_libc.epoll_wait.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]

MSG_NOSIGNAL = 0x4000
_LONG_BITS = ctypes.sizeof(ctypes.c_ulong) * 8
#: INT_MAX / sizeof(struct epoll_event) (fs/eventpoll.c).
EP_MAX_EVENTS = 0x7FFFFFFF // 12
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3


class Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class EpollEvent(ctypes.Structure):
    """``struct epoll_event``: packed on x86_64 (include/uapi/linux/eventpoll.h)."""

    _pack_ = 1 if os.uname().machine == "x86_64" else 0
    _fields_ = (("events", ctypes.c_uint32), ("data", ctypes.c_uint64))
_recv_buffer = ctypes.create_string_buffer(1 << 16)


def _fail() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


def getsockopt(fd: int, level: int, option: int, size: int) -> bytes:
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    if _libc.getsockopt(fd, level, option, buf, ctypes.byref(length)) != 0:
        raise _fail()
    return buf.raw[: length.value]


def getsockopt_int(fd: int, level: int, option: int) -> int:
    return int.from_bytes(getsockopt(fd, level, option, 4), "little", signed=True)


def setsockopt(fd: int, level: int, option: int, value: bytes) -> None:
    buf = ctypes.create_string_buffer(value, len(value))
    if _libc.setsockopt(fd, level, option, buf, len(value)) != 0:
        raise _fail()


def shutdown(fd: int, how: int) -> None:
    if _libc.shutdown(fd, how) != 0:
        raise _fail()


def accept4(fd: int, flags: int) -> int:
    new = int(_libc.accept4(fd, None, None, flags))
    if new < 0:
        raise _fail()
    return new


def send(fd: int, length: int, zeros: bytes) -> int:
    """``send(fd, zeros[:length], length, MSG_NOSIGNAL)``: EPIPE, never SIGPIPE."""
    sent = int(_libc.send(fd, zeros, length, MSG_NOSIGNAL))
    if sent < 0:
        raise _fail()
    return sent


def recv(fd: int, length: int) -> int:
    """``recv(fd, buf, length, 0)``; returns the number of bytes received."""
    buf = _recv_buffer if length <= len(_recv_buffer) else ctypes.create_string_buffer(length)
    got = int(_libc.recv(fd, buf, length, 0))
    if got < 0:
        raise _fail()
    return got


def epoll_ctl(epfd: int, op: int, fd: int, events: int, data: int) -> None:
    """``epoll_ctl`` with our own ``data``: ``select.epoll`` can only store the fd.

    Two interests on one number (a stale one for a closed file, and one for
    the file that reused the number) must report different data, so the
    runner stores a registration token; ``select.epoll.poll`` hands the low
    32 bits of ``data`` back as its "fd", which is the token.
    """
    event = EpollEvent(events & 0xFFFFFFFF, data)
    if _libc.epoll_ctl(epfd, op, fd, ctypes.byref(event)) != 0:
        raise _fail()


def epoll_wait(epfd: int, maxevents: int, timeout_ms: int) -> list[tuple[int, int]]:
    """One ``epoll_wait`` call, never retried: EINTR comes back as ``OSError``.

    Spawned waiters use this rather than ``select.epoll.poll``, which retries
    after a signal (PEP 475): a single call that a signal can end is the only
    way to cancel a waiter without changing what it observes (a new call
    would queue the thread again at the head of ``ep->wq``).
    """
    # The buffer must hold every event the kernel may write: maxevents of
    # them. Beyond EP_MAX_EVENTS the kernel answers EINVAL before writing
    # anything; between 2**20 and that, the call is made with 2**20, which
    # only differs if more than a million interests are ready at once.
    if maxevents > EP_MAX_EVENTS:
        slots, asked = 1, maxevents
    else:
        slots = asked = min(maxevents, 1 << 20)
    events = (EpollEvent * max(slots, 1))()
    n = int(_libc.epoll_wait(epfd, events, asked, timeout_ms))
    if n < 0:
        raise _fail()
    return [(int(events[i].data & 0xFFFFFFFF), int(events[i].events)) for i in range(n)]


def select(sets: tuple[list[int], list[int], list[int]],
           seconds: float | None) -> tuple[set[int], set[int], set[int]]:
    """One ``select(2)`` call (None: no timeout); EINTR comes back as ``OSError``.

    Not ``select.select``: that refuses a number at or above ``FD_SETSIZE``
    (1024) and a list longer than it, where the kernel takes any number
    below the process's descriptor table size (fs/select.c:core_sys_select
    reads ``(nfds + 7) / 8`` bytes of each set); the runner's own cancelling
    eventfd lives above 1024. The sets here are sized to the highest number.
    """
    highest = max((fd for group in sets for fd in group), default=-1)
    words = highest // _LONG_BITS + 1
    arrays = []
    for group in sets:
        bits = (ctypes.c_ulong * max(words, 1))()
        for fd in group:
            bits[fd // _LONG_BITS] |= 1 << (fd % _LONG_BITS)
        arrays.append(bits)
    timeout = None
    if seconds is not None:
        whole = int(seconds)
        timeout = Timeval(whole, min(999_999, round((seconds - whole) * 1_000_000)))
    n = int(_libc.select(highest + 1, arrays[0], arrays[1], arrays[2],
                         None if timeout is None else ctypes.byref(timeout)))
    if n < 0:
        raise _fail()
    found: list[set[int]] = []
    for group, bits in zip(sets, arrays, strict=True):
        found.append({fd for fd in group if bits[fd // _LONG_BITS] >> (fd % _LONG_BITS) & 1})
    return found[0], found[1], found[2]
