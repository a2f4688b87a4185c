"""The TCP receive window: what a receiver offers, and why it moves as it does.

A TCP receiver tells its peer, on every segment it sends, how far the peer
may send: the right edge of its window, ``rcv_wup + rcv_wnd``. How much a
``fill`` moves, and in what segment sizes, follows from that edge (the
sender cuts its segments to half the largest window it has been offered,
``tcp_bound_to_half_wnd``). The facts, from net/ipv4/tcp_output.c and
measured on Linux 6.18 over loopback:

* **The window scale is chosen once, at the handshake**
  (``tcp_select_initial_window``): ``ilog2`` of the largest window the
  socket could ever offer, less 15. That is the larger of
  ``net.ipv4.tcp_rmem[2]`` and ``net.core.rmem_max``, unless the window
  clamp is smaller: a receive buffer locked with ``SO_RCVBUF`` before the
  handshake (on a listener, whose children inherit it) clamps the window
  to the buffer's, and a small one gives scale 0 (unscaled windows, kept
  to multiples of the MSS by ``__tcp_select_window``). With 6.18's
  defaults (``tcp_rmem[2]`` = 32 MiB) the scale is 10: windows travel in
  units of 1,024 bytes (``ss -ti``: ``wscale:10,10``).
* **The first windows are not scaled.** The window in a SYN and a SYN-ACK
  is never scaled (RFC 7323; ``__tcp_transmit_skb``): it is the initial
  ``rcv_wnd``, the free space rounded down to a multiple of the MSS and
  capped at 65,535. On loopback the client offers 65,495 (its MSS before
  timestamps are counted, the route's advertised MSS) and the server
  65,483 (the MSS less the 12 bytes of timestamp option).
* **Every later segment carries a scaled window, and a window never
  shrinks** (``tcp_select_window``): when the free space the receiver
  would offer now (``__tcp_select_window``) is less than what is left of
  the window already offered (``tcp_receive_window``), it offers what is
  left, rounded *up* to the next multiple of ``1 << rcv_wscale`` (``ALIGN``),
  so that scaling does not cut it. That rounding moves the right edge out
  by up to 1,023 bytes each time the receiver sends anything.

Together they explain the case that showed the rule (issue 11): with 8 KiB
buffers, a fresh ``tcppair c s`` lets ``c`` send 65,482 bytes (two segments
of 32,741, half of the server's unscaled 65,483), but once any segment has
come from ``s`` (the ACK of one byte ``c`` sent, or one byte ``s`` sent)
``c`` has been offered ``ALIGN(65,482, 1,024)`` = 65,536 and sends two
segments of 32,768. In the other direction the client's first window
already went out scaled, on the handshake's last ACK (``ALIGN(65,495,
1,024)`` = 65,536), so ``s`` sends 65,536 on a fresh pair too.

* **Out of memory, the window drops to zero.** A segment the receiver
  cannot queue (its receive queue's truesize is above ``SO_RCVBUF`` even
  once collapsed, muxsim/model/tcprcvq.py) is dropped and answered at once
  with a zero window
  (``tcp_data_queue`` sets ``ICSK_ACK_NOMEM``; ``tcp_select_window`` then
  sets ``rcv_wnd`` to 0 and ``rcv_wup`` to ``rcv_nxt``).

* **The window grows no faster than ``rcv_ssthresh``.** It starts at the
  first window (``tcp_connect_init``; ``tcp_init_buffer_space`` clamps it),
  and each data segment of 128 bytes or more raises it towards the room the
  buffer leaves (``tcp_grow_window``); so a client whose buffer is larger
  than the first window still offers 65,536 on the handshake's last ACK.
  The first full-sized segment measures ``scaling_ratio`` and clamps the
  window to what the whole buffer allows (``tcp_measure_rcv_mss``,
  ``tcp_set_window_clamp``), which lowers ``rcv_ssthresh`` with it.

What this module does not know: when the ACKs that carry the window go
(delayed ACKs, quick-ACK and ping-pong modes: the model acknowledges each
segment at once), memory pressure, and receive-buffer autotuning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from muxsim.model.sock import SOCK_MIN_RCVBUF

#: include/net/tcp.h: the largest shift RFC 7323 allows.
TCP_MAX_WSCALE: Final = 14
U16_MAX: Final = 0xFFFF
#: include/net/tcp.h: TCP_RMEM_TO_WIN_SCALE; ratios are in 1/256ths.
TCP_RMEM_TO_WIN_SCALE: Final = 8


@dataclass(frozen=True, slots=True)
class InitialWindow:
    """What ``tcp_select_initial_window`` decides for one end of a handshake."""

    rcv_wnd: int
    window_clamp: int
    rcv_wscale: int


def win_from_space(space: int, scaling_ratio: int) -> int:
    """``__tcp_win_from_space``: the window a buffer of ``space`` bytes may offer."""
    return (max(0, space) * scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE


def align(value: int, unit: int) -> int:
    """The kernel's ``ALIGN``: round up to a multiple of ``unit`` (a power of two)."""
    return (value + unit - 1) & ~(unit - 1)


