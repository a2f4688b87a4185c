"""Pipes, as fs/pipe.c builds them.

The facts (Linux 6.x):

* A pipe is a ring of ``max_usage`` slots (16 by default; ``F_SETPIPE_SZ``
  rounds the size up to a power-of-two number of pages), each holding one
  page of at most ``PAGE_SIZE`` bytes. Readiness counts *slots*, not bytes:
  the write end is writable while a slot is free (``pipe_full``), however
  much room the last page still has.
* A write first tops up the last page if it was written by a plain write
  and the write's tail (``len % PAGE_SIZE``) fits; the rest goes into fresh
  pages, a page each (``pipe_write``). A non-blocking write that finds no
  free slot writes what it could, or fails with ``EAGAIN``; with no reader
  left it fails with ``EPIPE``.
* The read end waits on ``rd_wait``, the write end on ``wr_wait``
  (``pipe_poll`` calls ``poll_wait`` by the file's mode). A write wakes
  ``rd_wait`` (key IN) if the
  pipe was empty, or always once the pipe has been polled
  (``poll_usage``: "Epoll nonsensically wants a wakeup whether the pipe
  was already empty or not"), even when it wrote nothing. A read wakes
  ``wr_wait`` (key OUT) only if the pipe was full before it.
* The read end reports HUP when no writer is left; the write end reports
  ERR when no reader is left. The last reader or writer going wakes both
  queues with no key (``pipe_release``).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final

from muxsim.model.bits import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM
from muxsim.model.vfs import File, PollTable, oserror, poll_wait
from muxsim.model.waitqueue import WaitQueueHead

if TYPE_CHECKING:
    from muxsim.model.kernel import Kernel

KEY_IN: Final = EPOLLIN | EPOLLRDNORM
KEY_OUT: Final = EPOLLOUT | EPOLLWRNORM


class PipeBuffer:
    __slots__ = ("can_merge", "len", "offset")

    def __init__(self) -> None:
        self.offset = 0
        self.len = 0
        self.can_merge = True


class PipeInodeInfo:
    """``struct pipe_inode_info``."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.page_size = kernel.profile.page_size
        self.max_usage = kernel.profile.pipe_slots
        self.bufs: list[PipeBuffer] = []  # occupied slots, tail first
        self.readers = 0
        self.writers = 0
        self.poll_usage = False
        self.rd_wait = WaitQueueHead("pipe.rd_wait")
        self.wr_wait = WaitQueueHead("pipe.wr_wait")

    def empty(self) -> bool:
        return not self.bufs

    def full(self) -> bool:
        return len(self.bufs) >= self.max_usage

    def bytes(self) -> int:
        return sum(b.len for b in self.bufs)


class PipeEnd(File):
    """One end of a pipe (the file with FMODE_READ or FMODE_WRITE)."""

    def __init__(self, kernel: Kernel, pipe: PipeInodeInfo, readable: bool) -> None:
        super().__init__(kernel)
        self.pipe = pipe
        self.readable = readable
        self.kind = "pipe-r" if readable else "pipe-w"
        if readable:
            pipe.readers += 1
        else:
            pipe.writers += 1

    def name_queues(self, name: str) -> None:
        if self.readable:
            self.pipe.rd_wait.name = f"pipe({name}).rd_wait"
            self.pipe.wr_wait.name = f"pipe({name}).wr_wait"

    def poll(self, pt: PollTable | None) -> int:
        """Linux: fs/pipe.c:pipe_poll."""
        pipe = self.pipe
        pipe.poll_usage = True
        # Each end waits on its own queue only (FMODE_READ: rd_wait,
        # FMODE_WRITE: wr_wait).
        if self.readable:
            poll_wait(self, pipe.rd_wait, pt)
        else:
            poll_wait(self, pipe.wr_wait, pt)
        mask = 0
        if self.readable:
            if not pipe.empty():
                mask |= EPOLLIN | EPOLLRDNORM
            if not pipe.writers:
                mask |= EPOLLHUP
        else:
            if not pipe.full():
                mask |= EPOLLOUT | EPOLLWRNORM
            if not pipe.readers:
                mask |= EPOLLERR
        return mask

    def write(self, n: int) -> int:
        """Linux: fs/pipe.c:pipe_write (non-blocking)."""
        if self.readable:
            raise oserror(errno.EBADF)
        pipe = self.pipe
        if n == 0:
            return 0
        page = pipe.page_size
        ret = 0
        remaining = n
        was_empty = pipe.empty()
        if not pipe.readers:
            err: int | None = errno.EPIPE
        else:
            err = None
            chars = n & (page - 1)
            if chars and not was_empty:
                last = pipe.bufs[-1]
                if last.can_merge and last.offset + last.len + chars <= page:
                    last.len += chars
                    ret += chars
                    remaining -= chars
            while remaining:
                if pipe.full():
                    if not ret:
                        err = errno.EAGAIN
                    break
                buf = PipeBuffer()
                buf.len = min(page, remaining)
                pipe.bufs.append(buf)
                ret += buf.len
                remaining -= buf.len
        self.kernel.trace(f"pipe_write {n}: wrote {ret}" + (f", {errno.errorcode[err]}"
                                                            if err and not ret else ""))
        if was_empty or pipe.poll_usage:
            self.kernel.wake(pipe.rd_wait, KEY_IN, f"{self.kernel.name_of(self)} write")
        if err is not None and not ret:
            raise oserror(err)
        return ret

    def read(self, n: int) -> int:
        """Linux: fs/pipe.c:pipe_read (non-blocking)."""
        if not self.readable:
            raise oserror(errno.EBADF)
        pipe = self.pipe
        if n == 0:
            return 0
        was_full = pipe.full()
        ret = 0
        total = n
        while pipe.bufs:
            buf = pipe.bufs[0]
            chars = min(buf.len, total)
            ret += chars
            buf.offset += chars
            buf.len -= chars
            if not buf.len:
                pipe.bufs.pop(0)
            total -= chars
            if not total:
                break
        if not ret and pipe.writers:
            return -errno.EAGAIN
        if was_full:
            self.kernel.wake(pipe.wr_wait, KEY_OUT, f"{self.kernel.name_of(self)} read")
        return ret

    def set_size(self, size: int) -> int:
        """Linux: fs/pipe.c:pipe_set_size (the per-user page limits are not modelled)."""
        pipe = self.pipe
        profile = self.kernel.profile
        size &= 0xFFFFFFFF  # pipe_fcntl takes the argument as an unsigned int
        if size > (1 << 31):
            raise oserror(errno.EINVAL)  # round_pipe_size gives 0: no slots
        page = pipe.page_size
        rounded = page if size < page else 1 << (size - 1).bit_length()
        slots = rounded // page
        if slots > pipe.max_usage and rounded > profile.pipe_max_size and \
                not profile.cap_sys_resource:
            raise oserror(errno.EPERM)
        if slots < len(pipe.bufs):
            raise oserror(errno.EBUSY)
        pipe.max_usage = slots
        self.kernel.wake(pipe.wr_wait, None, "pipe_resize_ring")
        return rounded

    def release(self) -> None:
        """Linux: fs/pipe.c:pipe_release."""
        pipe = self.pipe
        if self.readable:
            pipe.readers -= 1
        else:
            pipe.writers -= 1
        if (not pipe.readers) != (not pipe.writers):
            self.kernel.wake_all(pipe.rd_wait, None, "pipe_release")
            self.kernel.wake_all(pipe.wr_wait, None, "pipe_release")
