"""AF_UNIX sockets, as net/unix/af_unix.c builds them.

The facts (Linux 6.x, x86_64):

* Stream: ``send`` cuts the data into skbs of at most
  ``min(sk_sndbuf / 2 - 64, SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ)`` bytes
  (36,544 with 4 KiB pages), charges each skb's *truesize* to the
  **sender** (``skb_set_owner_w``), queues it on the receiver and calls the
  receiver's ``sk_data_ready``. A send fails with EAGAIN (or stops short)
  once the sender's charged memory reaches ``sk_sndbuf``
  (``sock_alloc_send_pskb``); the receiver's buffer size plays no part.
* The charge is released when the receiver has consumed the *whole* skb
  (``sock_wfree``), which calls the sender's ``unix_write_space``: it wakes
  the sender (key OUT) if the sender is writable, that is if its charged
  memory (plus the reference ``sock_wfree`` still holds) times four is at
  most ``sk_sndbuf`` (``unix_writable``).
* ``unix_poll``: ERR for a pending error, HUP when both directions are
  shut down, IN|RDNORM|RDHUP when the receive side is shut down, IN when
  data is queued, HUP for an unconnected stream socket, OUT when writable.
* Closing one end (``unix_release_sock``) shuts the peer down both ways,
  gives it ECONNRESET if the closing end still had unread data, wakes the
  peer with no key, then frees the unread skbs (each one calling the
  peer's write space). ``shutdown`` sets the bits on this end and the
  mirrored bits on the peer, waking both with no key (``unix_shutdown``).
* Datagrams: one skb per message, the same charging; ``send`` to a peer
  that has been closed fails once with ECONNREFUSED (and disconnects),
  then ENOTCONN; ``recv`` takes one whole message and discards what does
  not fit. ``unix_dgram_poll`` computes OUT only when asked for it.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, Final, Literal

from muxsim.model.bits import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLOUT,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
)
from muxsim.model.sock import (
    KEY_WRITABLE,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    Sock,
)
from muxsim.model.vfs import PollTable, oserror, poll_requested_events, poll_wait

if TYPE_CHECKING:
    from muxsim.model.kernel import Kernel

TCP_ESTABLISHED: Final = 1
TCP_CLOSE: Final = 7


class Skb:
    """An ``sk_buff`` on a receive queue: its length, what was read, who pays."""

    __slots__ = ("consumed", "len", "owner", "truesize")

    def __init__(self, owner: UnixSock, length: int, truesize: int) -> None:
        self.owner = owner
        self.len = length
        self.truesize = truesize
        self.consumed = 0


class UnixSock(Sock):
    """An AF_UNIX socket, stream or datagram."""

    foreign_level_errno = errno.EOPNOTSUPP

    def __init__(self, kernel: Kernel, stype: Literal["stream", "dgram"]) -> None:
        super().__init__(kernel)
        self.stype = stype
        self.kind = "unix-stream" if stype == "stream" else "unix-dgram"
        self.state = TCP_CLOSE
        self.peer: UnixSock | None = None
        self.rcvq: deque[Skb] = deque()
        self.wmem = 0  # sk_wmem_alloc - 1: truesize of this socket's skbs not yet freed

    # -- memory ----------------------------------------------------------

    def unix_writable(self, held: int = 0) -> bool:
        """Linux: net/unix/af_unix.c:unix_writable (the refcount counts one more)."""
        return ((self.wmem + 1 + held) << 2) <= self.sndbuf

    def write_space(self, why: str, held: int = 0) -> None:
        """Linux: net/unix/af_unix.c:unix_write_space."""
        if not self.dead and self.wq.entries and self.unix_writable(held):
            self.kernel.wake(self.wq, KEY_WRITABLE, f"{why}: write space on {self.label()}"
                             if self.kernel.tracing else why)

    def free_skb(self, skb: Skb, why: str) -> None:
        """``sock_wfree``: give the truesize back to the sender, then tell it."""
        owner = skb.owner
        owner.wmem -= skb.truesize
        owner.write_space(why, held=1)

    def alloc_send_skb(self, truesize: int) -> int:
        """``sock_alloc_send_pskb``: the checks, then the charge; returns truesize."""
        err = self.sock_error()
        if err:
            raise oserror(err)
        if self.sk_shutdown & SEND_SHUTDOWN:
            raise oserror(errno.EPIPE)
        if self.wmem >= self.sndbuf:
            raise oserror(errno.EAGAIN)
        self.wmem += truesize
        return truesize

    # -- poll --------------------------------------------------------------

    def poll(self, pt: PollTable | None) -> int:
        poll_wait(self, self.wq, pt)
        if self.stype == "stream":
            return self.unix_poll()
        return self.unix_dgram_poll(pt)

    def unix_poll(self) -> int:
        """Linux: net/unix/af_unix.c:unix_poll."""
        mask = 0
        shutdown = self.sk_shutdown
        if self.sk_err:
            mask |= EPOLLERR
        if shutdown == SHUTDOWN_MASK:
            mask |= EPOLLHUP
        if shutdown & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if self.rcvq:
            mask |= EPOLLIN | EPOLLRDNORM
        if self.state == TCP_CLOSE:
            mask |= EPOLLHUP
        if self.unix_writable():
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
        return mask

    def unix_dgram_poll(self, pt: PollTable | None) -> int:
        """Linux: net/unix/af_unix.c:unix_dgram_poll."""
        mask = 0
        shutdown = self.sk_shutdown
        if self.sk_err:
            mask |= EPOLLERR
        if shutdown & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if shutdown == SHUTDOWN_MASK:
            mask |= EPOLLHUP
        if self.rcvq:
            mask |= EPOLLIN | EPOLLRDNORM
        if not (poll_requested_events(pt) & (EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT)):
            return mask
        if self.unix_writable():
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
        return mask

    # -- data --------------------------------------------------------------

    def write(self, n: int) -> int:
        if self.stype == "stream":
            return self.stream_sendmsg(n)
        return self.dgram_sendmsg(n)

    def read(self, n: int) -> int:
        if self.stype == "stream":
            return self.stream_recvmsg(n)
        return self.dgram_recvmsg(n)

    def stream_sendmsg(self, n: int) -> int:
        """Linux: net/unix/af_unix.c:unix_stream_sendmsg (non-blocking)."""
        other = self.peer
        if other is None:
            raise oserror(errno.ENOTCONN)
        if self.sk_shutdown & SEND_SHUTDOWN:
            raise oserror(errno.EPIPE)
        profile = self.kernel.profile
        # The largest skb: half the send buffer less a little, at most a head
        # of SKB_MAX_HEAD(0) plus UNIX_SKB_FRAGS_SZ of pages.
        largest = min((self.sndbuf >> 1) - 64, profile.skb_max_head + profile.unix_skb_frags_sz)
        sent = 0
        while sent < n:
            size = min(n - sent, largest)
            try:
                truesize = self.alloc_send_skb(self.kernel.stream_skb_truesize(size))
            except OSError:
                if sent:
                    return sent
                raise
            skb = Skb(self, size, truesize)
            if other.dead or other.sk_shutdown & RCV_SHUTDOWN:
                self.free_skb(skb, "unix_stream_sendmsg (peer gone)")
                if sent:
                    return sent
                raise oserror(errno.EPIPE)
            other.rcvq.append(skb)
            other.data_ready(f"send {self.label()}" if self.kernel.tracing else "send")
            sent += size
        return sent

    def stream_recvmsg(self, n: int) -> int:
        """Linux: net/unix/af_unix.c:unix_stream_read_generic (non-blocking)."""
        if self.state != TCP_ESTABLISHED:
            raise oserror(errno.EINVAL)
        target = self.target(n)
        copied = 0
        size = n
        while True:
            if not self.rcvq:
                if copied >= target:
                    break
                err = self.sock_error()
                if err:
                    if copied:
                        break
                    raise oserror(err)
                if self.sk_shutdown & RCV_SHUTDOWN:
                    break
                if copied:
                    break
                return -errno.EAGAIN
            skb = self.rcvq[0]
            chunk = min(skb.len - skb.consumed, size)
            skb.consumed += chunk
            copied += chunk
            size -= chunk
            if skb.consumed < skb.len:
                break
            self.rcvq.popleft()
            self.free_skb(skb, f"recv {self.label()}" if self.kernel.tracing else "recv")
            if not size:
                break
        return copied

    def dgram_sendmsg(self, n: int) -> int:
        """Linux: net/unix/af_unix.c:unix_dgram_sendmsg (connected, non-blocking).

        The order of the checks is the kernel's: the size (EMSGSIZE), then
        the allocation (a pending error, EPIPE after shutdown(wr), EAGAIN),
        and only then the peer (ENOTCONN, or ECONNREFUSED for a dead one),
        so a send that fails on the peer has allocated and freed an skb.
        """
        profile = self.kernel.profile
        if n > self.sndbuf - 32:
            raise oserror(errno.EMSGSIZE)
        data_len = 0
        if n > profile.skb_max_alloc:
            data_len = profile.page_align(min(n - profile.skb_max_alloc,
                                              profile.max_skb_frags * profile.page_size))
        truesize = self.alloc_send_skb(profile.skb_truesize(n - data_len, data_len))
        skb = Skb(self, n, truesize)
        other = self.peer
        if other is None:
            self.free_skb(skb, "unix_dgram_sendmsg (not connected)")
            raise oserror(errno.ENOTCONN)
        if other.dead:
            self.free_skb(skb, "unix_dgram_sendmsg (peer dead)")
            self.peer = None
            self.state = TCP_CLOSE
            self.unix_dgram_disconnected(other)
            raise oserror(errno.ECONNREFUSED)
        if other.sk_shutdown & RCV_SHUTDOWN:
            self.free_skb(skb, "unix_dgram_sendmsg (peer shut down)")
            raise oserror(errno.EPIPE)
        other.rcvq.append(skb)
        other.data_ready(f"send {self.label()}")
        return n

    def unix_dgram_disconnected(self, other: UnixSock) -> None:
        """Linux: net/unix/af_unix.c:unix_dgram_disconnected: messages are lost."""
        while self.rcvq:
            self.free_skb(self.rcvq.popleft(), f"disconnect {self.label()} (queue purged)")
        if not other.dead and other.peer is self:
            other.sk_err = errno.ECONNRESET
            other.error_report(f"disconnect {self.label()}")

    def dgram_recvmsg(self, n: int) -> int:
        """Linux: net/unix/af_unix.c:unix_dgram_recvmsg (non-blocking)."""
        err = self.sock_error()
        if err:
            raise oserror(err)
        if not self.rcvq:
            return -errno.EAGAIN
        skb = self.rcvq.popleft()
        self.free_skb(skb, f"recv {self.label()}")
        return min(n, skb.len)

    # -- shutdown and close --------------------------------------------------

    def shutdown(self, how: int) -> None:
        """Linux: net/unix/af_unix.c:unix_shutdown (how: 0 rd, 1 wr, 2 rdwr)."""
        mode = (how + 1) & (RCV_SHUTDOWN | SEND_SHUTDOWN)
        self.sk_shutdown |= mode
        other = self.peer
        self.state_change(f"shutdown {self.label()}")
        if other is not None and self.stype == "stream":
            peer_mode = 0
            if mode & RCV_SHUTDOWN:
                peer_mode |= SEND_SHUTDOWN
            if mode & SEND_SHUTDOWN:
                peer_mode |= RCV_SHUTDOWN
            other.sk_shutdown |= peer_mode
            other.state_change(f"shutdown {self.label()}")

    def release(self) -> None:
        """Linux: net/unix/af_unix.c:unix_release_sock."""
        self.dead = True
        self.sk_shutdown = SHUTDOWN_MASK
        self.state = TCP_CLOSE
        skpair = self.peer
        self.peer = None
        if skpair is not None and self.stype == "stream":
            skpair.sk_shutdown = SHUTDOWN_MASK
            if self.rcvq:
                skpair.sk_err = errno.ECONNRESET
            skpair.state_change(f"close {self.label()}")
        while self.rcvq:
            self.free_skb(self.rcvq.popleft(), f"close {self.label()} (unread data freed)")


def socketpair(kernel: Kernel, stype: Literal["stream", "dgram"]) -> tuple[UnixSock, UnixSock]:
    """Linux: net/unix/af_unix.c:unix_socketpair."""
    a, b = UnixSock(kernel, stype), UnixSock(kernel, stype)
    a.peer, b.peer = b, a
    a.state = b.state = TCP_ESTABLISHED
    return a, b
