"""A TCP receive queue as ``sk_rmem_alloc`` counts it (net/ipv4/tcp_input.c).

What a receiver may still take, and so the window it offers
(muxsim/model/tcpwindow.py), is its buffer less the *truesize* of the skbs
it holds, not their payload. The facts, measured on Linux 6.18 over
loopback with ``ss -m`` and cited from net/ipv4/tcp_input.c:

* **An skb costs its payload plus 832 bytes** (one byte queued charges 833,
  20,000 bytes 20,832, a 32,768-byte send arriving as 32,741 + 27 charges
  two overheads).
* **Segments coalesce** into the tail skb (``tcp_queue_rcv`` ->
  ``tcp_try_coalesce``), which adds only their payload, but not while the
  tail is still shared with the sender (on loopback the receiver queues a
  clone of the sender's skb, which the sender keeps until it is
  acknowledged): three sends of 5,000 bytes, one statement each, charge
  15,832.
* **A partly read skb keeps its whole truesize** until it is read to the
  end (``tcp_recvmsg`` frees only consumed skbs, ``sk_eat_skb``): 10,000 +
  6,000 bytes, 9,000 of them read, still charge 16,832.
* **Before a segment is dropped, the queue is collapsed**
  (``tcp_prune_queue`` -> ``tcp_collapse``): from the first skb that is
  bloated (``tcp_win_from_space(truesize) > len``) or partly read, the
  unread bytes are copied into new linear skbs of at most
  ``SKB_MAX_ORDER(0, 0)`` bytes whose truesize is their ``kmalloc`` size.

What this module does not know: the out-of-order queue (loopback delivers
in order) and memory pressure.
"""

from __future__ import annotations

from collections import deque

from muxsim.model.profile import Profile
from muxsim.model.tcpwindow import win_from_space


class ReceiveQueue:
    """The skbs of one socket's receive queue, each ``[unread, truesize, length]``."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.skbs: deque[list[int]] = deque()
        self.rmem = 0  # sk_rmem_alloc
        #: The tail skb is still shared with the sender's retransmission queue
        #: (a clone on loopback, not yet acknowledged): nothing coalesces into it.
        self.tail_shared = False

    def queue(self, seg: int) -> None:
        """``tcp_queue_rcv``: a segment of ``seg`` bytes joins the queue."""
        skbs = self.skbs
        if skbs and not self.tail_shared:
            # tcp_try_coalesce: the payload joins the tail skb and the new
            # skb's head is freed; only the payload is charged.
            tail = skbs[-1]
            tail[0] += seg
            tail[1] += seg
            tail[2] += seg
            self.rmem += seg
        else:
            truesize = seg + self.profile.tcp_rcv_skb_overhead
            skbs.append([seg, truesize, seg])
            self.rmem += truesize
        self.tail_shared = True

    def read(self, n: int) -> None:
        """``tcp_recvmsg`` takes ``n`` bytes; an skb read to its end is freed."""
        skbs = self.skbs
        while n and skbs:
            head = skbs[0]
            if head[0] <= n:
                n -= head[0]
                self.rmem -= head[1]
                skbs.popleft()
            else:
                head[0] -= n
                n = 0

    def collapse(self, scaling_ratio: int) -> None:
        """Linux: net/ipv4/tcp_input.c:tcp_collapse on the receive queue."""
        skbs = self.skbs
        first = next((i for i, (unread, truesize, length) in enumerate(skbs)
                      if win_from_space(truesize, scaling_ratio) > length or unread < length),
                     None)
        if first is None:
            return
        rest = [skbs.pop() for _ in range(len(skbs) - first)]
        unread = sum(skb[0] for skb in rest)
        self.rmem -= sum(skb[1] for skb in rest)
        profile = self.profile
        chunk = profile.page_size - profile.skb_shared_info  # SKB_MAX_ORDER(0, 0)
        while unread:
            copy = min(chunk, unread)
            truesize = profile.skb_truesize(copy, 0)
            skbs.append([copy, truesize, copy])
            self.rmem += truesize
            unread -= copy
