"""The one place where a failed system call becomes an errno name.

Every statement runs inside ``_Run.execute``, which catches the ``OSError``
a system call raised and passes it here: it becomes ``Errno("EAGAIN")`` and
the like here and nowhere else, so that the mapping cannot drift between
statements. ``BlockingIOError`` is just ``OSError`` with ``EAGAIN``.
"""

from __future__ import annotations

from muxsim.lang.outcomes import Errno


def errno_name(exc: OSError) -> Errno:
    """``OSError(errno.EAGAIN, ...)`` -> ``Errno("EAGAIN")``."""
    code = exc.errno
    if code is None:
        raise exc
    return Errno.of(code)
