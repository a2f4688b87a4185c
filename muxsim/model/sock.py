"""What every socket shares: the wait queue, shutdown bits, the pending error,
buffer sizes, and the standard wakeups (net/core/sock.c).

The facts:

* A socket has one wait queue (``sk->sk_wq->wait``); its ``poll`` registers
  there (``sock_poll_wait``) and every notification goes through it.
* The standard callbacks differ only in their key and in how many
  exclusive waiters they wake: ``sock_def_readable`` (data arrived: key
  ``IN|PRI|RDNORM|RDBAND``), ``sock_def_wakeup`` (state changed: no key,
  every waiter), ``sock_def_error_report`` (key ``ERR``), and the per
  protocol ``sk_write_space`` (key ``OUT|WRNORM|WRBAND``).
* ``SO_SNDBUF`` and ``SO_RCVBUF`` store twice the value asked, capped by
  ``net.core.wmem_max``/``rmem_max`` and floored at ``SOCK_MIN_SNDBUF``/
  ``SOCK_MIN_RCVBUF`` (``sk_setsockopt``); setting the send buffer calls
  ``sk_write_space``.
* Reading ``SO_ERROR`` returns the pending error and clears it
  (``sock_error``), as does any call that reports it.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final

from muxsim.model.bits import (
    EPOLLERR,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
)
from muxsim.model.vfs import File, oserror
from muxsim.model.waitqueue import WaitQueueHead

if TYPE_CHECKING:
    from muxsim.model.kernel import Kernel

RCV_SHUTDOWN: Final = 1
SEND_SHUTDOWN: Final = 2
SHUTDOWN_MASK: Final = 3

KEY_READABLE: Final = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND
KEY_WRITABLE: Final = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND

# include/net/tcp.h and include/net/sock.h on x86_64: the minimum buffers.
SOCK_MIN_SNDBUF: Final = 4608
SOCK_MIN_RCVBUF: Final = 2304


class Sock(File):
    """``struct socket`` + ``struct sock``: the parts every protocol shares."""

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.wq = WaitQueueHead(f"sock#{self.serial}.wq")
        self.sk_shutdown = 0
        self.sk_err = 0
        self.dead = False  # SOCK_DEAD: the file is gone (sock_orphan)
        self.rcvlowat = 1
        self.linger: int | None = None
        self.sndbuf_locked = False
        self.rcvbuf_locked = False
        self.sndbuf = kernel.profile.wmem_default
        self.rcvbuf = kernel.profile.rmem_default

    def name_queues(self, name: str) -> None:
        self.wq.name = f"{name}.wq"

    # -- the standard wakeups (net/core/sock.c) --------------------------

    def label(self) -> str:
        return self.kernel.name_of(self)

    def state_change(self, why: str) -> None:
        """``sock_def_wakeup``: every waiter, no key."""
        if not self.dead:
            self.kernel.wake_all(self.wq, None, f"{why}: {self.label()} state change"
                                 if self.kernel.tracing else why)

    def data_ready(self, why: str) -> None:
        """``sock_def_readable``."""
        if not self.dead and self.wq.entries:
            self.kernel.wake(self.wq, KEY_READABLE, f"{why}: data ready on {self.label()}"
                             if self.kernel.tracing else why)

    def error_report(self, why: str) -> None:
        """``sock_def_error_report``."""
        if not self.dead:
            self.kernel.wake(self.wq, EPOLLERR, f"{why}: error on {self.label()}")

    def write_space(self, why: str, held: int = 0) -> None:
        """``sk_write_space``; each protocol says when there is space."""

    def sock_error(self) -> int:
        """``sock_error``: the pending error, cleared."""
        err = self.sk_err
        self.sk_err = 0
        return err

    # -- options -----------------------------------------------------------

    def setsockopt(self, option: str, value: int) -> None:
        """Linux: net/core/sock.c:sk_setsockopt (the options scenarios can set)."""
        profile = self.kernel.profile
        if option == "sndbuf":
            val = min(value & 0xFFFFFFFF, profile.wmem_max)
            self.sndbuf_locked = True
            self.sndbuf = max(val * 2, SOCK_MIN_SNDBUF)
            self.write_space("setsockopt SO_SNDBUF")
        elif option == "rcvbuf":
            val = min(value & 0xFFFFFFFF, profile.rmem_max, 0x7FFFFFFF // 2)
            self.rcvbuf_locked = True
            self.rcvbuf = max(val * 2, SOCK_MIN_RCVBUF)
        elif option == "rcvlowat":
            self.set_rcvlowat(value)
        elif option == "linger":
            self.linger = None if value < 0 else value
        elif option == "notsent_lowat":
            # An IPPROTO_TCP option: AF_UNIX has no protocol options
            # (sock_no_setsockopt-like: EOPNOTSUPP); UDP's ip_setsockopt
            # does not know the level (ENOPROTOOPT).
            raise oserror(self.foreign_level_errno)
        else:
            raise oserror(errno.ENOTSOCK) if option == "pipesize" else oserror(errno.EINVAL)

    #: What setsockopt answers for another protocol's level (IPPROTO_TCP).
    foreign_level_errno = errno.ENOPROTOOPT

    def set_rcvlowat(self, value: int) -> None:
        """``sk_setsockopt(SO_RCVLOWAT)``: a negative value is INT_MAX, 0 is 1."""
        if value < 0:
            value = 0x7FFFFFFF
        self.rcvlowat = value if value else 1

    def shutdown(self, how: int) -> None:
        raise oserror(errno.EOPNOTSUPP)

    def target(self, size: int) -> int:
        """``sock_rcvlowat(sk, 0, size)``."""
        return min(self.rcvlowat, size) or 1
