"""A scenario's own descriptor numbers: a private range, allocated lowest-free.

Why: the kernel gives a new descriptor the lowest free number
(fs/file.c:alloc_fd), and scenarios depend on that: a number closed and
then reused by the next object is how a stale epoll registration gets
confused with a new file (the ``(file, fd)`` key of fs/eventpoll.c). In a
test process, though, the lowest free number depends on what pytest, the
interpreter and earlier tests left open. So each scenario borrows a private
range of numbers and every descriptor it creates is moved there with
``dup2`` (``dup3`` with ``O_CLOEXEC``) to the lowest number free *in the
range*: numbering and reuse are then the same on every run and in the
model.

The range sits below ``FD_SETSIZE`` (1024) because ``select`` cannot name
a higher descriptor. A scenario that needs more descriptors than its range
holds gets ``EMFILE``, as it would from a real ``RLIMIT_NOFILE``.

This module also tracks which open file each number refers to (a ``dup``
shares it), since epoll's interest key and the close of the last reference
are about files, not numbers.

The descriptor limit. ``dup2`` to a number at or above the soft
``RLIMIT_NOFILE`` fails with EBADF (fs/file.c:ksys_dup3), and the runner's
private descriptors (a waiter's cancelling eventfd, its reference to an
epoll) live at or above :data:`RANGE_HIGH`. Under ``ulimit -n 256`` every
descriptor a scenario makes would fail that way, and under ``ulimit -n 300``
the 23rd ``pipe`` would: outcomes caused by the runner's own juggling, not
by the scenario. So before anything runs, :func:`ensure_limit` raises the
soft limit to what the run needs (the end of its range; with waiters,
:func:`private_need` above :data:`RANGE_HIGH`), as far as the hard limit
allows without privilege (setrlimit(2)); where the hard limit is too low, the run is
refused with :class:`~muxsim.lang.errors.EnvironmentLimit`, and nothing is
recorded. A descriptor the caller left open inside a range (an inherited
256, say) makes that range unusable: another range is taken, and if none is
wholly free, the run is refused the same way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import resource
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal

from muxsim.lang.errors import EnvironmentLimit, InvariantError
from realmux import libc

FileKind = Literal[
    "unix-stream", "unix-dgram", "tcp", "tcp-listener", "udp", "pipe-r", "pipe-w", "epoll"
]

RANGE_LOW = 256
RANGE_HIGH = 1024  # FD_SETSIZE: select() cannot watch a number at or above it
RANGE_SIZE = 128

#: Numbers above RANGE_HIGH kept free for the process's own use besides ours.
PRIVATE_SLACK = 64

_slots_lock = threading.Lock()
_slots_taken: set[int] = set()
_file_ids = itertools.count(1)
_limit_lock = threading.Lock()


def private_need(count: int) -> int:
    """The descriptor limit that lets the runner hold ``count`` private numbers above the ranges."""
    return RANGE_HIGH + PRIVATE_SLACK + max(count, 0)


def ensure_limit(need: int) -> None:
    """Make the soft ``RLIMIT_NOFILE`` at least ``need``: every number below it can be opened.

    Raised, never lowered, and never above the hard limit; when the hard
    limit is too low the run is refused before it starts.
    """
    with _limit_lock:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft >= need:
            return
        if hard != resource.RLIM_INFINITY and hard < need:
            raise EnvironmentLimit(
                f"the real backend needs {need} descriptors (RLIMIT_NOFILE), and this "
                f"process may open only {soft} (hard limit {hard})",
                f"raise the limit (ulimit -n {need} or more) and run again; this scenario was "
                "refused before it started")
        # Round up, so that a run spawning one waiter after another does not
        # call setrlimit for each.
        target = (need + 255) & ~255
        if hard != resource.RLIM_INFINITY:
            target = min(target, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def above_ranges(fd: int, close: bool = False) -> int:
    """A dup of ``fd`` numbered at or above :data:`RANGE_HIGH`, clear of every scenario range.

    For the runner's private descriptors (a waiter's eventfd, its reference
    to an epoll, its procfs files). ``close``: ``fd`` is the runner's own
    and is closed once moved. No number free there is the descriptor
    limit's doing, never an outcome of the scenario.
    """
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, RANGE_HIGH)
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.EINVAL):
            raise
        raise EnvironmentLimit(
            f"no descriptor free at or above {RANGE_HIGH} for the runner's own use "
            f"({exc.strerror})", "raise the descriptor limit (ulimit -n) and run again") from exc
    finally:
        if close:
            os.close(fd)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@dataclass(eq=False)
class OpenFile:
    """One open file description, shared by every number that dup'd it."""

    kind: FileKind
    id: int = field(default_factory=lambda: next(_file_ids))
    #: For TCP sockets: (local, remote) addresses, fixed once connected.
    local: tuple[str, int] | None = None
    remote: tuple[str, int] | None = None


