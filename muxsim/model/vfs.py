"""Files, poll tables and the descriptor table: the VFS layer of the model.

The facts (fs/file.c, fs/file_table.c, include/linux/poll.h):

* A descriptor number refers to an open *file*; ``dup`` makes a second
  number for the same file, and the file lives while any reference does.
  Only when the last reference goes does ``__fput`` run: first
  ``eventpoll_release`` (every epoll interest in the file disappears), then
  the file's own ``release`` (a socket is shut down, a pipe end counted out).
* New numbers are the lowest free (``alloc_fd``). Closing a number does not
  touch epoll at all unless it dropped the file's last reference.
* A file's ``poll`` computes its readiness mask from its state alone and,
  given a poll table with a ``qproc``, registers the caller on each wait
  queue it would signal (``poll_wait``). The table also carries the events
  the caller asked for (``poll_requested_events``), which a few files use
  to skip work (``unix_dgram_poll``).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from muxsim.model.bits import ALL_EVENTS
from muxsim.model.waitqueue import WaitQueueHead

if TYPE_CHECKING:
    from muxsim.model.eventpoll import EpItem
    from muxsim.model.kernel import Kernel


QueueProc = Callable[["File", WaitQueueHead, "PollTable"], None]


class PollTable:
    """``poll_table``: who to register (``qproc``) and what is asked (``key``)."""

    __slots__ = ("key", "qproc")

    def __init__(self, qproc: QueueProc | None, key: int = ALL_EVENTS) -> None:
        self.qproc = qproc
        self.key = key


def poll_wait(file: File, head: WaitQueueHead, pt: PollTable | None) -> None:
    """``poll_wait``: register on ``head`` if the caller wants to be woken."""
    if pt is not None and pt.qproc is not None:
        pt.qproc(file, head, pt)


def poll_requested_events(pt: PollTable | None) -> int:
    return pt.key if pt is not None else ALL_EVENTS


def oserror(code: int) -> OSError:
    """The exception the real call raises: ``OSError(errno.EAGAIN, ...)`` and so on."""
    message = _STRERROR.get(code)
    if message is None:
        message = _STRERROR[code] = os.strerror(code)
    return OSError(code, message)


#: ``strerror`` once per errno: EAGAIN is raised on every drained read.
_STRERROR: dict[int, str] = {}


class File:
    """``struct file``: one open file description."""

    kind = "file"

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.f_count = 0
        self.f_ep: list[EpItem] = []  # epoll interests watching this file
        self.serial = kernel.next_serial()

    def __repr__(self) -> str:
        return f"<{self.kind} #{self.serial}>"

    def poll(self, pt: PollTable | None) -> int:
        raise NotImplementedError

    def release(self) -> None:
        """``f_op->release``: the last reference went."""

    def name_queues(self, name: str) -> None:
        """Name this file's wait queues after the scenario's name for it (explanations)."""

    def can_poll(self) -> bool:
        """``file_can_poll``."""
        return True

    # Data operations; the default is what a file without them answers.
    def write(self, n: int) -> int:
        raise oserror(errno.EINVAL)

    def read(self, n: int) -> int:
        """Bytes read, or ``-EAGAIN`` when there is nothing to read yet: a file's
        read returns what the kernel's ``->read_iter`` and ``->recvmsg`` return,
        and the system call (:meth:`Kernel.recv`) turns it into the error.
        Other errors are raised."""
        raise oserror(errno.EINVAL)


def get_file(file: File) -> File:
    file.f_count += 1
    return file


def fput(file: File) -> None:
    """Drop a reference; the last one runs ``__fput``."""
    file.f_count -= 1
    if file.f_count == 0:
        # fs/file_table.c:__fput: eventpoll_release first, then release.
        from muxsim.model.eventpoll import eventpoll_release

        eventpoll_release(file)
        file.release()


class FdTable:
    """``struct fdtable`` of the one task: numbers to files, lowest free first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.fds: list[File | None] = [None] * size
        self.used = 0
        #: ``files->next_fd``: no number below it is free, so the search for the
        #: lowest free one starts there (fs/file.c:alloc_fd, __put_unused_fd).
        self.next_fd = 0

    def alloc_fd(self, file: File) -> int:
        """``alloc_fd`` + ``fd_install``; EMFILE when the table is full."""
        fds = self.fds
        for fd in range(self.next_fd, self.size):
            if fds[fd] is None:
                fds[fd] = get_file(file)
                self.used += 1
                self.next_fd = fd + 1
                return fd
        raise oserror(errno.EMFILE)

    def need(self, count: int) -> None:
        """``get_unused_fd_flags`` twice, as socketpair(2) and pipe2(2) do: both or EMFILE."""
        if self.size - self.used < count:
            raise oserror(errno.EMFILE)

    def fget(self, fd: int) -> File:
        file = self.fds[fd] if 0 <= fd < self.size else None
        if file is None:
            raise oserror(errno.EBADF)
        return file

    def lookup(self, fd: int) -> File | None:
        return self.fds[fd] if 0 <= fd < self.size else None

    def close(self, fd: int) -> None:
        """``close_fd``: unhook the number, then drop its reference."""
        file = self.lookup(fd)
        if file is None:
            raise oserror(errno.EBADF)
        self.fds[fd] = None
        self.used -= 1
        if fd < self.next_fd:
            self.next_fd = fd
        fput(file)
