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
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import threading
from dataclasses import dataclass, field
from typing import Literal

from muxsim.lang.errors import InvariantError

FileKind = Literal[
    "unix-stream", "unix-dgram", "tcp", "tcp-listener", "udp", "pipe-r", "pipe-w", "epoll"
]

RANGE_LOW = 256
RANGE_HIGH = 1024  # FD_SETSIZE: select() cannot watch a number at or above it
RANGE_SIZE = 128

_slots_lock = threading.Lock()
_slots_taken: set[int] = set()
_file_ids = itertools.count(1)


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
        with _slots_lock:
            for low in range(RANGE_LOW, RANGE_HIGH - size + 1, size):
                if low not in _slots_taken:
                    _slots_taken.add(low)
                    break
            else:
                raise InvariantError("no free descriptor range for another scenario "
                                     "in this process (too many at once)")
        self.low = low
        self.high = low + size
        self.files: dict[int, OpenFile] = {}
        self.tcp_numbers = 0  # how many numbers hold a TCP socket (settling is needed)

    def release(self) -> None:
        """Close every descriptor still open and give the range back."""
        for fd in sorted(self.files):
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
            os.dup2(fd, target, inheritable=False)
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
