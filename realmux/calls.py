"""The waiting calls of a run: ``epoll_wait``, ``poll`` and ``select``, prepared once.

A *prepared* call knows its descriptors and makes the system call for a
given number of seconds (``inf``: until an event), as often as its caller
needs: once on the main thread, or in a spawned waiter
(:mod:`realmux.waiters`), where it can also be interrupted without the
thread ever making a second call: a private eventfd for ``poll`` and
``select``, a signal for ``epoll_wait`` (:mod:`realmux.interrupt`).

The eventfd is numbered above every scenario range (at or above
:data:`~realmux.fdspace.RANGE_HIGH`, like an epoll waiter's private
reference), so any number of waiters can have one; ``select`` is therefore
made through :func:`realmux.libc.select`, which takes numbers above
``FD_SETSIZE`` as the kernel does. (Numbers below the ranges ran out after
about 250 waiters, and the waiters beyond fell back to slices: 0.02 s calls
whose repeated wake-ups made 300 waiters take 100 s to quiesce.)
"""

from __future__ import annotations

import errno
import math
import os
import select
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from muxsim.lang.masks import Mask
from muxsim.lang.outcomes import Outcome, Ready, Selected
from muxsim.lang.syntax import DEFAULT_MAXEVENTS, Poll, Select, Wait
from realmux import interrupt, libc
from realmux.errnames import errno_name
from realmux.fdspace import above_ranges
from realmux.waiters import Waiter

if TYPE_CHECKING:
    from realmux.runner import _Run

_POLL_ALWAYS = Mask.ERR | Mask.HUP | Mask.NVAL


def _ebadf() -> OSError:
    return OSError(errno.EBADF, os.strerror(errno.EBADF))


class Prepared:
    """One wait, ready to run for a given number of seconds (maybe many times)."""

    empty: Outcome = Ready(())
    cancel_fd = -1

    def once(self, seconds: float) -> Outcome | None:
        """Outcome of one wait (inf: until an event), or None if it timed out with nothing."""
        raise NotImplementedError

    def enable_interrupt(self) -> Callable[[Waiter], None] | None:
        """Add a private eventfd to the call; returns what interrupts it (None: can't)."""
        fd = above_ranges(os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK), close=True)
        self.cancel_fd = fd
        return lambda waiter: os.eventfd_write(fd, 1)

    def release(self) -> None:
        """What the waiting thread lets go of when its call is over."""

    def close_interrupt(self) -> None:
        """Close the eventfd: by the cancelling thread, once the waiter has finished."""
        if self.cancel_fd >= 0:
            os.close(self.cancel_fd)
            self.cancel_fd = -1


class Failed(Prepared):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def enable_interrupt(self) -> Callable[[Waiter], None] | None:
        return lambda waiter: None

    def once(self, seconds: float) -> Outcome | None:
        return self.outcome


class PreparedWait(Prepared):
    """``epoll_wait`` through ``ctypes`` (it returns our data tokens, and a
    signal ends it instead of a hidden retry)."""

    def __init__(self, run: _Run, call: Wait, spawned: bool) -> None:
        self.run = run
        efd = run.fd(call.e)
        if efd < 0:
            raise _ebadf()
        # A spawned waiter waits on a private dup: like the kernel's own
        # reference during epoll_wait, it keeps the epoll file alive if the
        # scenario closes E meanwhile. The main thread's call is over before
        # the next statement, so it uses the scenario's number itself.
        self.own = _private_dup(efd) if spawned else -1
        self.efd = self.own if spawned else efd
        self.maxevents = call.max if call.max is not None else DEFAULT_MAXEVENTS
        self.sliced: select.epoll | None = None

    def enable_interrupt(self) -> Callable[[Waiter], None] | None:
        if interrupt.available():
            return lambda waiter: interrupt.interrupt(waiter.ident)
        # No signal handler here (not the main thread): wait in slices.
        self.sliced = select.epoll.fromfd(os.dup(self.efd))
        return None

    def once(self, seconds: float) -> Outcome | None:
        try:
            if self.sliced is not None:
                events = self.sliced.poll(seconds, self.maxevents)
            else:
                ms = -1 if math.isinf(seconds) else math.ceil(seconds * 1000)
                events = libc.epoll_wait(self.efd, self.maxevents, ms)
        except InterruptedError:
            return None  # cancelled: the waiter says HUNG
        except OSError as exc:
            return errno_name(exc)
        if not events:
            return None
        names = self.run.interest_names
        return Ready.of([(names.get(token, f"unknown_{token}"), Mask(ev))
                         for token, ev in events])

    def release(self) -> None:
        if self.sliced is not None:
            self.sliced.close()
        if self.own >= 0:
            os.close(self.own)
            self.own = -1


class PreparedPoll(Prepared):
    def __init__(self, run: _Run, call: Poll) -> None:
        self.items = [(name, run.fd(name), Mask(int(mask) & 0xFFFF)) for name, mask in call.items]
        wanted: dict[int, int] = {}
        for _, fd, mask in self.items:
            if fd >= 0:
                wanted[fd] = int(wanted.get(fd, 0)) | int(mask)
        # select.poll keeps one entry per number; two entries for one number
        # are served by asking for the union and giving each entry its share
        # (fs/select.c:do_pollfd filters by the entry's events | ERR | HUP).
        self.poller = select.poll()
        for fd, bits in wanted.items():
            self.poller.register(fd, bits)

    def enable_interrupt(self) -> Callable[[Waiter], None] | None:
        interrupt = super().enable_interrupt()
        if interrupt is not None:
            self.poller.register(self.cancel_fd, select.POLLIN)
        return interrupt

    def once(self, seconds: float) -> Outcome | None:
        try:
            got = dict(self.poller.poll(None if math.isinf(seconds) else seconds * 1000))
        except OSError as exc:
            return errno_name(exc)
        got.pop(self.cancel_fd, None)
        if not got:
            return None
        entries = []
        for name, fd, mask in self.items:
            revents = got.get(fd, 0) & int(mask | _POLL_ALWAYS)
            if revents:
                entries.append((name, Mask(revents)))
        return Ready.of(entries)


class PreparedSelect(Prepared):
    empty: Outcome = Selected()

    def __init__(self, run: _Run, call: Select) -> None:
        self.sets = [[(name, run.fd(name)) for name in names] for names in (call.r, call.w,
                                                                            call.x)]
        if any(fd < 0 for group in self.sets for _, fd in group):
            raise _ebadf()

    def once(self, seconds: float) -> Outcome | None:
        r, w, x = ([fd for _, fd in group] for group in self.sets)
        if self.cancel_fd >= 0:
            r.append(self.cancel_fd)
        deadline = None if math.isinf(seconds) else time.monotonic() + seconds
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                got = libc.select((r, w, x), left)
                break
            except InterruptedError:
                # A signal meant for the process landed on this thread; retry
                # as select.select does (PEP 475). Cancelling uses the eventfd.
                continue
            except OSError as exc:
                return errno_name(exc)
        ready = [{fd for fd in found if fd != self.cancel_fd} for found in got]
        if not any(ready):
            return None
        names = [[name for name, fd in group if fd in hit] for group, hit in zip(self.sets, ready,
                                                                                  strict=True)]
        return Selected.of(names[0], names[1], names[2])


def _private_dup(fd: int) -> int:
    """A dup of the scenario's ``fd`` above every scenario range (EBADF if it has none)."""
    if fd < 0:
        raise _ebadf()
    return above_ranges(fd)
