"""TCP (and unconnected UDP) over loopback, as net/ipv4/tcp*.c behave there.

What the model keeps exact is what decides readiness:

* ``tcp_poll``: a listener is readable while its accept queue holds a
  connection (``inet_csk_listen_poll``); otherwise HUP when both directions
  are shut or the socket is CLOSED, IN|RDNORM|RDHUP once the receive side
  is shut (a FIN arrived), IN when at least ``SO_RCVLOWAT`` bytes wait, OUT
  while ``__sk_stream_is_writeable`` (or once the send side is shut), ERR
  while an error is pending. A never-connected socket is CLOSED: OUT|HUP.
* The wakeups: arriving data calls ``sk_data_ready`` only when the
  readable amount reaches the low-water mark (``tcp_data_ready``); freed
  send space calls ``sk_write_space`` only if a writer found no space
  before (``SOCK_NOSPACE``, ``tcp_check_space``); a FIN, the ACK of our
  FIN, and ``tcp_done`` call ``sk_state_change`` (no key); a RST sets the
  error by state (SYN_SENT: ECONNREFUSED, CLOSE_WAIT: EPIPE, otherwise
  ECONNRESET), purges the send queue, closes, then reports the error
  (``tcp_reset``, ``tcp_done_with_error``).
* ``close`` with unread data, or with ``SO_LINGER`` 0, resets the
  connection; otherwise it sends a FIN after the queued data
  (``__tcp_close``). A closed socket that still receives data answers with
  a RST (``tcp_rcv_state_process``, "TCPAbortOnData"). Closing a listener
  resets the connections it had not handed out (``inet_csk_listen_stop``).
* ``shutdown`` on an unconnected socket fails with ENOTCONN but still sets
  the bits and wakes the queue (``inet_shutdown``: "Hack to wake up other
  listeners").

Loopback delivery is modelled as instantaneous, which is what realmux
makes true by settling after every statement. The receive window follows
the kernel's rules for what a segment offers (muxsim/model/tcpwindow.py:
the window scale, unscaled handshake windows, a window that never shrinks
and is rounded up to the scale, a zero window when out of memory) and
every segment a socket sends carries it: its data, its ACKs, its window
updates, its FIN. The receive queue is kept skb by skb for its truesize
(``sk_rmem_alloc``), which decides the free space and which segments are
dropped. XX: every segment is acknowledged at once (the kernel delays some
ACKs, and a delayed ACK carries a window computed later).
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, Final

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
from muxsim.model.sock import KEY_WRITABLE, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, Sock
from muxsim.model.tcprcvq import ReceiveQueue
from muxsim.model.tcpwindow import (
    TCP_MAX_WSCALE,
    TCP_RMEM_TO_WIN_SCALE,
    U16_MAX,
    free_window,
    grown_ssthresh,
    set_window_clamp,
    tcp_select_initial_window,
    tcp_select_window,
    win_from_space,
)
from muxsim.model.vfs import PollTable, oserror, poll_wait

if TYPE_CHECKING:
    from muxsim.model.kernel import Kernel

TCP_ESTABLISHED: Final = 1
TCP_SYN_SENT: Final = 2
TCP_SYN_RECV: Final = 3
TCP_FIN_WAIT1: Final = 4
TCP_FIN_WAIT2: Final = 5
TCP_TIME_WAIT: Final = 6
TCP_CLOSE: Final = 7
TCP_CLOSE_WAIT: Final = 8
TCP_LAST_ACK: Final = 9
TCP_LISTEN: Final = 10
TCP_CLOSING: Final = 11

#: include/net/tcp.h: the MSS assumed until segments say otherwise.
TCP_MSS_DEFAULT: Final = 536


class TcpSock(Sock):
    kind = "tcp"

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        profile = kernel.profile
        self.state = TCP_CLOSE
        self.peer: TcpSock | None = None
        self.rcv_bytes = 0
        self.rcvq = ReceiveQueue(profile)  # its skbs, for sk_rmem_alloc
        self.rcv_total = 0  # bytes ever received in order (rcv_nxt)
        self.rcv_edge = profile.tcp_initial_window  # right edge of our window (rcv_wup + rcv_wnd)
        self.rcv_wscale = 0  # chosen at the handshake (tcp_select_initial_window)
        self.window_clamp = U16_MAX << TCP_MAX_WSCALE
        self.rcv_mss = TCP_MSS_DEFAULT  # our estimate of the peer's MSS (icsk_ack.rcv_mss)
        self.rcv_ssthresh = profile.tcp_initial_window  # how far the window may grow now
        self.rcv_wnd = profile.tcp_initial_window  # the window last offered
        #: skb->len / skb->truesize in 1/256ths, measured from a full-sized
        #: segment (tcp_measure_rcv_mss); the default until one arrives.
        self.scaling_ratio = profile.tcp_default_scaling_ratio
        self.max_window = profile.tcp_initial_window  # the peer's largest window
        self.done = False  # SOCK_DONE: a FIN arrived
        self.notsent = 0  # queued, not yet sent (window closed)
        self.inflight = 0  # sent, dropped by the receiver for want of memory; to retransmit
        self.fin_pending = False  # a FIN queued behind notsent data
        self.nospace = False  # SOCK_NOSPACE
        self.notsent_lowat = 0xFFFFFFFF
        self.sndbuf = profile.tcp_wmem_default
        self.rcvbuf = profile.tcp_rmem_default
        self.accept_queue: deque[TcpSock] = deque()
        #: tcp_disconnect moves write_seq on by max_window + 2, which then
        #: counts as unsent data for TCP_NOTSENT_LOWAT (write_seq - snd_nxt).
        self.write_seq_gap = 0
        self.port = 0

    def clone(self) -> TcpSock:
        """The socket a listener hands a new connection (``sk_clone_lock`` copies
        the listener's ``struct sock``): its buffer sizes and their locks, low-water
        marks and linger setting come with it."""
        child = TcpSock(self.kernel)
        child.sndbuf, child.rcvbuf = self.sndbuf, self.rcvbuf
        child.sndbuf_locked, child.rcvbuf_locked = self.sndbuf_locked, self.rcvbuf_locked
        child.rcvlowat, child.linger = self.rcvlowat, self.linger
        child.notsent_lowat = self.notsent_lowat
        return child

    # -- buffers ---------------------------------------------------------------

    def wmem_queued(self) -> int:
        """``sk_wmem_queued``: queued bytes plus each skb's own overhead (truesize)."""
        queued = self.notsent + self.inflight
        skbs = -(-queued // self.mss_now())
        profile = self.kernel.profile
        return profile.tcp_wmem_for(queued) + skbs * profile.tcp_skb_overhead

    def memory_free(self) -> bool:
        """``sk_stream_memory_free`` (wake = 0)."""
        return self.wmem_queued() < self.sndbuf and \
            self.notsent + self.write_seq_gap < self.notsent_lowat

    def stream_writeable(self) -> bool:
        """``__sk_stream_is_writeable(sk, 1)``."""
        queued = self.wmem_queued()
        if self.sndbuf - queued < queued >> 1 or queued >= self.sndbuf:
            return False
        return ((self.notsent + self.write_seq_gap) << 1) < self.notsent_lowat

    def window_free(self) -> int:
        """``tcp_receive_window``: what is left of the window this receiver offered."""
        return max(0, self.rcv_edge - self.rcv_total)

    def send_window_free(self) -> int:
        """Room the peer's window leaves for new data (``tcp_wnd_end`` - ``snd_nxt``):
        segments it dropped for want of memory are still outstanding."""
        peer = self.peer
        if peer is None:
            return 0
        return max(0, peer.rcv_edge - peer.rcv_total - self.inflight)

    def rmem_alloc(self) -> int:
        """``sk_rmem_alloc``: the truesize of the skbs in the receive queue."""
        return self.rcvq.rmem

    def tcp_space(self) -> int:
        """``tcp_space``: the window the unused part of the receive buffer allows."""
        return win_from_space(self.rcvbuf - self.rmem_alloc(), self.scaling_ratio)

    def tcp_full_space(self) -> int:
        """``tcp_full_space``: the window the whole receive buffer allows."""
        return win_from_space(self.rcvbuf, self.scaling_ratio)

    def select_window(self) -> int:
        """``__tcp_select_window``: the window the free buffer space allows now."""
        return free_window(self.tcp_space(), self.tcp_full_space(), self.window_clamp,
                           self.rcv_mss, self.rcv_wscale, self.rcv_ssthresh, self.rcv_wnd)

    def advertise(self) -> None:
        """A segment leaves this socket: it carries our window (``tcp_select_window``).

        The right edge moves out, never in; what is left of the old window is
        offered again rounded up to the window scale (muxsim/model/tcpwindow.py).
        """
        new = tcp_select_window(self.window_free(), self.select_window(), self.rcv_wscale)
        self.rcv_edge = self.rcv_total + new
        self.rcv_wnd = new
        peer = self.peer
        if peer is not None:
            peer.max_window = max(peer.max_window, new)

    def advertise_zero(self) -> None:
        """Out of memory: the ACK of a dropped segment offers a zero window
        (``tcp_data_queue`` sets ``ICSK_ACK_NOMEM``; ``tcp_select_window`` sets
        ``rcv_wnd`` to 0 and ``rcv_wup`` to ``rcv_nxt``)."""
        self.rcv_edge = self.rcv_total
        self.rcv_wnd = 0

    def segment_arrives(self, seg: int) -> None:
        """An in-order segment is queued (``tcp_data_queue``, ``ReceiveQueue.queue``);
        the receiver learns the peer's MSS and the buffer's ``scaling_ratio`` from it
        (``tcp_measure_rcv_mss``) and lets the window grow (``tcp_grow_window``)."""
        profile = self.kernel.profile
        self.rcv_bytes += seg
        self.rcv_total += seg
        self.rcvq.queue(seg)
        if seg >= self.rcv_mss:
            if seg != self.rcv_mss:
                ratio = (seg << TCP_RMEM_TO_WIN_SCALE) // (seg + profile.tcp_rcv_skb_overhead)
                if ratio != self.scaling_ratio:
                    self.scaling_ratio = ratio or 1
                    self.window_clamp, self.rcv_ssthresh = set_window_clamp(
                        self.window_clamp, self.rcv_ssthresh, self.rcv_wnd,
                        self.tcp_full_space())
            self.rcv_mss = min(seg, profile.tcp_mss)
        self.rcv_ssthresh = grown_ssthresh(self.rcv_ssthresh, self.window_clamp,
                                           self.tcp_space(), seg, profile.tcp_mss)

    def rmem_schedule(self) -> bool:
        """May a segment be queued? ``tcp_data_queue``: into an empty queue always
        (``sk_forced_mem_schedule``); otherwise ``tcp_try_rmem_schedule``: while
        ``sk_rmem_alloc`` is above ``SO_RCVBUF``, ``tcp_prune_queue`` first
        collapses the queue, and only if that is not enough is the segment dropped."""
        rcvq = self.rcvq
        if not rcvq.skbs or rcvq.rmem <= self.rcvbuf:
            return True
        rcvq.collapse(self.scaling_ratio)
        return rcvq.rmem <= self.rcvbuf

    def segments_read(self, n: int) -> None:
        """``tcp_recvmsg`` takes ``n`` bytes."""
        self.rcv_bytes -= n
        self.rcvq.read(n)

    def mss_now(self) -> int:
        """``tcp_current_mss`` bounded by ``tcp_bound_to_half_wnd`` (half the largest window)."""
        profile = self.kernel.profile
        cutoff = self.max_window >> 1 if self.max_window > 536 else self.max_window
        return max(1, min(profile.tcp_mss, cutoff)) if cutoff else profile.tcp_mss

    # -- poll ----------------------------------------------------------------

    def poll(self, pt: PollTable | None) -> int:
        """Linux: net/ipv4/tcp.c:tcp_poll."""
        poll_wait(self, self.wq, pt)
        state = self.state
        if state == TCP_LISTEN:
            return EPOLLIN | EPOLLRDNORM if self.accept_queue else 0
        mask = 0
        shutdown = self.sk_shutdown
        if shutdown == SHUTDOWN_MASK or state == TCP_CLOSE:
            mask |= EPOLLHUP
        if shutdown & RCV_SHUTDOWN:
            mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP
        if state not in (TCP_SYN_SENT, TCP_SYN_RECV):
            if self.rcv_bytes >= self.target(0x7FFFFFFF) and self.rcv_bytes > 0:
                mask |= EPOLLIN | EPOLLRDNORM
            if not (shutdown & SEND_SHUTDOWN):
                if self.stream_writeable():
                    mask |= EPOLLOUT | EPOLLWRNORM
                else:
                    self.nospace = True
            else:
                mask |= EPOLLOUT | EPOLLWRNORM
        if self.sk_err:
            mask |= EPOLLERR
        return mask

    def set_rcvlowat(self, value: int) -> None:
        """Linux: net/ipv4/tcp.c:tcp_set_rcvlowat: capped at half the receive buffer."""
        if value < 0:
            value = 0x7FFFFFFF
        cap = (self.rcvbuf if self.rcvbuf_locked else self.kernel.profile.tcp_rmem_max) >> 1
        value = min(value, cap)
        self.rcvlowat = value or 1
        # tcp_data_ready: readable by the new mark, or a FIN arrived.
        if (self.rcv_bytes and self.rcv_bytes >= self.rcvlowat) or self.done:
            self.data_ready("setsockopt SO_RCVLOWAT")

    def setsockopt(self, option: str, value: int) -> None:
        if option == "notsent_lowat":
            # tcp_notsent_lowat: 0 means net.ipv4.tcp_notsent_lowat (no limit by default).
            self.notsent_lowat = (value & 0xFFFFFFFF) or self.kernel.profile.tcp_notsent_lowat
            self.write_space("setsockopt TCP_NOTSENT_LOWAT")
            return
        super().setsockopt(option, value)

    def write_space(self, why: str, held: int = 0) -> None:
        """``sk_stream_write_space``."""
        if self.stream_writeable() and not self.dead:
            self.nospace = False
            self.kernel.wake(self.wq, KEY_WRITABLE, f"{why}: write space on {self.label()}"
                             if self.kernel.tracing else why)

    # -- the wire (instantaneous on loopback) ----------------------------------

    def push(self, why: str) -> None:
        """Send what the peer's window takes, a segment at a time; deliver; take the ACK.

        ``tcp_write_xmit``: with Nagle off a segment goes if it fits the window
        (``tcp_snd_wnd_test``); one that does not waits for the persist timer,
        which the model does not run (XX: real loopback unsticks in ~0.2 s+).
        ``tcp_data_queue``: a segment into an empty receive queue is always
        taken; otherwise it is dropped while the queue's truesize is above
        ``SO_RCVBUF`` even once collapsed (``rmem_schedule``); the sender keeps
        it to retransmit, and the receiver answers with a zero window.
        Every segment carries its sender's window (``advertise``).
        """
        peer = self.peer
        if peer is None or self.state == TCP_CLOSE:
            return
        if self.notsent or self.inflight:
            if peer.state in (TCP_CLOSE, TCP_TIME_WAIT):
                # Data for a socket that is gone: the answer is a RST.
                self.tcp_reset(f"{why}: RST from closed {peer.label()}")
                return
            if peer.state in (TCP_FIN_WAIT1, TCP_FIN_WAIT2) and \
                    peer.sk_shutdown & RCV_SHUTDOWN:
                # tcp_rcv_state_process: "RFC 1122 says we MUST send a reset"
                # (TCPAbortOnData): the receiver resets itself, then us.
                peer.tcp_reset(f"{why}: data after {peer.label()} shut down reading")
                self.tcp_reset(f"{why}: RST from {peer.label()}")
                return
            moved = self.retransmit(peer)
            sent = False
            while self.notsent:
                seg = min(self.notsent, self.mss_now())
                if seg > self.send_window_free():
                    break  # waits for a window update (or the persist timer)
                if not sent:
                    sent = True
                    self.advertise()  # our data segments carry our window
                self.notsent -= seg
                if not peer.rmem_schedule():
                    self.inflight += seg  # dropped: retransmitted once there is room
                    peer.advertise_zero()
                    continue
                peer.segment_arrives(seg)
                moved += seg
                peer.advertise()  # the ACK
            # The ACKs are processed (release_sock): the sender lets go of what
            # it sent, and the receiver's tail skb is its own again.
            peer.rcvq.tail_shared = False
            if moved:
                if peer.rcv_bytes >= peer.target(0x7FFFFFFF) or peer.done:
                    peer.data_ready(f"{why} ({moved} bytes arrive)")
                if self.nospace:
                    self.write_space(f"{why} (ACK frees space)")
        if self.fin_pending and not self.notsent and not self.inflight:
            self.fin_pending = False
            self.advertise()  # the FIN carries our window
            peer.tcp_fin(why)
            peer.advertise()  # the ACK of the FIN
            self.fin_acked(why)

    def retransmit(self, peer: TcpSock) -> int:
        """Segments the receiver dropped arrive once it has room (the RTO timer, which
        realmux waits for when it settles); returns the bytes delivered.

        Into a zero window a retransmission is only a probe: it is dropped
        (``tcp_data_queue``: ``TCPZEROWINDOWDROP``), and the ACK that answers it
        offers whatever window the receiver has by then. Into a window smaller
        than the segment, only what fits is sent again (``tcp_retransmit_skb``
        splits the skb at ``avail_wnd``); the rest waits for the next window.
        """
        moved = 0
        while self.inflight:
            avail = peer.window_free()
            if not avail:
                peer.advertise()  # the answer to the probe
                avail = peer.window_free()
                if not avail:
                    break
            seg = min(self.inflight, self.mss_now(), avail)
            if not peer.rmem_schedule():
                break
            self.inflight -= seg
            peer.segment_arrives(seg)
            moved += seg
            peer.advertise()
        return moved

    def tcp_fin(self, why: str) -> None:
        """Linux: net/ipv4/tcp_input.c:tcp_fin."""
        self.sk_shutdown |= RCV_SHUTDOWN
        self.done = True
        if self.state == TCP_ESTABLISHED:
            self.state = TCP_CLOSE_WAIT
        elif self.state == TCP_FIN_WAIT1:
            self.state = TCP_CLOSING
        elif self.state == TCP_FIN_WAIT2:
            self.state = TCP_CLOSE  # tcp_time_wait, then tcp_done for the socket
            self.sk_shutdown = SHUTDOWN_MASK
        self.state_change(f"{why}: FIN reaches {self.label()}")

    def fin_acked(self, why: str) -> None:
        """The ACK of our FIN (tcp_rcv_state_process)."""
        if self.state == TCP_FIN_WAIT1:
            self.state = TCP_FIN_WAIT2
            self.sk_shutdown |= SEND_SHUTDOWN
            self.state_change(f"{why}: FIN of {self.label()} acknowledged")
        elif self.state == TCP_CLOSING or self.state == TCP_LAST_ACK:
            self.state = TCP_CLOSE
            self.sk_shutdown = SHUTDOWN_MASK
            self.state_change(f"{why}: FIN of {self.label()} acknowledged")

    def tcp_reset(self, why: str) -> None:
        """Linux: net/ipv4/tcp_input.c:tcp_reset."""
        if self.state == TCP_SYN_SENT:
            err = errno.ECONNREFUSED
        elif self.state == TCP_CLOSE_WAIT:
            err = errno.EPIPE
        elif self.state == TCP_CLOSE:
            return
        else:
            err = errno.ECONNRESET
        self.sk_err = err
        self.notsent = 0
        self.fin_pending = False
        self.state = TCP_CLOSE
        self.sk_shutdown = SHUTDOWN_MASK
        self.state_change(f"{why}: {self.label()} reset")
        self.error_report(f"{why}: {self.label()} reset")

    def send_reset(self, why: str) -> None:
        """``tcp_send_active_reset``: the peer, if any, gets a RST."""
        peer = self.peer
        if peer is not None and peer.peer is self:
            peer.tcp_reset(why)

    # -- system calls ----------------------------------------------------------

    def write(self, n: int) -> int:
        """Linux: net/ipv4/tcp.c:tcp_sendmsg_locked (non-blocking)."""
        if self.state == TCP_LISTEN:
            raise oserror(errno.EPIPE)
        if self.state not in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
            err = self.sock_error()
            raise oserror(err or errno.EPIPE)
        if self.sk_err or self.sk_shutdown & SEND_SHUTDOWN:
            err = self.sock_error()
            raise oserror(err or errno.EPIPE)
        copied = 0
        while copied < n:
            # tcp_sendmsg_locked: memory is checked when a new skb is started; an
            # skb takes up to size_goal bytes (tcp_xmit_size_goal: half the
            # peer's largest window). The call holds the socket lock, so ACKs
            # wait in the backlog until release_sock: nothing sent during the
            # call frees memory before it returns.
            if not self.memory_free():
                self.nospace = True
                break
            chunk = min(n - copied, self.mss_now())
            self.notsent += chunk
            copied += chunk
        if not copied and n:
            raise oserror(errno.EAGAIN)
        self.push(f"send {self.label()}")
        return copied

    def read(self, n: int) -> int:
        """Linux: net/ipv4/tcp.c:tcp_recvmsg_locked (non-blocking)."""
        if self.state == TCP_LISTEN:
            raise oserror(errno.ENOTCONN)
        if self.rcv_bytes:
            got = min(n, self.rcv_bytes)
            now = self.window_free()
            self.segments_read(got)
            peer = self.peer
            if got and peer is not None and not self.sk_shutdown & RCV_SHUTDOWN:
                # tcp_cleanup_rbuf: a window update goes out only if the read
                # at least doubled the window ("Lots" means "at least twice").
                new = self.select_window()
                if new and new >= 2 * now:
                    self.advertise()
                    peer.push(f"recv {self.label()} (window update)")
                    return got
            if got and peer is not None and peer.inflight:
                peer.push(f"recv {self.label()} (retransmission finds room)")
            return got
        if self.done:
            return 0
        if self.sk_err:
            raise oserror(self.sock_error())
        if self.sk_shutdown & RCV_SHUTDOWN:
            return 0
        if self.state == TCP_CLOSE:
            raise oserror(errno.ENOTCONN)
        return -errno.EAGAIN

    def shutdown(self, how: int) -> None:
        """Linux: net/ipv4/af_inet.c:inet_shutdown + net/ipv4/tcp.c:tcp_shutdown."""
        mode = how + 1
        err = 0
        if self.state == TCP_CLOSE:
            err = errno.ENOTCONN
            self.sk_shutdown |= mode
        elif self.state == TCP_LISTEN:
            if mode & RCV_SHUTDOWN:
                # tcp_disconnect: the listener closes; its max_window is 0.
                self.listen_stop(f"shutdown {self.label()}")
                self.write_seq_gap = 2
        else:
            self.sk_shutdown |= mode
            if mode & SEND_SHUTDOWN and self.state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
                self.state = TCP_FIN_WAIT1 if self.state == TCP_ESTABLISHED else TCP_LAST_ACK
                self.fin_pending = True
                self.push(f"shutdown {self.label()}")
        self.state_change(f"shutdown {self.label()}")
        if err:
            raise oserror(err)

    def accept(self) -> TcpSock:
        """Linux: net/ipv4/inet_connection_sock.c:inet_csk_accept (non-blocking)."""
        if self.state != TCP_LISTEN:
            raise oserror(errno.EINVAL)
        if not self.accept_queue:
            raise oserror(errno.EAGAIN)
        return self.accept_queue.popleft()

    def listen_stop(self, why: str) -> None:
        """Linux: net/ipv4/inet_connection_sock.c:inet_csk_listen_stop."""
        self.state = TCP_CLOSE
        self.kernel.tcp_ports.pop(self.port, None)
        while self.accept_queue:
            child = self.accept_queue.popleft()
            child.sk_err = errno.ECONNRESET
            child.state = TCP_CLOSE
            child.send_reset(f"{why}: unaccepted connection reset")

    def release(self) -> None:
        """Linux: net/ipv4/tcp.c:__tcp_close."""
        why = f"close {self.label()}"
        self.sk_shutdown = SHUTDOWN_MASK
        if self.state == TCP_LISTEN:
            self.dead = True
            self.listen_stop(why)
            return
        unread = self.rcv_bytes
        self.segments_read(unread)
        self.dead = True
        if self.state == TCP_CLOSE:
            return
        if unread or self.linger == 0:
            self.state = TCP_CLOSE
            self.notsent = 0
            self.send_reset(why)
            return
        if self.state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT, TCP_SYN_RECV):
            self.state = TCP_LAST_ACK if self.state == TCP_CLOSE_WAIT else TCP_FIN_WAIT1
            self.fin_pending = True
            self.push(why)


def tcp_establish(client: TcpSock, server: TcpSock) -> None:
    """The three-way handshake over loopback, for what it decides about windows.

    Each end picks its window scale and first window with
    ``tcp_select_initial_window`` from the full space of its receive buffer
    (``tcp_connect_init`` for the client; ``tcp_openreq_init_rwin`` for the
    server, clamped to its buffer if the user locked it: the accepted socket
    has its listener's ``SO_RCVBUF``, see ``clone``).
    The client counts its MSS before timestamps (the route's advertised MSS),
    the server after. The SYN-ACK carries the server's window unscaled; the
    last ACK carries the client's, through ``tcp_select_window``, so scaled.
    """
    profile = client.kernel.profile
    client.peer, server.peer = server, client
    client.state = server.state = TCP_ESTABLISHED
    ratio = profile.tcp_default_scaling_ratio
    for sock, mss in ((client, profile.tcp_advmss), (server, profile.tcp_mss)):
        full = win_from_space(sock.rcvbuf, ratio)
        initial = tcp_select_initial_window(
            full, mss, full if sock.rcvbuf_locked else 0, profile.tcp_rmem_max,
            profile.rmem_max)
        sock.rcv_wscale = initial.rcv_wscale
        sock.rcv_edge = sock.rcv_wnd = initial.rcv_wnd
        # tcp_init_buffer_space: the clamp is at most the buffer's full window.
        sock.window_clamp = min(initial.window_clamp, full)
        sock.rcv_ssthresh = min(initial.rcv_wnd, sock.window_clamp)
    client.max_window = server.rcv_edge  # the SYN-ACK's window, never scaled
    server.max_window = 0
    client.advertise()  # the handshake's last ACK


class InetDgram(Sock):
    """An unconnected UDP socket."""

    kind = "udp"

    def write_space(self, why: str, held: int = 0) -> None:
        """``sock_def_write_space``: writable while at most half the buffer is charged."""
        if not self.dead and (1 + held) << 1 <= self.sndbuf:
            self.kernel.wake(self.wq, KEY_WRITABLE, f"{why}: write space on {self.label()}")

    def poll(self, pt: PollTable | None) -> int:
        """Linux: net/core/datagram.c:datagram_poll (udp_poll adds nothing here)."""
        poll_wait(self, self.wq, pt)
        mask = 0
        if self.sk_err:
            mask |= EPOLLERR
        if self.sk_shutdown & RCV_SHUTDOWN:
            mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM
        if self.sk_shutdown == SHUTDOWN_MASK:
            mask |= EPOLLHUP
        if (self.sndbuf >> 1) > 0:  # sock_writeable: nothing is ever charged here
            mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
        return mask

    def write(self, n: int) -> int:
        """Linux: net/ipv4/udp.c:udp_sendmsg with no address and no connection."""
        if n > 0xFFFF:
            raise oserror(errno.EMSGSIZE)
        raise oserror(errno.EDESTADDRREQ)

    def read(self, n: int) -> int:
        err = self.sock_error()
        if err:
            raise oserror(err)
        return -errno.EAGAIN

    def shutdown(self, how: int) -> None:
        """Linux: net/ipv4/af_inet.c:inet_shutdown on a CLOSED socket."""
        self.sk_shutdown |= how + 1
        self.state_change(f"shutdown {self.label()}")
        raise oserror(errno.ENOTCONN)