class FdSpace:
    """The descriptor numbers of one scenario run."""

    def __init__(self, size: int = RANGE_SIZE) -> None:
        foreign: list[int] = []
        with _slots_lock:
            for low in range(RANGE_LOW, RANGE_HIGH - size + 1, size):
                if low in _slots_taken:
                    continue
                held = [fd for fd in range(low, low + size) if _is_open(fd)]
                if not held:
                    _slots_taken.add(low)
                    break
                foreign.extend(held)
            else:
                if foreign:
                    shown = ", ".join(map(str, foreign[:5])) + (" ..." if len(foreign) > 5
                                                                 else "")
                    raise EnvironmentLimit(
                        f"descriptors {shown} are open in this process, inside every range "
                        f"of {size} numbers that realmux keeps for a scenario "
                        f"({RANGE_LOW} to {RANGE_HIGH - 1})",
                        "start muxsim without those descriptors (a caller that passes "
                        "them on, e.g. a shell's exec 300<file, can close them first)")
                raise InvariantError("no free descriptor range for another scenario "
                                     "in this process (too many at once)")
        try:
            ensure_limit(low + size)
        except EnvironmentLimit:
            with _slots_lock:
                _slots_taken.discard(low)
            raise
        self.low = low
        self.high = low + size
        self.files: dict[int, OpenFile] = {}
        self.tcp_numbers = 0  # how many numbers hold a TCP socket (settling is needed)

    def release(self) -> None:
        """Close every descriptor still open and give the range back.

        A TCP socket left with ``SO_LINGER`` on would make its close block
        until its data is acknowledged or the linger runs out; the run is
        over and nobody looks, so the linger is turned off first.
        """
        off = struct.pack("ii", 0, 0)
        for fd in sorted(self.files):
            if self.files[fd].kind == "tcp":
                with contextlib.suppress(OSError):
                    libc.setsockopt(fd, socket.SOL_SOCKET, socket.SO_LINGER, off)
            with contextlib.suppress(OSError):  # we own these numbers
                os.close(fd)
        self.files.clear()
        self.tcp_numbers = 0
        with _slots_lock:
            _slots_taken.discard(self.low)

    def lowest_free(self) -> int:
        for fd in range(self.low, self.high):
            if fd not in self.files:
                return fd
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    def free_count(self) -> int:
        return (self.high - self.low) - len(self.files)

    def need(self, count: int) -> None:
        """EMFILE unless ``count`` numbers are free (socketpair and pipe2 take two or none)."""
        if self.free_count() < count:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    def install(self, fd: int, file: OpenFile) -> int:
        """Move ``fd`` (anywhere) to the lowest free number in the range."""
        try:
            target = self.lowest_free()
        except OSError:
            os.close(fd)
            raise
        if fd != target:
            try:
                os.fstat(target)
            except OSError:
                pass
            else:
                os.close(fd)
                raise InvariantError(f"descriptor {target} in the scenario's private range "
                                     "is held by someone else in this process")
            try:
                os.dup2(fd, target, inheritable=False)
            except OSError as exc:
                # Only the limit can refuse a number we checked is free: an
                # outcome of our juggling, never the scenario's.
                os.close(fd)
                raise EnvironmentLimit(
                    f"cannot move a descriptor to {target}: {exc.strerror} (the descriptor "
                    "limit was lowered while the run went on?)",
                    f"run with ulimit -n {RANGE_HIGH + PRIVATE_SLACK} or more") from exc
            os.close(fd)
        self.files[target] = file
        if file.kind == "tcp":
            self.tcp_numbers += 1
        return target

    def dup(self, fd: int) -> int:
        """``dup(fd)``: the lowest free number, sharing the open file."""
        file = self.files.get(fd)
        if file is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return self.install(os.dup(fd), file)

    def close(self, fd: int) -> OpenFile:
        """Close a number this scenario owns; EBADF for any other."""
        file = self.files.pop(fd, None)
        if file is not None and file.kind == "tcp":
            self.tcp_numbers -= 1
        if file is None:
            # Not ours (never opened, or closed already): the kernel would say
            # EBADF, and closing a number we do not own could hurt the process.
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        os.close(fd)
        return file

    def is_last_reference(self, fd: int) -> bool:
        file = self.files.get(fd)
        return file is not None and sum(1 for f in self.files.values() if f is file) == 1

    def numbers_of(self, kind: FileKind) -> list[int]:
        return [fd for fd, f in self.files.items() if f.kind == kind]
