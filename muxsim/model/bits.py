"""Event bits as plain ints for the model's hot paths (include/uapi/linux/eventpoll.h).

``muxsim.lang.masks.Mask`` is the typed face of these values; inside the
model, masks are combined millions of times, and ``enum.IntFlag``
arithmetic costs a few microseconds per operation, so the model works on
``int`` and turns masks into ``Mask`` only where outcomes are made.
"""

from __future__ import annotations

EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLNVAL = 0x020
EPOLLRDNORM = 0x040
EPOLLRDBAND = 0x080
EPOLLWRNORM = 0x100
EPOLLWRBAND = 0x200
EPOLLMSG = 0x400
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31
ALL_EVENTS = 0xFFFFFFFF
