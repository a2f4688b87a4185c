"""Knowing when TCP on loopback is done, without sleeping for it.

AF_UNIX sockets and pipes are synchronous: when ``send`` returns, the bytes
are in the peer's queue and its wait queue has been woken
(net/unix/af_unix.c:unix_stream_sendmsg calls ``sk_data_ready`` before it
returns). TCP is not: a segment, its ACK, a window update, a FIN or a RST
travel through the loopback device and the softirq that receives them.
On loopback this nearly always finishes inside the sending system call,
but "nearly" is not a test oracle, and delayed ACKs (up to 40 ms,
net/ipv4/tcp_output.c:tcp_send_delayed_ack) are routine.

So after every statement the runner waits for TCP to *settle*, on
conditions read from the kernel (``TCP_INFO``, see
include/uapi/linux/tcp.h:struct tcp_info), with a bound:

* no socket is in a state that waits for its peer's answer (SYN_SENT,
  SYN_RECV, FIN_WAIT1, CLOSING, LAST_ACK);
* nothing is in flight: ``tcpi_unacked`` is 0 (so the peer has the data,
  and the sender's buffer space that the ACK frees is free again), unless
  the peer's window is shut (``tcpi_snd_wnd`` is 0): then a segment sent
  before it shut may stay unacknowledged until the peer reads;
* unsent data (``tcpi_notsent_bytes``) is stuck only because the peer's
  window cannot take a segment (net/ipv4/tcp_output.c:tcp_snd_wnd_test);
* when the last reference to a connected socket was closed, or a listener
  with connections not yet accepted, the peer we still hold has seen the
  FIN or RST: its state has moved on (an orphan can no longer be asked).

A statement that does not settle within the bound is not an error: the
runner notes it in the trace, since that is evidence of nondeterminism.

Where the time goes. Settling costs a ``TCP_INFO`` per socket (a few
microseconds) when nothing is in flight. When data is, it costs what the
kernel takes to acknowledge it: past a connection's quick-ACK start
(net/ipv4/tcp_input.c:tcp_incr_quickack, up to 16 ACKs), a receiver that is
not reading acknowledges a small segment only when its delayed-ACK timer
fires, 40 ms later (``TCP_DELACK_MIN``, tcp_send_delayed_ack). Measured on
6.18 with ``HZ=250``: 43 ms for each ``send c 1`` after the first few (a
shorter polling pause here changed nothing), nothing for the ``recv`` that
follows, so a send/recv scenario runs at about 23 ms a statement, and a
``fill`` into a peer that does not read takes one settle round per delayed
ACK. Hurrying the ACK is not ours to do: when and with
which window the receiver acknowledges is part of what the connection does
next (an ACK sent after the peer has read advertises another window), and
the recorded outcomes are the kernel's with its own timing.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from realmux import libc

TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_SYN_RECV = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_TIME_WAIT = 6
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8
TCP_LAST_ACK = 9
TCP_LISTEN = 10
TCP_CLOSING = 11

_WAITING_FOR_PEER = {TCP_SYN_SENT, TCP_SYN_RECV, TCP_FIN_WAIT1, TCP_CLOSING, TCP_LAST_ACK}

# Offsets in struct tcp_info (include/uapi/linux/tcp.h).
_OFF_STATE = 0
_OFF_SND_MSS = 16
_OFF_UNACKED = 24  # for a listener: the accept queue's length (tcp_get_info)
_OFF_NOTSENT = 144
_OFF_SND_WND = 228
_INFO_SIZE = 232

SIOCINQ = 0x541B


@dataclass(frozen=True, slots=True)
class TcpInfo:
    state: int
    snd_mss: int
    unacked: int
    notsent: int
    snd_wnd: int | None  # None on kernels older than 6.2 (no tcpi_snd_wnd)

    @property
    def quiet(self) -> bool:
        if self.state in _WAITING_FOR_PEER:
            return False
        if self.snd_wnd == 0 and self.state == TCP_ESTABLISHED:
            # The peer's window is shut: nothing moves until it reads. A segment
            # sent before the window closed may stay unacked (dropped for want
            # of room, retransmitted only once the window opens:
            # net/ipv4/tcp_output.c:__tcp_retransmit_skb).
            return True
        if self.unacked:
            return False
        if self.notsent and self.snd_wnd is not None:
            # With Nagle off, the stack sends as soon as one segment fits.
            return self.snd_wnd < min(self.notsent, self.snd_mss)
        return True


def tcp_info(fd: int) -> TcpInfo:
    raw = libc.getsockopt(fd, socket.IPPROTO_TCP, socket.TCP_INFO, _INFO_SIZE)
    (state,) = struct.unpack_from("B", raw, _OFF_STATE)
    (snd_mss,) = struct.unpack_from("I", raw, _OFF_SND_MSS)
    (unacked,) = struct.unpack_from("I", raw, _OFF_UNACKED)
    notsent = struct.unpack_from("I", raw, _OFF_NOTSENT)[0] if len(raw) >= 148 else 0
    snd_wnd = struct.unpack_from("I", raw, _OFF_SND_WND)[0] if len(raw) >= 232 else None
    return TcpInfo(state, snd_mss, unacked, notsent, snd_wnd)


def accept_queue_length(listener_fd: int) -> int:
    return tcp_info(listener_fd).unacked


def unread_bytes(fd: int) -> int:
    import array
    import fcntl

    buf = array.array("i", [0])
    fcntl.ioctl(fd, SIOCINQ, buf, True)
    return int(buf[0])


Condition = Callable[[], bool]


def settle(connected: Iterable[int], conditions: Iterable[Condition], bound: float) -> bool:
    """Wait until every TCP socket is quiet and every condition holds, or ``bound`` passes.

    Returns False when the bound ran out. Sockets that fail to answer (closed
    meanwhile) are skipped: a closed socket cannot hold anything up.
    """
    fds = list(connected)
    checks = list(conditions)
    deadline = time.monotonic() + bound
    pause = 0.0001
    while True:
        if all(_quiet(fd) for fd in fds) and all(check() for check in checks):
            return True
        if time.monotonic() >= deadline:
            return False
        # A bounded poll of a condition, not a sleep that hopes: the softirq
        # or a delayed-ACK timer is what we are waiting for.
        time.sleep(pause)
        pause = min(pause * 2, 0.005)


def _quiet(fd: int) -> bool:
    try:
        return tcp_info(fd).quiet
    except OSError:
        return True
