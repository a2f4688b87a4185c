"""Event bits as plain ints for the model's hot paths (include/uapi/linux/eventpoll.h).

``muxsim.lang.masks.Mask`` is the typed face of these values; inside the
model, masks are combined millions of times, and ``enum.IntFlag``
arithmetic costs a few microseconds per operation, so the model works on
``int`` and turns masks into ``Mask`` only where outcomes are made.
"""

from __future__ import annotations

from typing import Final

EPOLLIN: Final = 0x001
EPOLLPRI: Final = 0x002
EPOLLOUT: Final = 0x004
EPOLLERR: Final = 0x008
EPOLLHUP: Final = 0x010
EPOLLNVAL: Final = 0x020
EPOLLRDNORM: Final = 0x040
EPOLLRDBAND: Final = 0x080
EPOLLWRNORM: Final = 0x100
EPOLLWRBAND: Final = 0x200
EPOLLMSG: Final = 0x400
EPOLLRDHUP: Final = 0x2000
EPOLLEXCLUSIVE: Final = 1 << 28
EPOLLWAKEUP: Final = 1 << 29
EPOLLONESHOT: Final = 1 << 30
EPOLLET: Final = 1 << 31
ALL_EVENTS: Final = 0xFFFFFFFF
