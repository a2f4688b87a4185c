"""The one place where a failed system call becomes an errno name.

Every statement that reaches the kernel runs inside :func:`outcome_of`'s
caller; an ``OSError`` that escapes becomes ``Errno("EAGAIN")`` and the
like here and nowhere else, so that the mapping cannot drift between
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