def round_down(value: int, unit: int) -> int:
    """The kernel's ``round_down`` (``unit`` a power of two)."""
    return value & ~(unit - 1)


def ilog2(value: int) -> int:
    return value.bit_length() - 1


def tcp_select_initial_window(space: int, mss: int, window_clamp: int,
                              tcp_rmem_max: int, rmem_max: int) -> InitialWindow:
    """Linux: net/ipv4/tcp_output.c:tcp_select_initial_window (window scaling on,
    no ``SO_RCVBUF``-free initial window from a route, signed-window workaround off).

    ``space`` is the buffer's full window (``tcp_full_space``); ``window_clamp``
    0 means none (a receive buffer not locked by the user).
    """
    clamp = window_clamp or (U16_MAX << TCP_MAX_WSCALE)
    space = min(clamp, max(0, space))
    if space > mss:
        space = space // mss * mss  # a multiple of the MSS if possible
    rcv_wnd = min(space, U16_MAX)
    # Scale for the largest window this socket could ever offer.
    largest = min(max(space, tcp_rmem_max, rmem_max), clamp)
    rcv_wscale = min(max(ilog2(largest) - 15, 0), TCP_MAX_WSCALE) if largest else 0
    return InitialWindow(rcv_wnd, min(U16_MAX << rcv_wscale, clamp), rcv_wscale)


def free_window(free_space: int, allowed_space: int, window_clamp: int, rcv_mss: int,
                rcv_wscale: int, rcv_ssthresh: int, rcv_wnd: int) -> int:
    """Linux: net/ipv4/tcp_output.c:__tcp_select_window (``tcp_shrink_window`` off,
    no memory pressure).

    ``free_space`` is ``tcp_space`` (the window the unused receive buffer may
    offer), ``allowed_space`` is ``tcp_full_space`` (the whole buffer's).
    """
    unit = 1 << rcv_wscale
    full_space = min(window_clamp, allowed_space)
    mss = min(rcv_mss, full_space)
    if mss <= 0:
        return 0
    if free_space < full_space >> 1:
        # Might become the window: do not let scaling round it up.
        free_space = round_down(free_space, unit)
        # Too little to be worth offering: move towards a zero window.
        if free_space < allowed_space >> 4 or free_space < mss:
            return 0
    # No more than the window has grown to (tcp_grow_window).
    free_space = max(0, min(free_space, rcv_ssthresh))
    if rcv_wscale:
        return align(free_space, unit)  # enough that scaling does not round it away
    # Unscaled: keep the current window if within one MSS of the free space,
    # else the largest multiple of the MSS that fits.
    if rcv_wnd <= free_space - mss or rcv_wnd > free_space:
        return free_space // mss * mss
    if mss == full_space and free_space > rcv_wnd + (full_space >> 1):
        return free_space
    return rcv_wnd


def grown_ssthresh(rcv_ssthresh: int, window_clamp: int, free_space: int, seg: int,
                   advmss: int) -> int:
    """Linux: net/ipv4/tcp_input.c:tcp_grow_window, for a segment of ``seg`` bytes
    (``tcp_event_data_recv`` grows the window only for segments of 128 bytes or
    more), without memory pressure.

    On loopback a segment's truesize is its length plus a small overhead, so
    "Check #2" holds (the segment would fit the buffer's window) and the
    threshold moves by twice the advertised MSS at least: it reaches the room
    the buffer leaves (``min(window_clamp, tcp_space)``) at the first segment.
    """
    if seg < 128:
        return rcv_ssthresh
    room = min(window_clamp, free_space) - rcv_ssthresh
    if room <= 0:
        return rcv_ssthresh
    return rcv_ssthresh + min(room, max(2 * advmss, 2 * seg))


def set_window_clamp(window_clamp: int, rcv_ssthresh: int, rcv_wnd: int,
                     val: int) -> tuple[int, int]:
    """Linux: net/ipv4/tcp.c:tcp_set_window_clamp (no reserved memory):
    the new ``(window_clamp, rcv_ssthresh)``."""
    new_clamp = max(SOCK_MIN_RCVBUF // 2, val)
    if new_clamp == window_clamp:
        return window_clamp, rcv_ssthresh
    if new_clamp < window_clamp:
        return new_clamp, min(rcv_ssthresh, new_clamp)
    return new_clamp, max(min(rcv_wnd, new_clamp), rcv_ssthresh)


def tcp_select_window(cur_win: int, new_win: int, rcv_wscale: int) -> int:
    """Linux: net/ipv4/tcp_output.c:tcp_select_window: the window a segment carries.

    ``cur_win`` is what is left of the window already offered
    (``tcp_receive_window``), ``new_win`` what ``__tcp_select_window`` would
    offer now. The offered window never shrinks (``tcp_shrink_window`` is 0
    by default): what is left is offered again, rounded up to the scale's unit.
    """
    if new_win < cur_win:
        new_win = align(cur_win, 1 << rcv_wscale)
    return min(new_win, U16_MAX << rcv_wscale)
